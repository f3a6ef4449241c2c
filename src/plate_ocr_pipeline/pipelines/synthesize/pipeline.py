"""``synthesize``: render a labelled synthetic plate set, its annotations CSV and manifest.

Rendering is skipped when the set on disk was rendered with the same parameters, so the
train chain can start with this stage at no cost on a rerun.
"""

from typing import Any

from kedro.pipeline import Pipeline, node, pipeline

from .nodes import (
    build_synthetic_annotations,
    plan_synthetic_plates,
    plot_synthetic_gallery,
    record_rendered_set,
    render_synthetic_images,
)


def create_pipeline(**kwargs: Any) -> Pipeline:
    return pipeline(
        [
            node(
                plan_synthetic_plates,
                inputs=["params:synthesize", "params:plate"],
                outputs="synthetic_plate_plan",
                name="plan_synthetic_plates",
            ),
            node(
                render_synthetic_images,
                inputs=[
                    "synthetic_plate_plan",
                    "params:synthesize",
                    "params:plate",
                    "synthetic_manifest_previous",
                ],
                outputs=["synthetic_plate_images", "rendered_plates"],
                name="render_synthetic_images",
            ),
            node(
                build_synthetic_annotations,
                inputs=[
                    "synthetic_plate_plan",
                    "params:synthesize",
                    "synthetic_annotations_previous",
                ],
                outputs="synthetic_annotations",
                name="build_synthetic_annotations",
            ),
            node(
                record_rendered_set,
                inputs=[
                    "rendered_plates",  # after this run's images are saved
                    "synthetic_plate_images_on_disk",
                    "synthetic_plate_plan",
                    "params:synthesize",
                    "params:plate",
                    "synthetic_manifest_previous",
                ],
                outputs="synthetic_manifest",
                name="record_rendered_set",
            ),
            node(
                plot_synthetic_gallery,
                inputs=["synthetic_plate_plan", "params:synthesize"],
                outputs="synthetic_gallery",
                name="plot_synthetic_gallery",
            ),
        ],
        namespace="synthesize",
        inputs=None,
        outputs={"synthetic_manifest", "synthetic_annotations"},
        parameters={"params:plate", "params:synthesize"},
        tags="synthesize",
    )
