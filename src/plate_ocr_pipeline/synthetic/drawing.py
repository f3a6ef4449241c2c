"""Drawing primitives of the flat plates: colours, alpha-pasted masks, text lines, symbols,
emblems, shields, bolt holes, stickers, borders and pictures."""

from __future__ import annotations

import cv2
import numpy as np

from .fonts import (
    FontSpec,
    glyph_mask,
    symbol_font_spec,
    text_mask,
)
from .options import get_resources

INK = {
    "navy": (20, 32, 92),
    "blue": (28, 58, 150),
    "black": (22, 22, 24),
    "red": (170, 24, 34),
    "maroon": (112, 22, 38),
    "green": (22, 95, 48),
    "purple": (70, 30, 100),
}
LIGHT_TINTS = ((250, 250, 250), (236, 242, 250), (250, 246, 232), (236, 246, 238), (246, 236, 236))


def as_rgb(rgb) -> np.ndarray:
    return np.asarray(rgb, np.float32)


def jitter(rng: np.random.Generator, rgb, amount: float = 18.0) -> np.ndarray:
    return np.clip(as_rgb(rgb) + rng.normal(0, amount / 2, 3), 0, 255).astype(np.float32)


def paste(img: np.ndarray, mask: np.ndarray, x: float, y: float, colour, alpha=1.0) -> None:
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
    colour,
    alpha: float = 1.0,
    xscale: float = 1.0,
) -> None:
    """Draw a decorative text line centred at cx with cap height ``height``."""
    m = text_mask(spec, text)
    w = m.shape[1] * height / m.shape[0] * xscale
    if w > max_w:
        w = max_w
    paste(img, resize_mask(m, w, height), cx - w / 2, y, colour, alpha)


def small_text(img, spec: FontSpec, text: str, cx, y, height, max_w, colour) -> None:
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


def vertical_gradient(h: int, w: int, top, bottom) -> np.ndarray:
    t = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    out = np.empty((h, w, 3), np.float32)
    out[:] = as_rgb(top) * (1 - t) + as_rgb(bottom) * t
    return out


def star(cx: float, cy: float, r: float, rot: float = 0.0) -> np.ndarray:
    ang = np.arange(10) * np.pi / 5 + rot - np.pi / 2
    rad = np.where(np.arange(10) % 2 == 0, r, r * 0.42)
    return np.stack([cx + rad * np.cos(ang), cy + rad * np.sin(ang)], 1).astype(np.int32)


SYMBOLS = "♞♜♘✈⚓☘✿❀★✪☀♥♣♠❄⚑☎⚘⚜♛♚☂☃✂✌☯☮✦❖❦❧☙"


def draw_symbol(rng: np.random.Generator, img: np.ndarray, cx, cy, box_w, box_h, colour) -> None:
    """A pictogram fitted into a box_w x box_h box centred at (cx, cy)."""
    g = glyph_mask(symbol_font_spec(), str(rng.choice(list(SYMBOLS))))
    if g is None:
        return
    gh, gw = g.shape
    scale = min(box_w / gw, box_h / gh)
    w, h = max(2, int(gw * scale)), max(2, int(gh * scale))
    mask = resize_mask(g, w, h)
    paste(img, mask, cx - w / 2, cy - h / 2, colour)


def draw_emblem(rng: np.random.Generator, img: np.ndarray, cx, cy, size, colour) -> None:
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


def draw_side_picture(
    rng: np.random.Generator, img: np.ndarray, serial_edge: float, on_left: bool, ink
) -> None:
    """A big picture between the serial's edge and the plate's side: 2-4 pictograms and
    emblems as tall as most of the plate, overlapping, in dark and mid tones. Drawn on a copy
    and kept only between the serial and the side, so it never covers a character."""
    H, W = img.shape[:2]
    gap = rng.uniform(0.0, 0.03) * W
    x0, x1 = (0.0, serial_edge - gap) if on_left else (serial_edge + gap, float(W))
    room = x1 - x0
    if room < 4:
        return
    canvas = img.copy()
    for _ in range(int(rng.integers(2, 5))):
        h = rng.uniform(0.5, 1.0) * H
        w = min(room, h * rng.uniform(0.5, 1.2))
        cx = rng.uniform(x0 + w / 2, max(x0 + w / 2, x1 - w / 2))
        cy = rng.uniform(0.4, 0.6) * H
        colour = ink if rng.random() < 0.4 else jitter(rng, rng.uniform(10, 200, 3), 0)
        if rng.random() < 0.7:
            draw_symbol(rng, canvas, cx, cy, w, h, colour)
        else:
            draw_emblem(rng, canvas, cx, cy, min(w, h), colour)
    left, right = int(np.ceil(x0)), int(x1)
    img[:, left:right] = canvas[:, left:right]


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


def draw_shield(rng, img: np.ndarray, cx, cy, w, h, kind: str = "stripes") -> None:
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


