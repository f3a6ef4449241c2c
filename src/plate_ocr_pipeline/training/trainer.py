"""The trainer: one seeded Keras fit of a plate model, from scratch, from a starting model
(fine-tune or weight transfer), or resumed from its own checkpoint.

Seeded and deterministic: the same data, recipe and backend give the same numbers, and a
resumed run the numbers an uninterrupted one would have given.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from typing import Any

import keras
import numpy as np

from plate_ocr_pipeline.core.plate_config import PlateConfig
from plate_ocr_pipeline.core.text_codec import one_hot_encode
from plate_ocr_pipeline.training.batches import AugmentedBatches
from plate_ocr_pipeline.training.callbacks import (
    BatchEpoch,
    EpochCheckpoint,
    LearningRateLogger,
    LinearWarmup,
    MlflowEpochLogger,
    ResumableEarlyStopping,
    ResumablePlateau,
    StepProgress,
)
from plate_ocr_pipeline.training.checkpoints import (
    CheckpointStore,
    fingerprint_mismatch,
    random_states,
    run_fingerprint,
)
from plate_ocr_pipeline.training.losses import WarmupCosine, loss_and_metrics
from plate_ocr_pipeline.training.models import (
    as_slot_model,
    build_model,
    training_view,
)
from plate_ocr_pipeline.training.params import TrainParams

logger = logging.getLogger(__name__)


class ResumeError(ValueError):
    """A checkpoint that ``resume: true`` was asked to continue belongs to another run."""


def set_seed(seed: int, deterministic: bool = True) -> None:
    """Seed Python, numpy and the backend; make TensorFlow ops deterministic. JAX on CPU
    needs no switch: XLA's CPU kernels are deterministic and its random keys come from the
    seed."""
    os.environ.setdefault("PYTHONHASHSEED", str(seed))
    keras.utils.set_random_seed(seed)
    if deterministic and keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


def check_plate_shapes(model: keras.Model, config: PlateConfig, source: str) -> None:
    """Raise unless ``model`` takes the plate config's input and gives its slot outputs."""
    expected_in = (None, *config.input_shape)
    expected_out = (None, config.max_plate_slots, config.vocabulary_size)
    if tuple(model.input_shape) != expected_in or tuple(model.output_shape) != expected_out:
        raise ValueError(
            f"{source} takes {model.input_shape} and gives {model.output_shape}, which do not "
            f"match the plate config: {expected_in} -> {expected_out}"
        )


def learning_rate(params: TrainParams, steps_per_epoch: int) -> float | WarmupCosine:
    """A warm-up + cosine schedule over all epochs, or a float that the plateau/constant
    callbacks adjust."""
    if params.lr_schedule != "cosine":
        return float(params.learning_rate)
    return WarmupCosine(
        params.learning_rate,
        total_steps=params.epochs * steps_per_epoch,
        warmup_steps=int(round(params.warmup_epochs * steps_per_epoch)),
        final_fraction=params.min_lr_fraction,
    )


def compile_for_training(
    model: keras.Model, params: TrainParams, steps_per_epoch: int, config: PlateConfig
) -> None:
    """AdamW with the schedule; cross-entropy per slot, or CTC for a CTC head's column view,
    with the same metric names either way."""
    loss, metrics = loss_and_metrics(model, config, params.label_smoothing)
    model.compile(
        optimizer=keras.optimizers.AdamW(
            learning_rate=learning_rate(params, steps_per_epoch),
            weight_decay=params.weight_decay,
            clipnorm=5.0,
            **(
                {}
                if params.ema_momentum is None
                else {"use_ema": True, "ema_momentum": params.ema_momentum}
            ),
        ),
        loss=loss,
        metrics=metrics,
    )


