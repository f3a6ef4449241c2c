"""``infer``: a folder of plate crops and an ONNX model in, a predictions CSV out."""

from typing import Any

from kedro.pipeline import Pipeline, node, pipeline

from .nodes import recognize_images, summarise_predictions


def create_pipeline(**kwargs: Any) -> Pipeline:
    return pipeline(
        [
            node(
                recognize_images,
                inputs=["infer_images", "infer_model", "params:infer"],
                outputs="predictions",
                name="recognize_images",
            ),
            node(
                summarise_predictions,
                inputs="predictions",
                outputs="infer_summary",
                name="summarise_predictions",
            ),
        ],
        namespace="infer",
        inputs={"infer_images", "infer_model"},
        outputs={"predictions"},
        parameters={"params:infer"},
        tags="infer",
    )
