"""Train nodes: model inputs from the clean table, a seeded Keras fit, training curves."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from plate_ocr_pipeline.image_preprocessing import ImageReadError, load_and_preprocess  # noqa: E402
from plate_ocr_pipeline.plate_config import PlateConfig  # noqa: E402
from plate_ocr_pipeline.text_codec import one_hot_encode  # noqa: E402

logger = logging.getLogger(__name__)

# Plate-config fields that change the preprocessed pixels: a change invalidates the cache.
_PREPROCESSING_KEYS = (
    "img_height",
    "img_width",
    "color_mode",
    "keep_aspect_ratio",
    "padding_color",
    "interpolation",
)


def _preprocessing_signature(config: PlateConfig) -> str:
    values = {k: v for k, v in config.to_dict().items() if k in _PREPROCESSING_KEYS}
    return json.dumps(values, sort_keys=True)


def _file_fingerprint(path: str) -> str:
    try:
        stat = os.stat(path)
    except OSError:
        return f"{path}|missing"
    return f"{path}|{stat.st_size}|{stat.st_mtime_ns}"


def prepare_model_input(
    plates_clean: pd.DataFrame, model_input_cache: dict[str, np.ndarray], plate: dict[str, Any]
) -> dict[str, np.ndarray]:
    """Preprocess every crop of the clean table into one uint8 ``(N, H, W, C)`` array with
    its labels, reusing the previous run's arrays (``model_input_cache``: the same file read
    back) for every image whose path, size and modification time are unchanged.

    Returns arrays ``images``, ``image_path``, ``plate_text``, ``region``, ``split``,
    ``fingerprint`` and the 0-d ``preprocessing`` signature.
    """
    config = PlateConfig.from_dict(plate)
    signature = _preprocessing_signature(config)
    cached: dict[str, np.ndarray] = {}
    if model_input_cache and str(model_input_cache.get("preprocessing", "")) == signature:
        cached = dict(
            zip(model_input_cache["fingerprint"].tolist(), model_input_cache["images"], strict=True)
        )

    shape = (config.img_height, config.img_width, config.num_channels)
    images, keep, fingerprints = [], [], []
    reused = 0
    for row, path in enumerate(plates_clean["image_path"].astype(str)):
        fingerprint = _file_fingerprint(path)
        image = cached.get(fingerprint)
        if image is not None and image.shape == shape:
            reused += 1
        else:
            try:
                image = load_and_preprocess(path, config)
            except ImageReadError as error:
                logger.warning("Skipping unreadable image %s", error)
                continue
        images.append(image)
        keep.append(row)
        fingerprints.append(fingerprint)
    logger.info(
        "Model input: %d images (%d from the cache, %d decoded)",
        len(images),
        reused,
        len(images) - reused,
    )
    table = plates_clean.iloc[keep]
    region = table["region"] if "region" in table else pd.Series([""] * len(table))
    return {
        "images": np.stack(images) if images else np.zeros((0, *shape), np.uint8),
        "image_path": table["image_path"].astype(str).to_numpy(dtype=str),
        "plate_text": table["plate_text"].astype(str).to_numpy(dtype=str),
        "region": region.fillna("").astype(str).to_numpy(dtype=str),
        "split": table["split"].astype(str).to_numpy(dtype=str),
        "fingerprint": np.array(fingerprints, dtype=str),
        "preprocessing": np.array(signature),
    }


def select_split(model_input: dict[str, np.ndarray], split: str) -> dict[str, np.ndarray]:
    """The rows of one split (``images``, ``plate_text``, ``region``, ``image_path``)."""
    mask = model_input["split"] == split
    return {key: model_input[key][mask] for key in ("images", "plate_text", "region", "image_path")}


def _learning_rate(params: dict[str, Any], steps_per_epoch: int):
    """The optimizer's learning rate: a warm-up + cosine schedule over all epochs, or a float
    that the plateau/constant callbacks adjust."""
    from plate_ocr_pipeline.training import WarmupCosine

    if params["lr_schedule"] != "cosine":
        return float(params["learning_rate"])
    return WarmupCosine(
        params["learning_rate"],
        total_steps=params["epochs"] * steps_per_epoch,
        warmup_steps=int(round(params["warmup_epochs"] * steps_per_epoch)),
        final_fraction=params["min_lr_fraction"],
    )


def _compile(model, params: dict[str, Any], steps_per_epoch: int, config: PlateConfig) -> None:
    """AdamW with the schedule; cross-entropy per slot, or CTC for a CTC head's column view,
    with the same metric names either way."""
    import keras

    from plate_ocr_pipeline.training import loss_and_metrics

    loss, metrics = loss_and_metrics(model, config, params["label_smoothing"])
    model.compile(
        optimizer=keras.optimizers.AdamW(
            learning_rate=_learning_rate(params, steps_per_epoch),
            weight_decay=params["weight_decay"],
            clipnorm=5.0,
        ),
        loss=loss,
        metrics=metrics,
    )


def _tiled_logits(ours: list, theirs: list) -> list | None:
    """A one-step CTC logits layer's weights repeated for every step of a several-step one,
    or ``None`` when the shapes do not fit so."""
    import numpy as np

    if len(ours) != len(theirs) or any(
        a.shape[:-1] != b.shape[:-1] or a.shape[-1] % b.shape[-1]
        for a, b in zip(ours, theirs, strict=True)
    ):
        return None
    return [np.tile(b, a.shape[-1] // b.shape[-1]) for a, b in zip(ours, theirs, strict=True)]


def _transfer_weights(model, source_path: str) -> None:
    """Copy into ``model`` the weights of every layer of the ``source_path`` model that has
    the same name and weight shapes (a backbone under a new head). A CTC head with several
    steps per column starts from a one-step head's logits repeated for each step: the
    repeats merge in decoding, so the new model first reads exactly as the source does."""
    import keras

    from plate_ocr_pipeline.models import COLUMN_LOGITS_LAYER, COLUMN_STEP_LOGITS_LAYER

    source = keras.saving.load_model(source_path, compile=False)
    copied, skipped = [], []
    # A several-step logits layer may start from a one-step head's, if the source has no twin.
    fallbacks = {COLUMN_STEP_LOGITS_LAYER: COLUMN_LOGITS_LAYER}
    source_layers = {layer.name: layer for layer in source.layers}
    for layer in model.layers:
        names = (layer.name, fallbacks.get(layer.name))
        donor = next((source_layers[name] for name in names if name in source_layers), None)
        if donor is None:
            continue
        ours, theirs = layer.get_weights(), donor.get_weights()
        if not ours:
            continue
        if [w.shape for w in ours] == [w.shape for w in theirs]:
            layer.set_weights(theirs)
            copied.append(layer.name)
        elif donor.name != layer.name and (tiled := _tiled_logits(ours, theirs)) is not None:
            layer.set_weights(tiled)
            copied.append(f"{layer.name} (from {donor.name}, repeated per step)")
        else:
            skipped.append(layer.name)
    if not copied:
        raise ValueError(
            f"train.transfer_from: no layer of {source_path} matches a layer of the new model "
            "by name and weight shapes; it is not the same family of model"
        )
    logger.info(
        "Transferred %d layers from %s (%s); %d same-named layers differ in shape: %s",
        len(copied), source_path, ", ".join(copied), len(skipped), ", ".join(skipped) or "none",
    )  # fmt: skip


def _initial_model(config: PlateConfig, params: dict[str, Any]):
    import keras

    from plate_ocr_pipeline.models import build_model
    from plate_ocr_pipeline.pipelines.train.params import ModelParams

    if params["init_from"]:
        from plate_ocr_pipeline.training import check_plate_shapes  # registers custom objects

        logger.info("Fine-tuning from %s", params["init_from"])
        model = keras.saving.load_model(params["init_from"], compile=False)
        check_plate_shapes(model, config, f"init_from model {params['init_from']}")
        return model
    spec = ModelParams.model_validate(params["model"])
    model = build_model(config, spec.type, **spec.builder_kwargs())
    if params["transfer_from"]:
        _transfer_weights(model, params["transfer_from"])
    return model


class _Warmup:
    """Linear warm-up for the plateau/constant schedules (a Keras callback, built lazily)."""

    @staticmethod
    def make(peak: float, warmup_steps: int):
        import keras

        class Warmup(keras.callbacks.Callback):
            def on_train_batch_begin(self, batch, logs=None):
                step = int(self.model.optimizer.iterations.numpy())
                if step < warmup_steps:
                    self.model.optimizer.learning_rate.assign(
                        peak * (0.1 + 0.9 * step / max(warmup_steps, 1))
                    )
                elif step == warmup_steps:
                    self.model.optimizer.learning_rate.assign(peak)

        return Warmup()


def train_model(  # noqa: PLR0913
    model_input: dict[str, np.ndarray],
    augmentation_transform: Any,
    plate: dict[str, Any],
    seed: int,
    model: dict[str, Any],
    batch_size: int,
    epochs: int,
    learning_rate: float,
    weight_decay: float,
    warmup_epochs: float,
    lr_schedule: str,
    min_lr_fraction: float,
    label_smoothing: float,
    early_stopping_patience: int | None,
    reduce_lr_patience: int,
    monitor: str,
    augmentation: bool,
    init_from: str | None,
    transfer_from: str | None,
    resume: bool,
    checkpoint_dir: str | None,
    deterministic: bool,
    verbose: int,
):
    """Fit the model on the train split, monitoring the val split; returns the model (best
    epoch's weights restored) and the per-epoch history table.

    Seeded and deterministic (same data, seed and backend give the same numbers). With
    ``checkpoint_dir`` the model and history are saved every epoch, and ``resume: true``
    continues an interrupted run from there.
    """
    import keras

    from plate_ocr_pipeline.models import as_slot_model, column_logits_view
    from plate_ocr_pipeline.training import (
        AugmentedBatches,
        LearningRateLogger,
        MlflowEpochLogger,
        ResumableCheckpoint,
        fingerprint_mismatch,
        read_checkpoint_state,
        run_fingerprint,
        set_seed,
    )

    params = dict(
        model=model, epochs=epochs, learning_rate=learning_rate, weight_decay=weight_decay,
        warmup_epochs=warmup_epochs, lr_schedule=lr_schedule, min_lr_fraction=min_lr_fraction,
        label_smoothing=label_smoothing, init_from=init_from, transfer_from=transfer_from,
    )  # fmt: skip
    config = PlateConfig.from_dict(plate)
    set_seed(seed, deterministic)

    train = select_split(model_input, "train")
    val = select_split(model_input, "val")
    if len(train["images"]) == 0:
        raise ValueError("the train split is empty: nothing to fit")
    y_train = one_hot_encode(train["plate_text"], config)
    validation = None
    if len(val["images"]):
        validation = (val["images"], one_hot_encode(val["plate_text"], config))
    elif monitor.startswith("val_"):
        logger.warning("No val split: monitoring %s on the training data", monitor[4:])
        monitor = monitor[4:]

    transform = augmentation_transform if augmentation else None
    batches = AugmentedBatches(train["images"], y_train, batch_size, transform, seed=seed)
    steps_per_epoch = len(batches)

    history: dict[str, list[float]] = {}
    initial_epoch = 0
    fingerprint = None
    if checkpoint_dir:
        # The epoch count may grow on resume; anything else that shapes the run may not.
        recipe = {k: v for k, v in params.items() if k != "epochs"}
        recipe.update(plate=plate, seed=seed, batch_size=batch_size, augmentation=augmentation)
        arrays = {"images": train["images"], "plate_text": np.asarray(train["plate_text"])}
        fingerprint = run_fingerprint(recipe, arrays)
    state = read_checkpoint_state(checkpoint_dir) if (resume and checkpoint_dir) else None
    if state and not state.get("finished"):
        import plate_ocr_pipeline.models  # noqa: F401

        differing = fingerprint_mismatch(state.get("fingerprint", fingerprint), fingerprint)
        if differing:
            raise ValueError(
                f"train.resume: the checkpoint in {checkpoint_dir} was written by a run with "
                f"other {', '.join(differing)} (after epoch {state['epochs_done']}). Run the "
                "same environment and data to continue it, or set train.resume=false to start "
                "afresh (overwriting it), or point train.checkpoint_dir elsewhere."
            )

        initial_epoch = int(state["epochs_done"])
        history = {k: list(v) for k, v in state["history"].items()}
        fitted = keras.saving.load_model(Path(checkpoint_dir) / "last.keras")
        net = as_slot_model(fitted, config)  # a CTC run checkpoints its column view
        logger.info("Resuming from %s after epoch %d", checkpoint_dir, initial_epoch)
        if lr_schedule == "cosine":
            # The saved schedule decays over the epoch count the run started with; a run
            # extended on resume (more train.epochs) decays over the new count instead of
            # spending its added epochs at the floor rate.
            saved_steps = fitted.optimizer._learning_rate.total_steps  # the schedule object
            schedule = _learning_rate(params, steps_per_epoch)
            fitted.optimizer.learning_rate = schedule
            if saved_steps != schedule.total_steps:
                logger.info(
                    "train.epochs is now %d: the cosine decay is stretched from %d to %d "
                    "steps (the first %d epochs followed the shorter one)",
                    epochs, saved_steps, schedule.total_steps, initial_epoch,
                )  # fmt: skip
    else:
        if resume and state:
            logger.info("Checkpoint in %s is from a finished run: starting afresh", checkpoint_dir)
        net = _initial_model(config, params)
        # A CTC head trains its per-column logits; the slot decoding on top has no weights.
        fitted = column_logits_view(net) or net
        _compile(fitted, params, steps_per_epoch, config)
    batches.set_epoch(initial_epoch)
    logger.info(
        "Training %s (%d params) on %d crops, %d val, %d epochs of %d steps",
        net.name, net.count_params(), len(y_train),
        0 if validation is None else len(validation[0]), epochs, steps_per_epoch,
    )  # fmt: skip

    callbacks: list[keras.callbacks.Callback] = [LearningRateLogger()]
    warmup_steps = int(round(warmup_epochs * steps_per_epoch))
    if lr_schedule != "cosine" and warmup_steps:
        callbacks.append(_Warmup.make(float(learning_rate), warmup_steps))
    if lr_schedule == "plateau":
        callbacks.append(
            keras.callbacks.ReduceLROnPlateau(
                monitor=monitor, mode="max" if "acc" in monitor else "min", factor=0.5,
                patience=reduce_lr_patience, min_lr=learning_rate * min_lr_fraction, verbose=1,
            )
        )  # fmt: skip
    if early_stopping_patience:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor=monitor, mode="max" if "acc" in monitor else "min",
                patience=early_stopping_patience, restore_best_weights=True, verbose=1,
            )
        )  # fmt: skip
    if checkpoint_dir:
        callbacks.append(ResumableCheckpoint(checkpoint_dir, history, fingerprint))
    callbacks.append(MlflowEpochLogger())
    fit = keras.callbacks.History()
    callbacks.append(fit)

    fitted.fit(
        batches,
        validation_data=validation,
        epochs=epochs,
        initial_epoch=initial_epoch,
        callbacks=callbacks,
        verbose=verbose,
    )
    if not checkpoint_dir:
        history = {k: [float(x) for x in v] for k, v in fit.history.items()}
    else:
        _mark_finished(Path(checkpoint_dir))

    table = pd.DataFrame(history)
    table.insert(0, "epoch", np.arange(1, len(table) + 1))
    return net, table


def _mark_finished(directory: Path) -> None:
    state_file = directory / "state.json"
    if state_file.exists():
        state = json.loads(state_file.read_text())
        state["finished"] = True
        state_file.write_text(json.dumps(state))


def plot_training_curves(training_history: pd.DataFrame) -> plt.Figure:
    """Loss, plate_acc/cat_acc (train and val) and the learning rate per epoch."""
    panels = [
        ("loss", ["loss", "val_loss"]),
        ("plate_acc", ["plate_acc", "val_plate_acc"]),
        ("cat_acc", ["cat_acc", "val_cat_acc", "top_3_k", "val_top_3_k"]),
        ("learning rate", ["learning_rate"]),
    ]
    figure, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.2))
    epochs = training_history.get("epoch", training_history.index)
    for axis, (title, columns) in zip(axes, panels, strict=True):
        for column in columns:
            if column in training_history:
                axis.plot(epochs, training_history[column], marker=".", label=column)
        axis.set_title(title)
        axis.set_xlabel("epoch")
        axis.grid(alpha=0.3)
        if axis.get_legend_handles_labels()[0]:
            axis.legend(fontsize=7)
    figure.tight_layout()
    return figure
