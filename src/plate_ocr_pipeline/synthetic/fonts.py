"""Fonts for the synthetic renderer: discovery, weight instances and cached glyph masks.

Only fonts installed with the project (PyPI font packages, matplotlib's DejaVu/STIX) and the
user's own ``fonts_dir`` are used; nothing is downloaded.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

GLYPH_SIZE = 96  # px size glyphs are rasterised at, then resized

# (package, file, weights for variable fonts or None, x-squeeze for wide fonts)
_SERIAL_FONTS: tuple[tuple[str, str, tuple[int, ...] | None, float], ...] = (
    ("fontpkg_barlow_condensed", "BarlowCondensed-Medium.ttf", None, 1.0),
    ("fontpkg_barlow_condensed", "BarlowCondensed-SemiBold.ttf", None, 1.0),
    ("fontpkg_barlow_condensed", "BarlowCondensed-Bold.ttf", None, 1.0),
    ("fontpkg_barlow_condensed", "BarlowCondensed-Regular.ttf", None, 1.0),
    ("fontpkg_oswald", "Oswald[wght].ttf", (400, 500, 600), 1.0),
    ("fontpkg_bebas_neue", "BebasNeue-Regular.ttf", None, 1.0),
    ("fontpkg_roboto_condensed", "RobotoCondensed[wght].ttf", (400, 500, 700), 1.0),
    ("fontpkg_overpass", "Overpass[wght].ttf", (500, 600, 700), 0.8),
    ("font_fjallaone", "FjallaOne-Regular.ttf", None, 1.0),
    # Plainer condensed sans families, closer to the stamped serials of real US plates.
    ("fontpkg_archivo_narrow", "ArchivoNarrow[wght].ttf", (500, 600), 1.0),
    ("fontpkg_pt_sans_narrow", "PT_Sans-Narrow-Web-Regular.ttf", None, 1.0),
    ("fontpkg_pt_sans_narrow", "PT_Sans-Narrow-Web-Bold.ttf", None, 1.0),
    ("fontpkg_saira_condensed", "SairaCondensed-Medium.ttf", None, 1.0),
    ("fontpkg_saira_condensed", "SairaCondensed-SemiBold.ttf", None, 1.0),
    ("fontpkg_fira_sans_condensed", "FiraSansCondensed-Regular.ttf", None, 1.0),
    ("fontpkg_fira_sans_condensed", "FiraSansCondensed-Medium.ttf", None, 1.0),
    ("fontpkg_ibm_plex_sans_condensed", "IBMPlexSansCondensed-Medium.ttf", None, 1.0),
    ("fontpkg_abel", "Abel-Regular.ttf", None, 1.0),
    ("fontpkg_dosis", "Dosis[wght].ttf", (500, 600, 700), 1.0),
    ("matplotlib", "DejaVuSans-Bold.ttf", None, 0.7),
    ("matplotlib", "DejaVuSans.ttf", None, 0.7),
    ("matplotlib", "DejaVuSansMono-Bold.ttf", None, 0.8),
)

# Serif faces for the serial of plates drawn with ``serial_glyphs.serif_font`` (Virginia and
# other US plates stamp a Roman-style serif face, whose W, G and M our sans faces do not
# show). Squeezed towards the proportions of a plate serial.
_SERIF_SERIAL_FONTS: tuple[tuple[str, str, float], ...] = (
    ("matplotlib", "DejaVuSerif-Bold.ttf", 0.7),
    ("matplotlib", "DejaVuSerif.ttf", 0.7),
    ("matplotlib", "STIXGeneralBol.ttf", 0.85),
    ("matplotlib", "STIXGeneral.ttf", 0.85),
)

# Decorative fonts for state names and slogans (serif, italic, "script"-like).
_DECOR_FONTS: tuple[tuple[str, str], ...] = (
    ("matplotlib", "DejaVuSerif-Bold.ttf"),
    ("matplotlib", "DejaVuSerif-BoldItalic.ttf"),
    ("matplotlib", "DejaVuSerif.ttf"),
    ("matplotlib", "DejaVuSerif-Italic.ttf"),
    ("matplotlib", "STIXGeneralBolIta.ttf"),
    ("matplotlib", "STIXGeneralItalic.ttf"),
    ("matplotlib", "STIXGeneralBol.ttf"),
    ("matplotlib", "cmti10.ttf"),
    ("matplotlib", "DejaVuSans-Bold.ttf"),
    ("fontpkg_oswald", "Oswald[wght].ttf"),
    ("fontpkg_barlow_condensed", "BarlowCondensed-BoldItalic.ttf"),
    ("fontpkg_roboto_condensed", "RobotoCondensed-Italic[wght].ttf"),
)


def _package_font_dir(package: str) -> Path:
    if package == "matplotlib":
        import matplotlib

        return Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    module = importlib.import_module(package)
    return Path(module.__file__).parent / "files"


@dataclass(frozen=True)
class FontSpec:
    """One font instance: a file, an optional variable weight and a horizontal squeeze."""

    path: str
    weight: int | None = None
    squeeze: float = 1.0

    @property
    def name(self) -> str:
        w = f"@{self.weight}" if self.weight else ""
        return Path(self.path).stem + w


def find_user_fonts(fonts_dir: str | Path) -> list[Path]:
    """All .ttf/.otf files under ``fonts_dir``, each checked to load. Raises
    ``FileNotFoundError`` if the folder is missing or holds none, and ``ValueError`` naming a
    file so named that is not a regular file (a FIFO would hang the renderer) or not a font."""
    folder = Path(fonts_dir)
    if not folder.is_dir():
        raise FileNotFoundError(f"synthesize.fonts_dir: font folder {str(folder)!r} does not exist")
    named = sorted(p for p in folder.rglob("*") if p.suffix.lower() in {".ttf", ".otf"})
    files = [p for p in named if not p.is_dir()]
    if not files:
        raise FileNotFoundError(f"synthesize.fonts_dir: no .ttf or .otf files in {str(folder)!r}")
    for path in files:
        if not path.is_file():
            raise ValueError(f"synthesize.fonts_dir: {path}: not a regular file")
        stat = path.stat()
        error = _font_load_error(str(path), stat.st_size, stat.st_mtime_ns)
        if error is not None:
            raise ValueError(f"synthesize.fonts_dir: {path}: not a font ({error})")
    return files


@lru_cache(maxsize=1024)
def _font_load_error(path: str, size: int, mtime_ns: int) -> str | None:
    """Why the font at ``path`` does not load, or None. Keyed by size and mtime so that the
    parameters, validated once per node, open each file once per process until it changes."""
    try:
        ImageFont.truetype(path, 12)
    except OSError as error:
        return str(error)
    return None


def serial_font_specs(fonts_dir: str | Path | None = None) -> list[FontSpec]:
    """Fonts for the registration characters (built-in ones plus the user's)."""
    specs: list[FontSpec] = []
    for package, file, weights, squeeze in _SERIAL_FONTS:
        try:
            path = _package_font_dir(package) / file
        except ImportError:
            continue
        if not path.is_file():
            continue
        for w in weights or (None,):
            specs.append(FontSpec(str(path), w, squeeze))
    if fonts_dir is not None:
        specs.extend(FontSpec(str(p)) for p in find_user_fonts(fonts_dir))
    if not specs:
        raise RuntimeError("no fonts found for the synthetic renderer")
    return specs


def serif_serial_font_specs() -> list[FontSpec]:
    """Serif faces for the serial (empty when matplotlib's fonts are missing)."""
    specs = []
    for package, file, squeeze in _SERIF_SERIAL_FONTS:
        path = _package_font_dir(package) / file
        if path.is_file():
            specs.append(FontSpec(str(path), None, squeeze))
    return specs


def decor_font_specs() -> list[FontSpec]:
    specs = []
    for package, file in _DECOR_FONTS:
        try:
            path = _package_font_dir(package) / file
        except ImportError:
            continue
        if path.is_file():
            specs.append(FontSpec(str(path), 700 if "[wght]" in file else None))
    return specs


@lru_cache(maxsize=1)
def symbol_font_spec() -> FontSpec:
    """DejaVu Sans (shipped with matplotlib), whose pictograms stand in for plate logos."""
    return FontSpec(str(_package_font_dir("matplotlib") / "DejaVuSans.ttf"))


@lru_cache(maxsize=64)
def load_font(spec: FontSpec, size: int = GLYPH_SIZE) -> ImageFont.FreeTypeFont:
    font = ImageFont.truetype(spec.path, size)
    if spec.weight is not None:
        try:
            axes = font.get_variation_axes()
            values = [
                spec.weight if str(a.get("name", b"")).lower().find("weight") >= 0 else a["default"]
                for a in axes
            ]
            font.set_variation_by_axes(values)
        except (OSError, AttributeError, KeyError):
            pass
    return font


def tight_mask(mask: np.ndarray) -> np.ndarray:
    """The mask cropped to its ink (an empty 8x4 mask where it has none)."""
    ys, xs = np.nonzero(mask > 24)
    if len(ys) == 0:
        return np.zeros((8, 4), np.uint8)
    return mask[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


@lru_cache(maxsize=4096)
def glyph_mask(spec: FontSpec, char: str) -> np.ndarray | None:
    """Tight ink mask (uint8) of one character at the raster size; None if the font lacks it."""
    font = load_font(spec)
    size = GLYPH_SIZE
    img = Image.new("L", (size * 2, size * 2), 0)
    ImageDraw.Draw(img).text((size // 2, size // 4), char, fill=255, font=font)
    arr = np.asarray(img)
    if arr.max() < 64:
        return None
    return tight_mask(arr)


def _stem_width(stem: np.ndarray) -> int:
    """Stroke width of an ``I`` mask: the median ink run of its middle half (serifs left out)."""
    height = stem.shape[0]
    ink_per_row = (stem[height // 4 : 3 * height // 4] > 127).sum(axis=1)
    return max(2, int(np.median(ink_per_row)))


@lru_cache(maxsize=256)
def bar_glyph(spec: FontSpec, serifs: bool) -> np.ndarray | None:
    """A plain vertical bar as tall and thick as the font's ``I`` stem; with ``serifs``, an I
    with top and bottom cross-bars. Most US plate fonts draw I so, and 1 as a bare bar, while
    the sans fonts here draw I as a bare bar. None if the font lacks ``I``."""
    stem = glyph_mask(spec, "I")
    if stem is None:
        return None
    height, stem_width = stem.shape[0], _stem_width(stem)
    if not serifs:
        return np.full((height, stem_width), 255, np.uint8)
    thickness = int(np.clip(round(0.8 * stem_width), 2, max(2, height // 6)))
    overhang = max(2, int(round(0.9 * stem_width)))
    out = np.zeros((height, stem_width + 2 * overhang), np.uint8)
    out[:, overhang : overhang + stem_width] = 255
    out[:thickness] = 255
    out[height - thickness :] = 255
    return out


@lru_cache(maxsize=256)
def plate_w_glyph(spec: FontSpec) -> np.ndarray | None:
    """A W the way US plate fonts draw it: narrow, outer strokes near upright, and the middle
    apex at full height (the font's own W mostly stops lower). The strokes are as thick as
    the font's ``I`` stem; the glyph is as tall as its ``I``, as wide as 0.85 of its ``W``.
    None if the font lacks either letter."""
    stem, w = glyph_mask(spec, "I"), glyph_mask(spec, "W")
    if stem is None or w is None:
        return None
    height, thickness = stem.shape[0], _stem_width(stem)
    # At least five strokes wide, so that a bold font's W does not close up into a blob.
    width = max(5 * thickness, int(round(0.85 * w.shape[1] * height / w.shape[0])))
    half = thickness / 2
    # Vertex x positions along the stroke centre line: top-left, bottom, apex, bottom, top-right.
    xs = (half, 0.27 * width, width / 2, 0.73 * width, width - half)
    ys = (half, height - half, half, height - half, half)
    scale = 8  # draw at 8x and shrink: smooth, anti-aliased edges
    canvas = np.zeros((height * scale, width * scale), np.uint8)
    points = np.round(np.stack([xs, ys], 1) * scale).astype(np.int32)
    cv2.polylines(canvas, [points], False, 255, thickness * scale, cv2.LINE_AA)
    out = cv2.resize(canvas, (width, height), interpolation=cv2.INTER_AREA)
    return tight_mask(out)


@lru_cache(maxsize=256)
def flipped_m_glyph(spec: FontSpec) -> np.ndarray | None:
    """A W drawn as the font's own M upside down. Most US plate fonts draw W so: upright
    stems like H's and a middle apex rising from the baseline, which our fonts' W (splayed
    outer strokes) does not show: without it a model reads a real W as H. None if the font
    lacks ``M``."""
    m = glyph_mask(spec, "M")
    return None if m is None else np.ascontiguousarray(m[::-1])


@lru_cache(maxsize=256)
def plate_q_glyph(spec: FontSpec) -> np.ndarray | None:
    """A Q the way US plate fonts draw it: their 0 (they draw O and 0 alike) with a short
    tail across its lower right, inside the 0's box. The fonts here draw Q with a long tail
    below the line, and a real Q, a few pixels from 0, would read as 0. The tail
    is as thick as the font's ``I`` stem. None if the font lacks ``0`` or ``I``."""
    zero, stem = glyph_mask(spec, "0"), glyph_mask(spec, "I")
    if zero is None or stem is None:
        return None
    height, width = zero.shape
    thickness = _stem_width(stem) * height / stem.shape[0]
    scale = 8  # draw at 8x and shrink: smooth, anti-aliased edges
    canvas = np.zeros((height * scale, width * scale), np.uint8)
    half = thickness / 2
    start = (0.55 * width, 0.68 * height)
    end = (width - half, height - half)
    points = np.round(np.array([start, end]) * scale).astype(np.int32)
    cv2.line(canvas, tuple(points[0]), tuple(points[1]), 255, int(thickness * scale), cv2.LINE_AA)
    tail = cv2.resize(canvas, (width, height), interpolation=cv2.INTER_AREA)
    return np.maximum(zero, tail)


@lru_cache(maxsize=2048)
def text_mask(spec: FontSpec, text: str, size: int = 48) -> np.ndarray:
    """Tight ink mask (uint8) of a line of text (state names, slogans)."""
    font = load_font(spec, size)
    left, top, right, bottom = font.getbbox(text)
    img = Image.new("L", (right - left + 8, bottom - top + 8), 0)
    ImageDraw.Draw(img).text((4 - left, 4 - top), text, fill=255, font=font)
    return tight_mask(np.asarray(img))


def supports(spec: FontSpec, chars: str) -> bool:
    """Whether the font draws every character of ``chars`` (tofu check)."""
    return all(glyph_mask(spec, c) is not None for c in chars)
