"""European plates: one-row plates with their bands, the UK's, and two-row square ones."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np

from .drawing import bolt_holes, border, draw_shield, jitter, star, text_line
from .options import PLATE_SIZES, Resources, plate_size
from .serial import draw_rows, draw_serial, serial_style

EU_CODES = {
    "eu-de": "D",
    "eu-fr": "F",
    "eu-it": "I",
    "eu-es": "E",
    "eu-nl": "NL",
    "eu-pl": "PL",
    "eu-be": "B",
    "eu-at": "A",
    "eu-ch": "",  # no EU band
    "eu-cz": "CZ",
    "eu-se": "S",
    "eu-no": "N",
    "eu-dk": "DK",
    "eu-pt": "P",
    "eu-fi": "FIN",
    "eu-ie": "IRL",
    "eu-gr": "GR",
    "eu-lu": "L",
}
# County names in Irish printed above the serial (a few of them).
IE_COUNTIES = ("BAILE ATHA CLIATH", "CORCAIGH", "GAILLIMH", "LUIMNEACH", "CILL DARA", "MAIGH EO")


def _eu_band(
    rng: np.random.Generator,
    img: np.ndarray,
    x0: int,
    bw: int,
    code: str,
    res: Resources,
    stars: bool = True,
) -> None:
    H = img.shape[0]
    img[:, x0 : x0 + bw] = jitter(rng, (0, 51, 153), 10)
    if stars:
        cx, cy, r = x0 + bw / 2, 0.3 * H, 0.17 * H
        for k in range(12):
            a = 2 * np.pi * k / 12
            cv2.fillPoly(
                img,
                [star(cx + r * np.cos(a), cy + r * np.sin(a), 0.035 * H)],
                (255, 204, 0),
                cv2.LINE_AA,
            )
    if code:
        font = res.serial_fonts[0]
        text_line(img, font, code, x0 + bw / 2, 0.58 * H, 0.3 * H, 0.85 * bw, (245, 245, 245))


def eu_plate(
    rng: np.random.Generator, groups: list[str], region: str, res: Resources
) -> np.ndarray:
    W, H = plate_size(region)
    bg = (245, 200, 30) if region in ("eu-nl", "eu-lu") else (246, 246, 246)
    img = np.empty((H, W, 3), np.float32)
    img[:] = jitter(rng, bg, 8)
    code = EU_CODES[region]
    bw = 0
    if region != "eu-ch" and (region != "eu-dk" or rng.random() < 0.6):
        bw = int(rng.uniform(0.08, 0.095) * W)
        _eu_band(rng, img, 0, bw, code, res, stars=region != "eu-no")
        if region == "eu-no":
            _flag_no(img, bw / 2, 0.3 * H, 0.6 * bw)
    right = 0
    if region in ("eu-fr", "eu-it") and rng.random() < 0.85:
        right = bw
        img[:, W - right :] = jitter(rng, (0, 51, 153), 10)
        txt = f"{rng.integers(1, 96):02d}" if region == "eu-fr" else f"{rng.integers(0, 30):02d}"
        text_line(
            img,
            res.serial_fonts[0],
            txt,
            W - right / 2,
            0.55 * H,
            0.28 * H,
            0.8 * right,
            (245, 245, 245),
        )
    elif region == "eu-pt" and rng.random() < 0.8:  # yellow band: year over month
        right = int(rng.uniform(0.07, 0.085) * W)
        img[:, W - right :] = jitter(rng, (250, 205, 20), 8)
        font, dark = res.serial_fonts[0], (25, 25, 25)
        year, month = (
            f"{rng.integers(0, 21) if rng.random() < 0.5 else rng.integers(92, 100):02d}",
            f"{rng.integers(1, 13):02d}",
        )
        text_line(img, font, year, W - right / 2, 0.17 * H, 0.26 * H, 0.8 * right, dark)
        text_line(img, font, month, W - right / 2, 0.57 * H, 0.26 * H, 0.8 * right, dark)
    left_shield = right_shield = 0.0
    # Switzerland: the Swiss shield on the left, the canton's on the right (rear plates).
    if region == "eu-ch" and rng.random() < 0.7:
        left_shield = right_shield = 0.1 * W
        draw_shield(rng, img, 0.055 * W, 0.5 * H, 0.065 * W, 0.55 * H, "swiss")
        draw_shield(rng, img, W - 0.055 * W, 0.5 * H, 0.065 * W, 0.55 * H, "split")
    if region == "eu-at":  # red-white-red strips at the top and the bottom
        t = max(2, int(0.07 * H))
        red = jitter(rng, (200, 30, 40), 10)
        img[2 : 2 + t, bw:] = red
        img[H - 2 - t : H - 2, bw:] = red
    if region == "eu-dk":
        t = max(2, int(0.04 * H))
        cv2.rectangle(
            img,
            (t, t),
            (W - 1 - t, H - 1 - t),
            tuple(float(v) for v in jitter(rng, (200, 30, 40), 10)),
            t,
        )
    seps = {
        "eu-de": "seals",
        "eu-fr": "dash",
        "eu-nl": "dash",
        "eu-be": "dash",
        "eu-pt": "dash",
        "eu-gr": "dash",
        "eu-ie": "dash",
        "eu-fi": "dash" if rng.random() < 0.7 else "dot",
        "eu-cz": "stickers" if rng.random() < 0.6 else "space",
    }
    sep = seps.get(region, "space")
    if region in ("eu-pl", "eu-es", "eu-it"):
        sep = str(rng.choice(["space", "none"], p=[0.8, 0.2]))
    height = rng.uniform(0.66, 0.76) * H
    cy = H * rng.uniform(0.49, 0.53)
    if region == "eu-ie":  # county name in Irish above a smaller serial
        county = IE_COUNTIES[int(rng.integers(len(IE_COUNTIES)))]
        text_line(
            img,
            res.serial_fonts[0],
            county,
            W / 2 + bw / 2,
            0.06 * H,
            0.17 * H,
            0.5 * W,
            (25, 25, 25),
        )
        height, cy = rng.uniform(0.56, 0.62) * H, H * rng.uniform(0.6, 0.63)
    style = serial_style(rng, res, height, sep, (0, 0, 0))
    if region == "eu-at":  # the state arms after the district code, spaces after that
        style = replace(style, separators=("shield",))
    ink = jitter(rng, (150, 20, 35) if region == "eu-be" else (18, 18, 18), 8)
    x0, x1 = bw + left_shield, W - right - right_shield
    draw_serial(
        rng,
        img,
        groups,
        style,
        ink,
        (x0 + x1) / 2,
        cy,
        (x1 - x0) * 0.92,
        rng.random() < 0.4,
    )
    cv2.rectangle(img, (1, 1), (W - 2, H - 2), (20, 20, 20), int(rng.integers(1, 4)), cv2.LINE_AA)
    if rng.random() < 0.5:
        bolt_holes(rng, img, False)
    return img


def _flag_no(img: np.ndarray, cx: float, cy: float, w: float) -> None:
    """Norway's flag (red, white-edged blue cross) in the EU band, in place of the stars."""
    h = w * 0.73
    x0, y0 = int(cx - w / 2), int(cy - h / 2)
    cv2.rectangle(img, (x0, y0), (int(x0 + w), int(y0 + h)), (186, 12, 47), -1)
    for t, col in ((0.25, (245, 245, 245)), (0.12, (0, 32, 91))):
        a = t * h
        cv2.rectangle(
            img, (int(x0 + 0.36 * w - a), y0), (int(x0 + 0.36 * w + a), int(y0 + h)), col, -1
        )
        cv2.rectangle(img, (x0, int(cy - a)), (int(x0 + w), int(cy + a)), col, -1)


