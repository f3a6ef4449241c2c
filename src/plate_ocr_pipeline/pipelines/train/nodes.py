"""Train nodes: model inputs from the clean table, a seeded Keras fit, training curves."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from plate_ocr_pipeline.core.plate_config import PlateConfig
from plate_ocr_pipeline.core.splits import select_split
from plate_ocr_pipeline.pipelines.figures import Figure, pyplot

logger = logging.getLogger(__name__)


def prepare_model_input(
    plates_clean: pd.DataFrame,
    plate_image_files: dict[str, Any],
    model_input_cache: dict[str, np.ndarray],
    plate: dict[str, Any],
) -> dict[str, np.ndarray]:
    """The model input (``training.model_input.build_model_input``): every crop of the clean
    table preprocessed for ``plate``, reusing the previous run's arrays (``model_input_cache``,
    the same file read back) for unchanged images."""
    from plate_ocr_pipeline.training.model_input import build_model_input

    return build_model_input(
        plates_clean, plate_image_files, model_input_cache, PlateConfig.from_dict(plate)
    )


def train_model(
    model_input: dict[str, np.ndarray],
    augmentation_transform: Any,
    training_checkpoint: Any,
    starting_model: Any,
    train: dict[str, Any],
    plate: dict[str, Any],
) -> tuple[Any, pd.DataFrame]:
    """Fit on the train split, monitoring the val split (``training.trainer``); returns the
    model and the per-epoch history table."""
    from plate_ocr_pipeline.training.backend import require_keras_backend
    from plate_ocr_pipeline.training.params import TrainParams
    from plate_ocr_pipeline.training.trainer import train_plate_model

    params = TrainParams.model_validate(train)
    if params.backend is not None:
        require_keras_backend(params.backend)
    fit, val = select_split(model_input, "train"), select_split(model_input, "val")
    model, history = train_plate_model(
        (fit["images"], fit["plate_text"]),
        (val["images"], val["plate_text"]),
        PlateConfig.from_dict(plate),
        params,
        augmentation=augmentation_transform,
        checkpoints=training_checkpoint if params.checkpoint else None,
        starting_model=starting_model,
    )
    table = pd.DataFrame(history)
    table.insert(0, "epoch", np.arange(1, len(table) + 1))
    return model, table


def fit_reader(
    trained_model: Any,
    model_input: dict[str, np.ndarray],
    augmentation_transform: Any,
    train: dict[str, Any],
    plate: dict[str, Any],
) -> tuple[Any, dict[str, Any]]:
    """The model to export and its report (``training.reader.fit_reader``): a region head and
    a temperature fitted on the trained model's train and val splits."""
    from plate_ocr_pipeline.training.params import TrainParams
    from plate_ocr_pipeline.training.reader import fit_reader as fit

    params = TrainParams.model_validate(train)
    return fit(
        trained_model,
        select_split(model_input, "train"),
        select_split(model_input, "val"),
        PlateConfig.from_dict(plate),
        params.reader,
        seed=params.seed,
        augmentation=augmentation_transform if params.augmentation else None,
    )


def plot_training_curves(training_history: pd.DataFrame) -> Figure:
    """Loss, plate_acc/cat_acc (train and val) and the learning rate per epoch."""
    panels = [
        ("loss", ["loss", "val_loss"]),
        ("plate_acc", ["plate_acc", "val_plate_acc"]),
        ("cat_acc", ["cat_acc", "val_cat_acc", "top_3_k", "val_top_3_k"]),
        ("learning rate", ["learning_rate"]),
    ]
    figure, axes = pyplot().subplots(1, len(panels), figsize=(4 * len(panels), 3.2))
    epochs = training_history.get("epoch", training_history.index)
    for axis, (title, columns) in zip(axes, panels, strict=True):
        for column in columns:
            if column in training_history:
                axis.plot(epochs, training_history[column], marker=".", label=column)
        axis.set_title(title)
        axis.set_xlabel("epoch")
        axis.grid(alpha=0.3)
        if axis.get_legend_handles_labels()[0]:
            axis.legend(fontsize=7)
    figure.tight_layout()
    return figure
