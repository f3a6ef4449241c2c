"""Export nodes: Keras -> ONNX (uint8 NHWC input ``input``, dynamic batch), plate config in
the file's metadata, a parity check against Keras, optional simplification and INT8 copy.

TensorFlow and tf2onnx are imported inside the nodes that need them, so that importing this
module (``kedro viz``, pipeline discovery) stays cheap.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pandas as pd

from plate_ocr_pipeline.image_preprocessing import ImageReadError, load_and_preprocess
from plate_ocr_pipeline.onnx_metadata import embed_metadata, read_metadata
from plate_ocr_pipeline.plate_config import PlateConfig
from plate_ocr_pipeline.text_codec import decode_predictions

logger = logging.getLogger(__name__)

INPUT_NAME = "input"
INT8_PARTITION = "model_int8"


class OnnxParityError(AssertionError):
    """The exported ONNX model does not compute what the Keras model computes."""


def convert_keras_to_onnx(trained_model: Any, plate: dict[str, Any], opset: int) -> onnx.ModelProto:
    """tf2onnx conversion with a uint8 ``(None, H, W, C)`` input named ``input``.

    Falls back to Keras' own ``model.export(format="onnx")`` when tf2onnx fails.
    """
    import tensorflow as tf

    config = PlateConfig.from_dict(plate)
    shape = (None, config.img_height, config.img_width, config.num_channels)
    signature = (tf.TensorSpec(shape, tf.uint8, name=INPUT_NAME),)
    try:
        import tf2onnx

        model_proto, _ = tf2onnx.convert.from_keras(
            trained_model, input_signature=signature, opset=opset
        )
        converter = f"tf2onnx {tf2onnx.__version__}"
    except Exception as error:  # tf2onnx raises many kinds on unsupported Keras 3 graphs
        logger.warning(
            "tf2onnx failed (%s: %s); trying keras model.export", type(error).__name__, error
        )
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "model.onnx"
            trained_model.export(
                str(path),
                format="onnx",
                input_signature=signature,
                opset_version=opset,
                verbose=False,
            )
            model_proto = onnx.load(str(path))
        converter = "keras.export"
    model_input = model_proto.graph.input[0]
    if model_input.name != INPUT_NAME:
        raise ValueError(f"converted model input is named {model_input.name!r}, not {INPUT_NAME!r}")
    logger.info(
        "Converted %s to ONNX opset %d with %s (%.1f kB)",
        trained_model.name,
        opset,
        converter,
        model_proto.ByteSize() / 1024,
    )
    return model_proto


def simplify_onnx_graph(onnx_model_converted: onnx.ModelProto, simplify: bool) -> onnx.ModelProto:
    """Simplify with onnxsim, else onnxoptimizer; unchanged (with a log line) when neither is
    installed or ``simplify`` is false. Neither package is a dependency."""
    if not simplify:
        return onnx_model_converted
    try:
        import onnxsim

        simplified, ok = onnxsim.simplify(onnx_model_converted)
        if ok:
            logger.info(
                "Simplified the ONNX graph with onnxsim: %d -> %d nodes",
                len(onnx_model_converted.graph.node),
                len(simplified.graph.node),
            )
            return simplified
        logger.warning("onnxsim could not validate its simplified graph; keeping the original")
        return onnx_model_converted
    except ImportError:
        pass
    try:
        import onnxoptimizer

        optimised = onnxoptimizer.optimize(onnx_model_converted)
        logger.info(
            "Optimised the ONNX graph with onnxoptimizer: %d -> %d nodes",
            len(onnx_model_converted.graph.node),
            len(optimised.graph.node),
        )
        return optimised
    except ImportError:
        logger.info(
            "export.simplify: neither onnxsim nor onnxoptimizer is installed; "
            "keeping the graph as converted (onnxruntime optimises it at load anyway)"
        )
        return onnx_model_converted


def embed_plate_metadata(
    onnx_model_simplified: onnx.ModelProto,
    plate: dict[str, Any],
    model_name: str,
    model_version: str,
) -> onnx.ModelProto:
    """Store the plate config and model name/version in the file's ``metadata_props``."""
    config = PlateConfig.from_dict(plate)
    model = embed_metadata(onnx_model_simplified, config, model_name, model_version)
    model.producer_name = model.producer_name or "plate_ocr_pipeline"
    onnx.checker.check_model(model)
    return model


