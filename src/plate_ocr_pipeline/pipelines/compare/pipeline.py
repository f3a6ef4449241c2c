"""Compare pipeline: every ONNX model in a folder of candidates (``compare_candidates``)
read on the labelled sets (``compare_labelled_sets``) in one run, the way the project
chooses between models: one comparison, every candidate's figure reported::

    kedro run --pipelines=compare --params=compare.candidates_dir=data/06_models/candidates

Outputs (``data/08_reporting/compare/``): ``comparison.csv`` (per set, group and model),
``comparison.png``, ``misreads.csv`` (the plates some model misreads, each model's text
side by side), ``rejects.csv``; and every plate's readings in
``data/07_model_output/compare_readings.csv``.
"""

from typing import Any

from kedro.pipeline import Pipeline, node, pipeline

from plate_ocr_pipeline.evaluation import misread_plates
from plate_ocr_pipeline.pipelines.compare.nodes import (
    plot_comparison,
    read_candidates,
    summarise_comparison,
)


def create_pipeline(**kwargs: Any) -> Pipeline:
    return pipeline(
        [
            node(
                read_candidates,
                inputs=["compare_candidates", "compare_labelled_sets", "params:compare"],
                outputs=["readings", "rejects"],
                name="read_candidates",
            ),
            node(
                summarise_comparison,
                inputs=["readings", "params:compare"],
                outputs="comparison",
                name="summarise_comparison",
            ),
            node(misread_plates, inputs="readings", outputs="misreads", name="misread_plates"),
            node(
                plot_comparison,
                inputs="comparison",
                outputs="comparison_plot",
                name="plot_comparison",
            ),
        ],
        namespace="compare",
        inputs={"compare_candidates", "compare_labelled_sets"},
        parameters={"params:compare"},
        tags="compare",
    )
