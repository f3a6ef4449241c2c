"""Render one synthetic licence-plate crop (numpy/OpenCV/Pillow only).

``render_plate(rng, region, width, height)`` draws a flat plate of the region's design in
"plate coordinates", places it in a crop with perspective, then degrades it (lighting, glare,
dirt, blur, low resolution, noise, JPEG). Everything random comes from the one ``rng``.

The drawing options are in ``options``; the primitives in ``drawing`` and ``serial``; each
family's plate design in ``plates_us``, ``plates_europe`` and ``plates_south_america``; the
crop and the camera in ``scene``.
"""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np

from .formats import REGION_FORMATS, groups_to_label, sample_text
from .options import (
    ArOldLook,
    Resources,
    SerialGlyphs,
    SmallCrops,
    UsLayout,
    draw_small_crop,
    get_resources,
    plate_size,
)
from .plates_europe import eu_2row_plate, eu_plate, uk_plate
from .plates_south_america import mercosur_moto_plate, mercosur_plate, old_moto_plate, old_plate
from .plates_us import us_plate
from .scene import degrade, place_in_crop
from .serial import TEXT_BOXES

DEFAULT_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_"

# Raised whenever a change to the drawing code changes the pixels of some plate: it is part of
# the rendered set's fingerprint, so a set on disk drawn by older code is rendered again.
RENDERER_VERSION = 3


def _flat_plate(
    rng: np.random.Generator, region: str, groups: list[str], res: Resources
) -> tuple[np.ndarray, tuple[float, float, float, float, float]]:
    """Flat plate of ``region`` and the box of its characters: (x0, y0, x1, y1, height of
    the smallest row), in plate coordinates."""
    family = REGION_FORMATS[region].family
    TEXT_BOXES.clear()
    if family == "us":
        img = us_plate(rng, groups, res)
    elif family == "eu":
        img = eu_plate(rng, groups, region, res)
    elif family == "uk":
        img = uk_plate(rng, groups, res)
    elif family == "mercosur":
        img = mercosur_plate(rng, groups, region, res)
    elif family == "mercosur-moto":
        img = mercosur_moto_plate(rng, groups, region, res)
    elif family == "old-moto":
        img = old_moto_plate(rng, groups, region, res)
    elif family == "eu-2row":
        img = eu_2row_plate(rng, groups, region, res)
    else:
        img = old_plate(rng, groups, region, res)
    boxes = np.array(TEXT_BOXES or [(0, 0, img.shape[1], img.shape[0])], np.float32)
    TEXT_BOXES.clear()
    box = (*boxes[:, :2].min(0), *boxes[:, 2:].max(0), float((boxes[:, 3] - boxes[:, 1]).min()))
    return img, tuple(float(v) for v in box)


def render_flat_plate(
    rng: np.random.Generator, region: str, groups: list[str], res: Resources
) -> np.ndarray:
    """Flat plate (float32 RGB, plate coordinates) of ``region`` showing ``groups``."""
    return _flat_plate(rng, region, groups, res)[0]


def plate_aspect(region: str) -> float:
    w, h = plate_size(region)
    return w / h


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
