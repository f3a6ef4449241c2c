"""Project pipelines: one package per stage, discovered by ``find_pipelines``, and the train
chain that `kedro run` runs by default."""

from __future__ import annotations

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline

from plate_ocr_pipeline.pipelines.chain import train_chain


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
