"""Evaluate pipeline: trained_model + model_input (+ extra sets) -> metrics and reports."""

from kedro.pipeline import Pipeline, node, pipeline

from plate_ocr_pipeline.pipelines.evaluate.nodes import (
    build_character_confusion,
    compute_evaluation_metrics,
    plot_confidence_coverage,
    plot_error_gallery,
    plot_per_region,
    predict_evaluation_sets,
    prepare_evaluation_sets,
    summarise_by_confidence,
    summarise_by_length,
)


def create_report_pipeline() -> Pipeline:
    """Metrics, per-region, per-length and confidence tables, confusion table and plots from
    predicted probabilities.

    Shared by ``evaluate`` (Keras model, plate config from parameters) and ``score`` (an ONNX
    file, plate config from its metadata): each maps these generic names onto its own.
    """
    return pipeline(
        [
            node(
                compute_evaluation_metrics,
                inputs=["sets", "probabilities", "plate_config", "params:equivalences"],
                outputs=["metrics", "predictions", "per_region"],
                name="compute_evaluation_metrics",
            ),
            node(
                summarise_by_length,
                inputs="predictions",
                outputs="per_length",
                name="summarise_by_length",
            ),
            node(
                summarise_by_confidence,
                inputs="predictions",
                outputs="confidence_coverage",
                name="summarise_by_confidence",
            ),
            node(
                plot_confidence_coverage,
                inputs="confidence_coverage",
                outputs="confidence_coverage_plot",
                name="plot_confidence_coverage",
            ),
            node(
                build_character_confusion,
                inputs=["sets", "probabilities", "plate_config"],
                outputs="character_confusion",
                name="build_character_confusion",
            ),
            node(
                plot_error_gallery,
                inputs=[
                    "sets",
                    "predictions",
                    "plate_config",
                    "params:gallery_size",
                    "params:gallery_columns",
                ],
                outputs="error_gallery",
                name="plot_error_gallery",
            ),
            node(
                plot_per_region,
                inputs="per_region",
                outputs="per_region_plot",
                name="plot_per_region",
            ),
        ]
    )


def report_parameters(section: str) -> dict[str, str]:
    """The report pipeline's parameters, read from one parameter section."""
    return {
        f"params:{key}": f"params:{section}.{key}"
        for key in ("equivalences", "gallery_size", "gallery_columns")
    }


def create_pipeline(**kwargs) -> Pipeline:
    reports = pipeline(
        create_report_pipeline(),
        inputs={
            "sets": "evaluation_sets",
            "probabilities": "evaluation_probabilities",
            "plate_config": "params:plate",
        },
        outputs={
            "metrics": "evaluation_metrics",
            "predictions": "evaluation_predictions",
            "per_region": "evaluation_per_region",
            "per_length": "evaluation_per_length",
            "confidence_coverage": "evaluation_confidence_coverage",
            "confidence_coverage_plot": "evaluation_confidence_coverage_plot",
            "character_confusion": "character_confusion",
            "error_gallery": "error_gallery",
            "per_region_plot": "per_region_plot",
        },
        parameters=report_parameters("evaluate"),
    )
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
        ],
        tags="evaluate",
    ) + pipeline(reports, tags="evaluate")
