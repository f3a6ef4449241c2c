"""Render one synthetic licence-plate crop (numpy/OpenCV/Pillow only).

``render_plate(rng, region, width, height)`` draws a flat plate of the region's design in
"plate coordinates", places it in a crop with perspective, then degrades it (lighting, glare,
dirt, blur, low resolution, noise, JPEG). Everything random comes from the one ``rng``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

import cv2
import numpy as np

from . import effects
from .fonts import (
    FontSpec,
    bar_glyph,
    decor_font_specs,
    flipped_m_glyph,
    glyph_mask,
    plate_q_glyph,
    plate_w_glyph,
    serial_font_specs,
    serif_serial_font_specs,
    supports,
    symbol_font_spec,
    text_mask,
)
from .formats import REGION_FORMATS, groups_to_label, sample_text, split_rows

DEFAULT_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_"

# Raised whenever a change to the drawing code changes the pixels of some plate: it is part of
# the rendered set's fingerprint, so a set on disk drawn by older code is rendered again.
RENDERER_VERSION = 3

# Plate size in plate coordinates (width, height) per family; aspect = w / h.
PLATE_SIZES: dict[str, tuple[int, int]] = {
    "us": (300, 150),
    "eu": (470, 100),
    "uk": (470, 100),
    "mercosur": (400, 130),
    "ar-old": (294, 129),
    "br-old": (400, 130),
    # two-row plates: closer to square (BR moto 200 x 170 mm; DE 280 x 200; FR 275 x 200;
    # CZ 280 x 200; IT moto square-ish)
    "mercosur-moto": (260, 220),
    "old-moto": (240, 180),
    "eu-2row": (280, 200),
    "eu-fr-2row": (275, 200),
    "eu-it-2row": (230, 200),
    "eu-no-2row": (260, 200),
}


def plate_size(region: str) -> tuple[int, int]:
    """Flat plate size (width, height) in plate coordinates: the region's own, else its
    family's."""
    return PLATE_SIZES.get(region) or PLATE_SIZES[REGION_FORMATS[region].family]


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
MERCOSUR_TITLES = {
    "ar": "REPUBLICA ARGENTINA",
    "br": "BRASIL",
    "uy": "URUGUAY",
    "py": "PARAGUAY",
}
BR_CITIES = ("SP - SAO PAULO", "RJ - RIO DE JANEIRO", "MG - BELO HORIZONTE", "PR - CURITIBA")

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


@dataclass(frozen=True)
class SerialGlyphs:
    """Glyph variants of one plate's serial, where real plate fonts differ from ours (none by
    default: the font's own glyphs)."""

    serif_i: bool = False  # I with top and bottom serifs, as most US plate fonts draw it
    bar_one: bool = False  # 1 as a bare bar; only with serif_i, so that 1 and I still differ
    plate_w: bool = False  # W with upright outer strokes and a full-height middle apex
    plate_q: bool = False  # Q as the 0 with a short tail across its lower right
    serif_font: bool = False  # the serial in a serif face (Virginia), not a sans one
    flipped_m_w: bool = False  # W as the font's M upside down (wins over plate_w)
    # O drawn as the font's 0 where the region's label writes 0 for O (the US: its plate fonts
    # draw the two alike). A round O labelled 0 taught the reader to read every region's O as
    # 0 (docs/experiments.md, row 26).
    zero_for_o: bool = False
    # O and 0 both drawn as this one of the font's glyphs ("0" or "O"; "": each its own), the
    # label keeping what the format has there: regions whose plate fonts have one glyph for
    # the two (old Argentine plates: a narrow 0; Mandatory, old Brazilian plates' face, and its
    # UK cut Charles Wright: an O). A reader that never saw a 0-shaped O in a letter slot reads
    # D or Q there.
    o_zero_glyph: str = ""

    @classmethod
    def draw(
        cls,
        rng: np.random.Generator,
        serif_i: float = 0.5,
        bar_one: float = 0.3,
        plate_w: float = 0.4,
        plate_q: float = 0.4,
        serif_font: float = 0.15,
        flipped_m_w: float = 0.6,
        zero_for_o: float = 1.0,
    ) -> SerialGlyphs:
        """Variants with the given odds (``bar_one``: share of serif-I plates with a bare 1);
        the defaults are conf/base's ``synthesize.serial_glyphs``."""
        # One draw per variant whatever the odds, so changing the odds of one variant leaves
        # the others of every plate as they were.
        odds = (serif_i, bar_one, plate_w, plate_q, serif_font, flipped_m_w, zero_for_o)
        serif, bare, w, q, roman, flipped, zero = rng.random(len(odds)) < odds
        return cls(
            serif_i=bool(serif),
            bar_one=bool(serif and bare),
            plate_w=bool(w),
            plate_q=bool(q),
            serif_font=bool(roman),
            flipped_m_w=bool(flipped),
            zero_for_o=bool(zero),
        )


# Gap between a serial's characters, of their height, and their horizontal stretch, on every
# plate family (US plates redraw some of them from ``UsLayout``).
SERIAL_SPACING = (0.02, 0.14)
SERIAL_XSCALE = (0.8, 1.2)


