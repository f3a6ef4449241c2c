"""Infer nodes: read plates in every image of a folder, one row per file.

The folder comes from ``ImageFolderDataset`` as ``{relative_path: loader}`` and the model from
the ``infer_model`` catalog entry; ``ONNXPlateRecognizer.run_files`` reads, decodes and runs
them a batch at a time, so memory stays bounded whatever the folder's size. A file that cannot
be read or decoded becomes an ``error`` row with the reason, and the run goes on.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import onnx
import pandas as pd

from plate_ocr_pipeline.inference.recognizer import (
    ONNXPlateRecognizer,
    PlateResult,
)

from .params import InferParams

logger = logging.getLogger(__name__)

PREDICTION_COLUMNS = ["path", "text", "confidence", "char_confidences", "status", "error"]


def _row(result: PlateResult) -> dict[str, Any]:
    """One predictions row: an ``ok`` reading, or an ``error`` row with the reason."""
    if not result.ok:
        return {
            "path": result.source,
            "text": "",
            "confidence": np.nan,
            "char_confidences": "",
            "status": "error",
            "error": result.error,
        }
    return {
        "path": result.source,
        "text": result.text,
        "confidence": round(result.confidence, 6),
        "char_confidences": json.dumps([round(float(p), 4) for p in result.char_probs]),
        "status": "ok",
        "error": "",
    }


def _progress(total: int, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="img", desc="infer", disable=not enabled or total == 0)


def recognize_images(
    infer_images: dict[str, Callable[[], bytes]],
    infer_model: onnx.ModelProto,
    infer: dict[str, Any],
) -> pd.DataFrame:
    """One row per file, sorted by relative path: ``path, text, confidence,
    char_confidences`` (JSON list, reading order), ``status`` (``ok``/``error``), ``error``.

    ``infer_model`` is the ONNX model the catalog loads (its serialized bytes work too);
    ``confidence`` is the mean of the per-character probabilities (see ``PlateResult``).
    """
    p = InferParams.model_validate(infer)
    paths = sorted(infer_images)
    if not paths:
        logger.warning("Infer: the input folder holds no image files; writing an empty table")
        return pd.DataFrame(columns=PREDICTION_COLUMNS)
    recognizer = ONNXPlateRecognizer(infer_model, providers=p.providers, threads=p.threads)
    files = {path: infer_images[path] for path in paths}
    rows = []
    with _progress(len(paths), p.progress) as bar:
        for result in recognizer.run_files(files, p.batch_size, p.num_workers):
            rows.append(_row(result))
            bar.update()
    table = pd.DataFrame(rows, columns=PREDICTION_COLUMNS)
    errors = int((table["status"] == "error").sum())
    logger.info("Infer: read %d files, %d ok, %d errors", len(table), len(table) - errors, errors)
    return table


def summarise_predictions(predictions: pd.DataFrame) -> dict[str, Any]:
    """Counts of ok and error rows, and the error reasons, for the run's record."""
    errors = predictions[predictions["status"] == "error"]
    summary = {
        "files": len(predictions),
        "ok": int((predictions["status"] == "ok").sum()),
        "errors": len(errors),
        "errors_by_reason": {str(k): int(v) for k, v in errors["error"].value_counts().items()},
    }
    for reason, count in summary["errors_by_reason"].items():
        logger.warning("Infer: %d file(s) unreadable: %s", count, reason)
    return summary
