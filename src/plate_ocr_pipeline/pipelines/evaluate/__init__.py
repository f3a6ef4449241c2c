"""Evaluate: the trained Keras model on the held-out split(s) and the labelled sets."""

from plate_ocr_pipeline.pipelines.evaluate.pipeline import create_pipeline

__all__ = ["create_pipeline"]