def load_test_images(
    plates_clean: pd.DataFrame, plate: dict[str, Any], max_images: int | None
) -> tuple[np.ndarray, list[str]]:
    """Preprocessed uint8 test-split crops and their texts (at most ``max_images``).

    With no test rows, falls back to validation rows; unreadable images are skipped with a
    warning (ingest should already have rejected them).
    """
    config = PlateConfig.from_dict(plate)
    rows = plates_clean[plates_clean["split"] == "test"]
    if rows.empty:
        logger.warning("plates_clean has no test rows; using the validation split for export")
        rows = plates_clean[plates_clean["split"] == "val"]
    if max_images is not None:
        rows = rows.head(max_images)
    images, texts = [], []
    for path, text in zip(rows["image_path"], rows["plate_text"], strict=True):
        try:
            images.append(load_and_preprocess(path, config))
        except ImageReadError as error:
            logger.warning("skipping unreadable test image %s", error)
            continue
        texts.append(str(text))
    shape = (0, config.img_height, config.img_width, config.num_channels)
    batch = np.stack(images) if images else np.zeros(shape, dtype=np.uint8)
    return batch, texts


def _onnx_session(model: onnx.ModelProto) -> ort.InferenceSession:
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def _onnx_predict(
    session: ort.InferenceSession, images: np.ndarray, batch_size: int = 256
) -> np.ndarray:
    outputs = [
        session.run(None, {session.get_inputs()[0].name: images[i : i + batch_size]})[0]
        for i in range(0, len(images), batch_size)
    ]
    return np.concatenate(outputs) if outputs else np.zeros((0,), dtype=np.float32)


def check_onnx_parity(
    trained_model: Any,
    onnx_model: onnx.ModelProto,
    export_test_images: np.ndarray,
    parity_batch_size: int,
    parity_tolerance: float,
) -> dict[str, Any]:
    """Keras and ONNX on the same held-out batch: every slot's argmax identical and the max
    absolute probability difference under ``parity_tolerance``. Raises ``OnnxParityError``.

    With no held-out images, random crops of the model's input shape are used (the two models
    must agree on any input).
    """
    batch = export_test_images[:parity_batch_size]
    source = "test split"
    if len(batch) == 0:
        dims = [d.dim_value for d in onnx_model.graph.input[0].type.tensor_type.shape.dim[1:]]
        batch = np.random.default_rng(0).integers(
            0, 256, (parity_batch_size, *dims), dtype=np.uint8
        )
        source = "random crops"
        logger.warning("no held-out images: checking ONNX parity on %d random crops", len(batch))
    keras_out = np.asarray(trained_model.predict(batch, verbose=0))
    onnx_out = _onnx_predict(_onnx_session(onnx_model), batch)
    if keras_out.shape != onnx_out.shape:
        raise OnnxParityError(
            f"output shapes differ: Keras {keras_out.shape}, ONNX {onnx_out.shape}"
        )
    max_abs_diff = float(np.abs(keras_out - onnx_out).max())
    argmax_mismatches = int((keras_out.argmax(-1) != onnx_out.argmax(-1)).sum())
    report = {
        "images": len(batch),
        "source": source,
        "max_abs_diff": max_abs_diff,
        "tolerance": parity_tolerance,
        "argmax_mismatched_slots": argmax_mismatches,
        "slots_compared": int(np.prod(keras_out.shape[:2])),
        "passed": argmax_mismatches == 0 and max_abs_diff <= parity_tolerance,
    }
    if not report["passed"]:
        raise OnnxParityError(
            f"ONNX export differs from Keras on {len(batch)} {source} images: max abs diff "
            f"{max_abs_diff:.3g} (tolerance {parity_tolerance:g}), {argmax_mismatches} of "
            f"{report['slots_compared']} slots with a different argmax"
        )
    logger.info("ONNX parity OK on %d images: max abs diff %.2e", len(batch), max_abs_diff)
    return report


