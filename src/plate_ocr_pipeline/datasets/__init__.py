"""Project datasets, written the way kedro-datasets writes its own: one module per concern.

None of these modules imports TensorFlow at import time; Keras is imported when a model is
loaded or saved.
"""

from plate_ocr_pipeline.datasets.albumentations_dataset import (
    AlbumentationsDataset,
    AugmentationConfigError,
)
from plate_ocr_pipeline.datasets.annotations_dataset import PlateAnnotationsDataset
from plate_ocr_pipeline.datasets.atomic_csv_dataset import AtomicCSVDataset
from plate_ocr_pipeline.datasets.checkpoint_dataset import TrainingCheckpointDataset
from plate_ocr_pipeline.datasets.image_files_dataset import ImageFile, ImageFilesDataset
from plate_ocr_pipeline.datasets.image_folder_dataset import ImageFolderDataset
from plate_ocr_pipeline.datasets.keras_model_dataset import KerasModelDataset
from plate_ocr_pipeline.datasets.labelled_sets_dataset import LabelledSetsDataset
from plate_ocr_pipeline.datasets.numpy_arrays_dataset import NumpyArraysDataset
from plate_ocr_pipeline.datasets.onnx_model_dataset import ONNXModelDataset
from plate_ocr_pipeline.datasets.optional_dataset import OptionalDataset
from plate_ocr_pipeline.datasets.starting_model_dataset import StartingModelDataset

__all__ = [
    "AlbumentationsDataset",
    "AtomicCSVDataset",
    "AugmentationConfigError",
    "ImageFile",
    "ImageFilesDataset",
    "ImageFolderDataset",
    "KerasModelDataset",
    "LabelledSetsDataset",
    "NumpyArraysDataset",
    "ONNXModelDataset",
    "OptionalDataset",
    "PlateAnnotationsDataset",
    "StartingModelDataset",
    "TrainingCheckpointDataset",
]
