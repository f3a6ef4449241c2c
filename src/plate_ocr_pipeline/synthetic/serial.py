"""The serial: glyph variants, the layout of its groups and separators, and one or two rows
of it on a flat plate. Every serial drawn records its box in ``TEXT_BOXES`` (the crop
stage places tight crops round it)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from .drawing import Colour, as_rgb, draw_emblem, draw_shield, draw_symbol, resize_mask
from .fonts import (
    FontSpec,
    bar_glyph,
    flipped_m_glyph,
    glyph_mask,
    plate_q_glyph,
    plate_w_glyph,
)
from .formats import split_rows
from .options import Resources, SerialGlyphs, get_resources
from .stroke_face import StrokeFace, stroke_glyph

# Gap between a serial's characters, of their height, and their horizontal stretch, on every
# plate family (US plates redraw some of them from ``UsLayout``).
SERIAL_SPACING = (0.02, 0.14)
SERIAL_XSCALE = (0.8, 1.2)

# Boxes (x0, y0, x1, y1) of the serials drawn on the plate being rendered (plate coordinates),
# filled by ``draw_serial``: tight crops may cut into the plate but never into the serial.
TEXT_BOXES: list[tuple[float, float, float, float]] = []


@dataclass
class SerialStyle:
    font: FontSpec | StrokeFace
    height: float
    xscale: float
    spacing: float  # fraction of height between characters
    separator: str  # none | space | dash | dot | mark | emblem | symbol | seals | shield | stickers
    sep_colour: tuple
    bold: int  # dilate (+) / erode (-) iterations
    glyphs: SerialGlyphs = SerialGlyphs()
    symbol_scale: float = 1.0  # size of a pictogram separator, from its usual size
    # Separator of each gap between groups where it differs from ``separator`` (Austria: the
    # state arms after the district code, spaces after that).
    separators: tuple[str, ...] = ()
    # Stray of each character's centre, height and gap, of the height (0: set as one line).
    char_jitter: float = 0.0


def face_glyph(font: FontSpec | StrokeFace, ch: str) -> np.ndarray | None:
    """One character's mask in an installed font or a stroke face; None if it lacks it."""
    if isinstance(font, StrokeFace):
        return stroke_glyph(font, ch)
    return glyph_mask(font, ch)


def glyph(style: SerialStyle, ch: str, height: float) -> np.ndarray:
    g = None
    if isinstance(style.font, StrokeFace):
        pass  # the face draws its own 1, I, W and Q: the US font variants are not for it
    elif ch == "I" and style.glyphs.serif_i:
        g = bar_glyph(style.font, serifs=True)
    elif ch == "1" and style.glyphs.bar_one:
        g = bar_glyph(style.font, serifs=False)
    elif ch == "W" and style.glyphs.flipped_m_w:
        g = flipped_m_glyph(style.font)
    elif ch == "W" and style.glyphs.plate_w:
        g = plate_w_glyph(style.font)
    elif ch == "Q" and style.glyphs.plate_q:
        g = plate_q_glyph(style.font)
    if ch in "O0" and style.glyphs.o_zero_glyph:
        ch = style.glyphs.o_zero_glyph  # and so in a stroke face and the fallback font too
    if g is None:
        g = face_glyph(style.font, ch)
    if g is None:  # fall back to a font that has it
        g = glyph_mask(FontSpec(get_resources().serial_fonts[0].path), ch)
    w = g.shape[1] * height / g.shape[0] * style.xscale * style.font.squeeze
    return resize_mask(g, w, height)


def _layout_serial(groups: list[str], style: SerialStyle) -> tuple[list, float]:
    """Items (kind, payload, width) and total width at the style's height."""
    h = style.height
    items = []
    for gi, group in enumerate(groups):
        if gi > 0:
            sep = style.separators[gi - 1] if gi - 1 < len(style.separators) else style.separator
            width = {
                "none": 0.0,
                "space": 0.42 * h,
                "dash": 0.42 * h,
                "dot": 0.3 * h,
                "mark": 0.42 * h,
                "emblem": 0.62 * h,
                "symbol": 0.95 * h * style.symbol_scale,
                "seals": 0.42 * h,
                "shield": 0.7 * h,
                "stickers": 0.5 * h,
            }[sep]
            items.append(("sep", sep, width))
        for ci, ch in enumerate(group):
            g = glyph(style, ch, h)
            if ci > 0 or gi > 0:
                items.append(("gap", None, style.spacing * h))
            items.append(("glyph", g, g.shape[1]))
    return items, float(sum(it[2] for it in items))


