"""``train``: preprocess the clean table into model input, fit, fit the reader's region head
and temperature, plot the curves."""

from typing import Any

from kedro.pipeline import Pipeline, node, pipeline

from .nodes import fit_reader, plot_training_curves, prepare_model_input, train_model


def create_pipeline(**kwargs: Any) -> Pipeline:
    return pipeline(
        [
            node(
                prepare_model_input,
                inputs=["plates_clean", "plate_image_files", "model_input_cache", "params:plate"],
                outputs="model_input",
                name="prepare_model_input",
            ),
            node(
                train_model,
                inputs=[
                    "model_input",
                    "augmentation_transform",
                    "training_checkpoint",
                    "starting_model",
                    "params:train",
                    "params:plate",
                ],
                outputs=["trained_model", "training_history"],
                name="train_model",
            ),
            node(
                fit_reader,
                inputs=[
                    "trained_model",
                    "model_input",
                    "augmentation_transform",
                    "params:train",
                    "params:plate",
                ],
                outputs=["reader_model", "reader_report"],
                name="fit_reader",
            ),
            node(
                plot_training_curves,
                inputs="training_history",
                outputs="training_curves",
                name="plot_training_curves",
            ),
        ],
        namespace="train",
        inputs={
            "plates_clean",
            "plate_image_files",
            "augmentation_transform",
            "training_checkpoint",
            "starting_model",
            "model_input_cache",
        },
        outputs={"model_input", "trained_model", "reader_model", "reader_report"},
        parameters={"params:plate", "params:train"},
        tags="train",
    )
