"""Score: any exported ONNX model on any labelled set, with the report evaluate gives."""

from plate_ocr_pipeline.pipelines.score.pipeline import create_pipeline

__all__ = ["create_pipeline"]
