"""Evaluate pipeline: the report template on ``trained_model``, fed the held-out split(s) of
``model_input`` and the labelled sets of ``evaluate_labelled_sets``; plate config
``params:plate``. Outputs are ``evaluate.*`` (see ``pipelines/report/pipeline.py``)."""

from kedro.pipeline import Pipeline, node, pipeline

from plate_ocr_pipeline.pipelines.evaluate.nodes import select_held_out_splits
from plate_ocr_pipeline.pipelines.report import create_report_pipeline


def create_pipeline(**kwargs) -> Pipeline:
    held_out = node(
        select_held_out_splits,
        inputs=["model_input", "params:evaluate"],
        outputs="held_out_sets",
        name="select_held_out_splits",
    )
    return pipeline(
        pipeline([held_out]) + create_report_pipeline(held_out=True),
        namespace="evaluate",
        inputs={
            "model_input": "model_input",
            "predictor": "trained_model",
            "plate_config": "params:plate",
            "labelled_sets": "evaluate_labelled_sets",
        },
        parameters={"params:report": "params:evaluate", "params:evaluate": "params:evaluate"},
        tags="evaluate",
    )