def uk_plate(rng: np.random.Generator, groups: list[str], res: Resources) -> np.ndarray:
    W, H = PLATE_SIZES["uk"]
    rear = rng.random() < 0.55
    # Vehicles built before 1980 may keep white, silver or grey characters on black.
    black = rng.random() < 0.07
    img = np.empty((H, W, 3), np.float32)
    bg = (22, 22, 24) if black else (250, 205, 20) if rear else (248, 248, 248)
    img[:] = jitter(rng, bg, 8)
    bw = 0
    if not black and rng.random() < 0.5:
        bw = int(rng.uniform(0.07, 0.09) * W)
        _eu_band(rng, img, 0, bw, str(rng.choice(["UK", "GB"])), res, stars=rng.random() < 0.3)
    style = serial_style(rng, res, rng.uniform(0.68, 0.78) * H, "space", (0, 0, 0))
    avail = W - bw
    ink = jitter(rng, (rng.uniform(175, 245),) * 3, 6) if black else jitter(rng, (15,) * 3, 6)
    draw_serial(
        rng,
        img,
        groups,
        style,
        ink,
        bw + avail / 2,
        H * rng.uniform(0.49, 0.52),
        avail * 0.92,
        False,
    )
    if black or rng.random() < 0.5:
        border(rng, img, ink if black else (20, 20, 20))
    return img