def transfer_weights(model: keras.Model, source: keras.Model) -> list[str]:
    """Copy into ``model`` the weights of every layer of ``source`` that has the same name and
    weight shapes (a backbone under a new head); returns the layers copied."""
    copied, skipped, unmatched = [], [], []
    source_layers = {layer.name: layer for layer in source.layers}
    for layer in model.layers:
        donor = source_layers.get(layer.name)
        ours = layer.get_weights()
        if not ours:
            continue
        if donor is None:
            unmatched.append(layer.name)
            continue
        theirs = donor.get_weights()
        if [w.shape for w in ours] == [w.shape for w in theirs]:
            layer.set_weights(theirs)
            copied.append(layer.name)
        else:
            skipped.append(layer.name)
    if not copied:
        raise ValueError(
            f"train.start=transfer: no layer of the starting model {source.name!r} matches a "
            "layer of the new model by name and weight shapes; it is not the same family"
        )
    logger.info(
        "Transferred %d layers (%s); %d same-named layers differ in shape: %s",
        len(copied), ", ".join(copied), len(skipped), ", ".join(skipped) or "none",
    )  # fmt: skip
    # A partial match passes (a new head is the point of transfer), but layers renamed by
    # another layout, such as an ensemble's member{i}_ towers, would start from random unsaid.
    if unmatched:
        logger.warning(
            "train.start=transfer: %d of the new model's weighted layers have no namesake in "
            "%r and start from random weights: %s",
            len(unmatched), source.name, ", ".join(unmatched),
        )  # fmt: skip
    return copied


def initial_model(
    config: PlateConfig, params: TrainParams, starting_model: keras.Model | None
) -> keras.Model:
    """The model a fresh run starts from: ``train.model`` built from scratch, the starting
    model itself (``fine_tune``), or ``train.model`` seeded from it (``transfer``)."""
    if params.start != "scratch" and starting_model is None:
        raise ValueError(
            f"train.start={params.start} needs a starting model: set the catalog's "
            "starting_model (globals `starting_model: path/to/model.keras`)"
        )
    if params.start == "fine_tune":
        check_plate_shapes(starting_model, config, "the starting model")
        return starting_model
    model = build_model(config, params.model.type, **params.model.builder_kwargs())
    if params.start == "transfer":
        transfer_weights(model, starting_model)
    return model


