"""The report template: a predictor on labelled sets -> metrics, tables and plots.

Free inputs, mapped by the stage that instantiates it under its namespace:

- ``predictor``: a Keras model or an ``ONNXPlateRecognizer``;
- ``plate_config``: the model's plate config (a mapping);
- ``labelled_sets``: ``LabelledSetsDataset``'s table;
- ``held_out_sets`` (only with ``held_out=True``): preprocessed sets by name, such as the
  test split of the training data;
- ``params:report``: the stage's parameter section (``ReportParams``' keys).

Outputs (``<namespace>.<name>``, written by the catalog's ``{namespace}.*`` factories):
``metrics``, ``mlflow_metrics``, ``predictions``, ``rejects``, ``per_region``, ``per_length``,
``confidence_coverage``, ``confidence_coverage_plot``, ``character_confusion``,
``error_gallery``, ``region_gallery``, ``per_region_plot``.
"""

from typing import Any

from kedro.pipeline import Pipeline, node, pipeline

from plate_ocr_pipeline.evaluation.report_tables import (
    summarise_by_confidence,
    summarise_by_length,
)
from plate_ocr_pipeline.pipelines.report.nodes import (
    build_character_confusion,
    compute_report_metrics,
    metrics_for_mlflow,
    plot_confidence_coverage,
    plot_error_gallery,
    plot_per_region,
    plot_region_gallery,
    predict_sets,
    prepare_sets,
)


def create_report_pipeline(*, held_out: bool = False) -> Pipeline:
    """The template, to instantiate with ``pipeline(..., namespace=stage, inputs=...,
    parameters={"params:report": "params:<stage>"})``."""
    sets_inputs = ["labelled_sets", "plate_config", "params:report"]
    return pipeline(
        [
            node(
                prepare_sets,
                inputs=[*sets_inputs, "held_out_sets"] if held_out else sets_inputs,
                outputs=["sets", "rejects"],
                name="prepare_sets",
            ),
            node(
                predict_sets,
                inputs=["predictor", "sets", "params:report"],
                outputs="probabilities",
                name="predict_sets",
            ),
            node(
                compute_report_metrics,
                inputs=["sets", "probabilities", "plate_config", "params:report"],
                outputs=["metrics", "predictions", "per_region"],
                name="compute_report_metrics",
            ),
            node(
                metrics_for_mlflow,
                inputs="metrics",
                outputs="mlflow_metrics",
                name="metrics_for_mlflow",
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
                inputs=["sets", "predictions", "plate_config", "params:report"],
                outputs="error_gallery",
                name="plot_error_gallery",
            ),
            node(
                plot_region_gallery,
                inputs=["sets", "predictions", "plate_config", "params:report"],
                outputs="region_gallery",
                name="plot_region_gallery",
            ),
            node(
                plot_per_region,
                inputs="per_region",
                outputs="per_region_plot",
                name="plot_per_region",
            ),
        ]
    )


def create_pipeline(**kwargs: Any) -> Pipeline:
    """Nothing to run on its own: ``find_pipelines`` registers every package under
    ``pipelines/``, and the template runs only as ``evaluate`` and ``score``."""
    return Pipeline([])
