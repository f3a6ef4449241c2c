"""``export``: Keras -> ONNX with the plate config inside, parity-checked, INT8 copy, and the
reader logged to MLflow as a registered model."""

from typing import Any

from kedro.pipeline import Pipeline, node, pipeline

from .nodes import (
    check_onnx_parity,
    collect_export_metrics,
    export_onnx_model,
    quantize_onnx_model,
    reader_to_register,
)


def create_pipeline(**kwargs: Any) -> Pipeline:
    return pipeline(
        [
            node(
                export_onnx_model,
                inputs=["reader_model", "reader_report", "params:export", "params:plate"],
                outputs="onnx_model",
                name="export_onnx_model",
            ),
            node(
                check_onnx_parity,
                inputs=["reader_model", "onnx_model", "model_input", "params:export"],
                outputs="onnx_parity_report",
                name="check_onnx_parity",
            ),
            node(
                quantize_onnx_model,
                inputs=["onnx_model", "model_input", "params:export", "params:plate"],
                outputs=["onnx_quantized_models", "quantization_report"],
                name="quantize_onnx_model",
            ),
            node(
                collect_export_metrics,
                inputs=["onnx_parity_report", "quantization_report"],
                outputs="export_metrics",
                name="collect_export_metrics",
            ),
            node(
                reader_to_register,
                inputs=["onnx_model", "onnx_parity_report"],
                outputs="registered_reader",
                name="reader_to_register",
            ),
        ],
        namespace="export",
        inputs={"reader_model", "reader_report", "model_input"},
        outputs={"onnx_model"},
        parameters={"params:plate", "params:export"},
        tags="export",
    )
