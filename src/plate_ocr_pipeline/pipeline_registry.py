"""Project pipelines: one package per stage, discovered by ``find_pipelines``."""

from __future__ import annotations

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline

# The order in which stages chain into `train`; stages not built yet are left out.
TRAIN_CHAIN = ("ingest", "augment", "train", "evaluate", "export", "benchmark")


def register_pipelines() -> dict[str, Pipeline]:
    """Each stage by its package name, ``train`` as the chain, ``__default__`` = ``train``."""
    pipelines = find_pipelines(raise_errors=True)
    stage_pipelines = {name: pipelines[name] for name in TRAIN_CHAIN if name in pipelines}
    # The package `train` holds the fit stage; the user-facing `train` pipeline is the chain.
    chain = sum(stage_pipelines.values(), Pipeline([]))
    pipelines["fit"] = pipelines.get("train", Pipeline([]))
    pipelines["train"] = chain
    pipelines["__default__"] = chain
    return pipelines
