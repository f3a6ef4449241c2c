"""Augment pipeline: a seeded, strict augmentation transform for training, and its preview."""

from kedro.pipeline import Pipeline, node, pipeline

from plate_ocr_pipeline.pipelines.augment.nodes import preview_augmentations, seed_augmentation


def create_pipeline(**kwargs) -> Pipeline:
    return pipeline(
        [
            node(
                seed_augmentation,
                inputs=["augmentation_pipeline", "params:augment.seed"],
                outputs="augmentation_transform",
                name="seed_augmentation",
            ),
            node(
                preview_augmentations,
                inputs=[
                    "plates_clean",
                    "augmentation_transform",
                    "params:plate",
                    "params:augment.seed",
                    "params:augment.preview_samples",
                    "params:augment.preview_variants",
                ],
                outputs="augmentation_preview",
                name="preview_augmentations",
            ),
        ],
        tags="augment",
    )
