"""Compare: candidate ONNX models side by side on the labelled sets, in one run."""

from plate_ocr_pipeline.pipelines.compare.pipeline import create_pipeline

__all__ = ["create_pipeline"]
