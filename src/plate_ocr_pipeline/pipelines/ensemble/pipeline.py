"""Ensemble pipeline: combine saved models, then evaluate, export and benchmark the result.

The evaluate, export and benchmark stages are the train chain's own, fed ``ensemble_model``
instead of ``trained_model``, so the ensemble's reports and ONNX file land where a single
model's do (``make score`` and ``make ship-model`` then work unchanged).
"""

from kedro.pipeline import Pipeline, node, pipeline

from plate_ocr_pipeline.pipelines import benchmark, evaluate, export
from plate_ocr_pipeline.pipelines.ensemble.nodes import build_ensemble_model, select_members


def create_pipeline(**kwargs) -> Pipeline:
    combine = pipeline(
        [
            node(
                select_members,
                inputs=["ensemble_member_models", "params:ensemble.members"],
                outputs="ensemble_members",
                name="select_ensemble_members",
            ),
            node(
                build_ensemble_model,
                inputs=["ensemble_members", "params:plate"],
                outputs="ensemble_model",
                name="build_ensemble_model",
            ),
        ],
        tags="ensemble",
    )
    downstream = evaluate.create_pipeline() + export.create_pipeline()
    return (
        combine
        + pipeline(downstream, inputs={"trained_model": "ensemble_model"})
        + benchmark.create_pipeline()
    )
