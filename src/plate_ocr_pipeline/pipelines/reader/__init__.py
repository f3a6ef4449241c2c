"""Reader: the region head and temperature fitted again on the trained model on disk, then
evaluate, export and benchmark (``kedro run --pipelines=reader``)."""

from plate_ocr_pipeline.pipelines.reader.pipeline import create_pipeline

__all__ = ["create_pipeline"]
