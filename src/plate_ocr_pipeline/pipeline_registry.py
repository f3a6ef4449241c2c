"""Project pipelines: one package per stage, discovered by ``find_pipelines``."""

from __future__ import annotations

import importlib

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline

# The stages that `kedro run --pipeline=train` chains, in order.
TRAIN_CHAIN = ("ingest", "augment", "train", "evaluate", "export", "benchmark")


def _stage(name: str) -> Pipeline:
    return importlib.import_module(f"plate_ocr_pipeline.pipelines.{name}").create_pipeline()


def register_pipelines() -> dict[str, Pipeline]:
    """Each stage by its package name; ``train`` and ``__default__`` are the whole chain.

    Kedro 1.7 imports only the packages named on the command line, so the chain imports its
    stages itself rather than relying on what ``find_pipelines`` returned. The fit stage alone
    runs with ``kedro run --pipeline=train --tags=train``.
    """
    pipelines = find_pipelines(raise_errors=True)
    chain = sum((_stage(name) for name in TRAIN_CHAIN), Pipeline([]))
    pipelines["train"] = chain
    pipelines["__default__"] = chain
    return pipelines
