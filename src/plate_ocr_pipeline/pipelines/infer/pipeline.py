"""Infer pipeline: a folder of plate crops in, a predictions CSV out."""

from kedro.pipeline import Pipeline, node, pipeline

from plate_ocr_pipeline.pipelines.infer.nodes import (
    recognize_images,
    resolve_model_path,
    summarise_predictions,
)


def create_pipeline(**kwargs) -> Pipeline:
    return pipeline(
        [
            node(
                resolve_model_path,
                inputs=["params:infer.model_path", "params:infer.latest_export_path"],
                outputs="infer_model_path",
                name="resolve_model_path",
            ),
            node(
                recognize_images,
                inputs=[
                    "infer_images",
                    "infer_model_path",
                    "params:infer.batch_size",
                    "params:infer.num_workers",
                    "params:infer.providers",
                    "params:infer.threads",
                    "params:infer.progress",
                ],
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
        tags="infer",
    )
