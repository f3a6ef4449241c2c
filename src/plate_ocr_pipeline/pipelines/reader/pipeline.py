"""``reader``: the train chain from ``train.fit_reader`` on, for reader experiments
(``train.reader``) that need no new training. Its nodes are the train chain's own."""

from typing import Any

from kedro.pipeline import Pipeline

from plate_ocr_pipeline.pipelines.chain import train_chain

# Nodes whose outputs the refit needs and the catalog keeps in memory only.
IN_MEMORY_PRODUCERS = (
    "augment.seed_augmentation",
    "evaluate.select_held_out_splits",
    "evaluate.prepare_sets",
    "benchmark.plan_benchmark",
)


def create_pipeline(**kwargs: Any) -> Pipeline:
    chain = train_chain()
    return chain.from_nodes("train.fit_reader") + chain.only_nodes(*IN_MEMORY_PRODUCERS)
