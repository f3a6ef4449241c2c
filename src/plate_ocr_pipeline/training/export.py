"""Keras -> ONNX: a uint8 NHWC input named ``input`` with a dynamic batch, the plate config
in the file's metadata, a parity check against Keras, a static INT8 copy and its accuracy."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort

from plate_ocr_pipeline.core.onnx_metadata import embed_metadata, read_metadata
from plate_ocr_pipeline.core.plate_config import PlateConfig
from plate_ocr_pipeline.core.text_codec import decode_predictions
from plate_ocr_pipeline.training.onnx_streamline import streamline

logger = logging.getLogger(__name__)

INPUT_NAME = "input"


class OnnxParityError(AssertionError):
    """The exported ONNX model does not compute what the Keras model computes."""


# Seconds a TensorFlow subprocess may take to convert a model trained under another backend.
CONVERT_TIMEOUT_S = 600


def convert_keras_to_onnx(trained_model: Any, config: PlateConfig, opset: int) -> onnx.ModelProto:
    """tf2onnx conversion with a uint8 ``(None, H, W, C)`` input named ``input``.

    Falls back to Keras' own ``model.export(format="onnx")`` when tf2onnx fails. Under
    another Keras backend (JAX, PyTorch) the model is converted in a TensorFlow subprocess
    (``convert_in_tensorflow``): the backend is fixed per process, and tf2onnx traces the
    graph with TensorFlow ops.
    """
    import keras

    if keras.backend.backend() != "tensorflow":
        return convert_in_tensorflow(trained_model, config, opset)
    return _convert_tensorflow(trained_model, config, opset)


def convert_in_tensorflow(
    trained_model: Any, config: PlateConfig, opset: int, timeout_s: float = CONVERT_TIMEOUT_S
) -> onnx.ModelProto:
    """Save ``trained_model`` as ``.keras`` and convert it with ``KERAS_BACKEND=tensorflow``
    in a child Python (loaded without its compile state): the same weights and graph, traced
    by the backend tf2onnx understands. ``check_onnx_parity`` then compares the result with
    the model as this process's backend computes it."""
    import keras

    with tempfile.TemporaryDirectory() as folder:
        source, output = Path(folder) / "model.keras", Path(folder) / "model.onnx"
        trained_model.save(source)
        env = {**os.environ, "KERAS_BACKEND": "tensorflow"}
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        command = [sys.executable, "-m", __name__, str(source), str(output), str(opset),
                   json.dumps(config.to_dict())]  # fmt: skip
        result = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=timeout_s, check=False
        )
        if result.returncode != 0 or not output.exists():
            raise RuntimeError(
                f"converting {trained_model.name} to ONNX in a TensorFlow subprocess failed "
                f"(exit {result.returncode}):\n{result.stderr[-4000:]}"
            )
        model_proto = onnx.load(str(output))
    logger.info("Converted %s in a TensorFlow subprocess (the model runs under %s here)",
                trained_model.name, keras.backend.backend())  # fmt: skip
    return model_proto


def _convert_saved(source: str, output: str, opset: str, plate: str) -> None:
    """The child side of ``convert_in_tensorflow``: load (the custom layers, losses and
    schedules register on import) and convert under TensorFlow."""
    import keras

    import plate_ocr_pipeline.training.losses  # noqa: F401  (registers losses, schedules)
    import plate_ocr_pipeline.training.models  # noqa: F401  (registers custom layers)

    if keras.backend.backend() != "tensorflow":
        raise RuntimeError(f"expected KERAS_BACKEND=tensorflow, got {keras.backend.backend()}")
    model = keras.saving.load_model(source, compile=False)
    config = PlateConfig.from_dict(json.loads(plate))
    onnx.save(_convert_tensorflow(model, config, int(opset)), output)


def _convert_tensorflow(trained_model: Any, config: PlateConfig, opset: int) -> onnx.ModelProto:
    import tensorflow as tf

    shape = (None, *config.input_shape)
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


