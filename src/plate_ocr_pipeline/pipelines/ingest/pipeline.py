"""``ingest``: validate annotations into clean, rejects and statistics tables."""

from kedro.pipeline import Pipeline, node, pipeline

from .nodes import (
    assign_splits,
    compute_dataset_statistics,
    normalise_plate_texts,
    plot_dataset_statistics,
    summarise_ingest,
    validate_annotations,
)


def create_pipeline(**kwargs) -> Pipeline:
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
                outputs="plates_clean",
                name="assign_splits",
            ),
            node(
                summarise_ingest,
                inputs=[
                    "normalised_annotations",
                    "plates_clean",
                    "plates_rejects",
                    "params:ingest",
                ],
                outputs="ingest_summary",
                name="summarise_ingest",
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
