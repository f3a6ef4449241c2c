"""Evaluate nodes: the held-out split(s) of the training data, as report sets."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from plate_ocr_pipeline.core.splits import select_split
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
