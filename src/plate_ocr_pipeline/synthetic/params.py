"""Validation of the ``synthesize:`` parameter section (pydantic v2)."""

from __future__ import annotations

import hashlib
import inspect
import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from plate_ocr_pipeline.synthetic.fonts import find_user_fonts
from plate_ocr_pipeline.synthetic.formats import DEFAULT_REGION_WEIGHTS, REGION_FORMATS, REGIONS
from plate_ocr_pipeline.synthetic.generate import (
    GLYPH_FAMILIES,
    REPEAT_ODDS,
    SHARED_O_ZERO,
    PlateDrawing,
)
from plate_ocr_pipeline.synthetic.options import ArOldLook, SerialGlyphs, SmallCrops, UsLayout
from plate_ocr_pipeline.synthetic.renderer import RENDERER_VERSION

_LAYOUT = UsLayout()  # the renderer's defaults are the schema's
_AR_OLD = ArOldLook()
_SMALL_CROPS = SmallCrops()
# The far plates that every rendering without a ``synthesize.small_crops`` section drew: a
# section with these values draws the same pixels, so it keeps the fingerprint.
_SMALL_CROPS_BEFORE = {"odds": 0.08, "height": [16, 30]}
# The old Argentine plates that every rendering without a ``synthesize.ar_old`` section drew:
# fixed here, not the defaults, so that a change of defaults changes the fingerprint.
_AR_OLD_BEFORE = {
    "serial_height": [0.74, 0.9],
    "xscale": [0.7, 0.95],
    "rim_odds": 0.0,
    "bloom_odds": 0.0,
}
# ``synthesize.ar_old`` options at the values that draw nothing: left out of the fingerprint.
_AR_OLD_ADDED_OFF = {"wear_odds": 0.0, "char_jitter": 0.0, "stroke_face_odds": 0.0}
_GLYPH_ODDS = {
    name: parameter.default
    for name, parameter in inspect.signature(SerialGlyphs.draw).parameters.items()
    if name not in ("cls", "rng")
}


class SerialGlyphOdds(BaseModel):
    """``synthesize.serial_glyphs``: odds of the serial glyph variants real plates use, the
    families that take them and the regions that draw O and 0 as one glyph."""

    model_config = ConfigDict(extra="forbid")

    serif_i: float = Field(
        _GLYPH_ODDS["serif_i"], ge=0, le=1, description="share of plates drawing I with serifs"
    )
    bar_one: float = Field(
        _GLYPH_ODDS["bar_one"], ge=0, le=1, description="share of serif-I plates with a bare-bar 1"
    )
    plate_w: float = Field(
        _GLYPH_ODDS["plate_w"], ge=0, le=1, description="share of plates with a plate-font W"
    )
    plate_q: float = Field(
        _GLYPH_ODDS["plate_q"], ge=0, le=1, description="share of plates with a plate-font Q"
    )
    serif_font: float = Field(
        _GLYPH_ODDS["serif_font"], ge=0, le=1, description="share of plates with a serif serial"
    )
    flipped_m_w: float = Field(
        _GLYPH_ODDS["flipped_m_w"], ge=0, le=1, description="share of plates whose W is M flipped"
    )
    zero_for_o: float = Field(
        _GLYPH_ODDS["zero_for_o"],
        ge=0,
        le=1,
        description="share of plates labelled 0 for O (US) that draw O as their 0",
    )
    families: list[str] | None = Field(
        None if GLYPH_FAMILIES is None else list(GLYPH_FAMILIES),
        description="plate families whose serials take these variants (null: every family)",
    )
    shared_o_zero: dict[str, Literal["0", "O"]] = Field(
        default_factory=lambda: dict(SHARED_O_ZERO),
        description="regions whose plates draw O and 0 as one glyph: the font's 0 or its O",
    )

    @field_validator("families")
    @classmethod
    def _known_families(cls, v: list[str] | None) -> list[str] | None:
        if v is None:
            return v
        known = sorted({region.family for region in REGION_FORMATS.values()})
        unknown = sorted(set(v) - set(known))
        if unknown:
            raise ValueError(
                f"synthesize.serial_glyphs.families: unknown {unknown}; plate families, not "
                f"regions (e.g. region ar is in family mercosur): {', '.join(known)}, or null "
                "for every family"
            )
        return sorted(set(v))  # the same set, the same fingerprint, in any order

    @field_validator("shared_o_zero")
    @classmethod
    def _known_regions(cls, v: dict[str, str]) -> dict[str, str]:
        _check_regions("serial_glyphs.shared_o_zero", v)
        writes_zero = sorted(r for r in v if REGION_FORMATS[r].label_map.get("O") == "0")
        if writes_zero:
            raise ValueError(
                f"synthesize.serial_glyphs.shared_o_zero: {writes_zero} label O as 0; their O "
                "is drawn as 0 by serial_glyphs.zero_for_o"
            )
        return v  # the fingerprint's JSON and PlateDrawing sort it