def simplify_onnx_graph(onnx_model_converted: onnx.ModelProto) -> onnx.ModelProto:
    """Simplify with onnxsim, else onnxoptimizer; unchanged (with a log line) when neither is
    installed. Neither package is a dependency."""
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
    model: onnx.ModelProto,
    config: PlateConfig,
    model_name: str,
    model_version: str,
    extra: dict[str, Any] | None = None,
) -> onnx.ModelProto:
    """Store the plate config, model name/version and ``extra`` keys in the file's
    ``metadata_props``."""
    model = embed_metadata(model, config, model_name, model_version, extra)
    model.producer_name = model.producer_name or "plate_ocr_pipeline"
    onnx.checker.check_model(model)
    return model


def export_onnx(
    trained_model: Any,
    config: PlateConfig,
    opset: int = 17,
    simplify: bool = True,
    model_name: str = "plate_ocr",
    model_version: str = "1",
    extra_metadata: dict[str, Any] | None = None,
) -> onnx.ModelProto:
    """The whole export: convert, simplify (when asked and a simplifier is installed), remove
    the converter's reshapes around matmuls (``onnx_streamline``), embed the plate config (and
    ``extra_metadata``)."""
    model = convert_keras_to_onnx(trained_model, config, opset)
    if simplify:
        model = simplify_onnx_graph(model)
    model = streamline(model)
    return embed_plate_metadata(model, config, model_name, model_version, extra_metadata)


def onnx_readings(model: onnx.ModelProto, images: np.ndarray, config: PlateConfig) -> list[str]:
    """The texts an ONNX model reads from preprocessed crops."""
    return decode_predictions(onnx_predict(onnx_session(model), images), config)


def quantization_report(
    float_model: onnx.ModelProto,
    int8_model: onnx.ModelProto,
    images: np.ndarray,
    texts: list[str],
    config: PlateConfig,
) -> dict[str, Any]:
    """The float and INT8 copies side by side on the same held-out crops: sizes, plate_acc
    of each, the change, and the share of plates both read alike (plate_acc alone can hide
    two copies that read different plates right)."""
    report: dict[str, Any] = {"test_images": len(texts)}
    readings = {}
    for label, model in (("fp32", float_model), ("int8", int8_model)):
        report[f"{label}_size_kb"] = round(model.ByteSize() / 1024, 1)
        if texts:
            readings[label] = onnx_readings(model, images, config)
            hits = sum(r == t for r, t in zip(readings[label], texts, strict=True))
            report[f"{label}_plate_acc"] = hits / len(texts)
    if texts:
        report["plate_acc_change"] = report["int8_plate_acc"] - report["fp32_plate_acc"]
        same = sum(a == b for a, b in zip(readings["fp32"], readings["int8"], strict=True))
        report["same_reading_share"] = same / len(texts)
    return report


def onnx_session(model: onnx.ModelProto) -> ort.InferenceSession:
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def onnx_predict(
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
    images: np.ndarray,
    parity_batch_size: int,
    parity_tolerance: float,
) -> dict[str, Any]:
    """Keras and ONNX on the same held-out batch: every slot's argmax identical and the max
    absolute probability difference under ``parity_tolerance``. Raises ``OnnxParityError``.

    With no held-out images, random crops of the model's input shape are used (the two models
    must agree on any input).
    """
    batch = images[:parity_batch_size]
    source = "test split"
    if len(batch) == 0:
        dims = [d.dim_value for d in onnx_model.graph.input[0].type.tensor_type.shape.dim[1:]]
        batch = np.random.default_rng(0).integers(
            0, 256, (parity_batch_size, *dims), dtype=np.uint8
        )
        source = "random crops"
        logger.warning("no held-out images: checking ONNX parity on %d random crops", len(batch))
    keras_outs = trained_model.predict(batch, verbose=0)
    keras_outs = [
        np.asarray(o)
        for o in (keras_outs if isinstance(keras_outs, list | tuple) else [keras_outs])
    ]
    session = onnx_session(onnx_model)
    onnx_outs = session.run(None, {session.get_inputs()[0].name: batch})
    if len(keras_outs) != len(onnx_outs):
        raise OnnxParityError(f"Keras has {len(keras_outs)} outputs, ONNX {len(onnx_outs)}")
    max_abs_diff, argmax_mismatches = 0.0, 0
    for keras_out, onnx_out in zip(keras_outs, onnx_outs, strict=True):
        if keras_out.shape != onnx_out.shape:
            raise OnnxParityError(
                f"output shapes differ: Keras {keras_out.shape}, ONNX {onnx_out.shape}"
            )
        max_abs_diff = max(max_abs_diff, float(np.abs(keras_out - onnx_out).max()))
        argmax_mismatches += int((keras_out.argmax(-1) != onnx_out.argmax(-1)).sum())
    keras_out = keras_outs[0]
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


