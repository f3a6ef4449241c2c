"""Project pipelines: one package per stage, discovered by ``find_pipelines``, and the train
chain that `kedro run` runs by default."""

from __future__ import annotations

import importlib

import pandas as pd
from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline, node, pipeline

# The stages that `kedro run --pipelines=train` chains, in order.
TRAIN_CHAIN = ("synthesize", "ingest", "augment", "train", "evaluate", "export", "benchmark")


def _stage(name: str) -> Pipeline:
    return importlib.import_module(f"plate_ocr_pipeline.pipelines.{name}").create_pipeline()


def annotations_after_rendering(
    raw_annotations: pd.DataFrame, synthetic_manifest: dict
) -> pd.DataFrame:
    """The annotations, read only once the synthetic set is on disk: the ingest stage reads
    files that the synthesize stage writes, which Kedro cannot see by dataset names."""
    return raw_annotations


def train_chain() -> Pipeline:
    """Render (when needed), ingest, augment, train, evaluate, export, benchmark."""
    gate = pipeline(
        [
            node(
                annotations_after_rendering,
                inputs=["raw_annotations", "synthetic_manifest"],
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


def register_pipelines() -> dict[str, Pipeline]:
    """Each stage by its package name; ``train`` and ``__default__`` are the whole chain.

    Kedro 1.7 imports only the packages named on the command line, so the chain imports its
    stages itself rather than relying on what ``find_pipelines`` returned. The fit alone, on
    the data already ingested, runs with ``kedro run --pipelines=train --tags=augment,train``
    (the augmentation transform is kept in memory, so augment runs too); ``reader`` fits the
    region head and temperature again on the trained model on disk, and exports.
    """
    pipelines = find_pipelines(raise_errors=True)
    pipelines.pop("report", None)  # a template reused by evaluate and score, not a stage
    chain = train_chain()
    pipelines["train"] = chain
    pipelines["__default__"] = chain
    return pipelines
