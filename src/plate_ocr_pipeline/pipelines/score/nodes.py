"""Score nodes: an ONNX model from the catalog -> a recognizer and the plate config that
travels in the model's metadata."""

from __future__ import annotations

import logging
from typing import Any

import onnx

from plate_ocr_pipeline.core.onnx_metadata import (
    MODEL_NAME_KEY,
    PLATE_CONFIG_KEY,
    plate_config_from_metadata,
    read_metadata,
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
    logger.info("Scoring %s", metadata.get(MODEL_NAME_KEY, "an unnamed model"))
    return recognizer, config.to_dict()
