"""Augment nodes: seed the strict albumentations pipeline and preview it on real crops.

The pipeline itself is applied on the fly while training (``training.AugmentedBatches``);
nothing augmented is written to disk except the preview figure.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

import pandas as pd

from plate_ocr_pipeline.core.plate_config import PlateConfig
from plate_ocr_pipeline.core.preprocessing import ImageReadError, preprocess_image
from plate_ocr_pipeline.pipelines.figures import Figure, pyplot
from plate_ocr_pipeline.training.augmentation import augment_image

from .params import AugmentParams

logger = logging.getLogger(__name__)


def _seeded(transform: Any, seed: int) -> Any:
    """A copy of an albumentations Compose, seeded with ``seed``."""
    transform = copy.deepcopy(transform)
    transform.set_random_seed(int(seed))
    return transform


def seed_augmentation(augmentation_pipeline: Any, augment: dict[str, Any]) -> Any:
    """A copy of the (already strictly validated) Compose, seeded with ``augment.seed``."""
    seed = AugmentParams.model_validate(augment).seed
    transform = _seeded(augmentation_pipeline, seed)
    names = [type(t).__name__ for t in transform.transforms]
    logger.info("Augmentation pipeline (seed %d): %s", seed, ", ".join(names))
    return transform


def preview_augmentations(
    plates_clean: pd.DataFrame,
    plate_image_files: dict[str, Any],
    augmentation_transform: Any,
    augment: dict[str, Any],
    plate: dict[str, Any],
) -> Figure:
    """A grid: each row one of ``augment.preview_samples`` training crops, the original then
    ``augment.preview_variants`` augmented versions, seeded (``augment.seed``) so the figure
    is the same run to run."""
    p = AugmentParams.model_validate(augment)
    seed, preview_variants = p.seed, p.preview_variants
    config = PlateConfig.from_dict(plate)
    table = plates_clean[plates_clean["split"] == "train"]
    if table.empty:
        table = plates_clean
    table = table.sample(n=min(p.preview_samples, len(table)), random_state=seed)
    transform = _seeded(augmentation_transform, seed)

    rows = []
    for path, text in zip(table["image_path"], table["plate_text"], strict=True):
        try:
            image = preprocess_image(plate_image_files[path].read(), config)
        except ImageReadError as error:
            logger.warning("Preview skips %s", error)
            continue
        rows.append(
            (text, image, [augment_image(transform, image) for _ in range(preview_variants)])
        )

    columns = preview_variants + 1
    figure, axes = pyplot().subplots(
        max(1, len(rows)), columns, figsize=(1.9 * columns, 1.1 * max(1, len(rows))), squeeze=False
    )
    cmap = "gray" if config.num_channels == 1 else None
    for axis in axes.ravel():
        axis.axis("off")
    for row, (text, original, variants) in enumerate(rows):
        for column, image in enumerate([original, *variants]):
            axis = axes[row, column]
            axis.imshow(image.squeeze(), cmap=cmap, vmin=0, vmax=255)
            if row == 0:
                axis.set_title("original" if column == 0 else f"augmented {column}", fontsize=8)
        axes[row, 0].text(-4, config.img_height / 2, text, ha="right", va="center", fontsize=8)
    figure.suptitle(f"Augmentation preview (seed {seed})", fontsize=10)
    figure.tight_layout()
    return figure