@contextlib.contextmanager
def dtype_policy(name: str) -> Iterator[None]:
    """Keras' global dtype policy set to ``name`` for the block (layers built inside take it)."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def float32_copy(model: keras.Model) -> keras.Model:
    """``model`` rebuilt with every layer's policy float32 and the same weights: a model
    trained under ``mixed_bfloat16`` exports and serves in float32 (its weights already are)."""

    def as_float32(config: Any) -> Any:
        if isinstance(config, dict):
            if config.get("class_name") == "DTypePolicy":
                return {**config, "config": {**config["config"], "name": "float32"}}
            return {key: as_float32(value) for key, value in config.items()}
        if isinstance(config, list):
            return [as_float32(value) for value in config]
        return config

    copy = model.__class__.from_config(as_float32(model.get_config()))
    copy.set_weights(model.get_weights())
    return copy


def _resumable_state(
    checkpoints: CheckpointStore | None, params: TrainParams, fingerprint: dict[str, Any]
) -> dict[str, Any] | None:
    """The checkpoint state to continue from, or ``None`` to start afresh."""
    if checkpoints is None or params.resume is False:
        return None
    state = checkpoints.state()
    if state is None:
        return None
    if state.get("finished"):
        logger.info("Checkpoint in %s is from a finished run: starting afresh", checkpoints)
        return None
    differing = fingerprint_mismatch(state.get("fingerprint", fingerprint), fingerprint)
    if not differing:
        return state
    message = (
        f"the checkpoint in {checkpoints.directory} was written by a run with other "
        f"{', '.join(differing)} (after epoch {state['epochs_done']})"
    )
    if params.resume is True:
        raise ResumeError(
            f"train.resume: {message}. Run the same environment and data to continue it, or "
            "set train.resume=false to start afresh (overwriting it)."
        )
    logger.warning("Not resuming: %s. Starting afresh, overwriting it.", message)
    return None


# Train options at the value that trains as a recipe without the option does.
_OPTION_OFF: dict[str, Any] = {"precision": "float32", "ema_momentum": None}


def train_plate_model(
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray] | None,
    config: PlateConfig,
    params: TrainParams,
    augmentation: Any | None = None,
    checkpoints: CheckpointStore | None = None,
    starting_model: keras.Model | None = None,
) -> tuple[keras.Model, dict[str, list[float]]]:
    """Fit a plate model on ``train`` (uint8 images, texts), monitoring ``val``; returns the
    slot model (best epoch's weights restored when early stopping is on, the weights' moving
    average with ``params.ema_momentum``) and the per-epoch history. With ``checkpoints`` the
    model and history are saved every epoch, and a cut-off run of the same recipe and data
    continues from there (``params.resume``) with the batches, augmentation and dropout draws
    it would have had."""
    set_seed(params.seed, params.deterministic)
    images, texts = train
    if len(images) == 0:
        raise ValueError("the train split is empty: nothing to fit")
    targets = one_hot_encode(texts, config)
    validation = None
    monitor = params.monitor
    if val is not None and len(val[0]):
        validation = (val[0], one_hot_encode(val[1], config))
    elif monitor.startswith("val_"):
        logger.warning("No val split: monitoring %s on the training data", monitor[4:])
        monitor = monitor[4:]

    transform = augmentation if params.augmentation else None
    batches = AugmentedBatches(
        images, targets, params.batch_size, transform, seed=params.seed,
        workers=params.data_workers,
    )  # fmt: skip
    steps_per_epoch = len(batches)

    # The epoch count may grow on resume; anything else that shapes the run may not.
    recipe = params.model_dump(
        exclude={
            "epochs",
            "resume",
            "checkpoint",
            "verbose",
            "early_stopping_patience",
            "progress_every_steps",
            "data_workers",
        }
    )
    # An option that is off is left out of the recipe a checkpoint records, so a
    # checkpoint of a recipe without the option still resumes.
    for key, off in _OPTION_OFF.items():
        if recipe[key] == off:
            del recipe[key]
    if (recipe["model"]["members"] or 1) == 1:
        del recipe["model"]["members"]
    # The backend Keras runs on, whatever named it; TensorFlow left out, as every checkpoint
    # written before train.backend trained on it.
    del recipe["backend"]
    if keras.backend.backend() != "tensorflow":
        recipe["keras_backend"] = keras.backend.backend()
    # A checkpoint without this key had its batches shuffled by Keras as well: it never
    # resumes into this run's batch order.
    recipe["batch_order"] = "dataset"
    recipe["plate"] = config.to_dict()
    recipe["starting_model"] = None if starting_model is None else starting_model.name
    fingerprint = run_fingerprint(recipe, {"images": images, "plate_text": np.asarray(texts)})
    state = _resumable_state(checkpoints, params, fingerprint)

    with dtype_policy(params.precision):
        history: dict[str, list[float]] = {}
        initial_epoch = 0
        if state is not None:
            initial_epoch = int(state["epochs_done"])
            history = {k: list(v) for k, v in state["history"].items()}
            fitted = checkpoints.load_model()
            net = as_slot_model(fitted, config)  # a CTC run checkpoints its column view
            _restore_random_states(fitted, state)
            logger.info("Resuming from %s after epoch %d", checkpoints.directory, initial_epoch)
            if params.lr_schedule == "cosine":
                # A run extended on resume (more epochs) decays over the new count instead of
                # spending its added epochs at the floor rate.
                saved_steps = fitted.optimizer._learning_rate.total_steps
                schedule = learning_rate(params, steps_per_epoch)
                fitted.optimizer.learning_rate = schedule
                if saved_steps != schedule.total_steps:
                    logger.info(
                        "train.epochs is now %d: the cosine decay is stretched from %d to %d "
                        "steps (the first %d epochs followed the shorter one)",
                        params.epochs, saved_steps, schedule.total_steps, initial_epoch,
                    )  # fmt: skip
        else:
            net = initial_model(config, params, starting_model)
            # A CTC head trains its per-column logits (an ensemble's: each member's, stacked);
            # the slot decoding on top has no weights.
            fitted = training_view(net) or net
            compile_for_training(fitted, params, steps_per_epoch, config)
        batches.set_epoch(initial_epoch)
        logger.info(
            "Training %s (%d params) on %d crops, %d val, %d epochs of %d steps",
            net.name, net.count_params(), len(targets),
            0 if validation is None else len(validation[0]), params.epochs, steps_per_epoch,
        )  # fmt: skip

        callbacks = _callbacks(
            params, monitor, steps_per_epoch, checkpoints, history, fingerprint, state
        )
        fit = keras.callbacks.History()
        # A run cut off between early stopping's last checkpoint and its end trains no more:
        # the fit only returns the best epoch's weights.
        stopped = (state or {}).get("callbacks", {}).get("early_stopping", {})
        epochs = initial_epoch if stopped.get("stopped_epoch") else params.epochs
        try:
            fitted.fit(
                batches,
                validation_data=validation,
                epochs=epochs,
                initial_epoch=initial_epoch,
                # The batches are shuffled per epoch by their own seed; Keras' shuffle draws
                # from Python's global random, which a resumed run would have to replay.
                shuffle=False,
                callbacks=[BatchEpoch(batches), *callbacks, fit],
                verbose=params.verbose,
            )
        finally:
            batches.close()
        if checkpoints is None:
            history = {k: [float(x) for x in v] for k, v in fit.history.items()}
        else:
            checkpoints.mark_finished()
    if params.precision != "float32":
        net = float32_copy(net)
    return net, history


def _restore_random_states(model: keras.Model, state: dict[str, Any]) -> None:
    saved = state.get("random_states")
    variables = random_states(model)
    if not variables:
        return
    if saved is None:
        # Written before checkpoints kept them: the run continues, not exactly.
        logger.warning("The checkpoint has no random states: dropout draws start again")
        return
    if len(saved) != len(variables):
        logger.warning(
            "The checkpoint has %d random states for %d dropout layers: draws start again",
            len(saved), len(variables),
        )  # fmt: skip
        return
    for variable, value in zip(variables, saved, strict=True):
        variable.assign(np.asarray(value, dtype=variable.dtype))


def _callbacks(
    params: TrainParams,
    monitor: str,
    steps_per_epoch: int,
    checkpoints: CheckpointStore | None,
    history: dict[str, list[float]],
    fingerprint: dict[str, Any],
    state: dict[str, Any] | None = None,
) -> list[keras.callbacks.Callback]:
    """The run's callbacks; a resumed run's (``state``) early stopping and plateau schedule
    continue their counts from the checkpoint."""
    callbacks: list[keras.callbacks.Callback] = [LearningRateLogger()]
    kept: dict[str, Any] = {}
    saved = (state or {}).get("callbacks", {})
    mode = "min" if monitor.endswith("loss") else "max"  # accuracies (top_3_k too) rise
    warmup_steps = int(round(params.warmup_epochs * steps_per_epoch))
    if params.lr_schedule != "cosine" and warmup_steps:
        callbacks.append(LinearWarmup(params.learning_rate, warmup_steps))
    if params.lr_schedule == "plateau":
        kept["plateau"] = ResumablePlateau(
            monitor=monitor, mode=mode, factor=0.5, patience=params.reduce_lr_patience,
            min_lr=params.learning_rate * params.min_lr_fraction, verbose=1,
        )  # fmt: skip
        kept["plateau"].restore_counts(saved.get("plateau"))
        callbacks.append(kept["plateau"])
    if params.early_stopping_patience:
        kept["early_stopping"] = ResumableEarlyStopping(
            monitor=monitor, mode=mode, patience=params.early_stopping_patience,
            restore_best_weights=params.ema_momentum is None, verbose=1,
        )  # fmt: skip
        best_weights = None if state is None else checkpoints.best_weights(state)
        kept["early_stopping"].restore(saved.get("early_stopping"), best_weights)
        callbacks.append(kept["early_stopping"])
    if state is not None and kept and "callbacks" not in state:
        # Written before checkpoints kept them: the run continues, not exactly.
        logger.warning("The checkpoint has no early-stopping or plateau counts: they start again")
    if checkpoints is not None:
        callbacks.append(EpochCheckpoint(checkpoints, history, fingerprint, kept))
    if params.progress_every_steps:
        callbacks.append(
            StepProgress(
                params.progress_every_steps, steps_per_epoch, params.epochs, params.batch_size
            )
        )
    callbacks.append(MlflowEpochLogger())
    return callbacks
