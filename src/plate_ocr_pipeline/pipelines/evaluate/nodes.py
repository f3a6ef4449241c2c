"""Evaluate nodes: the held-out split(s) of the training data, as report sets, and the
reader's region output on every evaluated set."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from plate_ocr_pipeline.core.plate_config import PlateConfig
from plate_ocr_pipeline.core.plate_formats import known_families
from plate_ocr_pipeline.core.splits import select_split
from plate_ocr_pipeline.evaluation import (
    read_regions_with_keras,
    region_tables,
    unknown_label_families,
)
from plate_ocr_pipeline.pipelines.evaluate.params import EvaluateParams

logger = logging.getLogger(__name__)


def select_held_out_splits(
    model_input: dict[str, np.ndarray], evaluate: dict[str, Any]
) -> dict[str, dict[str, np.ndarray]]:
    """The rows of every split in ``evaluate.splits``, by split name; a split without rows is
    left out with a warning."""
    params = EvaluateParams.model_validate(evaluate)
    sets = {}
    for split in params.splits:
        rows = select_split(model_input, split)
        if not len(rows["images"]):
            logger.warning("Split %r has no rows: not evaluated", split)
            continue
        sets[split] = rows
    return sets


def evaluate_regions(
    reader_model: Any,
    reader_report: dict[str, Any],
    sets: dict[str, dict[str, np.ndarray]],
    plate: dict[str, Any],
    evaluate: dict[str, Any],
) -> tuple[dict[str, dict[str, float]], pd.DataFrame, pd.DataFrame]:
    """Region accuracy, the region confusion table and format-aware decoding beside the raw
    reading (``evaluation.region_tables``) of the exported reader on every evaluated set;
    empty tables when the reader has no region head."""
    params = EvaluateParams.model_validate(evaluate)
    families = list(reader_report.get("region_families") or [])
    if not families:
        return region_tables({}, {}, params.region_labels, params.equivalences)
    # A warning, not an error: the model is trained by now, and the tables are still right
    # for every other label.
    for entry in unknown_label_families(params.region_labels, known_families(families)):
        logger.warning("evaluate.region_labels names a family the model does not know: %s", entry)
    config = PlateConfig.from_dict(plate)
    readings = read_regions_with_keras(reader_model, families, sets, config, params.batch_size)
    return region_tables(sets, readings, params.region_labels, params.equivalences)
