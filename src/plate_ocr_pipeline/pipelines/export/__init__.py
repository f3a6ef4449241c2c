"""Export: trained Keras model in, a self-describing ONNX file out, checked against Keras."""

from plate_ocr_pipeline.pipelines.export.pipeline import create_pipeline

__all__ = ["create_pipeline"]