@dataclass(frozen=True)
class UsLayout:
    """Ranges of the US serial layout; the defaults are conf/base's ``synthesize.us_layout``.
    Real crops hold tall serials that fill the plate edge to edge, short serials drawn big or
    spread out, and small stacked letters or big pictures beside the serial."""

    serial_height: tuple[float, float] = (0.38, 0.62)  # share of the plate height (tall: NC, IL)
    serial_span: tuple[float, float] = (0.82, 0.98)  # widest serial, share of the plate width
    stacked_odds: float = 0.15  # small stacked characters beside the serial (not in the label)
    # The same for serials of at most 5 characters: most real ones are specialty plates with
    # stacked letters (Massachusetts, Maryland, Minnesota).
    stacked_odds_short: float = 0.7
    stacked_height: tuple[float, float] = (0.18, 0.28)  # each stacked character, of plate height
    # A pictogram between the groups, scaled from its usual size (about the serial's height):
    # Wyoming's bucking horse stands taller and wider than the characters beside it.
    symbol_scale: tuple[float, float] = (1.0, 1.5)
    # Gap between the characters of a serial of at most 5 characters, of their height: real
    # short serials are often spread across the plate, and a reader that never saw them so
    # reads a character twice.
    short_spacing: tuple[float, float] = (0.02, 0.45)
    # Height (of the plate's) and horizontal stretch of the characters of a serial of at most
    # 5 characters: real short serials are drawn big and wide (Vermont, Oregon, North
    # Carolina), and a reader that never saw them so reads wide characters twice.
    short_height: tuple[float, float] = (0.45, 0.66)
    short_xscale: tuple[float, float] = (1.0, 1.6)
    # The same stretch for longer serials: real US plate faces are wider than our condensed
    # ones, and 7-character serials that fill the plate edge to edge lose their last character.
    serial_xscale: tuple[float, float] = (0.9, 1.5)
    # Gap between the stacked letters and the serial, of the plate width: real ones (MA "US",
    # ID "6C", MN "HC") stand against the serial, where they are easily read as one more
    # character.
    stacked_gap: tuple[float, float] = (0.01, 0.04)
    # A big picture filling one side of the plate, the serial pushed to the other (Oklahoma's
    # archer, Indiana's torch): odds, and its width of the plate's. A reader that never saw one
    # reads the first character of such plates twice.
    side_picture_odds: float = 0.25
    side_picture_width: tuple[float, float] = (0.2, 0.35)


@dataclass(frozen=True)
class ArOldLook:
    """How Argentina's 1995-2016 plates are drawn; the defaults are conf/base's
    ``synthesize.ar_old``. Their white characters are debossed in a black field framed by a
    raised white border, and the whole plate is reflective: at night a flash or infrared
    light makes the white parts glow into the field."""

    serial_height: tuple[float, float] = (0.74, 0.9)  # character height, of the black field's
    xscale: tuple[float, float] = (0.7, 0.95)  # squeeze of the serial face: tall, narrow faces
    # Share of plates with the raised white line round the inside of the black field.
    rim_odds: float = 0.0
    # Share of over-exposed plates, where the white frame and characters glow into the field.
    bloom_odds: float = 0.0


@dataclass(frozen=True)
class SmallCrops:
    """Far plates: the share of crops rendered only a few pixels high, as a detector cuts a
    distant car's plate, then scaled up to the stored size (their blur and blocks are those
    of a small photo, not of a filter). The defaults are conf/base's
    ``synthesize.small_crops``."""

    odds: float = 0.08
    height: tuple[int, int] = (16, 30)  # [min, max] px, both included


def draw_small_crop(rng: np.random.Generator, look: SmallCrops) -> tuple[int, bool]:
    """A far plate's height and whether this crop is one. Two draws whatever ``look`` is, so
    that changing its odds or heights leaves every other plate's draws as they were."""
    low, high = look.height
    span = high - low + 1
    # integers(0, 1) would take nothing from the stream: a range of one height draws from two.
    height = low + int(rng.integers(0, max(span, 2))) % span
    return height, bool(rng.random() < look.odds)


@dataclass(frozen=True)
class Resources:
    """Fonts available to one process (cached per fonts_dir), and the serial glyph variants
    and US layout of the plate being drawn."""

    serial_fonts: tuple[FontSpec, ...]
    decor_fonts: tuple[FontSpec, ...]
    serif_serial_fonts: tuple[FontSpec, ...] = ()
    glyphs: SerialGlyphs = SerialGlyphs()
    us_layout: UsLayout = UsLayout()
    ar_old: ArOldLook = ArOldLook()
    small_crops: SmallCrops = SmallCrops()


@lru_cache(maxsize=8)
def get_resources(fonts_dir: str | None = None) -> Resources:
    chars = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    serial = tuple(s for s in serial_font_specs(fonts_dir) if supports(s, chars))
    if not serial:
        raise RuntimeError("no usable font draws all of A-Z0-9")
    serif = tuple(s for s in serif_serial_font_specs() if supports(s, chars))
    return Resources(serial, tuple(decor_font_specs()) or serial, serif)


# --------------------------------------------------------------------------- drawing helpers


def _c(rgb) -> np.ndarray:
    return np.asarray(rgb, np.float32)


def _jitter(rng: np.random.Generator, rgb, amount: float = 18.0) -> np.ndarray:
    return np.clip(_c(rgb) + rng.normal(0, amount / 2, 3), 0, 255).astype(np.float32)


def _paste(img: np.ndarray, mask: np.ndarray, x: float, y: float, colour, alpha=1.0) -> None:
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
    region += m * _c(colour)


def _resize_mask(mask: np.ndarray, w: int, h: int) -> np.ndarray:
    w, h = max(int(round(w)), 1), max(int(round(h)), 1)
    interp = cv2.INTER_AREA if h < mask.shape[0] else cv2.INTER_LINEAR
    return cv2.resize(mask, (w, h), interpolation=interp).astype(np.float32) * (1 / 255.0)


