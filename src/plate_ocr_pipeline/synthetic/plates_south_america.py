"""South American plates: Mercosur (AR, BR, UY, PY), old Brazilian and Argentine plates,
and their two-row motorcycle plates."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np

from .drawing import Colour, border, jitter, small_text, text_line
from .options import PLATE_SIZES, Resources, plate_size
from .serial import SerialStyle, draw_rows, draw_serial, serial_style
from .stroke_face import draw_stroke_face

MERCOSUR_TITLES = {
    "ar": "REPUBLICA ARGENTINA",
    "br": "BRASIL",
    "uy": "URUGUAY",
    "py": "PARAGUAY",
}
BR_CITIES = ("SP - SAO PAULO", "RJ - RIO DE JANEIRO", "MG - BELO HORIZONTE", "PR - CURITIBA")


def _mercosur_ink(rng: np.random.Generator, country: str) -> np.ndarray:
    """Character colour by use (AR and BR): mostly black (private)."""
    if country not in ("ar", "br"):
        return jitter(rng, (15, 15, 15), 6)
    colours = ((15, 15, 15), (175, 25, 30), (25, 50, 150), (20, 110, 50), (165, 130, 45))
    colours += ((120, 120, 124),)  # silver / grey: collector
    k = int(rng.choice(len(colours), p=[0.82, 0.07, 0.03, 0.03, 0.02, 0.03]))
    return jitter(rng, colours[k], 6)


def _mercosur_band(
    rng: np.random.Generator, img: np.ndarray, band: int, country: str, res: Resources
) -> None:
    """Blue top band: MERCOSUR (left), the country's name (centre), its flag (right)."""
    H, W = img.shape[:2]
    img[:band] = jitter(rng, (0, 51, 153), 10)
    text_line(
        img,
        res.serial_fonts[int(rng.integers(len(res.serial_fonts)))],
        MERCOSUR_TITLES[country],
        W / 2,
        band * 0.22,
        band * 0.6,
        0.55 * W,
        (245, 245, 245),
    )
    fx, fw = int(W - 0.1 * W), max(3, int(0.06 * W))
    y0, y1 = int(band * 0.2), int(band * 0.8)
    third = max(1, (y1 - y0) // 3)
    if country == "ar":
        img[y0:y1, fx : fx + fw] = (116, 172, 223)
        img[y0 + third : y1 - third, fx : fx + fw] = (250, 250, 250)
    elif country == "br":
        img[y0:y1, fx : fx + fw] = (0, 150, 60)
        cv2.circle(img, (fx + fw // 2, band // 2), max(1, int(band * 0.22)), (250, 220, 0), -1)
    elif country == "uy":  # white with blue stripes, a sun in the corner
        img[y0:y1, fx : fx + fw] = (250, 250, 250)
        for k in range(1, 5, 2):
            yy = y0 + k * (y1 - y0) // 5
            img[yy : yy + max(1, (y1 - y0) // 8), fx : fx + fw] = (0, 56, 168)
        cv2.circle(img, (fx + fw // 5, y0 + (y1 - y0) // 4), max(1, band // 8), (252, 209, 22), -1)
    else:  # py: red, white, blue
        img[y0 : y0 + third, fx : fx + fw] = (213, 43, 30)
        img[y0 + third : y1 - third, fx : fx + fw] = (250, 250, 250)
        img[y1 - third : y1, fx : fx + fw] = (0, 56, 168)
    small_text(
        img,
        res.serial_fonts[0],
        "MERCOSUR",
        0.09 * W,
        band * 0.3,
        band * 0.4,
        0.14 * W,
        (245, 245, 245),
    )


def mercosur_plate(
    rng: np.random.Generator, groups: list[str], region: str, res: Resources
) -> np.ndarray:
    W, H = PLATE_SIZES["mercosur"]
    img = np.empty((H, W, 3), np.float32)
    img[:] = jitter(rng, (246, 246, 246), 6)
    band = int(rng.uniform(0.19, 0.23) * H)
    _mercosur_band(rng, img, band, region, res)
    if region == "ar":
        shown = groups if rng.random() < 0.7 else ["".join(groups)]
        sep = "space"
    elif region == "br":
        shown, sep = ["".join(groups)], "none"
    else:
        shown, sep = groups, "space"
    style = serial_style(rng, res, rng.uniform(0.5, 0.6) * H, sep, (0, 0, 0))
    draw_serial(
        rng,
        img,
        shown,
        style,
        _mercosur_ink(rng, region),
        W / 2,
        band + (H - band) * rng.uniform(0.48, 0.53),
        0.9 * W,
        rng.random() < 0.3,
    )
    cv2.rectangle(img, (1, 1), (W - 2, H - 2), (20, 20, 20), int(rng.integers(1, 3)), cv2.LINE_AA)
    return img


# Brazilian pre-Mercosur categories (background, characters, odds): private grey/black,
# hire red/white, driving school white/red, official white/black, test green/white,
# diplomatic blue/white, collector black/white.
BR_OLD_COLOURS = (
    ((185, 185, 180), (20, 20, 20), 0.62),
    ((175, 30, 35), (240, 240, 240), 0.14),
    ((240, 240, 238), (175, 30, 35), 0.05),
    ((240, 240, 238), (20, 20, 20), 0.05),
    ((25, 115, 60), (240, 240, 240), 0.04),
    ((30, 60, 150), (240, 240, 240), 0.03),
    ((22, 22, 24), (235, 235, 235), 0.07),
)


def _old_colours(rng: np.random.Generator, country: str) -> tuple[np.ndarray, np.ndarray, str]:
    """(background, ink, strip text) of an old AR (white on black) or BR plate."""
    if country == "ar":
        return jitter(rng, (22, 22, 24), 8), jitter(rng, (235, 235, 235), 10), "ARGENTINA"
    k = int(rng.choice(len(BR_OLD_COLOURS), p=[c[2] for c in BR_OLD_COLOURS]))
    bg, ink, _ = BR_OLD_COLOURS[k]
    strip = BR_CITIES[int(rng.integers(len(BR_CITIES)))]
    if k == 5:  # diplomatic: the strip shows the mission's category, not a city
        strip = str(rng.choice(["CD", "CC", "CMD", "OI", "ADM"]))
    return jitter(rng, bg, 12), jitter(rng, ink, 6), strip


def _br_style(style: SerialStyle) -> SerialStyle:
    """Mandatory, the old Brazilian plate face: the 1 is a bare bar (like the I)."""
    return replace(style, glyphs=replace(style.glyphs, bar_one=True, serif_i=False))


def _ar_old_plate(rng: np.random.Generator, groups: list[str], res: Resources) -> np.ndarray:
    """Argentina 1995-2016: a wide white frame (ARGENTINA in light blue at the top, bolt
    holes, often a dealer's name at the bottom) round a black field filled by tall, narrow
    white characters, drawn in condensed open faces or, on ``stroke_face_odds`` of them, a
    face of the stroke family (one unsourced page names the German FE face, of which no open
    font is installed; docs/plate-regions.md)."""
    W, H = PLATE_SIZES["ar-old"]
    img = np.empty((H, W, 3), np.float32)
    img[:] = jitter(rng, (236, 236, 232), 8) * rng.uniform(0.72, 1.0)  # dirt and shade
    top, bottom = rng.uniform(0.15, 0.24) * H, rng.uniform(0.1, 0.2) * H
    side = rng.uniform(0.025, 0.055) * W
    bg, ink, strip = _old_colours(rng, "ar")
    look = res.ar_old
    # Drawn only when asked for, so that plates without wear keep their pixels.
    worn = bool(look.wear_odds) and rng.random() < look.wear_odds
    if worn:
        bg, ink = _faded(rng, bg, ink)
    radius = int(rng.uniform(0.03, 0.08) * H)
    x0, y0, x1, y1 = int(side), int(top), int(W - side), int(H - bottom)
    _rounded_box(img, (x0, y0, x1, y1), radius, tuple(map(float, bg)))
    if rng.random() < 0.85:
        blue = jitter(rng, (110, 170, 225), 15)
        text_line(img, res.serial_fonts[0], strip, W / 2, 0.25 * top, 0.5 * top, 0.4 * W, blue)
    for fx in (0.22, 0.78):  # bolt holes in the top band
        cv2.circle(
            img,
            (int(fx * W), int(0.5 * top)),
            max(2, int(0.18 * top)),
            tuple(float(v) for v in rng.uniform(30, 110, 3)),
            -1,
            cv2.LINE_AA,
        )
    if rng.random() < 0.4:  # a dealer's name and phone on the bottom band
        word = "".join(rng.choice(list("ABCDEFGHIJKLMNOPRSTUVZ"), int(rng.integers(4, 9))))
        small_text(
            img,
            res.decor_fonts[int(rng.integers(len(res.decor_fonts)))],
            word,
            W * rng.uniform(0.35, 0.65),
            y1 + 0.2 * bottom,
            0.6 * bottom,
            0.5 * W,
            tuple(float(v) for v in rng.uniform(20, 120, 3)),
        )
    field_h = y1 - y0
    # Some plates carry a seal between the groups, and duplicates and triplicates a small D
    # or T there (not part of the registration).
    draw = rng.random()
    sep = "dot" if draw < 0.2 else "mark" if draw < 0.32 else "space"
    style = serial_style(rng, res, rng.uniform(*look.serial_height) * field_h, sep, ink)
    style = replace(
        style, xscale=style.xscale * rng.uniform(*look.xscale), char_jitter=look.char_jitter
    )
    # Drawn only when asked for, so that plates in installed fonts keep their pixels.
    if look.stroke_face_odds and rng.random() < look.stroke_face_odds:
        style = replace(style, font=draw_stroke_face(rng))
    # Drawn only when asked for, so that plates without them keep their pixels.
    rim = bool(look.rim_odds) and rng.random() < look.rim_odds
    span = 0.94 * (x1 - x0)
    if rim:
        inset = rng.uniform(0.035, 0.07) * field_h
        thickness = max(1, int(round(rng.uniform(0.02, 0.04) * field_h)))
        cv2.rectangle(
            img,
            (int(x0 + inset), int(y0 + inset)),
            (int(x1 - inset), int(y1 - inset)),
            tuple(map(float, ink)),
            thickness,
            cv2.LINE_AA,
        )
        style = replace(style, height=style.height * 0.92)
        span = 0.9 * (x1 - x0)
    draw_serial(rng, img, groups, style, ink, W / 2, (y0 + y1) / 2, span, rng.random() < 0.7)
    if worn:
        field = np.zeros((H, W), np.float32)
        _rounded_box(field, (x0, y0, x1, y1), radius, 1.0)
        _chipped(rng, img, field)
    if look.bloom_odds and rng.random() < look.bloom_odds:
        _bloom(rng, img)
    return img


def _rounded_box(
    canvas: np.ndarray, box: tuple[int, int, int, int], radius: int, value: Colour
) -> None:
    """Fill a box with rounded corners (the black field of an old Argentine plate)."""
    x0, y0, x1, y1 = box
    cv2.rectangle(canvas, (x0 + radius, y0), (x1 - radius, y1), value, -1)
    cv2.rectangle(canvas, (x0, y0 + radius), (x1, y1 - radius), value, -1)
    for cx_, cy_ in (
        (x0 + radius, y0 + radius),
        (x1 - radius, y0 + radius),
        (x0 + radius, y1 - radius),
        (x1 - radius, y1 - radius),
    ):
        cv2.circle(canvas, (cx_, cy_), radius, value, -1, cv2.LINE_AA)


def _faded(
    rng: np.random.Generator, field: np.ndarray, ink: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Sun-worn colours: the black field faded towards grey, the white ink dulled, still
    at least 60 levels apart."""
    field = np.clip(field + rng.uniform(15, 95) + rng.normal(0, 3, 3), 0, 255)
    ink = np.clip(ink * rng.uniform(0.7, 0.97), field + 60, 255)
    return field.astype(np.float32), ink.astype(np.float32)


def _chipped(rng: np.random.Generator, img: np.ndarray, field: np.ndarray) -> None:
    """Inside ``field`` (a 0..1 mask of the black field): the paint faded unevenly from one
    side to the other, and chipped off field and characters in blotches, baring light grey
    aluminium."""
    rows, cols = np.nonzero(field > 0)
    if rows.size == 0:
        return
    y0, y1, x0, x1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    fh, fw = int(y1 - y0), int(x1 - x0)
    if fh < 4 or fw < 4:
        return
    inside = field[y0:y1, x0:x1, None]
    region = img[y0:y1, x0:x1]
    across = rng.random() < 0.5
    ramp = np.linspace(-1.0, 1.0, fw if across else fh, dtype=np.float32)
    ramp = 1.0 + rng.uniform(0.0, 0.2) * ramp * (1 if rng.random() < 0.5 else -1)
    ramp = ramp[None, :, None] if across else ramp[:, None, None]
    cell = max(2.0, fh * rng.uniform(0.07, 0.16))
    coarse = rng.random((int(fh / cell) + 2, int(fw / cell) + 2)).astype(np.float32)
    noise = cv2.resize(coarse, (fw, fh), interpolation=cv2.INTER_CUBIC)
    bare = (noise > np.quantile(noise, 1.0 - rng.uniform(0.01, 0.07))).astype(np.float32)
    bare = cv2.GaussianBlur(bare, (3, 3), 0)[..., None] * inside
    metal = (rng.uniform(120, 185) + rng.normal(0, 4, 3)).astype(np.float32)
    faded = region * (1.0 + (ramp - 1.0) * inside)
    region[:] = np.clip(faded * (1.0 - bare) + bare * metal, 0, 255)


def _bloom(rng: np.random.Generator, img: np.ndarray) -> None:
    """Over-exposure of a reflective plate: light from its bright parts spreads into the dark
    ones (white strokes thicken, the black field turns grey near them)."""
    H = img.shape[0]
    bright = np.clip(img - 150.0, 0, None)
    sigma = rng.uniform(0.015, 0.04) * H
    glow = cv2.GaussianBlur(bright, (0, 0), sigma)
    img += rng.uniform(0.4, 1.0) * glow
    np.clip(img, 0, 255, out=img)


def old_plate(
    rng: np.random.Generator, groups: list[str], region: str, res: Resources
) -> np.ndarray:
    if region == "ar-old":
        return _ar_old_plate(rng, groups, res)
    W, H = PLATE_SIZES[region]
    img = np.empty((H, W, 3), np.float32)
    bg, ink, strip = _old_colours(rng, "br")
    img[:] = bg
    text_line(img, res.serial_fonts[0], strip, W / 2, 0.05 * H, 0.15 * H, 0.6 * W, ink)
    sep, cy = ("dash" if rng.random() < 0.7 else "dot"), 0.6 * H
    style = _br_style(serial_style(rng, res, rng.uniform(0.5, 0.58) * H, sep, ink))
    draw_serial(rng, img, groups, style, ink, W / 2, cy, 0.9 * W, rng.random() < 0.7)
    border(rng, img, ink)
    return img


def mercosur_moto_plate(
    rng: np.random.Generator, groups: list[str], region: str, res: Resources
) -> np.ndarray:
    W, H = plate_size(region)
    country = region.split("-")[0]
    img = np.empty((H, W, 3), np.float32)
    img[:] = jitter(rng, (246, 246, 246), 6)
    band = int(rng.uniform(0.15, 0.19) * H)
    _mercosur_band(rng, img, band, country, res)
    sep = "space" if country == "ar" else "none"
    style = serial_style(rng, res, 0.3 * H, sep, (0, 0, 0))
    draw_rows(
        rng,
        img,
        groups,
        style,
        _mercosur_ink(rng, country),
        band + 0.05 * H,
        0.95 * H,
        (0.04 * W, 0.96 * W),
        (0.04 * W, 0.96 * W),
        rng.random() < 0.3,
    )
    cv2.rectangle(img, (1, 1), (W - 2, H - 2), (20, 20, 20), int(rng.integers(1, 3)), cv2.LINE_AA)
    return img


def old_moto_plate(
    rng: np.random.Generator, groups: list[str], region: str, res: Resources
) -> np.ndarray:
    W, H = plate_size(region)
    country = region.split("-")[0]
    img = np.empty((H, W, 3), np.float32)
    bg, ink, strip = _old_colours(rng, country)
    img[:] = bg
    text_line(img, res.serial_fonts[0], strip, W / 2, 0.05 * H, 0.1 * H, 0.6 * W, ink)
    style = serial_style(rng, res, 0.3 * H, "space", ink)
    if country == "br":
        style = _br_style(style)
    draw_rows(
        rng,
        img,
        groups,
        style,
        ink,
        0.18 * H,
        0.95 * H,
        (0.05 * W, 0.95 * W),
        (0.05 * W, 0.95 * W),
        rng.random() < 0.6,
    )
    border(rng, img, ink)
    return img
