"""Ingest: annotations CSVs in, a validated clean table, a rejects table and statistics out."""

from plate_ocr_pipeline.pipelines.ingest.pipeline import create_pipeline

__all__ = ["create_pipeline"]
