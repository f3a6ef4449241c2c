"""Ensemble: several trained models in, one model (their mean logits) out, then evaluated,
exported and benchmarked like a single trained model."""

from plate_ocr_pipeline.pipelines.ensemble.pipeline import create_pipeline

__all__ = ["create_pipeline"]
