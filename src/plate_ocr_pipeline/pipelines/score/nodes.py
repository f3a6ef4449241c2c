"""Score nodes: an ONNX model from the catalog -> a recognizer and the plate config that
travels in the model's metadata."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import onnx
import pandas as pd

from plate_ocr_pipeline.core.onnx_metadata import (
    MODEL_NAME_KEY,
    PLATE_CONFIG_KEY,
    plate_config_from_metadata,
    read_metadata,
)
from plate_ocr_pipeline.evaluation import (
    check_label_families,
    read_regions_with_recognizer,
    region_tables,
)
from plate_ocr_pipeline.inference.recognizer import ONNXPlateRecognizer
from plate_ocr_pipeline.pipelines.score.params import ScoreParams

logger = logging.getLogger(__name__)


def load_recognizer(
    score_model: onnx.ModelProto, score: dict[str, Any]
) -> tuple[ONNXPlateRecognizer, dict[str, Any]]:
    """An ``ONNXPlateRecognizer`` over ``score_model`` and the plate config from its metadata
    (which sizes the crops and decodes the slots)."""
    params = ScoreParams.model_validate(score)
    metadata = read_metadata(score_model)
    config = plate_config_from_metadata(metadata)
    if config is None:
        raise ValueError(
            f"the model to score has no plate config in its ONNX metadata (key "
            f"{PLATE_CONFIG_KEY!r}): export it with the export pipeline, or add one with "
            "plate_ocr_pipeline.core.onnx_metadata.embed_metadata"
        )
    recognizer = ONNXPlateRecognizer(score_model, threads=params.threads, plate_config=config)
    if recognizer.region_families:  # before any plate is read
        check_label_families(params.region_labels, recognizer.known_families)
    logger.info("Scoring %s", metadata.get(MODEL_NAME_KEY, "an unnamed model"))
    return recognizer, config.to_dict()


def score_regions_and_formats(
    predictor: ONNXPlateRecognizer,
    sets: dict[str, dict[str, np.ndarray]],
    score: dict[str, Any],
) -> tuple[dict[str, dict[str, float]], pd.DataFrame, pd.DataFrame]:
    """Region accuracy, the region confusion table and format-aware decoding beside the
    model's own reading, per set (``evaluation.region_tables``), for a model with a region
    output; empty tables (logged) for one without."""
    params = ScoreParams.model_validate(score)
    if not predictor.region_families:
        logger.info("The scored model has no region output: no region or format report")
        return region_tables({}, {}, params.region_labels, params.equivalences)
    reader = predictor.reading(format_decoding=True)
    readings = read_regions_with_recognizer(reader, sets, params.batch_size)
    return region_tables(sets, readings, params.region_labels, params.equivalences)