# Layers whose outputs stay float in the INT8 copy, with everything after them: quantised
# logits lose the margins that the in-graph greedy CTC decoding compares.
FLOAT_LAYER_MARKERS = ("logits", "/plate")


def _float_tail(model: onnx.ModelProto) -> list[str]:
    """Names of the nodes that compute from a logits layer onwards (the logits themselves,
    the CTC decoding or slot softmax after them)."""
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in model.graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    tail: dict[str, None] = {}
    stack = [n for n in model.graph.node if any(m in n.name for m in FLOAT_LAYER_MARKERS)]
    while stack:
        node = stack.pop()
        if node.name in tail:
            continue
        tail[node.name] = None
        for output in node.output:
            stack.extend(consumers.get(output, []))
    return list(tail)


def quantize_static_int8(
    onnx_model: onnx.ModelProto,
    calibration_images: np.ndarray,
    batch_size: int = 32,
    reduce_range: bool = True,
) -> onnx.ModelProto:
    """Static INT8 copy: per-channel int8 weights and uint8 activations (QOperator) for the
    convolutions, pooling and the column layers, with activation ranges calibrated (min-max)
    on ``calibration_images`` (preprocessed training crops). The logits and the decoding after
    them stay float (``FLOAT_LAYER_MARKERS``). The uint8 input feeds the first convolution
    directly (``onnx_streamline``). The float model's metadata is kept.

    ``reduce_range`` quantises the weights to 7 bits: CPUs without VNNI (AVX2) add uint8 x
    int8 products in pairs into int16, which full 8-bit weights on the full-range input
    overflow: an 8-bit copy reads far worse on AVX2 CPUs than on VNNI ones, a 7-bit copy
    reads as float32 on both at the same speed."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if not len(calibration_images):
        raise ValueError("static INT8 quantisation needs at least one calibration image")

    class Batches(CalibrationDataReader):
        def __init__(self) -> None:
            self._batches = iter(
                {INPUT_NAME: calibration_images[i : i + batch_size]}
                for i in range(0, len(calibration_images), batch_size)
            )

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self._batches, None)

    with tempfile.TemporaryDirectory() as folder:
        source, prepared, output = (Path(folder) / n for n in ("f.onnx", "p.onnx", "q.onnx"))
        onnx.save(onnx_model, str(source))
        quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
        quantize_static(
            str(prepared),
            str(output),
            Batches(),
            quant_format=QuantFormat.QOperator,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            op_types_to_quantize=["Conv", "MatMul", "Relu", "MaxPool"],
            nodes_to_exclude=_float_tail(onnx_model),
            reduce_range=reduce_range,
            calibrate_method=CalibrationMethod.MinMax,
        )
        quantized = streamline(onnx.load(str(output)))
    # Keep our metadata (the quantiser may add its own keys but must not drop ours).
    metadata = read_metadata(onnx_model)
    present = read_metadata(quantized)
    for key, value in metadata.items():
        if present.get(key) != value:
            entry = quantized.metadata_props.add()
            entry.key, entry.value = key, value
    logger.info(
        "INT8 copy: %.1f kB -> %.1f kB, calibrated on %d training crops",
        onnx_model.ByteSize() / 1024, quantized.ByteSize() / 1024, len(calibration_images),
    )  # fmt: skip
    return quantized


if __name__ == "__main__":  # convert_in_tensorflow's child: SOURCE.keras OUTPUT.onnx OPSET PLATE
    logging.basicConfig(level=logging.WARNING)
    _convert_saved(*sys.argv[1:])
