"""Score pipeline: an ONNX model and labelled CSVs in, the evaluate stage's reports out.

    kedro run --pipeline=score \
        --params="score.model_path=model.onnx,score.annotations=[/data/set/annotations.csv]"
"""

from kedro.pipeline import Pipeline, node, pipeline

from plate_ocr_pipeline.pipelines.evaluate.pipeline import (
    create_report_pipeline,
    report_parameters,
)
from plate_ocr_pipeline.pipelines.infer.nodes import resolve_model_path
from plate_ocr_pipeline.pipelines.score.nodes import (
    load_labelled_sets,
    predict_with_onnx,
    read_model_plate_config,
)


def create_pipeline(**kwargs) -> Pipeline:
    # The evaluate stage's reports, under the "score" namespace so both can live in one run.
    reports = pipeline(
        create_report_pipeline(),
        namespace="score",
        inputs={
            "sets": "score_sets",
            "probabilities": "score_probabilities",
            "plate_config": "score_plate",
        },
        outputs={
            "metrics": "score_metrics",
            "predictions": "score_predictions",
            "per_region": "score_per_region",
            "per_length": "score_per_length",
            "confidence_coverage": "score_confidence_coverage",
            "confidence_coverage_plot": "score_confidence_coverage_plot",
            "character_confusion": "score_character_confusion",
            "error_gallery": "score_error_gallery",
            "per_region_plot": "score_per_region_plot",
        },
        parameters=report_parameters("score"),
    )
    return pipeline(
        [
            node(
                resolve_model_path,
                inputs=["params:score.model_path", "params:score.latest_export_path"],
                outputs="score_model_path",
                name="resolve_score_model_path",
            ),
            node(
                read_model_plate_config,
                inputs="score_model_path",
                outputs="score_plate",
                name="read_model_plate_config",
            ),
            node(
                load_labelled_sets,
                inputs=["params:score.annotations", "score_plate"],
                outputs="score_sets",
                name="load_labelled_sets",
            ),
            node(
                predict_with_onnx,
                inputs=[
                    "score_model_path",
                    "score_sets",
                    "params:score.batch_size",
                    "params:score.threads",
                ],
                outputs="score_probabilities",
                name="predict_with_onnx",
            ),
        ],
        tags="score",
    ) + pipeline(reports, tags="score")