def quantize_onnx_model(onnx_model: onnx.ModelProto, quantize: bool) -> dict[str, onnx.ModelProto]:
    """INT8 dynamic quantisation (weights int8, activations quantised at run time).

    Returns ``{"model_int8": model}``, or ``{}`` when ``quantize`` is false, for a
    ``PartitionedDataset`` that then writes nothing.
    """
    if not quantize:
        return {}
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory() as folder:
        output = Path(folder) / "model_int8.onnx"
        quantize_dynamic(onnx_model, output, weight_type=QuantType.QInt8)
        quantized = onnx.load(str(output))
    # Keep our metadata (the quantiser may add its own keys but must not drop ours).
    metadata = read_metadata(onnx_model)
    present = read_metadata(quantized)
    for key, value in metadata.items():
        if present.get(key) != value:
            entry = quantized.metadata_props.add()
            entry.key, entry.value = key, value
    logger.info(
        "INT8 copy: %.1f kB -> %.1f kB", onnx_model.ByteSize() / 1024, quantized.ByteSize() / 1024
    )
    return {INT8_PARTITION: quantized}


def measure_quantization_effect(
    onnx_model: onnx.ModelProto,
    onnx_quantized_models: dict[str, onnx.ModelProto],
    export_test_images: np.ndarray,
    export_test_texts: list[str],
    plate: dict[str, Any],
) -> dict[str, Any]:
    """plate_acc of the float and INT8 models on the same test images, sizes and the change."""
    if INT8_PARTITION not in onnx_quantized_models:
        return {"quantized": False}
    config = PlateConfig.from_dict(plate)
    quantized = onnx_quantized_models[INT8_PARTITION]
    if callable(quantized):  # a PartitionedDataset hands out loaders
        quantized = quantized()
    report: dict[str, Any] = {"quantized": True, "test_images": len(export_test_texts)}
    for label, model in (("fp32", onnx_model), ("int8", quantized)):
        report[f"{label}_size_kb"] = round(model.ByteSize() / 1024, 1)
        if len(export_test_texts):
            texts = decode_predictions(
                _onnx_predict(_onnx_session(model), export_test_images), config
            )
            correct = sum(p == t for p, t in zip(texts, export_test_texts, strict=True))
            report[f"{label}_plate_acc"] = correct / len(export_test_texts)
    if len(export_test_texts):
        report["plate_acc_change"] = report["int8_plate_acc"] - report["fp32_plate_acc"]
        logger.info(
            "INT8 plate_acc %.4f vs fp32 %.4f (change %+.4f) on %d test images",
            report["int8_plate_acc"],
            report["fp32_plate_acc"],
            report["plate_acc_change"],
            len(export_test_texts),
        )
    return report


def collect_export_metrics(
    onnx_parity_report: dict[str, Any], quantization_report: dict[str, Any]
) -> dict[str, dict[str, float]]:
    """MLflow metrics (``{key: {"value": v, "step": 0}}``) from the two export reports."""
    metrics = {
        "export.parity_max_abs_diff": onnx_parity_report["max_abs_diff"],
        "export.parity_argmax_mismatches": onnx_parity_report["argmax_mismatched_slots"],
    }
    for key in (
        "fp32_size_kb",
        "int8_size_kb",
        "fp32_plate_acc",
        "int8_plate_acc",
        "plate_acc_change",
    ):
        if key in quantization_report:
            metrics[f"export.{key}"] = quantization_report[key]
    return {key: {"value": float(value), "step": 0} for key, value in metrics.items()}
