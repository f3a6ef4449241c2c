"""Evaluate: held-out split(s) and extra labelled sets -> metrics, tables and plots."""

from plate_ocr_pipeline.pipelines.evaluate.pipeline import create_pipeline

__all__ = ["create_pipeline"]