def _text_line(
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
    _paste(img, _resize_mask(m, w, height), cx - w / 2, y, colour, alpha)


def _small_text(img, spec: FontSpec, text: str, cx, y, height, max_w, colour) -> None:
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
        _paste(img, _resize_mask(g, w * sx, height), x, y, colour)
        x += (w + gap) * sx


def _vertical_gradient(h: int, w: int, top, bottom) -> np.ndarray:
    t = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    out = np.empty((h, w, 3), np.float32)
    out[:] = _c(top) * (1 - t) + _c(bottom) * t
    return out


def _star(cx: float, cy: float, r: float, rot: float = 0.0) -> np.ndarray:
    ang = np.arange(10) * np.pi / 5 + rot - np.pi / 2
    rad = np.where(np.arange(10) % 2 == 0, r, r * 0.42)
    return np.stack([cx + rad * np.cos(ang), cy + rad * np.sin(ang)], 1).astype(np.int32)


# ----------------------------------------------------------------------- characters / serial


@dataclass
class SerialStyle:
    font: FontSpec
    height: float
    xscale: float
    spacing: float  # fraction of height between characters
    separator: str  # none | space | dash | dot | mark | emblem | symbol | seals
    sep_colour: tuple
    bold: int  # dilate (+) / erode (-) iterations
    glyphs: SerialGlyphs = SerialGlyphs()
    symbol_scale: float = 1.0  # size of a pictogram separator, from its usual size
    # Separator of each gap between groups where it differs from ``separator`` (Austria: the
    # state arms after the district code, spaces after that).
    separators: tuple[str, ...] = ()


def _glyph(style: SerialStyle, ch: str, height: float) -> np.ndarray:
    g = None
    if ch == "I" and style.glyphs.serif_i:
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
        ch = style.glyphs.o_zero_glyph  # and so in the fallback font too
    if g is None:
        g = glyph_mask(style.font, ch)
    if g is None:  # fall back to a font that has it
        g = glyph_mask(FontSpec(get_resources().serial_fonts[0].path), ch)
    w = g.shape[1] * height / g.shape[0] * style.xscale * style.font.squeeze
    return _resize_mask(g, w, height)


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
            g = _glyph(style, ch, h)
            if ci > 0 or gi > 0:
                items.append(("gap", None, style.spacing * h))
            items.append(("glyph", g, g.shape[1]))
    return items, float(sum(it[2] for it in items))


# Pictograms from DejaVu Sans standing in for the silhouettes real plates print beside or
# between the characters (Wyoming's bucking horse, Maine's chickadee, Louisiana's pelican).
SYMBOLS = "♞♜♘✈⚓☘✿❀★✪☀♥♣♠❄⚑☎⚘⚜♛♚☂☃✂✌☯☮✦❖❦❧☙"


def _draw_symbol(rng: np.random.Generator, img: np.ndarray, cx, cy, box_w, box_h, colour) -> None:
    """A pictogram fitted into a box_w x box_h box centred at (cx, cy)."""
    g = glyph_mask(symbol_font_spec(), str(rng.choice(list(SYMBOLS))))
    if g is None:
        return
    gh, gw = g.shape
    scale = min(box_w / gw, box_h / gh)
    w, h = max(2, int(gw * scale)), max(2, int(gh * scale))
    mask = _resize_mask(g, w, h)
    _paste(img, mask, cx - w / 2, cy - h / 2, colour)


def _draw_emblem(rng: np.random.Generator, img: np.ndarray, cx, cy, size, colour) -> None:
    kind = rng.integers(4)
    col = tuple(float(v) for v in colour)
    if kind == 0:
        cv2.fillPoly(img, [_star(cx, cy, size * 0.5, rng.uniform(0, 1))], col, cv2.LINE_AA)
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


def _draw_side_picture(
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
        colour = ink if rng.random() < 0.4 else _jitter(rng, rng.uniform(10, 200, 3), 0)
        if rng.random() < 0.7:
            _draw_symbol(rng, canvas, cx, cy, w, h, colour)
        else:
            _draw_emblem(rng, canvas, cx, cy, min(w, h), colour)
    left, right = int(np.ceil(x0)), int(x1)
    img[:, left:right] = canvas[:, left:right]


def _draw_serial(
    rng: np.random.Generator,
    img: np.ndarray,
    groups: list[str],
    style: SerialStyle,
    colour,
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
            _paste_mask_max(mask, g, x, y)
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
    # separators drawn into the mask (dash, dot) or directly (emblem, seals)
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
            g = glyph_mask(style.font, "D" if rng.random() < 0.6 else "T")
            if g is not None:
                mh = h * rng.uniform(0.22, 0.4)
                small = _resize_mask(g, g.shape[1] * mh / g.shape[0] * style.xscale, mh)
                my = cy + h * rng.uniform(-0.1, 0.25) - mh / 2
                _paste_mask_max(mask, small, sx - small.shape[1] / 2, my)
    r0, r1 = max(0, int(y - 6)), min(H, int(y + h + 8))
    band_img, band = img[r0:r1], mask[r0:r1]
    if emboss:
        dx, dy = rng.integers(1, 4), rng.integers(1, 4)
        shadow = np.roll(band, (int(dy), int(dx)), (0, 1))
        shadow = cv2.GaussianBlur(shadow, (3, 3), 0) * np.float32(rng.uniform(0.35, 0.7))
        band_img *= 1 - shadow[..., None]
        hi = np.roll(band, (-1, -1), (0, 1)) * (1 - band) * np.float32(rng.uniform(0.3, 0.8))
        band_img += (255 - band_img) * hi[..., None]
    band_img *= 1 - band[..., None]
    band_img += band[..., None] * _c(colour)
    for sep, sx in seps:
        if sep == "emblem":
            _draw_emblem(rng, img, sx, cy, 0.55 * h, style.sep_colour)
        elif sep == "symbol":
            sep_ink = colour if rng.random() < 0.5 else style.sep_colour
            size = h * style.symbol_scale
            _draw_symbol(
                rng, img, sx, cy, 0.9 * size * scale, size * rng.uniform(0.7, 1.15), sep_ink
            )
        elif sep == "seals":
            r = int(0.13 * h)
            cv2.circle(img, (int(sx), int(cy - 0.17 * h)), r, tuple(rng.uniform(60, 230, 3)), -1)
            cv2.circle(img, (int(sx), int(cy + 0.17 * h)), r, tuple(rng.uniform(60, 230, 3)), -1)
        elif sep == "shield":  # a state's arms: a small striped shield, never a character
            _draw_shield(rng, img, sx, cy, 0.42 * h * scale + 0.1 * h, 0.6 * h)
        elif sep == "stickers":  # two round inspection / emission stickers, one above the other
            r = max(2, int(0.14 * h))
            for dy in (-0.18 * h, 0.18 * h):
                cv2.circle(img, (int(sx), int(cy + dy)), r, tuple(rng.uniform(60, 240, 3)), -1)
    x_left, x_right = cx - total * scale / 2, cx + total * scale / 2
    _TEXT_BOXES.append((x_left, y, x_right, y + h))
    return x_left, x_right


# Boxes (x0, y0, x1, y1) of the serials drawn on the plate being rendered (plate coordinates),
# filled by ``_draw_serial``: tight crops may cut into the plate but never into the serial.
_TEXT_BOXES: list[tuple[float, float, float, float]] = []


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


def _draw_shield(rng, img: np.ndarray, cx, cy, w, h, kind: str = "stripes") -> None:
    """A coloured heraldic shield: ``stripes`` (red-white-red and other state arms),
    ``swiss`` (white cross on red) or ``split`` (a canton's two colours)."""
    red = tuple(float(v) for v in _jitter(rng, (200, 30, 40), 12))
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


def _paste_mask_max(mask: np.ndarray, g: np.ndarray, x: float, y: float) -> None:
    h, w = g.shape
    x, y = int(round(x)), int(round(y))
    H, W = mask.shape
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, W), min(y + h, H)
    if x1 > x0 and y1 > y0:
        np.maximum(mask[y0:y1, x0:x1], g[y0 - y : y1 - y, x0 - x : x1 - x], out=mask[y0:y1, x0:x1])


def _serial_style(rng, res: Resources, height: float, separator: str, sep_colour) -> SerialStyle:
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


# ------------------------------------------------------------------------------ decorations


def _bolt_holes(rng, img: np.ndarray, four: bool) -> None:
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


def _sticker(rng, img: np.ndarray, x: float, y: float, w: float, h: float) -> None:
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
    _small_text(
        img, get_resources().serial_fonts[0], text, x + w / 2, y + h * 0.2, h * 0.6, w * 0.9, ink
    )


def _border(rng, img: np.ndarray, colour) -> None:
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


def _picture(rng, img: np.ndarray) -> None:
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


# ------------------------------------------------------------------------------ plate designs


def _us_background(rng, W: int, H: int) -> tuple[np.ndarray, np.ndarray, str]:
    """Background and main ink colour of a US design."""
    style = rng.choice(
        ["white", "gradient", "picture", "yellow", "dark", "coloured"],
        p=[0.25, 0.25, 0.28, 0.08, 0.06, 0.08],
    )
    light_ink = ("navy", "blue", "black", "red", "maroon", "green", "purple")
    ink = _jitter(rng, _INK[light_ink[int(rng.integers(len(light_ink)))]], 20)
    if style == "white":
        img = np.empty((H, W, 3), np.float32)
        img[:] = _jitter(rng, _LIGHT_TINTS[int(rng.integers(len(_LIGHT_TINTS)))], 10)
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
        img = _vertical_gradient(H, W, _jitter(rng, a), _jitter(rng, b))
        if rng.random() < 0.5:  # white middle band
            t = np.abs(np.linspace(-1, 1, H, dtype=np.float32))[:, None, None]
            img = img * t + 245 * (1 - t)
        if style == "picture":
            _picture(rng, img)
    elif style == "yellow":
        img = np.empty((H, W, 3), np.float32)
        img[:] = _jitter(rng, (240, 205, 70) if rng.random() < 0.6 else (245, 225, 150), 14)
        ink = _jitter(rng, _INK[str(rng.choice(["navy", "black", "blue"]))], 12)
    elif style == "dark":
        img = np.empty((H, W, 3), np.float32)
        img[:] = _jitter(
            rng,
            ((20, 40, 100), (20, 20, 24), (20, 80, 45), (110, 20, 35))[int(rng.integers(4))],
            12,
        )
        ink = _jitter(rng, ((240, 200, 60), (245, 245, 245))[int(rng.integers(2))], 10)
    else:  # coloured pale
        img = np.empty((H, W, 3), np.float32)
        img[:] = _jitter(rng, rng.uniform(170, 245, 3), 5)
    return img, ink, str(style)


def _us_plate(rng, groups: list[str], res: Resources) -> np.ndarray:
    W, H = PLATE_SIZES["us"]
    img, ink, style = _us_background(rng, W, H)
    decor = res.decor_fonts[int(rng.integers(len(res.decor_fonts)))]
    accent = _jitter(rng, _INK[str(rng.choice(list(_INK)))], 25)
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
        _text_line(
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
        _text_line(
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
        _text_line(
            img, sfont, slogan, W / 2, sy, sh, 0.7 * W, accent if rng.random() < 0.5 else ink
        )
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
    style_ = _serial_style(rng, res, height, separator, _jitter(rng, rng.uniform(30, 230, 3), 0))
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
    x_left, x_right = _draw_serial(rng, img, groups, style_, ink, cx, cy, max_w, emboss)
    # The side room (stacked letters, logo, picture) is left of the serial.
    room_on_left = cx > W / 2
    if stacked:  # small stacked characters, not part of the label
        chars = "".join(rng.choice(list("ABCDEFGHJKLMNPRSTUVWXYZ0123456789"), 2))
        ch = rng.uniform(*layout.stacked_height) * H
        glyphs = [_glyph(style_, c, ch) for c in chars]
        gap = rng.uniform(*layout.stacked_gap) * W
        widest = max(g.shape[1] for g in glyphs)  # never over the serial
        sx = x_left - gap - widest if room_on_left else x_right + gap
        for k, g in enumerate(glyphs):
            _paste(img, g, sx, cy - ch - 1 + k * (ch + 2), ink)
    if side_picture:
        _draw_side_picture(rng, img, x_left if room_on_left else x_right, room_on_left, ink)
    if side_logo:
        logo_w = side_room * rng.uniform(0.7, 0.95)
        lx = x_left - 0.02 * W - logo_w / 2 if room_on_left else x_right + 0.02 * W + logo_w / 2
        logo_ink = _jitter(rng, rng.uniform(20, 200, 3), 0) if rng.random() < 0.6 else ink
        if rng.random() < 0.7:
            _draw_symbol(rng, img, lx, cy, logo_w, height * rng.uniform(0.9, 1.4), logo_ink)
        else:
            _draw_emblem(rng, img, lx, cy, min(logo_w, height * 1.2), logo_ink)
    # --- stickers, holes, border
    for _ in range(int(rng.choice([0, 1, 1, 2, 2, 3]))):
        sw, sh_ = rng.uniform(0.09, 0.16) * W, rng.uniform(0.09, 0.15) * H
        corner = int(rng.integers(4))
        x = rng.uniform(0.02, 0.05) * W if corner % 2 == 0 else W * rng.uniform(0.95, 0.98) - sw
        y = rng.uniform(0.03, 0.08) * H if corner < 2 else H * rng.uniform(0.92, 0.97) - sh_
        _sticker(rng, img, x, y, sw, sh_)
    if rng.random() < 0.75:
        _bolt_holes(rng, img, rng.random() < 0.3)
    if rng.random() < 0.5:
        _border(rng, img, ink if rng.random() < 0.5 else (90, 90, 90))
    return img


def _eu_band(
    rng, img: np.ndarray, x0: int, bw: int, code: str, res: Resources, stars: bool = True
) -> None:
    H = img.shape[0]
    img[:, x0 : x0 + bw] = _jitter(rng, (0, 51, 153), 10)
    if stars:
        cx, cy, r = x0 + bw / 2, 0.3 * H, 0.17 * H
        for k in range(12):
            a = 2 * np.pi * k / 12
            cv2.fillPoly(
                img,
                [_star(cx + r * np.cos(a), cy + r * np.sin(a), 0.035 * H)],
                (255, 204, 0),
                cv2.LINE_AA,
            )
    if code:
        font = res.serial_fonts[0]
        _text_line(img, font, code, x0 + bw / 2, 0.58 * H, 0.3 * H, 0.85 * bw, (245, 245, 245))


def _mercosur_ink(rng, country: str) -> np.ndarray:
    """Character colour by use (AR and BR): mostly black (private)."""
    if country not in ("ar", "br"):
        return _jitter(rng, (15, 15, 15), 6)
    colours = ((15, 15, 15), (175, 25, 30), (25, 50, 150), (20, 110, 50), (165, 130, 45))
    colours += ((120, 120, 124),)  # silver / grey: collector
    k = int(rng.choice(len(colours), p=[0.82, 0.07, 0.03, 0.03, 0.02, 0.03]))
    return _jitter(rng, colours[k], 6)


def _eu_plate(rng, groups: list[str], region: str, res: Resources) -> np.ndarray:
    W, H = plate_size(region)
    bg = (245, 200, 30) if region in ("eu-nl", "eu-lu") else (246, 246, 246)
    img = np.empty((H, W, 3), np.float32)
    img[:] = _jitter(rng, bg, 8)
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
        img[:, W - right :] = _jitter(rng, (0, 51, 153), 10)
        txt = f"{rng.integers(1, 96):02d}" if region == "eu-fr" else f"{rng.integers(0, 30):02d}"
        _text_line(
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
        img[:, W - right :] = _jitter(rng, (250, 205, 20), 8)
        font, dark = res.serial_fonts[0], (25, 25, 25)
        year, month = (
            f"{rng.integers(0, 21) if rng.random() < 0.5 else rng.integers(92, 100):02d}",
            f"{rng.integers(1, 13):02d}",
        )
        _text_line(img, font, year, W - right / 2, 0.17 * H, 0.26 * H, 0.8 * right, dark)
        _text_line(img, font, month, W - right / 2, 0.57 * H, 0.26 * H, 0.8 * right, dark)
    left_shield = right_shield = 0.0
    # Switzerland: the Swiss shield on the left, the canton's on the right (rear plates).
    if region == "eu-ch" and rng.random() < 0.7:
        left_shield = right_shield = 0.1 * W
        _draw_shield(rng, img, 0.055 * W, 0.5 * H, 0.065 * W, 0.55 * H, "swiss")
        _draw_shield(rng, img, W - 0.055 * W, 0.5 * H, 0.065 * W, 0.55 * H, "split")
    if region == "eu-at":  # red-white-red strips at the top and the bottom
        t = max(2, int(0.07 * H))
        red = _jitter(rng, (200, 30, 40), 10)
        img[2 : 2 + t, bw:] = red
        img[H - 2 - t : H - 2, bw:] = red
    if region == "eu-dk":
        t = max(2, int(0.04 * H))
        cv2.rectangle(
            img,
            (t, t),
            (W - 1 - t, H - 1 - t),
            tuple(float(v) for v in _jitter(rng, (200, 30, 40), 10)),
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
        _text_line(
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
    style = _serial_style(rng, res, height, sep, (0, 0, 0))
    if region == "eu-at":  # the state arms after the district code, spaces after that
        style = replace(style, separators=("shield",))
    ink = _jitter(rng, (150, 20, 35) if region == "eu-be" else (18, 18, 18), 8)
    x0, x1 = bw + left_shield, W - right - right_shield
    _draw_serial(
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
        _bolt_holes(rng, img, False)
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


def _uk_plate(rng, groups: list[str], res: Resources) -> np.ndarray:
    W, H = PLATE_SIZES["uk"]
    rear = rng.random() < 0.55
    # Vehicles built before 1980 may keep white, silver or grey characters on black.
    black = rng.random() < 0.07
    img = np.empty((H, W, 3), np.float32)
    bg = (22, 22, 24) if black else (250, 205, 20) if rear else (248, 248, 248)
    img[:] = _jitter(rng, bg, 8)
    bw = 0
    if not black and rng.random() < 0.5:
        bw = int(rng.uniform(0.07, 0.09) * W)
        _eu_band(rng, img, 0, bw, str(rng.choice(["UK", "GB"])), res, stars=rng.random() < 0.3)
    style = _serial_style(rng, res, rng.uniform(0.68, 0.78) * H, "space", (0, 0, 0))
    avail = W - bw
    ink = _jitter(rng, (rng.uniform(175, 245),) * 3, 6) if black else _jitter(rng, (15,) * 3, 6)
    _draw_serial(
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
        _border(rng, img, ink if black else (20, 20, 20))
    return img


def _mercosur_band(rng, img: np.ndarray, band: int, country: str, res: Resources) -> None:
    """Blue top band: MERCOSUR (left), the country's name (centre), its flag (right)."""
    H, W = img.shape[:2]
    img[:band] = _jitter(rng, (0, 51, 153), 10)
    _text_line(
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
    _small_text(
        img,
        res.serial_fonts[0],
        "MERCOSUR",
        0.09 * W,
        band * 0.3,
        band * 0.4,
        0.14 * W,
        (245, 245, 245),
    )


def _mercosur_plate(rng, groups: list[str], region: str, res: Resources) -> np.ndarray:
    W, H = PLATE_SIZES["mercosur"]
    img = np.empty((H, W, 3), np.float32)
    img[:] = _jitter(rng, (246, 246, 246), 6)
    band = int(rng.uniform(0.19, 0.23) * H)
    _mercosur_band(rng, img, band, region, res)
    if region == "ar":
        shown = groups if rng.random() < 0.7 else ["".join(groups)]
        sep = "space"
    elif region == "br":
        shown, sep = ["".join(groups)], "none"
    else:
        shown, sep = groups, "space"
    style = _serial_style(rng, res, rng.uniform(0.5, 0.6) * H, sep, (0, 0, 0))
    _draw_serial(
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


def _old_colours(rng, country: str) -> tuple[np.ndarray, np.ndarray, str]:
    """(background, ink, strip text) of an old AR (white on black) or BR plate."""
    if country == "ar":
        return _jitter(rng, (22, 22, 24), 8), _jitter(rng, (235, 235, 235), 10), "ARGENTINA"
    k = int(rng.choice(len(BR_OLD_COLOURS), p=[c[2] for c in BR_OLD_COLOURS]))
    bg, ink, _ = BR_OLD_COLOURS[k]
    strip = BR_CITIES[int(rng.integers(len(BR_CITIES)))]
    if k == 5:  # diplomatic: the strip shows the mission's category, not a city
        strip = str(rng.choice(["CD", "CC", "CMD", "OI", "ADM"]))
    return _jitter(rng, bg, 12), _jitter(rng, ink, 6), strip


def _br_style(style: SerialStyle) -> SerialStyle:
    """Mandatory, the old Brazilian plate face: the 1 is a bare bar (like the I)."""
    return replace(style, glyphs=replace(style.glyphs, bar_one=True, serif_i=False))


def _ar_old_plate(rng, groups: list[str], res: Resources) -> np.ndarray:
    """Argentina 1995-2016: a wide white frame (ARGENTINA in light blue at the top, bolt
    holes, often a dealer's name at the bottom) round a black field filled by tall, narrow
    white characters, drawn in condensed open faces (one unsourced page names the German FE
    face; docs/plate-regions.md)."""
    W, H = PLATE_SIZES["ar-old"]
    img = np.empty((H, W, 3), np.float32)
    img[:] = _jitter(rng, (236, 236, 232), 8) * rng.uniform(0.72, 1.0)  # dirt and shade
    top, bottom = rng.uniform(0.15, 0.24) * H, rng.uniform(0.1, 0.2) * H
    side = rng.uniform(0.025, 0.055) * W
    bg, ink, strip = _old_colours(rng, "ar")
    radius = int(rng.uniform(0.03, 0.08) * H)
    x0, y0, x1, y1 = int(side), int(top), int(W - side), int(H - bottom)
    cv2.rectangle(img, (x0 + radius, y0), (x1 - radius, y1), tuple(map(float, bg)), -1)
    cv2.rectangle(img, (x0, y0 + radius), (x1, y1 - radius), tuple(map(float, bg)), -1)
    for cx_, cy_ in (
        (x0 + radius, y0 + radius),
        (x1 - radius, y0 + radius),
        (x0 + radius, y1 - radius),
        (x1 - radius, y1 - radius),
    ):
        cv2.circle(img, (cx_, cy_), radius, tuple(map(float, bg)), -1, cv2.LINE_AA)
    if rng.random() < 0.85:
        blue = _jitter(rng, (110, 170, 225), 15)
        _text_line(img, res.serial_fonts[0], strip, W / 2, 0.25 * top, 0.5 * top, 0.4 * W, blue)
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
        _small_text(
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
    look = res.ar_old
    style = _serial_style(rng, res, rng.uniform(*look.serial_height) * field_h, sep, ink)
    style = replace(style, xscale=style.xscale * rng.uniform(*look.xscale))
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
    _draw_serial(rng, img, groups, style, ink, W / 2, (y0 + y1) / 2, span, rng.random() < 0.7)
    if look.bloom_odds and rng.random() < look.bloom_odds:
        _bloom(rng, img)
    return img


def _bloom(rng, img: np.ndarray) -> None:
    """Over-exposure of a reflective plate: light from its bright parts spreads into the dark
    ones (white strokes thicken, the black field turns grey near them)."""
    H = img.shape[0]
    bright = np.clip(img - 150.0, 0, None)
    sigma = rng.uniform(0.015, 0.04) * H
    glow = cv2.GaussianBlur(bright, (0, 0), sigma)
    img += rng.uniform(0.4, 1.0) * glow
    np.clip(img, 0, 255, out=img)


def _old_plate(rng, groups: list[str], region: str, res: Resources) -> np.ndarray:
    if region == "ar-old":
        return _ar_old_plate(rng, groups, res)
    W, H = PLATE_SIZES[region]
    img = np.empty((H, W, 3), np.float32)
    bg, ink, strip = _old_colours(rng, "br")
    img[:] = bg
    _text_line(img, res.serial_fonts[0], strip, W / 2, 0.05 * H, 0.15 * H, 0.6 * W, ink)
    sep, cy = ("dash" if rng.random() < 0.7 else "dot"), 0.6 * H
    style = _br_style(_serial_style(rng, res, rng.uniform(0.5, 0.58) * H, sep, ink))
    _draw_serial(rng, img, groups, style, ink, W / 2, cy, 0.9 * W, rng.random() < 0.7)
    _border(rng, img, ink)
    return img


# ------------------------------------------------------------------------------ two rows


def _fit_height(row: list[str], style: SerialStyle, max_w: float) -> SerialStyle:
    """Smaller characters where a row would otherwise be squeezed a lot (then squeezed)."""
    _, total = _layout_serial(row, style)
    if total <= max_w:
        return style
    return replace(style, height=style.height * max(0.78, (max_w / total) ** 0.5))


def _draw_rows(
    rng,
    img: np.ndarray,
    groups: list[str],
    style: SerialStyle,
    ink,
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
    xs = _draw_serial(rng, img, top, top_style, ink, sum(top_x) / 2, y0 + row_h / 2, top_w, emboss)
    _draw_serial(
        rng, img, bottom, bottom_style, ink, sum(bottom_x) / 2, y1 - row_h / 2, bottom_w, emboss
    )
    return xs


def _mercosur_moto_plate(rng, groups: list[str], region: str, res: Resources) -> np.ndarray:
    W, H = plate_size(region)
    country = region.split("-")[0]
    img = np.empty((H, W, 3), np.float32)
    img[:] = _jitter(rng, (246, 246, 246), 6)
    band = int(rng.uniform(0.15, 0.19) * H)
    _mercosur_band(rng, img, band, country, res)
    sep = "space" if country == "ar" else "none"
    style = _serial_style(rng, res, 0.3 * H, sep, (0, 0, 0))
    _draw_rows(
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


def _old_moto_plate(rng, groups: list[str], region: str, res: Resources) -> np.ndarray:
    W, H = plate_size(region)
    country = region.split("-")[0]
    img = np.empty((H, W, 3), np.float32)
    bg, ink, strip = _old_colours(rng, country)
    img[:] = bg
    _text_line(img, res.serial_fonts[0], strip, W / 2, 0.05 * H, 0.1 * H, 0.6 * W, ink)
    style = _serial_style(rng, res, 0.3 * H, "space", ink)
    if country == "br":
        style = _br_style(style)
    _draw_rows(
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
    _border(rng, img, ink)
    return img


def _eu_2row_plate(rng, groups: list[str], region: str, res: Resources) -> np.ndarray:
    """Square European plate: the EU band at the left of the top row (or full height), the
    district / first letters on top, the rest below (DE, FR, IT moto, CZ, NO)."""
    W, H = plate_size(region)
    country = region.removesuffix("-2row")
    img = np.empty((H, W, 3), np.float32)
    img[:] = _jitter(rng, (246, 246, 246), 8)
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
        img[: int(split), W - right :] = _jitter(rng, (0, 51, 153), 10)
        if country == "eu-it":
            cv2.circle(
                img,
                (int(W - right / 2), int(0.2 * H)),
                max(2, int(0.25 * right)),
                (250, 205, 20),
                -1,
            )
        txt = f"{rng.integers(1, 96):02d}" if country == "eu-fr" else f"{rng.integers(0, 30):02d}"
        _text_line(
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
    style = _serial_style(rng, res, 0.3 * H, sep, (0, 0, 0))
    ink = _jitter(rng, (18, 18, 18), 8)
    _, top_right = _draw_rows(
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
        _bolt_holes(rng, img, False)
    return img


def _flat_plate(
    rng, region: str, groups: list[str], res: Resources
) -> tuple[np.ndarray, tuple[float, float, float, float, float]]:
    """Flat plate of ``region`` and the box of its characters: (x0, y0, x1, y1, height of
    the smallest row), in plate coordinates."""
    family = REGION_FORMATS[region].family
    _TEXT_BOXES.clear()
    if family == "us":
        img = _us_plate(rng, groups, res)
    elif family == "eu":
        img = _eu_plate(rng, groups, region, res)
    elif family == "uk":
        img = _uk_plate(rng, groups, res)
    elif family == "mercosur":
        img = _mercosur_plate(rng, groups, region, res)
    elif family == "mercosur-moto":
        img = _mercosur_moto_plate(rng, groups, region, res)
    elif family == "old-moto":
        img = _old_moto_plate(rng, groups, region, res)
    elif family == "eu-2row":
        img = _eu_2row_plate(rng, groups, region, res)
    else:
        img = _old_plate(rng, groups, region, res)
    boxes = np.array(_TEXT_BOXES or [(0, 0, img.shape[1], img.shape[0])], np.float32)
    _TEXT_BOXES.clear()
    box = (*boxes[:, :2].min(0), *boxes[:, 2:].max(0), float((boxes[:, 3] - boxes[:, 1]).min()))
    return img, tuple(float(v) for v in box)


def render_flat_plate(rng, region: str, groups: list[str], res: Resources) -> np.ndarray:
    """Flat plate (float32 RGB, plate coordinates) of ``region`` showing ``groups``."""
    return _flat_plate(rng, region, groups, res)[0]


def plate_aspect(region: str) -> float:
    w, h = plate_size(region)
    return w / h


# ------------------------------------------------------------------------- scene + effects


def _car_body(rng, w: int, h: int) -> np.ndarray:
    grey = np.full(3, rng.uniform(10, 240))
    base = grey if rng.random() < 0.6 else grey * 0.5 + rng.uniform(10, 230, 3) * 0.5
    img = _vertical_gradient(h, w, _jitter(rng, base, 30), _jitter(rng, base, 30))
    return img


TIGHT_ODDS = 0.15  # share of crops cut into the plate's border (rarely a sliver of a character)


def _tight_window(rng, pw: int, ph: int, box) -> tuple[float, float, float, float]:
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


def place_in_crop(rng, plate: np.ndarray, width: int, height: int, text_box=None) -> np.ndarray:
    """Warp the flat plate into a width x height crop (the whole plate with a thin margin
    mostly, like a detector's box; sometimes loose, rarely clipped by a few pixels). Given
    the characters' ``text_box`` (from ``_flat_plate``), a share of crops (``TIGHT_ODDS``)
    is tight: cut into the plate's border, at most a sliver off the outer characters."""
    ph, pw = plate.shape[:2]
    loose = rng.random() < 0.15
    tight = text_box is not None and not loose and rng.random() < TIGHT_ODDS / 0.85
    if tight:
        u0, v0, u1, v1 = _tight_window(rng, pw, ph, text_box)
        sx, sy = width / max(u1 - u0, 1.0), height / max(v1 - v0, 1.0)
        x0, y0, x1, y1 = -u0 * sx, -v0 * sy, (pw - u0) * sx, (ph - v0) * sy
        jitter, max_angle = 0.004, 1.5
    else:
        m = rng.uniform(0.02, 0.15, 4) if loose else rng.uniform(-0.015, 0.05, 4)
        x0, y0 = m[0] * width, m[1] * height
        x1, y1 = width - m[2] * width, height - m[3] * height
        jitter, max_angle = 0.018, 5.0
    dst = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float32)
    dst += rng.normal(0, jitter, (4, 2)).astype(np.float32) * np.array([width, height], np.float32)
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


def degrade(rng, img: np.ndarray, small: bool = False) -> np.ndarray:
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


def render_plate(
    rng: np.random.Generator,
    region: str = "us",
    width: int | None = None,
    height: int | None = None,
    *,
    groups: list[str] | None = None,
    fonts_dir: str | None = None,
    max_plate_slots: int = 10,
    alphabet: str = DEFAULT_ALPHABET,
    pad_char: str = "_",
    glyphs: SerialGlyphs | None = None,
    us_layout: UsLayout | None = None,
    ar_old: ArOldLook | None = None,
    small_crops: SmallCrops | None = None,
) -> tuple[np.ndarray, str]:
    """Render one plate crop: (uint8 RGB image of height x width, label).

    ``groups`` fixes the printed character groups (otherwise sampled from the region's
    formats; a ``"/"`` group is a two-row plate's row break); ``width``/``height`` default
    to 320 and the region's aspect; ``glyphs`` picks serial glyph variants (default: none),
    ``us_layout`` the US layout ranges (default: ``UsLayout()``, conf/base's), ``ar_old``
    the drawing of Argentina's 1995-2016 plates (default: ``ArOldLook()``) and
    ``small_crops`` the far plates (default: ``SmallCrops()``): that share of crops is
    rendered a few pixels high, as a detector cuts a distant plate, and scaled up to
    ``height`` x ``width`` (the size every crop is stored at).
    """
    if region not in REGION_FORMATS:
        raise ValueError(f"unknown region {region!r}; known: {', '.join(REGION_FORMATS)}")
    res = get_resources(None if fonts_dir is None else str(fonts_dir))
    res = replace(
        res,
        glyphs=glyphs or SerialGlyphs(),
        us_layout=us_layout or UsLayout(),
        ar_old=ar_old or ArOldLook(),
        small_crops=small_crops or SmallCrops(),
    )
    if groups is None:
        groups, label = sample_text(rng, region, max_plate_slots, alphabet.replace(pad_char, ""))
    else:
        label = groups_to_label(list(groups), region)
    label_map = REGION_FORMATS[region].label_map
    if res.glyphs.zero_for_o and label_map.get("O") == "0":
        groups = [group.replace("O", "0") for group in groups]
    if width is None:
        width = 320
    if height is None:
        height = max(16, int(round(width / plate_aspect(region))))
    width, height = int(width), int(height)
    plate, box = _flat_plate(rng, region, list(groups), res)
    small_h, far = draw_small_crop(rng, res.small_crops)
    if far and height > small_h:
        small_w = max(8, int(round(width * small_h / height)))
        crop = degrade(rng, place_in_crop(rng, plate, small_w, small_h, box), small=True)
        interp = cv2.INTER_LINEAR if rng.random() < 0.7 else cv2.INTER_CUBIC
        return np.ascontiguousarray(cv2.resize(crop, (width, height), interpolation=interp)), label
    crop = place_in_crop(rng, plate, width, height, box)
    return degrade(rng, crop), label
