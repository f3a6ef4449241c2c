"""The model input: every crop of the clean table preprocessed once into one uint8 array
with its labels, reusing a previous run's arrays for every unchanged image."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from plate_ocr_pipeline.core.plate_config import PlateConfig
from plate_ocr_pipeline.core.preprocessing import ImageReadError, preprocess_image

if TYPE_CHECKING:  # the table comes from the pipelines; training itself needs no pandas
    import pandas as pd

logger = logging.getLogger(__name__)

# Plate-config fields that change the preprocessed pixels: a change invalidates the cache.
PREPROCESSING_KEYS = (
    "img_height",
    "img_width",
    "color_mode",
    "keep_aspect_ratio",
    "padding_color",
    "interpolation",
)


def preprocessing_signature(config: PlateConfig) -> str:
    """The plate-config values that decide the preprocessed pixels, as one string."""
    values = {k: v for k, v in config.to_dict().items() if k in PREPROCESSING_KEYS}
    return json.dumps(values, sort_keys=True)


def build_model_input(
    table: pd.DataFrame,
    image_files: Mapping[str, Any],
    cache: Mapping[str, np.ndarray] | None,
    config: PlateConfig,
) -> dict[str, np.ndarray]:
    """Preprocess every crop of ``table`` (the clean table: ``image_path``, ``plate_text``,
    ``split``, optional ``region``) into one uint8 ``(N, H, W, C)`` array with its labels,
    reusing ``cache`` (a previous result) for every image whose fingerprint (path, size,
    modification time) is unchanged. ``image_files`` maps each path to an object with
    ``fingerprint`` and ``read()`` (``ImageFile``), decoded on demand.

    Returns arrays ``images``, ``image_path``, ``plate_text``, ``region``, ``split``,
    ``fingerprint`` and the 0-d ``preprocessing`` signature.
    """
    signature = preprocessing_signature(config)
    cached: dict[str, np.ndarray] = {}
    if cache and str(cache.get("preprocessing", "")) == signature:
        cached = dict(zip(cache["fingerprint"].tolist(), cache["images"], strict=True))

    from tqdm.auto import tqdm

    shape = config.input_shape
    images, keep, fingerprints, unreadable = [], [], [], []
    reused = 0
    paths = table["image_path"].astype(str)
    interval = 0.1 if sys.stderr.isatty() else 30.0  # a log file: a line every 30 s
    for row, path in enumerate(
        tqdm(paths, desc="model input", unit="img", mininterval=interval, disable=len(paths) < 500)
    ):
        file = image_files[path]
        image = cached.get(file.fingerprint)
        if image is not None and image.shape == shape:
            reused += 1
        else:
            try:
                image = preprocess_image(file.read(), config)
            except ImageReadError as error:
                unreadable.append(f"{_where(table, row)}: {error.reason}")
                continue
        images.append(image)
        keep.append(row)
        fingerprints.append(file.fingerprint)
    if unreadable:
        # Ingest read every one of them: the files changed since, and dropping their rows
        # would train on less than the clean table says without anyone noticing.
        shown = "; ".join(unreadable[:10])
        more = f" (and {len(unreadable) - 10} more)" if len(unreadable) > 10 else ""
        raise ValueError(
            f"{len(unreadable)} image(s) of the clean table cannot be read now: {shown}{more}. "
            "They changed after ingest: run the ingest pipeline again."
        )
    logger.info(
        "Model input: %d images (%d from the cache, %d decoded)",
        len(images),
        reused,
        len(images) - reused,
    )
    kept = table.iloc[keep]
    region = (
        kept["region"].fillna("").astype(str).to_numpy(dtype=str)
        if "region" in kept
        else np.full(len(kept), "", dtype=str)
    )
    return {
        "images": np.stack(images) if images else np.zeros((0, *shape), np.uint8),
        "image_path": kept["image_path"].astype(str).to_numpy(dtype=str),
        "plate_text": kept["plate_text"].astype(str).to_numpy(dtype=str),
        "region": region,
        "split": kept["split"].astype(str).to_numpy(dtype=str),
        "fingerprint": np.array(fingerprints, dtype=str),
        "preprocessing": np.array(signature),
    }


def _where(table: pd.DataFrame, row: int) -> str:
    """An image's path, and its annotations file and line where the table has them."""
    record = table.iloc[row]
    path = str(record["image_path"])
    if "source_file" in table and "source_row" in table:
        return f"{path} ({record['source_file']}, line {record['source_row']})"
    return path