def paste_mask_max(mask: np.ndarray, g: np.ndarray, x: float, y: float) -> None:
    h, w = g.shape
    x, y = int(round(x)), int(round(y))
    H, W = mask.shape
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, W), min(y + h, H)
    if x1 > x0 and y1 > y0:
        np.maximum(mask[y0:y1, x0:x1], g[y0 - y : y1 - y, x0 - x : x1 - x], out=mask[y0:y1, x0:x1])


def bolt_holes(rng, img: np.ndarray, four: bool) -> None:
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


def sticker(rng, img: np.ndarray, x: float, y: float, w: float, h: float) -> None:
    colours = (
        (250, 220, 40),
        (240, 130, 30),
        (40, 150, 60),
        (200, 30, 40),
        (40, 80, 180),
        (245, 245, 245),
        (240, 200, 210),
    )
    col = colours[int(rng.integers(len(colours)))]
    cv2.rectangle(img, (int(x), int(y)), (int(x + w), int(y + h)), col, -1)
    text = str(
        rng.choice(
            [
                "JAN",
                "FEB",
                "MAR",
                "APR",
                "MAY",
                "JUN",
                "JUL",
                "AUG",
                "SEP",
                "OCT",
                "NOV",
                "DEC",
                f"{rng.integers(0, 30):02d}",
                f"20{rng.integers(0, 30):02d}",
                f"{rng.integers(0, 99999):05d}",
            ]
        )
    )
    ink = (20, 20, 20) if sum(col) > 380 else (245, 245, 245)
    small_text(
        img, get_resources().serial_fonts[0], text, x + w / 2, y + h * 0.2, h * 0.6, w * 0.9, ink
    )


def border(rng, img: np.ndarray, colour) -> None:
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


def picture(rng, img: np.ndarray) -> None:
    """Scenic background: mountains, sun, rainbow, waves, trees, blobs (low contrast)."""
    H, W = img.shape[:2]
    layer = img.copy()
    for _ in range(int(rng.integers(1, 4))):
        kind = rng.integers(6)
        col = tuple(float(v) for v in rng.uniform(40, 250, 3))
        if kind == 0:  # mountains
            n = int(rng.integers(4, 12))
            xs = np.linspace(-0.05 * W, 1.05 * W, n)
            base = rng.uniform(0.5, 0.85) * H
            ys = base - rng.uniform(0, 0.35, n) * H
            pts = np.concatenate([np.stack([xs, ys], 1), [[1.05 * W, H], [-0.05 * W, H]]])
            cv2.fillPoly(layer, [pts.astype(np.int32)], col, cv2.LINE_AA)
        elif kind == 1:  # sun / fruit / big disk
            cv2.circle(
                layer,
                (int(rng.uniform(0.2, 0.8) * W), int(rng.uniform(0.3, 0.7) * H)),
                int(rng.uniform(0.15, 0.4) * H),
                col,
                -1,
                cv2.LINE_AA,
            )
        elif kind == 2:  # rainbow
            cx, cy = int(rng.uniform(0.3, 0.7) * W), int(rng.uniform(0.8, 1.1) * H)
            r0 = rng.uniform(0.4, 0.7) * H
            for i, rc in enumerate(
                (
                    (220, 40, 40),
                    (240, 140, 30),
                    (240, 220, 40),
                    (60, 170, 60),
                    (50, 90, 200),
                    (120, 60, 160),
                )
            ):
                cv2.ellipse(
                    layer,
                    (cx, cy),
                    (int(r0 * 1.6 + i * 5), int(r0 + i * 5)),
                    0,
                    180,
                    360,
                    rc,
                    5,
                    cv2.LINE_AA,
                )
        elif kind == 3:  # waves / fields
            xs = np.linspace(0, W, 30)
            for k in range(int(rng.integers(1, 4))):
                ys = rng.uniform(0.6, 0.9) * H + np.sin(xs / W * rng.uniform(3, 12) + k) * 0.05 * H
                pts = np.concatenate([np.stack([xs, ys], 1), [[W, H], [0, H]]])
                cv2.fillPoly(layer, [pts.astype(np.int32)], col, cv2.LINE_AA)
        elif kind == 4:  # trees
            for _ in range(int(rng.integers(2, 10))):
                x = rng.uniform(0, W)
                base, hh = rng.uniform(0.7, 1.0) * H, rng.uniform(0.15, 0.5) * H
                pts = np.array([[x, base - hh], [x + hh * 0.3, base], [x - hh * 0.3, base]])
                cv2.fillPoly(layer, [pts.astype(np.int32)], (30, 90, 50), cv2.LINE_AA)
        else:  # soft blobs
            for _ in range(int(rng.integers(2, 6))):
                cv2.ellipse(
                    layer,
                    (int(rng.uniform(0, W)), int(rng.uniform(0, H))),
                    (int(rng.uniform(0.05, 0.3) * W), int(rng.uniform(0.05, 0.3) * H)),
                    rng.uniform(0, 180),
                    0,
                    360,
                    col,
                    -1,
                    cv2.LINE_AA,
                )
    a = rng.uniform(0.25, 0.85)
    img *= 1 - a
    img += layer * a
