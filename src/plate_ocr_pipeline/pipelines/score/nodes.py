"""Score nodes: load an ONNX model's own plate config, read labelled sets with it, predict.

Metrics, tables and plots reuse the evaluate stage's nodes, so a Keras model evaluated after
training and an ONNX file scored later are reported the same way.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from plate_ocr_pipeline.pipelines.evaluate.nodes import load_labelled_set
from plate_ocr_pipeline.plate_config import PlateConfig
from plate_ocr_pipeline.recognizer import ONNXPlateRecognizer

logger = logging.getLogger(__name__)


def read_model_plate_config(model_path: str) -> dict[str, Any]:
    """The plate config that travels inside the ONNX file (or the YAML beside it)."""
    recognizer = ONNXPlateRecognizer(model_path)
    logger.info("Scoring %s (%s)", model_path, recognizer.metadata.get("plate_ocr.model_name"))
    return recognizer.config.to_dict()


def set_name(annotations: str) -> str:
    """``../shared/datasets/real-us-plates/annotations.csv`` -> ``real-us-plates``."""
    path = Path(annotations)
    return path.parent.name if path.name == "annotations.csv" else path.stem


def load_labelled_sets(annotations: list[str], score_plate: dict[str, Any]) -> dict[str, Any]:
    """Every labelled CSV, preprocessed for the model, by set name."""
    config = PlateConfig.from_dict(score_plate)
    sets = {}
    for csv_path in annotations:
        if not Path(csv_path).is_file():
            raise FileNotFoundError(f"score.annotations: no annotations CSV at {csv_path}")
        sets[set_name(csv_path)] = load_labelled_set(set_name(csv_path), csv_path, config)
    return sets


def predict_with_onnx(
    model_path: str, score_sets: dict[str, Any], batch_size: int, threads: int | None
) -> dict[str, np.ndarray]:
    """Per-slot probabilities for every set from onnxruntime, batch by batch."""
    recognizer = ONNXPlateRecognizer(model_path, threads=threads)
    return {
        name: np.concatenate(
            [recognizer.predict(data["images"][start : start + batch_size])
             for start in range(0, max(1, len(data["images"])), batch_size)]
        )
        for name, data in score_sets.items()
    }  # fmt: skip
