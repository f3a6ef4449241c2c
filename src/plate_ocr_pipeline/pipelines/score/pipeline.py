"""Score pipeline: an ONNX model and labelled CSVs in, the evaluate stage's reports out.

    kedro run --pipeline=score \
        --params="score.model_path=model.onnx,score.annotations=[/data/set/annotations.csv]"
"""

from kedro.pipeline import Pipeline, node, pipeline

from plate_ocr_pipeline.pipelines.evaluate.nodes import (
    build_character_confusion,
    compute_evaluation_metrics,
    plot_error_gallery,
    plot_per_region,
)
from plate_ocr_pipeline.pipelines.infer.nodes import resolve_model_path
from plate_ocr_pipeline.pipelines.score.nodes import (
    load_labelled_sets,
    predict_with_onnx,
    read_model_plate_config,
)


def create_pipeline(**kwargs) -> Pipeline:
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
            node(
                compute_evaluation_metrics,
                inputs=[
                    "score_sets",
                    "score_probabilities",
                    "score_plate",
                    "params:score.equivalences",
                ],
                outputs=["score_metrics", "score_predictions", "score_per_region"],
                name="compute_score_metrics",
            ),
            node(
                build_character_confusion,
                inputs=["score_sets", "score_probabilities", "score_plate"],
                outputs="score_character_confusion",
                name="build_score_character_confusion",
            ),
            node(
                plot_error_gallery,
                inputs=[
                    "score_sets",
                    "score_predictions",
                    "score_plate",
                    "params:score.gallery_size",
                    "params:score.gallery_columns",
                ],
                outputs="score_error_gallery",
                name="plot_score_error_gallery",
            ),
            node(
                plot_per_region,
                inputs="score_per_region",
                outputs="score_per_region_plot",
                name="plot_score_per_region",
            ),
        ],
        tags="score",
    )
