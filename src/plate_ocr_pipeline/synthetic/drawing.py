"""Drawing primitives of the flat plates: colours, alpha-pasted masks, text lines, stars,
pictograms, emblems, shields, bolt holes and borders."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from .fonts import (
    FontSpec,
    glyph_mask,
    symbol_font_spec,
    text_mask,
)

# An RGB triple (or a grey level, broadcast), in 0..255.
Colour = Sequence[float] | np.ndarray | float


def as_rgb(rgb: Colour) -> np.ndarray:
    return np.asarray(rgb, np.float32)


def jitter(rng: np.random.Generator, rgb: Colour, amount: float = 18.0) -> np.ndarray:
    return np.clip(as_rgb(rgb) + rng.normal(0, amount / 2, 3), 0, 255).astype(np.float32)


def paste(
    img: np.ndarray, mask: np.ndarray, x: float, y: float, colour: Colour, alpha: float = 1.0
) -> None:
    """Alpha-blend ``colour`` through ``mask`` (float 0..1, h x w) at (x, y), clipped."""
    h, w = mask.shape
    x, y = int(round(x)), int(round(y))
    H, W = img.shape[:2]
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, W), min(y + h, H)
    if x1 <= x0 or y1 <= y0:
        return
    m = mask[y0 - y : y1 - y, x0 - x : x1 - x, None] * alpha
    region = img[y0:y1, x0:x1]
    region *= 1 - m
    region += m * as_rgb(colour)


def resize_mask(mask: np.ndarray, w: int, h: int) -> np.ndarray:
    w, h = max(int(round(w)), 1), max(int(round(h)), 1)
    interp = cv2.INTER_AREA if h < mask.shape[0] else cv2.INTER_LINEAR
    return cv2.resize(mask, (w, h), interpolation=interp).astype(np.float32) * (1 / 255.0)


def text_line(
    img: np.ndarray,
    spec: FontSpec,
    text: str,
    cx: float,
    y: float,
    height: float,
    max_w: float,
    colour: Colour,
    alpha: float = 1.0,
    xscale: float = 1.0,
) -> None:
    """Draw a decorative text line centred at cx with cap height ``height``."""
    m = text_mask(spec, text)
    w = m.shape[1] * height / m.shape[0] * xscale
    if w > max_w:
        w = max_w
    paste(img, resize_mask(m, w, height), cx - w / 2, y, colour, alpha)


def small_text(
    img: np.ndarray,
    spec: FontSpec,
    text: str,
    cx: float,
    y: float,
    height: float,
    max_w: float,
    colour: Colour,
) -> None:
    """Text composed from cached glyph masks (for varying short strings: stickers)."""
    glyphs = [glyph_mask(spec, c) for c in text if c != " "]
    glyphs = [g for g in glyphs if g is not None]
    if not glyphs:
        return
    widths = [g.shape[1] * height / g.shape[0] for g in glyphs]
    gap = 0.12 * height
    total = sum(widths) + gap * (len(glyphs) - 1)
    sx = min(1.0, max_w / total)
    x = cx - total * sx / 2
    for g, w in zip(glyphs, widths, strict=True):
        paste(img, resize_mask(g, w * sx, height), x, y, colour)
        x += (w + gap) * sx


def vertical_gradient(h: int, w: int, top: Colour, bottom: Colour) -> np.ndarray:
    t = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    out = np.empty((h, w, 3), np.float32)
    out[:] = as_rgb(top) * (1 - t) + as_rgb(bottom) * t
    return out


def star(cx: float, cy: float, r: float, rot: float = 0.0) -> np.ndarray:
    ang = np.arange(10) * np.pi / 5 + rot - np.pi / 2
    rad = np.where(np.arange(10) % 2 == 0, r, r * 0.42)
    return np.stack([cx + rad * np.cos(ang), cy + rad * np.sin(ang)], 1).astype(np.int32)


# Pictograms from DejaVu Sans standing in for the silhouettes real plates print beside or
# between the characters (Wyoming's bucking horse, Maine's chickadee, Louisiana's pelican).
SYMBOLS = "♞♜♘✈⚓☘✿❀★✪☀♥♣♠❄⚑☎⚘⚜♛♚☂☃✂✌☯☮✦❖❦❧☙"


def draw_symbol(
    rng: np.random.Generator,
    img: np.ndarray,
    cx: float,
    cy: float,
    box_w: float,
    box_h: float,
    colour: Colour,
) -> None:
    """A pictogram fitted into a box_w x box_h box centred at (cx, cy)."""
    g = glyph_mask(symbol_font_spec(), str(rng.choice(list(SYMBOLS))))
    if g is None:
        return
    gh, gw = g.shape
    scale = min(box_w / gw, box_h / gh)
    w, h = max(2, int(gw * scale)), max(2, int(gh * scale))
    mask = resize_mask(g, w, h)
    paste(img, mask, cx - w / 2, cy - h / 2, colour)


def draw_emblem(
    rng: np.random.Generator, img: np.ndarray, cx: float, cy: float, size: float, colour: Colour
) -> None:
    kind = rng.integers(4)
    col = tuple(float(v) for v in colour)
    if kind == 0:
        cv2.fillPoly(img, [star(cx, cy, size * 0.5, rng.uniform(0, 1))], col, cv2.LINE_AA)
    elif kind == 1:
        cv2.circle(img, (int(cx), int(cy)), int(size * 0.45), col, -1, cv2.LINE_AA)
        inner = tuple(float(v) for v in rng.uniform(120, 255, 3))
        cv2.circle(img, (int(cx), int(cy)), int(size * 0.25), inner, -1, cv2.LINE_AA)
    elif kind == 2:  # state-outline-like blob
        n = 9
        ang = np.sort(rng.uniform(0, 2 * np.pi, n))
        rad = size * rng.uniform(0.3, 0.55, n)
        pts = np.stack([cx + rad * np.cos(ang), cy + rad * np.sin(ang) * 1.2], 1)
        cv2.fillPoly(img, [pts.astype(np.int32)], col, cv2.LINE_AA)
    else:  # shield / heart-ish
        pts = np.array(
            [
                [cx - size * 0.4, cy - size * 0.45],
                [cx + size * 0.4, cy - size * 0.45],
                [cx + size * 0.35, cy + size * 0.1],
                [cx, cy + size * 0.5],
                [cx - size * 0.35, cy + size * 0.1],
            ]
        )
        cv2.fillPoly(img, [pts.astype(np.int32)], col, cv2.LINE_AA)


def _shield_pts(cx: float, cy: float, w: float, h: float) -> np.ndarray:
    return np.array(
        [
            [cx - w / 2, cy - h / 2],
            [cx + w / 2, cy - h / 2],
            [cx + w / 2, cy + 0.15 * h],
            [cx, cy + h / 2],
            [cx - w / 2, cy + 0.15 * h],
        ]
    ).astype(np.int32)


def draw_shield(
    rng: np.random.Generator,
    img: np.ndarray,
    cx: float,
    cy: float,
    w: float,
    h: float,
    kind: str = "stripes",
) -> None:
    """A coloured heraldic shield: ``stripes`` (red-white-red and other state arms),
    ``swiss`` (white cross on red) or ``split`` (a canton's two colours)."""
    red = tuple(float(v) for v in jitter(rng, (200, 30, 40), 12))
    white = (245.0, 245.0, 245.0)
    if kind == "swiss":
        cv2.fillPoly(img, [_shield_pts(cx, cy, w, h)], red, cv2.LINE_AA)
        a, b = 0.12 * w, 0.32 * w
        cv2.rectangle(img, (int(cx - a), int(cy - b)), (int(cx + a), int(cy + b)), white, -1)
        cv2.rectangle(img, (int(cx - b), int(cy - a)), (int(cx + b), int(cy + a)), white, -1)
        return
    if kind == "split":
        c1 = tuple(float(v) for v in rng.uniform(20, 240, 3))
        c2 = tuple(float(v) for v in rng.uniform(20, 240, 3))
        cv2.fillPoly(img, [_shield_pts(cx, cy, w, h)], c1, cv2.LINE_AA)
        half = np.array(
            [
                [cx, cy - h / 2],
                [cx + w / 2, cy - h / 2],
                [cx + w / 2, cy + 0.15 * h],
                [cx, cy + h / 2],
            ]
        ).astype(np.int32)
        cv2.fillPoly(img, [half], c2, cv2.LINE_AA)
        return
    base = red if rng.random() < 0.7 else tuple(float(v) for v in rng.uniform(20, 200, 3))
    cv2.fillPoly(img, [_shield_pts(cx, cy, w, h)], base, cv2.LINE_AA)
    a, b = cx - 0.42 * w, cx + 0.42 * w
    cv2.rectangle(img, (int(a), int(cy - h / 6)), (int(b), int(cy + h / 8)), white, -1)


def bolt_holes(rng: np.random.Generator, img: np.ndarray, four: bool) -> None:
    H, W = img.shape[:2]
    fx = rng.uniform(0.2, 0.3)
    ys = [rng.uniform(0.06, 0.12) * H] + ([rng.uniform(0.88, 0.94) * H] if four else [])
    r = max(2, int(rng.uniform(0.025, 0.04) * H))
    screw = rng.random() < 0.5
    for y in ys:
        for x in (fx * W, (1 - fx) * W):
            if screw:
                metal = tuple(float(v) for v in rng.uniform(120, 200) * np.ones(3))
                cv2.circle(img, (int(x), int(y)), r + 1, (60, 60, 60), -1, cv2.LINE_AA)
                cv2.circle(img, (int(x), int(y)), r, metal, -1, cv2.LINE_AA)
                cv2.line(
                    img, (int(x - r * 0.7), int(y)), (int(x + r * 0.7), int(y)), (50, 50, 50), 1
                )
            else:
                cv2.circle(
                    img,
                    (int(x), int(y)),
                    r,
                    tuple(float(v) for v in rng.uniform(20, 70, 3)),
                    -1,
                    cv2.LINE_AA,
                )


def border(rng: np.random.Generator, img: np.ndarray, colour: Colour) -> None:
    H, W = img.shape[:2]
    inset = int(rng.integers(1, 6))
    t = int(rng.integers(1, 4))
    cv2.rectangle(
        img,
        (inset, inset),
        (W - 1 - inset, H - 1 - inset),
        tuple(float(v) for v in colour),
        t,
        cv2.LINE_AA,
    )
