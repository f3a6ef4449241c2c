"""``ingest``: validate annotations into clean, rejects and statistics tables."""

from typing import Any

from kedro.pipeline import Pipeline, node, pipeline

from .nodes import (
    accept_clean_plates,
    assign_splits,
    compute_dataset_statistics,
    normalise_plate_texts,
    plot_dataset_statistics,
    summarise_ingest,
    validate_annotations,
)


def create_pipeline(**kwargs: Any) -> Pipeline:
    return pipeline(
        [
            node(
                normalise_plate_texts,
                inputs=["raw_annotations", "params:ingest"],
                outputs="normalised_annotations",
                name="normalise_plate_texts",
            ),
            node(
                validate_annotations,
                inputs=["normalised_annotations", "params:plate"],
                outputs=["valid_annotations", "plates_rejects"],
                name="validate_annotations",
            ),
            node(
                assign_splits,
                inputs=["valid_annotations", "params:ingest"],
                outputs="split_annotations",
                name="assign_splits",
            ),
            node(
                summarise_ingest,
                inputs=[
                    "normalised_annotations",
                    "split_annotations",
                    "plates_rejects",
                    "params:ingest",
                ],
                outputs="ingest_summary",
                name="summarise_ingest",
            ),
            # plates_clean is written only once the accounting and reject checks pass, so a
            # failed ingest leaves no table for a later run to train on.
            node(
                accept_clean_plates,
                inputs=["split_annotations", "ingest_summary"],
                outputs="plates_clean",
                name="accept_clean_plates",
            ),
            node(
                compute_dataset_statistics,
                inputs="plates_clean",
                outputs="dataset_statistics",
                name="compute_dataset_statistics",
            ),
            node(
                plot_dataset_statistics,
                inputs="plates_clean",
                outputs="dataset_statistics_plot",
                name="plot_dataset_statistics",
            ),
        ],
        namespace="ingest",
        inputs={"raw_annotations"},
        outputs={"plates_clean"},
        parameters={"params:plate", "params:ingest"},
        tags="ingest",
    )
