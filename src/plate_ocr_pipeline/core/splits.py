"""Rows of one split of the model-input arrays (``images``, ``plate_text``, ``split``, ...)."""

from __future__ import annotations

import numpy as np

SET_KEYS = ("images", "plate_text", "region", "image_path")


def select_split(
    arrays: dict[str, np.ndarray], split: str, keys: tuple[str, ...] = SET_KEYS
) -> dict[str, np.ndarray]:
    """The ``keys`` arrays restricted to the rows whose ``split`` is ``split``."""
    mask = arrays["split"] == split
    return {key: arrays[key][mask] for key in keys}
