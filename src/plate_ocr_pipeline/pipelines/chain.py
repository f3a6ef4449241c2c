"""The train chain: the stages `kedro run --pipelines=train` runs, in order, joined so that
ingest waits for the synthetic set on disk."""

from __future__ import annotations

import importlib

from kedro.pipeline import Pipeline, node, pipeline

from plate_ocr_pipeline.pipelines.ingest.nodes import annotations_after_rendering

TRAIN_CHAIN = ("synthesize", "ingest", "augment", "train", "evaluate", "export", "benchmark")


def _stage(name: str) -> Pipeline:
    return importlib.import_module(f"plate_ocr_pipeline.pipelines.{name}").create_pipeline()


def train_chain() -> Pipeline:
    """Render (when needed), ingest, augment, train, evaluate, export, benchmark."""
    gate = pipeline(
        [
            node(
                annotations_after_rendering,
                inputs=["raw_annotations", "synthetic_annotations", "synthetic_manifest"],
                outputs="raw_annotations_rendered",
                name="annotations_after_rendering",
            )
        ],
        namespace="ingest",
        prefix_datasets_with_namespace=False,
    )
    ingest = pipeline(_stage("ingest"), inputs={"raw_annotations": "raw_annotations_rendered"})
    stages = [_stage(name) for name in TRAIN_CHAIN if name != "ingest"]
    return sum(stages, Pipeline([])) + gate + ingest
