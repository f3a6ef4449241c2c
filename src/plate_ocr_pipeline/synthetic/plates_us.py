"""US plates: state names, slogans, inks and tints, stickers, pictures beside or behind the
serial, and the serial layouts of ``UsLayout``."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np

from .drawing import (
    Colour,
    bolt_holes,
    border,
    draw_emblem,
    draw_symbol,
    jitter,
    paste,
    small_text,
    text_line,
    vertical_gradient,
)
from .options import PLATE_SIZES, Resources, get_resources
from .serial import draw_serial, glyph, serial_style

STATE_NAMES = (
    (
        "Alabama Alaska Arizona Arkansas California Colorado Connecticut Delaware Florida "
        "Georgia Hawaii Idaho Illinois Indiana Iowa Kansas Kentucky Louisiana Maine Maryland "
        "Massachusetts Michigan Minnesota Mississippi Missouri Montana Nebraska Nevada "
        "New_Hampshire New_Jersey New_Mexico New_York North_Carolina North_Dakota Ohio Oklahoma "
        "Oregon Pennsylvania Rhode_Island South_Carolina South_Dakota Tennessee Texas Utah "
        "Vermont Virginia Washington West_Virginia Wisconsin Wyoming Washington_D.C."
    )
    .replace("_", "\x00")
    .split()
)
STATE_NAMES = tuple(s.replace("\x00", " ") for s in STATE_NAMES)

SLOGANS = (
    "Ocean State",
    "Famous Potatoes",
    "Constitution State",
    "Garden State",
    "Land of Lincoln",
    "The Natural State",
    "Wild, Wonderful",
    "10,000 lakes",
    "Aloha State",
    "Green Mountain State",
    "Great Lakes Splendor",
    "First in Flight",
    "Sunshine State",
    "Empire State",
    "Lone Star State",
    "America's Dairyland",
    "Grand Canyon State",
    "Native America",
    "Show Me State",
    "Live Free or Die",
    "Great Faces. Great Places.",
    "visitPA.com",
    "Peach State",
    "The Spirit of America",
    "Taxation Without Representation",
    "Centennial State",
    "Beautiful Kansas",
    "Sportsman's Paradise",
    "Treasure State",
    "Silver State",
    "Land of Enchantment",
    "Birthplace of Aviation",
    "Discover Wisconsin",
    "Scenic",
    "Conserve Wildlife Habitat",
    "Official State Plate",
    "In God We Trust",
    "Endless Summer",
    "Choose Life",
    "Protect Our Environment",
    "Support Education",
    "Veteran",
)


_INK = {
    "navy": (20, 32, 92),
    "blue": (28, 58, 150),
    "black": (22, 22, 24),
    "red": (170, 24, 34),
    "maroon": (112, 22, 38),
    "green": (22, 95, 48),
    "purple": (70, 30, 100),
}


_LIGHT_TINTS = ((250, 250, 250), (236, 242, 250), (250, 246, 232), (236, 246, 238), (246, 236, 236))


def _us_background(rng: np.random.Generator, W: int, H: int) -> tuple[np.ndarray, np.ndarray, str]:
    """Background and main ink colour of a US design."""
    style = rng.choice(
        ["white", "gradient", "picture", "yellow", "dark", "coloured"],
        p=[0.25, 0.25, 0.28, 0.08, 0.06, 0.08],
    )
    light_ink = ("navy", "blue", "black", "red", "maroon", "green", "purple")
    ink = jitter(rng, _INK[light_ink[int(rng.integers(len(light_ink)))]], 20)
    if style == "white":
        img = np.empty((H, W, 3), np.float32)
        img[:] = jitter(rng, _LIGHT_TINTS[int(rng.integers(len(_LIGHT_TINTS)))], 10)
    elif style in ("gradient", "picture"):
        tints = (
            (170, 200, 240),
            (250, 250, 250),
            (240, 220, 180),
            (200, 230, 200),
            (250, 200, 150),
            (230, 230, 250),
            (120, 170, 230),
        )
        a = tints[int(rng.integers(len(tints)))]
        b = tints[int(rng.integers(len(tints)))]
        img = vertical_gradient(H, W, jitter(rng, a), jitter(rng, b))
        if rng.random() < 0.5:  # white middle band
            t = np.abs(np.linspace(-1, 1, H, dtype=np.float32))[:, None, None]
            img = img * t + 245 * (1 - t)
        if style == "picture":
            _picture(rng, img)
    elif style == "yellow":
        img = np.empty((H, W, 3), np.float32)
        img[:] = jitter(rng, (240, 205, 70) if rng.random() < 0.6 else (245, 225, 150), 14)
        ink = jitter(rng, _INK[str(rng.choice(["navy", "black", "blue"]))], 12)
    elif style == "dark":
        img = np.empty((H, W, 3), np.float32)
        img[:] = jitter(
            rng,
            ((20, 40, 100), (20, 20, 24), (20, 80, 45), (110, 20, 35))[int(rng.integers(4))],
            12,
        )
        ink = jitter(rng, ((240, 200, 60), (245, 245, 245))[int(rng.integers(2))], 10)
    else:  # coloured pale
        img = np.empty((H, W, 3), np.float32)
        img[:] = jitter(rng, rng.uniform(170, 245, 3), 5)
    return img, ink, str(style)


def us_plate(rng: np.random.Generator, groups: list[str], res: Resources) -> np.ndarray:
    W, H = PLATE_SIZES["us"]
    img, ink, style = _us_background(rng, W, H)
    decor = res.decor_fonts[int(rng.integers(len(res.decor_fonts)))]
    accent = jitter(rng, _INK[str(rng.choice(list(_INK)))], 25)
    # --- state name (top or bottom) and slogan
    name = STATE_NAMES[int(rng.integers(len(STATE_NAMES)))]
    name = name.upper() if rng.random() < 0.5 else name
    top_band = rng.random() < 0.3
    name_at_top = rng.random() < 0.8
    name_h = rng.uniform(0.11, 0.17) * H
    if top_band:
        band_h = rng.uniform(0.18, 0.25) * H
        y0 = 0 if name_at_top else H - band_h
        img[int(y0) : int(y0 + band_h)] = accent
        text_col = (245, 245, 245) if accent.mean() < 140 else (20, 20, 20)
        text_line(
            img,
            decor,
            name,
            W / 2 + rng.normal(0, 4),
            y0 + (band_h - name_h) / 2,
            name_h,
            0.75 * W,
            text_col,
        )
    else:
        y = rng.uniform(0.03, 0.07) * H if name_at_top else H * 0.97 - name_h
        col = accent if style != "dark" else ink
        text_line(
            img,
            decor,
            name,
            W / 2 + rng.normal(0, 6),
            y,
            name_h,
            0.75 * W,
            col,
            xscale=rng.uniform(0.9, 1.3),
        )
    if rng.random() < 0.8:
        slogan = SLOGANS[int(rng.integers(len(SLOGANS)))]
        sh = rng.uniform(0.06, 0.095) * H
        sy = H * rng.uniform(0.87, 0.92) - sh / 2 if name_at_top else rng.uniform(0.04, 0.07) * H
        sfont = res.decor_fonts[int(rng.integers(len(res.decor_fonts)))]
        text_line(img, sfont, slogan, W / 2, sy, sh, 0.7 * W, accent if rng.random() < 0.5 else ink)
    # --- serial
    n_groups = len(groups)
    if n_groups == 1 and len(groups[0]) >= 4 and rng.random() < 0.12:
        cut = int(rng.integers(1, len(groups[0])))  # e.g. SAM<emblem>PLE
        groups = [groups[0][:cut], groups[0][cut:]]
    separator = str(
        rng.choice(
            ["none", "space", "dash", "dot", "emblem", "symbol"],
            p=[0.24, 0.28, 0.13, 0.13, 0.11, 0.11],
        )
    )
    layout = res.us_layout
    height = rng.uniform(*layout.serial_height) * H  # real US serials: mostly ~45% of it
    style_ = serial_style(rng, res, height, separator, jitter(rng, rng.uniform(30, 230, 3), 0))
    short = sum(len(g) for g in groups) <= 5
    # The US layout's ranges replace some of the style's generic draws. They are drawn after
    # it, in this order: the order of the draws is what makes a seed give the same plates.
    if separator == "symbol":
        style_ = replace(style_, symbol_scale=float(rng.uniform(*layout.symbol_scale)))
    if short:
        spacing = float(rng.uniform(*layout.short_spacing))
        height = rng.uniform(*layout.short_height) * H
        xscale = float(rng.uniform(*layout.short_xscale))
        style_ = replace(style_, spacing=spacing, height=height, xscale=xscale)
    else:
        style_ = replace(style_, xscale=float(rng.uniform(*layout.serial_xscale)))
    cy = rng.uniform(0.49, 0.56) * H
    stacked = rng.random() < (layout.stacked_odds_short if short else layout.stacked_odds)
    # A logo or seal beside the serial (Virginia's university seals, Maine's bird); not text.
    side_logo = not stacked and rng.random() < 0.15
    side_room = 0.13 * W if stacked else 0.2 * W if side_logo else 0.0
    # A big side picture only where neither stacked letters nor a logo took the room.
    side_picture = not side_room and rng.random() < layout.side_picture_odds
    if side_picture:
        side_room = rng.uniform(*layout.side_picture_width) * W
    cx = W / 2 + (
        side_room / 2 * (1 if rng.random() < 0.5 else -1) if side_room else rng.normal(0, 4)
    )
    max_w = W * rng.uniform(*layout.serial_span) - side_room
    emboss = rng.random() < 0.55
    x_left, x_right = draw_serial(rng, img, groups, style_, ink, cx, cy, max_w, emboss)
    # The side room (stacked letters, logo, picture) is left of the serial.
    room_on_left = cx > W / 2
    if stacked:  # small stacked characters, not part of the label
        chars = "".join(rng.choice(list("ABCDEFGHJKLMNPRSTUVWXYZ0123456789"), 2))
        ch = rng.uniform(*layout.stacked_height) * H
        glyphs = [glyph(style_, c, ch) for c in chars]
        gap = rng.uniform(*layout.stacked_gap) * W
        widest = max(g.shape[1] for g in glyphs)  # never over the serial
        sx = x_left - gap - widest if room_on_left else x_right + gap
        for k, g in enumerate(glyphs):
            paste(img, g, sx, cy - ch - 1 + k * (ch + 2), ink)
    if side_picture:
        draw_side_picture(rng, img, x_left if room_on_left else x_right, room_on_left, ink)
    if side_logo:
        logo_w = side_room * rng.uniform(0.7, 0.95)
        lx = x_left - 0.02 * W - logo_w / 2 if room_on_left else x_right + 0.02 * W + logo_w / 2
        logo_ink = jitter(rng, rng.uniform(20, 200, 3), 0) if rng.random() < 0.6 else ink
        if rng.random() < 0.7:
            draw_symbol(rng, img, lx, cy, logo_w, height * rng.uniform(0.9, 1.4), logo_ink)
        else:
            draw_emblem(rng, img, lx, cy, min(logo_w, height * 1.2), logo_ink)
    # --- stickers, holes, border
    for _ in range(int(rng.choice([0, 1, 1, 2, 2, 3]))):
        sw, sh_ = rng.uniform(0.09, 0.16) * W, rng.uniform(0.09, 0.15) * H
        corner = int(rng.integers(4))
        x = rng.uniform(0.02, 0.05) * W if corner % 2 == 0 else W * rng.uniform(0.95, 0.98) - sw
        y = rng.uniform(0.03, 0.08) * H if corner < 2 else H * rng.uniform(0.92, 0.97) - sh_
        _sticker(rng, img, x, y, sw, sh_)
    if rng.random() < 0.75:
        bolt_holes(rng, img, rng.random() < 0.3)
    if rng.random() < 0.5:
        border(rng, img, ink if rng.random() < 0.5 else (90, 90, 90))
    return img


def draw_side_picture(
    rng: np.random.Generator, img: np.ndarray, serial_edge: float, on_left: bool, ink: Colour
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


def _sticker(
    rng: np.random.Generator, img: np.ndarray, x: float, y: float, w: float, h: float
) -> None:
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


def _picture(rng: np.random.Generator, img: np.ndarray) -> None:
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
