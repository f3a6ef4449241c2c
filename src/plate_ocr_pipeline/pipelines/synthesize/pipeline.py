"""``synthesize``: render a labelled synthetic plate set and its annotations CSV."""

from kedro.pipeline import Pipeline, node

from .nodes import (
    build_synthetic_annotations,
    plan_synthetic_plates,
    plot_synthetic_gallery,
    render_synthetic_images,
)


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            node(
                plan_synthetic_plates,
                inputs={
                    "num_plates": "params:synthesize.num_plates",
                    "region_weights": "params:synthesize.region_weights",
                    "image_width": "params:synthesize.image_width",
                    "image_height": "params:synthesize.image_height",
                    "seed": "params:synthesize.seed",
                    "images_subdir": "params:synthesize.images_subdir",
                    "repeat_odds": "params:synthesize.repeat_odds",
                    "plate": "params:plate",
                },
                outputs="synthetic_plate_plan",
                name="plan_synthetic_plates",
            ),
            node(
                render_synthetic_images,
                inputs={
                    "plan": "synthetic_plate_plan",
                    "seed": "params:synthesize.seed",
                    "num_workers": "params:synthesize.num_workers",
                    "fonts_dir": "params:synthesize.fonts_dir",
                    "serial_glyphs": "params:synthesize.serial_glyphs",
                    "us_layout": "params:synthesize.us_layout",
                },
                outputs="synthetic_plate_images",
                name="render_synthetic_images",
            ),
            node(
                build_synthetic_annotations,
                inputs="synthetic_plate_plan",
                outputs="synthetic_annotations",
                name="build_synthetic_annotations",
            ),
            node(
                plot_synthetic_gallery,
                inputs={
                    "plan": "synthetic_plate_plan",
                    "seed": "params:synthesize.seed",
                    "fonts_dir": "params:synthesize.fonts_dir",
                    "serial_glyphs": "params:synthesize.serial_glyphs",
                    "us_layout": "params:synthesize.us_layout",
                    "gallery_per_region": "params:synthesize.gallery_per_region",
                },
                outputs="synthetic_gallery",
                name="plot_synthetic_gallery",
            ),
        ],
        tags=["synthesize"],
    )
