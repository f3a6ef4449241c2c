"""Train pipeline: model_input (cached arrays) -> trained_model, training_history, curves."""

from kedro.pipeline import Pipeline, node, pipeline

from plate_ocr_pipeline.pipelines.train.nodes import (
    plot_training_curves,
    prepare_model_input,
    train_model,
)

# Every `train:` key the fit node takes, each passed explicitly as `params:train.<key>`.
TRAIN_KEYS = (
    "seed",
    "model",
    "batch_size",
    "epochs",
    "learning_rate",
    "weight_decay",
    "warmup_epochs",
    "lr_schedule",
    "min_lr_fraction",
    "label_smoothing",
    "early_stopping_patience",
    "reduce_lr_patience",
    "monitor",
    "augmentation",
    "init_from",
    "transfer_from",
    "resume",
    "checkpoint_dir",
    "deterministic",
    "verbose",
)


def create_pipeline(**kwargs) -> Pipeline:
    return pipeline(
        [
            node(
                prepare_model_input,
                inputs=["plates_clean", "model_input_cache", "params:plate"],
                outputs="model_input",
                name="prepare_model_input",
            ),
            node(
                train_model,
                inputs={
                    "model_input": "model_input",
                    "augmentation_transform": "augmentation_transform",
                    "plate": "params:plate",
                    **{key: f"params:train.{key}" for key in TRAIN_KEYS},
                },
                outputs=["trained_model", "training_history"],
                name="train_model",
            ),
            node(
                plot_training_curves,
                inputs="training_history",
                outputs="training_curves",
                name="plot_training_curves",
            ),
        ],
        tags="train",
    )
