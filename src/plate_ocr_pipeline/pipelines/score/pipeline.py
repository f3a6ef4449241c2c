"""Score pipeline: the report template on an ONNX model (``score_model``), fed the labelled
sets of ``score_labelled_sets``; plate config from the model's metadata. Outputs are
``score.*`` (see ``pipelines/report/pipeline.py``), and for a model with a region output
``score.region_metrics``, ``score.region_confusion`` and ``score.format_decoding`` (the
format-aware reading beside the model's own)::

    kedro run --pipelines=score \
        --params="score.model_path=model.onnx,score.annotations=[/data/set/annotations.csv]"
"""

from typing import Any

from kedro.pipeline import Pipeline, node, pipeline

from plate_ocr_pipeline.pipelines.report import create_report_pipeline
from plate_ocr_pipeline.pipelines.score.nodes import load_recognizer, score_regions_and_formats


def create_pipeline(**kwargs: Any) -> Pipeline:
    recognizer = node(
        load_recognizer,
        inputs=["score_model", "params:score"],
        outputs=["predictor", "plate_config"],
        name="load_recognizer",
    )
    regions = node(
        score_regions_and_formats,
        inputs=["predictor", "sets", "params:score"],
        outputs=["region_metrics", "region_confusion", "format_decoding"],
        name="score_regions_and_formats",
    )
    return pipeline(
        pipeline([recognizer, regions]) + create_report_pipeline(),
        namespace="score",
        inputs={"score_model": "score_model", "labelled_sets": "score_labelled_sets"},
        parameters={"params:report": "params:score", "params:score": "params:score"},
        tags="score",
    )
