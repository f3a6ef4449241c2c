"""The renderer's drawing options (conf/base's ``synthesize`` sections), the flat plate
sizes, and the fonts one process draws with."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .fonts import (
    FontSpec,
    decor_font_specs,
    serial_font_specs,
    serif_serial_font_specs,
    supports,
)
from .formats import REGION_FORMATS

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
    # draw the two alike). A round O labelled 0 teaches the reader to read every region's O
    # as 0.
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
    # Share of worn plates: the black paint faded towards grey and the white dulled (sun), and
    # paint chipped off field and characters, baring the aluminium under it.
    wear_odds: float = 0.0
    # How far each character of the serial strays, of its height: its centre and its size, and
    # its gap to the one before (the characters are pressed one by one, not printed as a line).
    char_jitter: float = 0.0
    # Share of plates whose serial is in a face of the stroke family (``stroke_face.py``)
    # instead of an installed font: no open font of the plates' own face exists.
    stroke_face_odds: float = 0.0


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
    """Fonts available to one process (cached per fonts_dir), and the drawing options of the
    plate being drawn: serial glyph variants, US layout, old Argentine look, far plates."""

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
