"""Splits: the one an image is drawn into, and the rows of one split of the model-input
arrays (``images``, ``plate_text``, ``split``, ...)."""

from __future__ import annotations

import hashlib
import os

import numpy as np

SET_KEYS = ("images", "plate_text", "region", "image_path")


def select_split(
    arrays: dict[str, np.ndarray], split: str, keys: tuple[str, ...] = SET_KEYS
) -> dict[str, np.ndarray]:
    """The ``keys`` arrays restricted to the rows whose ``split`` is ``split``."""
    mask = arrays["split"] == split
    return {key: arrays[key][mask] for key in keys}


def split_key(image_path: str, source_file: str = "") -> str:
    """The image's path relative to its annotations CSV (``source_file``): a checkout moved
    elsewhere (another folder, another machine) draws the same splits."""
    if not source_file:
        return image_path
    return os.path.relpath(image_path, os.path.dirname(source_file)).replace(os.sep, "/")


def draw_split(key: str, seed: int, train: float, val: float) -> str:
    """``train``, ``val`` or ``test`` for ``key`` (``split_key``), with those fractions (the
    rest is test), from a hash of (``seed``, ``key``): an image keeps its split when rows are
    reordered or new data is added."""
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    return "train" if u < train else "val" if u < train + val else "test"
