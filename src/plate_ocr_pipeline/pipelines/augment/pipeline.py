"""``augment``: a seeded, strict augmentation transform for training, and its preview."""

from typing import Any

from kedro.pipeline import Pipeline, node, pipeline

from .nodes import preview_augmentations, seed_augmentation


def create_pipeline(**kwargs: Any) -> Pipeline:
    return pipeline(
        [
            node(
                seed_augmentation,
                inputs=["augmentation_pipeline", "params:augment"],
                outputs="augmentation_transform",
                name="seed_augmentation",
            ),
            node(
                preview_augmentations,
                inputs=[
                    "plates_clean",
                    "plate_image_files",
                    "augmentation_transform",
                    "params:augment",
                    "params:plate",
                ],
                outputs="augmentation_preview",
                name="preview_augmentations",
            ),
        ],
        namespace="augment",
        inputs={"augmentation_pipeline", "plates_clean", "plate_image_files"},
        outputs={"augmentation_transform"},
        parameters={"params:plate", "params:augment"},
        tags="augment",
    )
