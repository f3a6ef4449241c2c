"""The ``train`` section's schema lives with the trainer; the hook finds it here."""

from plate_ocr_pipeline.training.params import PARAMETER_SCHEMAS, ModelParams, TrainParams

__all__ = ["PARAMETER_SCHEMAS", "ModelParams", "TrainParams"]