def draw_serial(
    rng: np.random.Generator,
    img: np.ndarray,
    groups: list[str],
    style: SerialStyle,
    colour: Colour,
    cx: float,
    cy: float,
    max_w: float,
    emboss: bool,
) -> tuple[float, float]:
    """Draw the characters centred at (cx, cy); returns (x_left, x_right) used."""
    items, total = _layout_serial(groups, style)
    scale = min(1.0, max_w / max(total, 1.0))
    H, W = img.shape[:2]
    mask = np.zeros((H, W), np.float32)
    h = style.height
    x = cx - total * scale / 2
    y = cy - h / 2
    seps = []
    # Drawn only when asked for, so that serials set as one line keep their pixels.
    stray = style.char_jitter
    x_lo, x_hi, y_top, y_bottom = x, x + total * scale, y, y + h
    for kind, payload, width in items:
        wd = width * scale
        if kind == "glyph":
            g = (
                payload
                if scale >= 0.999
                else cv2.resize(
                    payload,
                    (max(1, int(round(wd))), payload.shape[0]),
                    interpolation=cv2.INTER_AREA,
                )
            )
            gx, gy = x, y
            if stray:  # the character grown or shrunk about its strayed centre
                size = 1.0 + rng.uniform(-stray, stray)
                shift = rng.uniform(-stray, stray) * h
                w0, h0 = g.shape[1], g.shape[0]
                g = cv2.resize(
                    g,
                    (max(1, round(w0 * size)), max(1, round(h0 * size))),
                    interpolation=cv2.INTER_AREA if size < 1 else cv2.INTER_LINEAR,
                )
                gx, gy = x + (w0 - g.shape[1]) / 2, y + shift + (h0 - g.shape[0]) / 2
                x_lo, x_hi = min(x_lo, gx), max(x_hi, gx + g.shape[1])
                y_top, y_bottom = min(y_top, gy), max(y_bottom, gy + g.shape[0])
            _paste_mask_max(mask, g, gx, gy)
        elif kind == "gap" and stray:  # never under half its width: the characters stay apart
            wd = max(0.5 * wd, wd + rng.uniform(-stray, stray) * h * scale)
        elif kind == "sep":
            seps.append((payload, x + wd / 2))
        x += wd
    if style.bold:
        k = np.ones((2, 2), np.uint8)
        mask = (
            cv2.dilate(mask, k, iterations=style.bold)
            if style.bold > 0
            else cv2.erode(mask, k, iterations=-style.bold)
        )
    # separators drawn into the mask (dash, dot, mark) or directly (the others)
    for sep, sx in seps:
        if sep == "dash":
            cv2.rectangle(
                mask,
                (int(sx - 0.14 * h), int(cy - 0.05 * h)),
                (int(sx + 0.14 * h), int(cy + 0.05 * h)),
                1.0,
                -1,
            )
        elif sep == "dot":
            cv2.circle(mask, (int(sx), int(cy)), max(2, int(0.07 * h)), 1.0, -1, cv2.LINE_AA)
        elif sep == "mark":  # a small D or T: the plate is a duplicate or triplicate
            g = face_glyph(style.font, "D" if rng.random() < 0.6 else "T")
            if g is not None:
                mh = h * rng.uniform(0.22, 0.4)
                small = resize_mask(g, g.shape[1] * mh / g.shape[0] * style.xscale, mh)
                my = cy + h * rng.uniform(-0.1, 0.25) - mh / 2
                _paste_mask_max(mask, small, sx - small.shape[1] / 2, my)
    r0, r1 = max(0, int(y_top - 6)), min(H, int(y_bottom + 8))
    band_img, band = img[r0:r1], mask[r0:r1]
    if emboss:
        dx, dy = rng.integers(1, 4), rng.integers(1, 4)
        shadow = np.roll(band, (int(dy), int(dx)), (0, 1))
        shadow = cv2.GaussianBlur(shadow, (3, 3), 0) * np.float32(rng.uniform(0.35, 0.7))
        band_img *= 1 - shadow[..., None]
        hi = np.roll(band, (-1, -1), (0, 1)) * (1 - band) * np.float32(rng.uniform(0.3, 0.8))
        band_img += (255 - band_img) * hi[..., None]
    band_img *= 1 - band[..., None]
    band_img += band[..., None] * as_rgb(colour)
    for sep, sx in seps:
        if sep == "emblem":
            draw_emblem(rng, img, sx, cy, 0.55 * h, style.sep_colour)
        elif sep == "symbol":
            sep_ink = colour if rng.random() < 0.5 else style.sep_colour
            size = h * style.symbol_scale
            draw_symbol(
                rng, img, sx, cy, 0.9 * size * scale, size * rng.uniform(0.7, 1.15), sep_ink
            )
        elif sep == "seals":
            r = int(0.13 * h)
            cv2.circle(img, (int(sx), int(cy - 0.17 * h)), r, tuple(rng.uniform(60, 230, 3)), -1)
            cv2.circle(img, (int(sx), int(cy + 0.17 * h)), r, tuple(rng.uniform(60, 230, 3)), -1)
        elif sep == "shield":  # a state's arms: a small striped shield, never a character
            draw_shield(rng, img, sx, cy, 0.42 * h * scale + 0.1 * h, 0.6 * h)
        elif sep == "stickers":  # two round inspection / emission stickers, one above the other
            r = max(2, int(0.14 * h))
            for dy in (-0.18 * h, 0.18 * h):
                cv2.circle(img, (int(sx), int(cy + dy)), r, tuple(rng.uniform(60, 240, 3)), -1)
    x_left, x_right = cx - total * scale / 2, cx + total * scale / 2
    if stray:  # the box holds every strayed character
        x_left, x_right = min(x_left, x_lo), max(x_right, x_hi, x)
    TEXT_BOXES.append((x_left, y_top, x_right, y_bottom))
    return x_left, x_right


