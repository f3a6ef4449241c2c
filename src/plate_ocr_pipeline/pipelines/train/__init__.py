"""Train: preprocessed model inputs (cached), a seeded Keras fit, the history and its curves."""

from plate_ocr_pipeline.pipelines.train.pipeline import create_pipeline

__all__ = ["create_pipeline"]
