"""Export pipeline: Keras -> ONNX with the plate config inside, parity-checked, INT8 copy."""

from kedro.pipeline import Pipeline, node, pipeline

from plate_ocr_pipeline.pipelines.export.nodes import (
    check_onnx_parity,
    collect_export_metrics,
    convert_keras_to_onnx,
    embed_plate_metadata,
    load_test_images,
    measure_quantization_effect,
    quantize_onnx_model,
    simplify_onnx_graph,
)


def create_pipeline(**kwargs) -> Pipeline:
    return pipeline(
        [
            node(
                convert_keras_to_onnx,
                inputs=["trained_model", "params:plate", "params:export.opset"],
                outputs="onnx_model_converted",
                name="convert_keras_to_onnx",
            ),
            node(
                simplify_onnx_graph,
                inputs=["onnx_model_converted", "params:export.simplify"],
                outputs="onnx_model_simplified",
                name="simplify_onnx_graph",
            ),
            node(
                embed_plate_metadata,
                inputs=[
                    "onnx_model_simplified",
                    "params:plate",
                    "params:export.model_name",
                    "params:export.model_version",
                ],
                outputs="onnx_model",
                name="embed_plate_metadata",
            ),
            node(
                load_test_images,
                inputs=["plates_clean", "params:plate", "params:export.quantization_eval_limit"],
                outputs=["export_test_images", "export_test_texts"],
                name="load_export_test_images",
            ),
            node(
                check_onnx_parity,
                inputs=[
                    "trained_model",
                    "onnx_model",
                    "export_test_images",
                    "params:export.parity_batch_size",
                    "params:export.parity_tolerance",
                ],
                outputs="onnx_parity_report",
                name="check_onnx_parity",
            ),
            node(
                quantize_onnx_model,
                inputs=["onnx_model", "params:export.quantize"],
                outputs="onnx_quantized_models",
                name="quantize_onnx_model",
            ),
            node(
                measure_quantization_effect,
                inputs=[
                    "onnx_model",
                    "onnx_quantized_models",
                    "export_test_images",
                    "export_test_texts",
                    "params:plate",
                ],
                outputs="quantization_report",
                name="measure_quantization_effect",
            ),
            node(
                collect_export_metrics,
                inputs=["onnx_parity_report", "quantization_report"],
                outputs="export_metrics",
                name="collect_export_metrics",
            ),
        ],
        tags="export",
    )