def serial_style(
    rng: np.random.Generator, res: Resources, height: float, separator: str, sep_colour: Colour
) -> SerialStyle:
    font = res.serial_fonts[int(rng.integers(len(res.serial_fonts)))]
    if res.glyphs.serif_font and res.serif_serial_fonts:
        # Drawn after the usual choice, so plates without the serif face look the same
        # whatever the odds of serif_font.
        font = res.serif_serial_fonts[int(rng.integers(len(res.serif_serial_fonts)))]
    return SerialStyle(
        font=font,
        height=height,
        xscale=float(rng.uniform(*SERIAL_XSCALE)),
        spacing=float(rng.uniform(*SERIAL_SPACING)),
        separator=separator,
        sep_colour=tuple(sep_colour),
        bold=int(rng.choice([-1, -1, 0, 0, 0, 1, 2])),  # real serials: mostly medium weight
        glyphs=res.glyphs,
    )


def _fit_height(row: list[str], style: SerialStyle, max_w: float) -> SerialStyle:
    """Smaller characters where a row would otherwise be squeezed a lot (then squeezed)."""
    _, total = _layout_serial(row, style)
    if total <= max_w:
        return style
    return replace(style, height=style.height * max(0.78, (max_w / total) ** 0.5))


def draw_rows(
    rng: np.random.Generator,
    img: np.ndarray,
    groups: list[str],
    style: SerialStyle,
    ink: Colour,
    y0: float,
    y1: float,
    top_x: tuple[float, float],
    bottom_x: tuple[float, float],
    emboss: bool,
) -> tuple[float, float]:
    """Two rows of about equal height with a small gap between them, in [y0, y1]: the groups
    before the row break on top (in ``top_x``), the rest below (in ``bottom_x``). Returns
    the top row's (x_left, x_right)."""
    rows = split_rows(groups)
    top, bottom = rows[0], [g for row in rows[1:] for g in row]
    gap = rng.uniform(0.04, 0.1) * (y1 - y0)
    row_h = (y1 - y0 - gap) / 2
    height = row_h * rng.uniform(0.8, 0.9)
    top_style = replace(style, height=height * rng.uniform(0.88, 1.0))
    bottom_style = replace(style, height=height)
    top_w, bottom_w = 0.94 * (top_x[1] - top_x[0]), 0.94 * (bottom_x[1] - bottom_x[0])
    top_style = _fit_height(top, top_style, top_w)
    bottom_style = _fit_height(bottom, bottom_style, bottom_w)
    xs = draw_serial(rng, img, top, top_style, ink, sum(top_x) / 2, y0 + row_h / 2, top_w, emboss)
    draw_serial(
        rng, img, bottom, bottom_style, ink, sum(bottom_x) / 2, y1 - row_h / 2, bottom_w, emboss
    )
    return xs


def _paste_mask_max(mask: np.ndarray, g: np.ndarray, x: float, y: float) -> None:
    h, w = g.shape
    x, y = int(round(x)), int(round(y))
    H, W = mask.shape
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, W), min(y + h, H)
    if x1 > x0 and y1 > y0:
        np.maximum(mask[y0:y1, x0:x1], g[y0 - y : y1 - y, x0 - x : x1 - x], out=mask[y0:y1, x0:x1])
