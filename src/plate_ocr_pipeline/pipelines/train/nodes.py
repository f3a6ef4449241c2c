"""Train nodes: model inputs from the clean table, a seeded Keras fit, training curves."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

import numpy as np
import pandas as pd

from plate_ocr_pipeline.core.plate_config import PlateConfig
from plate_ocr_pipeline.core.preprocessing import ImageReadError, preprocess_image
from plate_ocr_pipeline.core.splits import select_split
from plate_ocr_pipeline.pipelines.figures import Figure, pyplot

logger = logging.getLogger(__name__)

# Plate-config fields that change the preprocessed pixels: a change invalidates the cache.
_PREPROCESSING_KEYS = (
    "img_height",
    "img_width",
    "color_mode",
    "keep_aspect_ratio",
    "padding_color",
    "interpolation",
)


def _preprocessing_signature(config: PlateConfig) -> str:
    values = {k: v for k, v in config.to_dict().items() if k in _PREPROCESSING_KEYS}
    return json.dumps(values, sort_keys=True)


def prepare_model_input(
    plates_clean: pd.DataFrame,
    plate_image_files: dict[str, Any],
    model_input_cache: dict[str, np.ndarray],
    plate: dict[str, Any],
) -> dict[str, np.ndarray]:
    """Preprocess every crop of the clean table into one uint8 ``(N, H, W, C)`` array with
    its labels, reusing the previous run's arrays (``model_input_cache``: the same file read
    back) for every image whose fingerprint (path, size, modification time) is unchanged.
    ``plate_image_files`` are the table's files (``{path: ImageFile}``), decoded on demand.

    Returns arrays ``images``, ``image_path``, ``plate_text``, ``region``, ``split``,
    ``fingerprint`` and the 0-d ``preprocessing`` signature.
    """
    config = PlateConfig.from_dict(plate)
    signature = _preprocessing_signature(config)
    cached: dict[str, np.ndarray] = {}
    if model_input_cache and str(model_input_cache.get("preprocessing", "")) == signature:
        cached = dict(
            zip(model_input_cache["fingerprint"].tolist(), model_input_cache["images"], strict=True)
        )

    from tqdm.auto import tqdm

    shape = (config.img_height, config.img_width, config.num_channels)
    images, keep, fingerprints = [], [], []
    reused = 0
    paths = plates_clean["image_path"].astype(str)
    interval = 0.1 if sys.stderr.isatty() else 30.0  # a log file: a line every 30 s
    for row, path in enumerate(
        tqdm(paths, desc="model input", unit="img", mininterval=interval, disable=len(paths) < 500)
    ):
        file = plate_image_files[path]
        image = cached.get(file.fingerprint)
        if image is not None and image.shape == shape:
            reused += 1
        else:
            try:
                image = preprocess_image(file.read(), config)
            except ImageReadError as error:
                logger.warning("Skipping unreadable image %s", error)
                continue
        images.append(image)
        keep.append(row)
        fingerprints.append(file.fingerprint)
    logger.info(
        "Model input: %d images (%d from the cache, %d decoded)",
        len(images),
        reused,
        len(images) - reused,
    )
    table = plates_clean.iloc[keep]
    region = table["region"] if "region" in table else pd.Series([""] * len(table))
    return {
        "images": np.stack(images) if images else np.zeros((0, *shape), np.uint8),
        "image_path": table["image_path"].astype(str).to_numpy(dtype=str),
        "plate_text": table["plate_text"].astype(str).to_numpy(dtype=str),
        "region": region.fillna("").astype(str).to_numpy(dtype=str),
        "split": table["split"].astype(str).to_numpy(dtype=str),
        "fingerprint": np.array(fingerprints, dtype=str),
        "preprocessing": np.array(signature),
    }


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
    """The model to export (``training.reader``): the trained model with a region head
    fitted on its frozen features (when the training data has at least two region families)
    and, for a CTC head, its logits' temperature chosen on the val split; the report holds
    the family names, the temperature and the fits' figures."""
    from plate_ocr_pipeline.training.models import has_ctc_head
    from plate_ocr_pipeline.training.params import TrainParams
    from plate_ocr_pipeline.training.reader import build_reader, fit_region_head, fit_temperature

    params = TrainParams.model_validate(train)
    config = PlateConfig.from_dict(plate)
    fit, val = select_split(model_input, "train"), select_split(model_input, "val")
    report: dict[str, Any] = {"region_families": [], "temperature": 1.0}
    head = None
    if params.reader.region_head:
        head, families, figures = fit_region_head(
            trained_model,
            (fit["images"], fit["region"]),
            (val["images"], val["region"]),
            units=params.reader.region_units,
            samples=params.reader.region_samples,
            epochs=params.reader.region_epochs,
            balanced=params.reader.region_balanced,
            seed=params.seed,
            augmentation=augmentation_transform if params.augmentation else None,
        )
        report.update(figures)
        report["region_families"] = families if head is not None else []
    # A temperature divides column logits: only a CTC head has them.
    if params.reader.calibrate and has_ctc_head(trained_model) and len(val["images"]):
        temperature, figures = fit_temperature(
            trained_model, val["images"], val["plate_text"], config
        )
        report.update(figures)
        report["temperature"] = temperature
    return build_reader(trained_model, config, report["temperature"], head), report


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
