"""Evaluate pipeline: the report template on ``reader_model`` (the trained model with its
calibrated temperature: the confidences users get), fed the held-out split(s) of
``model_input`` and the labelled sets of ``evaluate_labelled_sets``; plate config
``params:plate``. Outputs are ``evaluate.*`` (see ``pipelines/report/pipeline.py``), and the
exported reader's region accuracy, region confusion and format-aware decoding tables."""

from typing import Any

from kedro.pipeline import Pipeline, node, pipeline

from plate_ocr_pipeline.pipelines.evaluate.nodes import evaluate_regions, select_held_out_splits
from plate_ocr_pipeline.pipelines.report import create_report_pipeline


def create_pipeline(**kwargs: Any) -> Pipeline:
    held_out = node(
        select_held_out_splits,
        inputs=["model_input", "params:evaluate"],
        outputs="held_out_sets",
        name="select_held_out_splits",
    )
    regions = node(
        evaluate_regions,
        inputs=["reader_model", "reader_report", "sets", "plate_config", "params:evaluate"],
        outputs=["region_metrics", "region_confusion", "format_decoding"],
        name="evaluate_regions",
    )
    return pipeline(
        pipeline([held_out, regions]) + create_report_pipeline(held_out=True),
        namespace="evaluate",
        inputs={
            "model_input": "model_input",
            "predictor": "reader_model",
            "reader_model": "reader_model",
            "reader_report": "reader_report",
            "plate_config": "params:plate",
            "labelled_sets": "evaluate_labelled_sets",
        },
        parameters={"params:report": "params:evaluate", "params:evaluate": "params:evaluate"},
        tags="evaluate",
    )
