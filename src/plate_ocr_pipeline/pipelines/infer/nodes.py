"""Infer nodes: read plates in every image of a folder, one row per file.

The folder comes from ``ImageFolderDataset`` as ``{relative_path: loader}``; files are read,
decoded and resized ``batch_size`` at a time (decoding on ``num_workers`` threads: OpenCV
releases the GIL), so memory stays bounded by one batch whatever the folder's size. A file
that cannot be read or decoded becomes an ``error`` row with the reason, and the run goes on.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from plate_ocr_pipeline.recognizer import DEFAULT_MODEL_PATH, ONNXPlateRecognizer, PlateInputError

logger = logging.getLogger(__name__)

PREDICTION_COLUMNS = ["path", "text", "confidence", "char_confidences", "status", "error"]


def resolve_model_path(model_path: str | None, latest_export_path: str) -> str:
    """``model_path`` if given; else the model shipped with the package; else the most recent
    export of the ``train`` pipeline (``latest_export_path``)."""
    if model_path:
        if not Path(model_path).is_file():
            raise FileNotFoundError(f"infer.model_path: no ONNX model at {model_path}")
        return str(model_path)
    for candidate in (Path(DEFAULT_MODEL_PATH), Path(latest_export_path)):
        if candidate.is_file():
            logger.info("Infer: using the model at %s", candidate)
            return str(candidate)
    raise FileNotFoundError(
        f"no ONNX model: neither the shipped {DEFAULT_MODEL_PATH} nor {latest_export_path} "
        "(run `kedro run --pipeline=train`) exists; pass --params=infer.model_path=FILE.onnx"
    )


def _prepare(recognizer: ONNXPlateRecognizer, path: str, loader: Callable[[], bytes]):
    """Read and preprocess one file: the model input, or the error message."""
    try:
        data = loader()
    except OSError as error:
        return None, f"unreadable file: {type(error).__name__}: {error}"
    try:
        return recognizer.preprocess(data, name=path), None
    except PlateInputError as error:
        return None, error.reason


def _rows(
    recognizer: ONNXPlateRecognizer, chunk: list[str], prepared: list[tuple]
) -> list[dict[str, Any]]:
    """Run the model on the chunk's good images; one output row per file, in chunk order."""
    good = [i for i, (image, _) in enumerate(prepared) if image is not None]
    decoded = {}
    if good:
        batch = np.stack([prepared[i][0] for i in good])
        decoded = dict(zip(good, recognizer.decode(recognizer.predict(batch)), strict=True))
    rows = []
    for i, path in enumerate(chunk):
        if i in decoded:
            text, probs = decoded[i]
            rows.append(
                {
                    "path": path,
                    "text": text,
                    "confidence": round(float(np.mean(probs)), 6) if len(probs) else 0.0,
                    "char_confidences": json.dumps([round(float(p), 4) for p in probs]),
                    "status": "ok",
                    "error": "",
                }
            )
        else:
            rows.append(
                {
                    "path": path,
                    "text": "",
                    "confidence": np.nan,
                    "char_confidences": "",
                    "status": "error",
                    "error": prepared[i][1],
                }
            )
    return rows


def _progress(total: int, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="img", desc="infer", disable=not enabled or total == 0)


def recognize_images(
    infer_images: dict[str, Callable[[], bytes]],
    infer_model_path: str,
    batch_size: int,
    num_workers: int,
    providers: list[str],
    threads: int | None,
    progress: bool,
) -> pd.DataFrame:
    """One row per file, sorted by relative path: ``path, text, confidence,
    char_confidences`` (JSON list, reading order), ``status`` (``ok``/``error``), ``error``.

    ``confidence`` is the mean of the per-character probabilities (see ``PlateResult``).
    """
    paths = sorted(infer_images)
    if not paths:
        logger.warning("Infer: the input folder holds no image files; writing an empty table")
        return pd.DataFrame(columns=PREDICTION_COLUMNS)
    recognizer = ONNXPlateRecognizer(infer_model_path, providers=providers, threads=threads)
    rows: list[dict[str, Any]] = []
    chunks = [paths[i : i + batch_size] for i in range(0, len(paths), batch_size)]
    with ThreadPoolExecutor(num_workers) as pool, _progress(len(paths), progress) as bar:

        def submit(chunk: list[str]) -> list[Future]:
            return [pool.submit(_prepare, recognizer, p, infer_images[p]) for p in chunk]

        # Decode batch k+1 while the model runs batch k: at most two batches in memory.
        pending = submit(chunks[0])
        for index, chunk in enumerate(chunks):
            prepared = [future.result() for future in pending]
            pending = submit(chunks[index + 1]) if index + 1 < len(chunks) else []
            rows.extend(_rows(recognizer, chunk, prepared))
            bar.update(len(chunk))
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