def eu_2row_plate(
    rng: np.random.Generator, groups: list[str], region: str, res: Resources
) -> np.ndarray:
    """Square European plate: the EU band at the left of the top row (or full height), the
    district / first letters on top, the rest below (DE, FR, IT moto, CZ, NO)."""
    W, H = plate_size(region)
    country = region.removesuffix("-2row")
    img = np.empty((H, W, 3), np.float32)
    img[:] = jitter(rng, (246, 246, 246), 8)
    y0, y1 = 0.06 * H, 0.94 * H
    split = (y0 + y1) / 2
    bw = int(rng.uniform(0.11, 0.14) * W)
    full_band = rng.random() < 0.3
    band_rows = img if full_band else img[: int(split)]
    _eu_band(rng, band_rows, 0, bw, EU_CODES[country], res, stars=country != "eu-no")
    if country == "eu-no":
        _flag_no(band_rows, bw / 2, 0.3 * band_rows.shape[0], 0.6 * bw)
    right = 0
    if country in ("eu-fr", "eu-it") and rng.random() < 0.75:  # right band on the top row
        right = bw
        img[: int(split), W - right :] = jitter(rng, (0, 51, 153), 10)
        if country == "eu-it":
            cv2.circle(
                img,
                (int(W - right / 2), int(0.2 * H)),
                max(2, int(0.25 * right)),
                (250, 205, 20),
                -1,
            )
        txt = f"{rng.integers(1, 96):02d}" if country == "eu-fr" else f"{rng.integers(0, 30):02d}"
        text_line(
            img,
            res.serial_fonts[0],
            txt,
            W - right / 2,
            0.32 * H,
            0.1 * H,
            0.8 * right,
            (245, 245, 245),
        )
    seals = country == "eu-de" and rng.random() < 0.8
    top_x = (bw + 0.02 * W, W - right - (0.16 * W if seals else 0.02 * W))
    bottom_x = ((bw if full_band else 0) + 0.03 * W, W - 0.03 * W)
    sep = "dash" if country == "eu-fr" else "space"
    style = serial_style(rng, res, 0.3 * H, sep, (0, 0, 0))
    ink = jitter(rng, (18, 18, 18), 8)
    _, top_right = draw_rows(
        rng, img, groups, style, ink, y0, y1, top_x, bottom_x, rng.random() < 0.4
    )
    if seals:  # the two round seals right of the district code
        r = int(0.07 * H)
        sx = int(min(top_right + 0.06 * W, W - 0.02 * W - r))
        for dy in (-0.1 * H, 0.08 * H):
            cv2.circle(
                img, (sx, int(y0 + (split - y0) / 2 + dy)), r, tuple(rng.uniform(60, 230, 3)), -1
            )
    cv2.rectangle(img, (1, 1), (W - 2, H - 2), (20, 20, 20), int(rng.integers(1, 4)), cv2.LINE_AA)
    if rng.random() < 0.4:
        bolt_holes(rng, img, False)
    return img
