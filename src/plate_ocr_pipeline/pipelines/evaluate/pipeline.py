"""Evaluate pipeline: trained_model + model_input (+ extra sets) -> metrics and reports."""

from kedro.pipeline import Pipeline, node, pipeline

from plate_ocr_pipeline.pipelines.evaluate.nodes import (
    build_character_confusion,
    compute_evaluation_metrics,
    plot_error_gallery,
    plot_per_region,
    predict_evaluation_sets,
    prepare_evaluation_sets,
)


def create_pipeline(**kwargs) -> Pipeline:
    return pipeline(
        [
            node(
                prepare_evaluation_sets,
                inputs=[
                    "model_input",
                    "params:plate",
                    "params:evaluate.splits",
                    "params:evaluate.extra_sets",
                ],
                outputs="evaluation_sets",
                name="prepare_evaluation_sets",
            ),
            node(
                predict_evaluation_sets,
                inputs=["trained_model", "evaluation_sets", "params:evaluate.batch_size"],
                outputs="evaluation_probabilities",
                name="predict_evaluation_sets",
            ),
            node(
                compute_evaluation_metrics,
                inputs=[
                    "evaluation_sets",
                    "evaluation_probabilities",
                    "params:plate",
                    "params:evaluate.equivalences",
                ],
                outputs=["evaluation_metrics", "evaluation_predictions", "evaluation_per_region"],
                name="compute_evaluation_metrics",
            ),
            node(
                build_character_confusion,
                inputs=["evaluation_sets", "evaluation_probabilities", "params:plate"],
                outputs="character_confusion",
                name="build_character_confusion",
            ),
            node(
                plot_error_gallery,
                inputs=[
                    "evaluation_sets",
                    "evaluation_predictions",
                    "params:plate",
                    "params:evaluate.gallery_size",
                    "params:evaluate.gallery_columns",
                ],
                outputs="error_gallery",
                name="plot_error_gallery",
            ),
            node(
                plot_per_region,
                inputs="evaluation_per_region",
                outputs="per_region_plot",
                name="plot_per_region",
            ),
        ],
        tags="evaluate",
    )
