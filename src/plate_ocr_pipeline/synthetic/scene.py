"""A flat plate placed in a crop as a detector cuts it (margins, tight and loose crops,
perspective), then degraded as a camera takes it."""

from __future__ import annotations

import cv2
import numpy as np

from . import effects
from .drawing import jitter, vertical_gradient

# The characters' box on the flat plate and one row's height: (x0, y0, x1, y1, row_h).
TextBox = tuple[float, float, float, float, float]


def _car_body(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    grey = np.full(3, rng.uniform(10, 240))
    base = grey if rng.random() < 0.6 else grey * 0.5 + rng.uniform(10, 230, 3) * 0.5
    img = vertical_gradient(h, w, jitter(rng, base, 30), jitter(rng, base, 30))
    return img


TIGHT_ODDS = 0.15  # share of crops cut into the plate's border (rarely a sliver of a character)


def _tight_window(
    rng: np.random.Generator, pw: int, ph: int, box: TextBox
) -> tuple[float, float, float, float]:
    """Window (u0, v0, u1, v1) of the plate that fills a tight crop: cut into the border
    between the plate's edge and the characters; on either side, sometimes a sliver (at most
    4% of the character height) off the first or last character's edge."""
    tx0, ty0, tx1, ty1, row_h = box
    sliver = 0.04 * row_h
    cut = rng.random(2) < 0.35
    u0 = tx0 + rng.uniform(0, sliver) if cut[0] else tx0 - rng.uniform(0.1, 0.9) * max(tx0, 0)
    gap_r = max(pw - tx1, 0)
    u1 = tx1 - rng.uniform(0, sliver) if cut[1] else tx1 + rng.uniform(0.1, 0.9) * gap_r
    v0 = rng.uniform(0, 0.8) * max(ty0, 0)
    v1 = ph - rng.uniform(0, 0.8) * max(ph - ty1, 0)
    return float(u0), float(v0), float(u1), float(v1)


def place_in_crop(
    rng: np.random.Generator,
    plate: np.ndarray,
    width: int,
    height: int,
    text_box: TextBox | None = None,
) -> np.ndarray:
    """Warp the flat plate into a width x height crop (the whole plate with a thin margin
    mostly, like a detector's box; sometimes loose, rarely clipped by a few pixels). Given
    the characters' ``text_box`` (from ``renderer._flat_plate``), a share of crops (``TIGHT_ODDS``)
    is tight: cut into the plate's border, at most a sliver off the outer characters."""
    ph, pw = plate.shape[:2]
    loose = rng.random() < 0.15
    tight = text_box is not None and not loose and rng.random() < TIGHT_ODDS / 0.85
    if tight:
        u0, v0, u1, v1 = _tight_window(rng, pw, ph, text_box)
        sx, sy = width / max(u1 - u0, 1.0), height / max(v1 - v0, 1.0)
        x0, y0, x1, y1 = -u0 * sx, -v0 * sy, (pw - u0) * sx, (ph - v0) * sy
        corner_jitter, max_angle = 0.004, 1.5
    else:
        m = rng.uniform(0.02, 0.15, 4) if loose else rng.uniform(-0.015, 0.05, 4)
        x0, y0 = m[0] * width, m[1] * height
        x1, y1 = width - m[2] * width, height - m[3] * height
        corner_jitter, max_angle = 0.018, 5.0
    dst = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float32)
    dst += rng.normal(0, corner_jitter, (4, 2)).astype(np.float32) * np.array(
        [width, height], np.float32
    )
    if rng.random() < 0.5:
        ang = np.deg2rad(rng.uniform(-max_angle, max_angle))
        c = dst.mean(0)
        rot = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]], np.float32)
        dst = (dst - c) @ rot.T + c
    scale = (x1 - x0) / pw
    src_plate = plate
    if scale < 0.75:  # pre-shrink to avoid aliasing in the warp
        s = max(scale * 1.3, 0.05)
        src_plate = cv2.resize(
            plate, (max(8, int(pw * s)), max(4, int(ph * s))), interpolation=cv2.INTER_AREA
        )
    sh, sw = src_plate.shape[:2]
    src = np.array([[0, 0], [sw, 0], [sw, sh], [0, sh]], np.float32)
    M = cv2.getPerspectiveTransform(src, dst.astype(np.float32))
    out = _car_body(rng, width, height)
    cv2.warpPerspective(
        src_plate,
        M,
        (width, height),
        dst=out,
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_TRANSPARENT,
    )
    return out


def degrade(rng: np.random.Generator, img: np.ndarray, small: bool = False) -> np.ndarray:
    """Photometric degradations; float32 in, uint8 RGB out. ``small``: the crop is already
    tiny, so no further loss of resolution or blur (their draws are still made)."""
    # Real crops are mostly sharp and well lit (the real-US set); the on-the-fly augmentation
    # adds its own blur and noise on top, so each effect here stays the exception.
    if rng.random() < 0.45:
        img = effects.uneven_lighting(rng, img)
    if rng.random() < 0.12:
        img = effects.cast_shadow(rng, img)
    if rng.random() < 0.15:
        img = effects.glare(rng, img)
    if rng.random() < 0.2:
        img = effects.dirt(rng, img)
    if rng.random() < 0.5:
        img = effects.colour_cast(rng, img)
    out = np.clip(img, 0, 255).astype(np.uint8)
    if rng.random() < 0.5:
        out = effects.gamma_contrast(rng, out)
    if rng.random() < 0.2 and not small:
        out = effects.low_resolution(rng, out)
    if rng.random() < 0.3 and not small:
        out = effects.blur(rng, out)
    if rng.random() < 0.4:
        out = effects.noise(rng, out)
    if rng.random() < 0.3:
        out = effects.jpeg(rng, out)
    return np.ascontiguousarray(out)
