"""Report: the template that ``evaluate`` and ``score`` instantiate on their predictors."""

from plate_ocr_pipeline.pipelines.report.pipeline import create_pipeline, create_report_pipeline

__all__ = ["create_pipeline", "create_report_pipeline"]
