"""Export nodes: thin wrappers over ``plate_ocr_pipeline.training.export``. The catalog logs
the reader's MLflow Model (``export.registered_reader``).

TensorFlow and tf2onnx are imported inside the library calls, so importing this module
(``kedro viz``, pipeline discovery) stays cheap.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import onnx

from plate_ocr_pipeline.core.plate_config import PlateConfig
from plate_ocr_pipeline.core.splits import select_split

from .params import ExportParams

logger = logging.getLogger(__name__)

INT8_PARTITION = "model_int8"


def held_out_crops(
    model_input: dict[str, np.ndarray], limit: int | None
) -> tuple[np.ndarray, list[str]]:
    """Preprocessed test-split crops and their texts (the val split when there is no test
    split), at most ``limit``."""
    rows = select_split(model_input, "test")
    if not len(rows["images"]):
        logger.warning("model_input has no test rows; using the validation split for export")
        rows = select_split(model_input, "val")
    return rows["images"][:limit], [str(t) for t in rows["plate_text"][:limit]]


def calibration_crops(model_input: dict[str, np.ndarray], count: int) -> np.ndarray:
    """The first ``count`` preprocessed training crops (never a real set): what the INT8
    copy's activation ranges are calibrated on. Falls back to the val, then test split."""
    for split in ("train", "val", "test"):
        images = select_split(model_input, split)["images"]
        if len(images):
            if split != "train":
                logger.warning("model_input has no train rows; calibrating INT8 on %s", split)
            return images[:count]
    return model_input["images"][:0]


def export_onnx_model(
    reader_model: Any,
    reader_report: dict[str, Any],
    export: dict[str, Any],
    plate: dict[str, Any],
) -> onnx.ModelProto:
    """Keras -> ONNX with the plate config, the region families and the temperature in the
    file's metadata; outputs ``plate``, ``region`` (with a region head) and ``columns``."""
    from plate_ocr_pipeline.core.onnx_metadata import REGION_FAMILIES_KEY, TEMPERATURE_KEY
    from plate_ocr_pipeline.training.export import export_onnx
    from plate_ocr_pipeline.training.reader import with_columns_output

    p = ExportParams.model_validate(export)
    extra = {TEMPERATURE_KEY: float(reader_report.get("temperature", 1.0))}
    if reader_report.get("region_families"):
        extra[REGION_FAMILIES_KEY] = list(reader_report["region_families"])
    return export_onnx(
        with_columns_output(reader_model),
        PlateConfig.from_dict(plate),
        opset=p.opset,
        simplify=p.simplify,
        model_name=p.model_name,
        model_version=p.model_version,
        extra_metadata=extra,
    )


def check_onnx_parity(
    reader_model: Any,
    onnx_model: onnx.ModelProto,
    model_input: dict[str, np.ndarray],
    export: dict[str, Any],
) -> dict[str, Any]:
    """Keras and ONNX agree on held-out crops; raises ``OnnxParityError`` otherwise."""
    from plate_ocr_pipeline.training.export import check_onnx_parity as check
    from plate_ocr_pipeline.training.reader import with_columns_output

    p = ExportParams.model_validate(export)
    images, _ = held_out_crops(model_input, p.quantization_eval_limit)
    reader = with_columns_output(reader_model)  # what export_onnx_model converted
    return check(reader, onnx_model, images, p.parity_batch_size, p.parity_tolerance)


def quantize_onnx_model(
    onnx_model: onnx.ModelProto,
    model_input: dict[str, np.ndarray],
    export: dict[str, Any],
    plate: dict[str, Any],
) -> tuple[dict[str, onnx.ModelProto], dict[str, Any]]:
    """With ``export.quantize``: ``{"model_int8": model}`` (static INT8, calibrated on
    training crops) and, on the same held-out crops, the plate_acc of the float and INT8
    models, the share of plates both read alike, their sizes; else ``{}`` (nothing written)
    and ``{"quantized": False}``."""
    from plate_ocr_pipeline.training.export import quantization_report, quantize_static_int8

    p = ExportParams.model_validate(export)
    if not p.quantize:
        return {}, {"quantized": False}
    calibration = calibration_crops(model_input, p.calibration_images)
    quantized = quantize_static_int8(onnx_model, calibration, reduce_range=p.int8_reduce_range)
    images, texts = held_out_crops(model_input, p.quantization_eval_limit)
    report = {
        "quantized": True,
        "calibration_images": len(calibration),
        **quantization_report(onnx_model, quantized, images, texts, PlateConfig.from_dict(plate)),
    }
    if texts:
        logger.info(
            "INT8 plate_acc %.4f vs fp32 %.4f (change %+.4f), same reading on %.1f%% of %d "
            "test images",
            report["int8_plate_acc"], report["fp32_plate_acc"], report["plate_acc_change"],
            100 * report["same_reading_share"], len(texts),
        )  # fmt: skip
    return {INT8_PARTITION: quantized}, report


def collect_export_metrics(
    onnx_parity_report: dict[str, Any], quantization_report: dict[str, Any]
) -> dict[str, dict[str, float]]:
    """MLflow metrics (``{key: {"value": v, "step": 0}}``) from the two export reports."""
    metrics = {
        "parity_max_abs_diff": onnx_parity_report["max_abs_diff"],
        "parity_argmax_mismatches": onnx_parity_report["argmax_mismatched_slots"],
    }
    for key in ("fp32_size_kb", "int8_size_kb", "fp32_plate_acc", "int8_plate_acc",
                "same_reading_share"):  # fmt: skip
        if key in quantization_report:
            metrics[key] = quantization_report[key]
    if "plate_acc_change" in quantization_report:
        metrics["int8_plate_acc_change"] = quantization_report["plate_acc_change"]
    return {f"export.{key}": {"value": float(v), "step": 0} for key, v in metrics.items()}


def reader_to_register(
    onnx_model: onnx.ModelProto, onnx_parity_report: dict[str, Any]
) -> onnx.ModelProto:
    """The ONNX model, passed on once its parity report exists.

    ``check_onnx_parity`` raises on a mismatch, so taking its report orders the run: the
    catalog's ``export.registered_reader`` logs and registers only a model that matched Keras.
    """
    return onnx_model
