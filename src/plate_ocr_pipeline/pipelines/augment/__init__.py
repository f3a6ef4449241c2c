"""Augment: the albumentations pipeline (seeded, strict) and a preview grid of what it does."""

from plate_ocr_pipeline.pipelines.augment.pipeline import create_pipeline

__all__ = ["create_pipeline"]
