"""Infer nodes: read plates in every image of a folder, one row per file.

The folder comes from ``ImageFolderDataset`` as ``{relative_path: loader}`` and the model from
the ``infer_model`` catalog entry; ``ONNXPlateRecognizer.run_files`` reads, decodes and runs
them a batch at a time, so memory stays bounded whatever the folder's size. A file that cannot
be read or decoded becomes an ``error`` row with the reason, and the run goes on: every key of
the folder's listing (every file under it, and every folder that could not be listed) gives
exactly one row, and a name that is not UTF-8 appears escaped (``\\xe9``), so that the table
can always be written.

``infer.engine: dask`` reads the same files as tasks on a ``dask.distributed`` cluster, a
partition of ``infer.partition_size`` files each (``plate_ocr_pipeline.inference.distributed``):
a ``LocalCluster`` by default, or the cluster at ``infer.scheduler_address``. The results come
back in the same order and make the same rows, so the table is the local engine's. The split is
inside this node, not by Kedro's ``DaskRunner``, which runs whole nodes as tasks: infer is one
node whose work is per file, so a node-level runner would not spread it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import PurePosixPath
from typing import Any

import numpy as np
import onnx
import pandas as pd

from plate_ocr_pipeline.core.file_names import escape_name
from plate_ocr_pipeline.inference.recognizer import (
    RESULT_COLUMNS,
    ONNXPlateRecognizer,
    PlateResult,
)

from .params import InferParams

logger = logging.getLogger(__name__)

PREDICTION_COLUMNS = list(RESULT_COLUMNS)


def _text(value: object) -> str:
    """``value`` as text that encodes to UTF-8 (a surrogate-escaped byte becomes ``\\xNN``)."""
    return escape_name(str(value))


def _row(result: PlateResult) -> dict[str, Any]:
    """One predictions row: an ``ok`` reading, or an ``error`` row with the reason (CSV: NaN
    for a missing number, empty text for the rest)."""
    record = result.record()
    return {
        **{key: "" if value is None else value for key, value in record.items()},
        "path": _text(record["path"]),
        "error": _text(record["error"] or ""),
        "confidence": np.nan if record["confidence"] is None else round(record["confidence"], 6),
        "region_confidence": np.nan
        if record["region_confidence"] is None
        else round(record["region_confidence"], 6),
        "char_confidences": json.dumps(record["char_confidences"]) if result.ok else "",
    }


def _progress(total: int, enabled: bool):
    from tqdm.auto import tqdm

    interval = 0.1 if sys.stderr.isatty() else 30.0  # a log file: a line every 30 s
    return tqdm(
        total=total,
        unit="img",
        desc="infer",
        disable=not enabled or total == 0,
        mininterval=interval,
    )


def _check_reading_limits(files: Mapping[str, Any], params: InferParams) -> None:
    """The limits the folder's loaders apply (the catalog's, set by ``--params``) must be the
    ones in the parameters: a value changed in a parameters file only would not be applied."""
    limits = getattr(files, "limits", None)
    if not limits:
        return
    differ = [
        f"infer.{name}={getattr(params, name)} in the parameters, {limits[name]} in the catalog"
        for name in ("max_file_bytes", "max_pixels")
        if name in limits and limits[name] != getattr(params, name)
    ]
    if differ:
        raise ValueError(
            "infer reading limits disagree: "
            + "; ".join(differ)
            + ". Give them with --params (which sets both) or change catalog_infer.yml too."
        )


def _check_shared_input(params: InferParams) -> None:
    """Workers of a remote cluster open the files by the folder's path: a relative one would
    be resolved in each worker's own working folder."""
    if params.scheduler_address is None or "://" in params.input_dir:
        return
    if not PurePosixPath(params.input_dir).is_absolute():
        raise ValueError(
            f"infer.input_dir={params.input_dir!r} is relative, but the files are read by the "
            f"workers of {params.scheduler_address}: give its absolute path on storage that "
            "every worker mounts at that path (or an fsspec URL such as s3://bucket/crops)"
        )


@contextlib.contextmanager
def _read_files(
    files: Mapping[str, Callable[[], bytes]], model: Any, p: InferParams
) -> Iterator[Iterator[PlateResult]]:
    """The results of every file of ``files``, in order, from the engine the parameters pick."""
    if p.engine == "local":
        recognizer = ONNXPlateRecognizer(
            model,
            providers=p.providers,
            threads=p.threads or (1 if p.lanes else None),
            format_decoding=p.format_decoding,
            region_hint=p.region_hint,
        )
        yield recognizer.run_files(files, p.batch_size, p.num_workers, lanes=p.lanes)
        return
    from plate_ocr_pipeline.inference import distributed

    _check_shared_input(p)
    # A bad model or region hint fails before any cluster starts.
    model_bytes = distributed.serialized_model(model, p.format_decoding, p.region_hint)
    with distributed.dask_client(
        p.scheduler_address,
        n_workers=p.dask_workers,
        processes=p.dask_processes,
        connect_timeout=p.dask_connect_timeout,
    ) as client:
        results = distributed.run_files_on_dask(
            client,
            files,
            model_bytes,
            partition_size=p.partition_size,
            batch_size=p.batch_size,
            num_workers=p.num_workers,
            providers=p.providers,
            threads=p.threads or 1,  # one onnxruntime thread per single-thread worker
            format_decoding=p.format_decoding,
            region_hint=p.region_hint,
        )
        with contextlib.closing(results):  # stopped (tasks cancelled) before the client closes
            yield results


def recognize_images(
    infer_images: dict[str, Callable[[], bytes]],
    infer_model: onnx.ModelProto,
    infer: dict[str, Any],
) -> pd.DataFrame:
    """One row per file, sorted by relative path: ``path, text, confidence,
    char_confidences`` (JSON list, reading order), ``region`` and ``region_confidence`` (the
    model's region family, empty for a model without one), ``raw_text`` (the model's own
    reading, which format-aware decoding may have corrected into ``text``), ``status``
    (``ok``/``error``), ``error``.

    ``infer_model`` is the ONNX model the catalog loads (its serialized bytes work too);
    ``confidence`` is the mean of the per-character probabilities (see ``PlateResult``).
    ``infer.engine`` picks where the files are read (this process or a Dask cluster; see the
    module docstring); the table is the same.
    """
    p = InferParams.model_validate(infer)
    _check_reading_limits(infer_images, p)
    paths = sorted(infer_images)
    if not paths:
        logger.warning("Infer: the input folder holds no files; writing an empty table")
        return pd.DataFrame(columns=PREDICTION_COLUMNS)
    files = {path: infer_images[path] for path in paths}
    rows = []
    with _read_files(files, infer_model, p) as results, _progress(len(paths), p.progress) as bar:
        for result in results:
            rows.append(_row(result))
            bar.update()
    table = pd.DataFrame(rows, columns=PREDICTION_COLUMNS)
    if table["path"].tolist() != [_text(path) for path in paths]:  # one row per file, in order
        raise RuntimeError(f"infer: {len(paths)} files in but {len(table)} rows out")
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
