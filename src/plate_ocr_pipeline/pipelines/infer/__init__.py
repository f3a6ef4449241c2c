"""Infer: every image under a folder in, one CSV row per file out (errors included)."""

from plate_ocr_pipeline.pipelines.infer.pipeline import create_pipeline

__all__ = ["create_pipeline"]
