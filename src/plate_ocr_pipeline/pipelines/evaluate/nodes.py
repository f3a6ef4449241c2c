"""Evaluate nodes: the held-out split(s) of the training data, as report sets."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from plate_ocr_pipeline.pipelines.evaluate.params import EvaluateParams

logger = logging.getLogger(__name__)

SET_KEYS = ("images", "plate_text", "region", "image_path")


def select_held_out_splits(
    model_input: dict[str, np.ndarray], evaluate: dict[str, Any]
) -> dict[str, dict[str, np.ndarray]]:
    """The rows of every split in ``evaluate.splits``, by split name; a split without rows is
    left out with a warning."""
    params = EvaluateParams.model_validate(evaluate)
    sets = {}
    for split in params.splits:
        mask = model_input["split"] == split
        if not mask.any():
            logger.warning("Split %r has no rows: not evaluated", split)
            continue
        sets[split] = {key: model_input[key][mask] for key in SET_KEYS}
    return sets