def _check_regions(key: str, names: Iterable[str]) -> None:
    unknown = sorted(set(names) - set(REGIONS))
    if unknown:
        raise ValueError(f"synthesize.{key}: unknown region(s) {unknown}; known: {list(REGIONS)}")


def _share_range(v: tuple[float, float], name: str) -> tuple[float, float]:
    lo, hi = v
    if not 0 < lo <= hi <= 1:
        raise ValueError(f"{name} must be [min, max] with 0 < min <= max <= 1, got {list(v)}")
    return v


def _scale_range(
    v: tuple[float, float], name: str, lowest: float, highest: float
) -> tuple[float, float]:
    lo, hi = v
    if not lowest <= lo <= hi <= highest:
        raise ValueError(
            f"{name} must be [min, max] with {lowest} <= min <= max <= {highest}, got {list(v)}"
        )
    return v


class UsLayoutRanges(BaseModel):
    """``synthesize.us_layout``: ranges of the US serial layout (see ``UsLayout``)."""

    model_config = ConfigDict(extra="forbid")

    serial_height: tuple[float, float] = Field(_LAYOUT.serial_height, description="of plate height")
    serial_span: tuple[float, float] = Field(_LAYOUT.serial_span, description="of plate width")
    stacked_odds: float = Field(_LAYOUT.stacked_odds, ge=0, le=1, description="stacked letters")
    stacked_odds_short: float = Field(
        _LAYOUT.stacked_odds_short, ge=0, le=1, description="the same, serials <= 5"
    )
    stacked_height: tuple[float, float] = Field(_LAYOUT.stacked_height, description="of height")
    symbol_scale: tuple[float, float] = Field(
        _LAYOUT.symbol_scale, description="pictogram separator size, from its usual size"
    )
    short_spacing: tuple[float, float] = Field(
        _LAYOUT.short_spacing, description="character gap in serials <= 5, of their height"
    )
    short_height: tuple[float, float] = Field(
        _LAYOUT.short_height, description="height of serials <= 5, of the plate height"
    )
    short_xscale: tuple[float, float] = Field(
        _LAYOUT.short_xscale, description="horizontal stretch of the characters of serials <= 5"
    )
    serial_xscale: tuple[float, float] = Field(
        _LAYOUT.serial_xscale, description="the same, for serials of 6 characters or more"
    )
    stacked_gap: tuple[float, float] = Field(
        _LAYOUT.stacked_gap, description="stacked letters to serial gap, of the plate width"
    )
    side_picture_odds: float = Field(
        _LAYOUT.side_picture_odds, ge=0, le=1, description="big picture beside the serial"
    )
    side_picture_width: tuple[float, float] = Field(
        _LAYOUT.side_picture_width, description="its width, of the plate width"
    )

    @field_validator(
        "serial_height",
        "serial_span",
        "stacked_height",
        "short_spacing",
        "short_height",
        "stacked_gap",
        "side_picture_width",
    )
    @classmethod
    def _ranges(cls, v: tuple[float, float], info) -> tuple[float, float]:
        return _share_range(v, f"synthesize.us_layout.{info.field_name}")

    @field_validator("symbol_scale", "short_xscale", "serial_xscale")
    @classmethod
    def _scales(cls, v: tuple[float, float], info) -> tuple[float, float]:
        return _scale_range(v, f"synthesize.us_layout.{info.field_name}", 0.5, 2)


