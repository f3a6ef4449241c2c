"""A labelled set read for one model: its images preprocessed for the model's plate config,
and a reject (file, row, reason) for every row it cannot use."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from plate_ocr_pipeline.core.plate_config import PlateConfig
from plate_ocr_pipeline.core.preprocessing import ImageReadError, preprocess_image, read_image
from plate_ocr_pipeline.core.text_codec import normalise_text, text_problem

logger = logging.getLogger(__name__)

# A row of a labelled set that cannot be read for the model, and why.
REJECT_COLUMNS = ["set", "source_file", "source_row", "image_path", "plate_text", "reason"]


def read_labelled_set(
    rows: pd.DataFrame, config: PlateConfig
) -> tuple[dict[str, np.ndarray], list[dict[str, Any]]]:
    """One set's rows (``LabelledSetsDataset``'s table) -> the set's arrays for ``config``,
    and one reject (file, row, reason) per row that cannot be used."""
    images, texts, regions, paths, rejects = [], [], [], [], []
    for row in rows.itertuples(index=False):
        text = normalise_text(row.plate_text) if isinstance(row.plate_text, str) else ""
        reason = row.error if isinstance(row.error, str) and row.error else None
        reason = reason or text_problem(text, config)
        if reason is None:
            try:
                images.append(preprocess_image(read_image(row.image), config))
            except ImageReadError as error:
                reason = error.reason
        if reason is not None:
            rejects.append(
                {"set": row.set, "source_file": row.source_file, "source_row": row.source_row,
                 "image_path": row.image_path, "plate_text": row.plate_text, "reason": reason}
            )  # fmt: skip
            continue
        texts.append(text)
        regions.append(row.region if isinstance(row.region, str) else "")
        paths.append(str(row.image_path))
    shape = (0, *config.input_shape)
    arrays = {
        "images": np.stack(images) if images else np.zeros(shape, np.uint8),
        "plate_text": np.array(texts, dtype=str),
        "region": np.array(regions, dtype=str),
        "image_path": np.array(paths, dtype=str),
    }
    return arrays, rejects


def read_labelled_sets(
    labelled_sets: pd.DataFrame,
    config: PlateConfig,
    names: Sequence[str] | None = None,
    held_out_sets: dict[str, dict[str, np.ndarray]] | None = None,
) -> tuple[dict[str, dict[str, np.ndarray]], pd.DataFrame]:
    """The sets to report on, by name: ``held_out_sets`` (already preprocessed) and every
    labelled set of ``labelled_sets`` (``LabelledSetsDataset``'s table; only those in
    ``names`` if given), read for ``config``. Rows that cannot be used go to the rejects table
    (``REJECT_COLUMNS``) with their reason."""
    sets = dict(held_out_sets or {})
    table = labelled_sets
    if names is not None and not table.empty:
        absent = sorted(set(names) - set(table["set"]))
        if absent:
            logger.warning("Labelled sets %s not loaded (loaded: %s)", absent,
                           sorted(set(table["set"])))  # fmt: skip
        table = table[table["set"].isin(names)]
    rejects: list[dict[str, Any]] = []
    for name, rows in table.groupby("set", sort=False) if not table.empty else []:
        if name in sets:
            raise ValueError(f"labelled set name {name!r} is already used by a held-out split")
        arrays, rejected = read_labelled_set(rows, config)
        rejects.extend(rejected)
        if rejected:
            reasons = pd.Series([r["reason"] for r in rejected]).value_counts().to_dict()
            logger.warning("Labelled set %s: %d of %d rows rejected (see the rejects table): %s",
                           name, len(rejected), len(rows), reasons)  # fmt: skip
        if len(arrays["images"]):
            sets[name] = arrays
        else:
            logger.warning("Labelled set %s: no usable plate, not reported", name)
    if not sets:
        raise ValueError(
            "no plates to report on: no held-out split and no labelled set with a usable row "
            f"({len(rejects)} rows rejected)"
        )
    logger.info("Report sets: %s", {name: len(data["images"]) for name, data in sets.items()})
    return sets, pd.DataFrame(rejects, columns=REJECT_COLUMNS)
