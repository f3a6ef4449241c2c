"""Project datasets, written the way kedro-datasets writes its own: one module per class."""

from plate_ocr_pipeline.datasets.annotations_dataset import PlateAnnotationsDataset

__all__ = ["PlateAnnotationsDataset"]