class ArOldDrawing(BaseModel):
    """``synthesize.ar_old``: how Argentina's 1995-2016 plates are drawn (see ``ArOldLook``)."""

    model_config = ConfigDict(extra="forbid")

    serial_height: tuple[float, float] = Field(
        _AR_OLD.serial_height, description="character height, of the black field's"
    )
    xscale: tuple[float, float] = Field(
        _AR_OLD.xscale, description="squeeze of the serial face (below 1: narrower)"
    )
    rim_odds: float = Field(
        _AR_OLD.rim_odds, ge=0, le=1, description="raised white line inside the black field"
    )
    bloom_odds: float = Field(
        _AR_OLD.bloom_odds, ge=0, le=1, description="over-exposed: white parts glow into the field"
    )
    wear_odds: float = Field(
        _AR_OLD.wear_odds, ge=0, le=1, description="worn: faded field and ink, chipped paint"
    )
    char_jitter: float = Field(
        _AR_OLD.char_jitter,
        ge=0,
        le=0.1,  # beyond it characters leave the black field at the tallest serial_height
        description="each character's stray in centre, size and gap, of its height",
    )
    stroke_face_odds: float = Field(
        _AR_OLD.stroke_face_odds,
        ge=0,
        le=1,
        description="share of plates whose serial is in a face of the stroke family",
    )

    @field_validator("serial_height")
    @classmethod
    def _height(cls, v: tuple[float, float]) -> tuple[float, float]:
        return _share_range(v, "synthesize.ar_old.serial_height")

    @field_validator("xscale")
    @classmethod
    def _xscale(cls, v: tuple[float, float]) -> tuple[float, float]:
        return _scale_range(v, "synthesize.ar_old.xscale", 0.4, 1.5)


class SmallCropsDrawing(BaseModel):
    """``synthesize.small_crops``: far plates, rendered a few pixels high and scaled up to the
    stored size (see ``SmallCrops``)."""

    model_config = ConfigDict(extra="forbid")

    odds: float = Field(_SMALL_CROPS.odds, ge=0, le=1, description="share of crops drawn small")
    height: tuple[int, int] = Field(
        _SMALL_CROPS.height, description="[min, max] px they are drawn at"
    )

    @field_validator("height")
    @classmethod
    def _height(cls, v: tuple[int, int]) -> tuple[int, int]:
        # Below 12 px a two-row plate's rows are 3 px high: noise to learn, not plates.
        if not 12 <= v[0] <= v[1]:
            raise ValueError(
                f"synthesize.small_crops.height must be [min, max] px with 12 <= min <= max, "
                f"got {list(v)}"
            )
        return v


class SynthesizeParams(BaseModel):
    """``synthesize:`` section. Every field has a default so nodes can validate their keys."""

    model_config = ConfigDict(extra="forbid")

    num_plates: int = Field(80000, description="number of plates to render (>= 1)")
    seed: int = Field(8888, description="run seed; plate i uses rng([seed, i, ...])")
    num_workers: int | None = Field(
        0, description="processes; 0 or null = the cores this process may use"
    )
    fonts_dir: str | None = Field(None, description="extra .ttf/.otf fonts folder")
    image_width: tuple[int, int] = Field((200, 320), description="[min, max] output width")
    image_height: tuple[int, int] = Field((60, 160), description="[min, max] output height")
    images_subdir: str = Field("images", description="image folder relative to the CSV")
    gallery_per_region: int = Field(6, description="samples per region in the gallery")
    region_weights: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_REGION_WEIGHTS))
    repeat_odds: float = Field(
        REPEAT_ODDS,
        ge=0,
        le=1,
        description="share of US plates with a run of one repeated character",
    )
    serial_glyphs: SerialGlyphOdds = SerialGlyphOdds()
    us_layout: UsLayoutRanges = UsLayoutRanges()
    ar_old: ArOldDrawing = ArOldDrawing()
    small_crops: SmallCropsDrawing = SmallCropsDrawing()
    # auto: render unless the set on disk was rendered with these same parameters (its
    # manifest says so); always: render again; never: use what is there (one's own data).
    render: Literal["auto", "always", "never"] = "auto"

    def drawing(self) -> PlateDrawing:
        """The drawing options of this section, as the renderer takes them."""
        return PlateDrawing.of(
            self.serial_glyphs.model_dump(),
            self.us_layout.model_dump(),
            self.ar_old.model_dump(),
            self.small_crops.model_dump(),
        )

    def fingerprint(self, plate: dict | None = None) -> str:
        """SHA-256 of everything that decides the rendered pixels and labels."""
        drawn = self.model_dump(
            mode="json", exclude={"num_workers", "gallery_per_region", "render"}
        )
        # An option at its off value draws what a rendering without it draws, so it is left
        # out: equal pixels, equal fingerprints.
        if drawn["serial_glyphs"]["zero_for_o"] == 0:
            del drawn["serial_glyphs"]["zero_for_o"]
        if not drawn["serial_glyphs"]["shared_o_zero"]:
            del drawn["serial_glyphs"]["shared_o_zero"]
        if drawn["serial_glyphs"]["families"] is None:
            del drawn["serial_glyphs"]["families"]
        for key, off in _AR_OLD_ADDED_OFF.items():
            if drawn["ar_old"][key] == off:
                del drawn["ar_old"][key]
        if drawn["ar_old"] == _AR_OLD_BEFORE:
            del drawn["ar_old"]
        if drawn["small_crops"] == _SMALL_CROPS_BEFORE:
            del drawn["small_crops"]
        text = json.dumps(
            {"synthesize": drawn, "plate": plate or {}, "renderer": RENDERER_VERSION},
            sort_keys=True,
        )
        return hashlib.sha256(text.encode()).hexdigest()

    @field_validator("num_plates")
    @classmethod
    def _positive_plates(cls, v: int) -> int:
        if v < 1:
            raise ValueError(f"synthesize.num_plates must be >= 1, got {v}")
        return v

    @field_validator("num_workers")
    @classmethod
    def _workers(cls, v: int | None) -> int | None:
        if v is not None and v < 0:
            raise ValueError(f"synthesize.num_workers must be >= 0 or null, got {v}")
        return v

    @field_validator("gallery_per_region")
    @classmethod
    def _gallery(cls, v: int) -> int:
        if v < 0:
            raise ValueError(f"synthesize.gallery_per_region must be >= 0, got {v}")
        return v

    @field_validator("fonts_dir")
    @classmethod
    def _fonts_dir_exists(cls, v: str | None) -> str | None:
        # Every font is opened here, at start, rather than by the rendering workers.
        if v is not None:
            try:
                find_user_fonts(v)
            except FileNotFoundError as error:
                raise ValueError(str(error)) from error
        return v

    @field_validator("image_width", "image_height")
    @classmethod
    def _size_range(cls, v: tuple[int, int], info) -> tuple[int, int]:
        lo, hi = v
        if lo < 16 or hi < lo:
            raise ValueError(
                f"synthesize.{info.field_name} must be [min, max] with 16 <= min <= max, got {list(v)}"
            )
        return v

    @field_validator("region_weights")
    @classmethod
    def _regions(cls, v: dict[str, float]) -> dict[str, float]:
        _check_regions("region_weights", v)
        # Written so that NaN fails too (every comparison with NaN is false).
        if not all(0 <= w < math.inf for w in v.values()) or not sum(v.values()) > 0:
            raise ValueError(
                "synthesize.region_weights: weights must be finite and >= 0 with a positive sum"
            )
        return v

    @model_validator(mode="after")
    def _small_crops_smaller(self) -> SynthesizeParams:
        # A crop no taller than the far plate's height is drawn at its own size: fewer far
        # plates than `odds` says, silently.
        if self.small_crops.height[1] >= self.image_height[0]:
            raise ValueError(
                f"synthesize.small_crops.height {list(self.small_crops.height)} must stay below "
                f"the smallest image_height ({self.image_height[0]})"
            )
        return self

    @model_validator(mode="after")
    def _images_subdir_relative(self) -> SynthesizeParams:
        if Path(self.images_subdir).is_absolute() or ".." in Path(self.images_subdir).parts:
            raise ValueError("synthesize.images_subdir must be a folder relative to the CSV")
        return self


def validate_synthesize(section: dict) -> SynthesizeParams:
    """Validate (part of) the ``synthesize:`` section; errors name the key."""
    return SynthesizeParams.model_validate(section)


PARAMETER_SCHEMAS = {"synthesize": SynthesizeParams}
