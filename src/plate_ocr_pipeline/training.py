"""Training helpers shared by the train pipeline and scripts (imports Keras).

- ``AugmentedBatches``: a ``keras.utils.PyDataset`` that shuffles and applies an
  albumentations ``Compose`` to uint8 batches on the fly, re-seeded every epoch so a run is
  reproducible (and a resumed run sees the same augmentations for the same epoch).
- ``WarmupCosine``: linear warm-up then cosine decay, per optimizer step.
- Keras metrics ``plate_acc``/``cat_acc``/``top_3_k`` (fast-plate-ocr's definitions).
- Callbacks: per-epoch MLflow logging (only while a run is active) and resumable
  checkpoints (``last.keras`` + ``state.json`` each epoch).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import warnings
from pathlib import Path
from typing import Any

import keras
import numpy as np
from keras import ops

from plate_ocr_pipeline.plate_config import PlateConfig

_PACKAGE = "plate_ocr_pipeline"


def set_seed(seed: int, deterministic: bool = True) -> None:
    """Seed Python, numpy and the backend; make TensorFlow ops deterministic."""
    os.environ.setdefault("PYTHONHASHSEED", str(seed))
    keras.utils.set_random_seed(seed)
    if deterministic and keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


@keras.saving.register_keras_serializable(package=_PACKAGE)
def plate_acc(y_true, y_pred):
    """Per plate: 1 when every slot's argmax matches (pads included)."""
    hits = ops.equal(ops.argmax(y_true, axis=-1), ops.argmax(y_pred, axis=-1))
    return ops.cast(ops.all(hits, axis=-1), "float32")


@keras.saving.register_keras_serializable(package=_PACKAGE)
def cat_acc(y_true, y_pred):
    """Per plate: fraction of slots whose argmax matches (pads included)."""
    hits = ops.equal(ops.argmax(y_true, axis=-1), ops.argmax(y_pred, axis=-1))
    return ops.mean(ops.cast(hits, "float32"), axis=-1)


@keras.saving.register_keras_serializable(package=_PACKAGE)
def top_3_k(y_true, y_pred):
    """Per plate: fraction of slots whose truth is among the 3 most probable classes."""
    truth = ops.argmax(y_true, axis=-1)
    top = ops.top_k(y_pred, k=3)[1]
    hits = ops.any(ops.equal(top, ops.expand_dims(ops.cast(truth, top.dtype), -1)), axis=-1)
    return ops.mean(ops.cast(hits, "float32"), axis=-1)


SLOT_METRICS = {"plate_acc": plate_acc, "cat_acc": cat_acc, "top_3_k": top_3_k}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class CTCSlotLoss(keras.losses.Loss):
    """CTC loss of per-column logits against the one-hot slot targets every model trains on
    (the label is the slots' argmax up to the first pad; the pad is CTC's blank)."""

    def __init__(self, blank_index: int, name: str = "ctc_slot_loss", **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.blank_index = int(blank_index)

    def call(self, y_true, y_pred):
        labels = ops.argmax(y_true, axis=-1)
        label_length = ops.sum(ops.cast(ops.not_equal(labels, self.blank_index), "int32"), -1)
        batch, columns = ops.shape(y_pred)[0], ops.shape(y_pred)[1]
        column_length = ops.full((batch,), columns, dtype="int32")
        return ops.ctc_loss(labels, y_pred, label_length, column_length, self.blank_index)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "blank_index": self.blank_index}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class CTCSlotMetric(keras.metrics.MeanMetricWrapper):
    """A slot metric (``plate_acc``, ``cat_acc``, ``top_3_k``) of per-column logits, read
    through the same greedy decoding as the exported model, so a CTC run's logs and
    ``monitor`` mean what a slot model's do."""

    def __init__(self, metric: str, slots: int, blank_index: int, **kwargs: Any) -> None:
        from plate_ocr_pipeline.models import ctc_greedy_slots

        if metric not in SLOT_METRICS:
            raise ValueError(f"metric {metric!r} is not one of {sorted(SLOT_METRICS)}")

        def decoded_metric(y_true, y_pred):
            return SLOT_METRICS[metric](y_true, ctc_greedy_slots(y_pred, slots, blank_index))

        kwargs.setdefault("name", metric)
        super().__init__(fn=decoded_metric, **kwargs)
        self.metric, self.slots, self.blank_index = metric, int(slots), int(blank_index)

    def get_config(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "slots": self.slots,
            "blank_index": self.blank_index,
            "name": self.name,
            "dtype": self.dtype,
        }


def loss_and_metrics(model: keras.Model, config: PlateConfig, label_smoothing: float):
    """The loss and the ``plate_acc``/``cat_acc``/``top_3_k`` metrics to compile ``model``
    with: cross-entropy per slot, or CTC when ``model`` is a CTC head's column view (the
    metrics then read its greedy decoding, under the same names)."""
    from plate_ocr_pipeline.models import is_column_view

    if is_column_view(model):
        metrics = [
            CTCSlotMetric(name, config.max_plate_slots, config.pad_index) for name in SLOT_METRICS
        ]
        return CTCSlotLoss(config.pad_index), metrics
    loss = keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing)
    return loss, list(SLOT_METRICS.values())


@keras.saving.register_keras_serializable(package=_PACKAGE)
class WarmupCosine(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up from ``initial * warmup_start`` to ``initial`` then cosine decay to
    ``initial * final_fraction`` at ``total_steps``."""

    def __init__(
        self,
        initial_learning_rate: float,
        total_steps: int,
        warmup_steps: int = 0,
        final_fraction: float = 0.01,
        warmup_start: float = 0.1,
    ) -> None:
        self.initial_learning_rate = float(initial_learning_rate)
        self.total_steps = max(1, int(total_steps))
        self.warmup_steps = max(0, int(warmup_steps))
        self.final_fraction = float(final_fraction)
        self.warmup_start = float(warmup_start)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        peak = self.initial_learning_rate
        warm = float(max(self.warmup_steps, 1))
        warm_lr = peak * (self.warmup_start + (1.0 - self.warmup_start) * step / warm)
        decay_steps = float(max(self.total_steps - self.warmup_steps, 1))
        progress = ops.clip((step - self.warmup_steps) / decay_steps, 0.0, 1.0)
        cosine = 0.5 * (1.0 + ops.cos(math.pi * progress))
        decayed = peak * (self.final_fraction + (1.0 - self.final_fraction) * cosine)
        return ops.where(step < self.warmup_steps, warm_lr, decayed)

    def get_config(self) -> dict[str, Any]:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "total_steps": self.total_steps,
            "warmup_steps": self.warmup_steps,
            "final_fraction": self.final_fraction,
            "warmup_start": self.warmup_start,
        }


class AugmentedBatches(keras.utils.PyDataset):
    """Shuffled uint8 batches with an albumentations ``Compose`` applied per image.

    The order of epoch ``e`` and the augmentation of its batch ``i`` depend only on ``seed``,
    ``e`` and ``i`` (the Compose is re-seeded per batch), so two runs with one seed see the same
    batches, and a resumed run sees what an uninterrupted one would have.
    Runs in the training process (``workers=1``): the numbers stay reproducible.
    """

    def __init__(
        self,
        images: np.ndarray,
        targets: np.ndarray,
        batch_size: int,
        transform: Any | None = None,
        seed: int = 0,
        shuffle: bool = True,
        epoch: int = 0,
    ) -> None:
        super().__init__(workers=1, use_multiprocessing=False)
        if len(images) != len(targets):
            raise ValueError(f"{len(images)} images but {len(targets)} targets")
        if images.dtype != np.uint8:
            raise ValueError(f"images must be uint8, got {images.dtype}")
        self.images = images
        self.targets = targets
        self.batch_size = int(batch_size)
        self.transform = transform
        self.seed = int(seed)
        self.shuffle = shuffle
        self.set_epoch(epoch)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)
        rng = np.random.default_rng(self.seed + self.epoch)
        self.order = (
            rng.permutation(len(self.images)) if self.shuffle else np.arange(len(self.images))
        )

    def __len__(self) -> int:
        return math.ceil(len(self.images) / self.batch_size)

    def augment(self, image: np.ndarray) -> np.ndarray:
        with warnings.catch_warnings():
            # ToGray/ChannelShuffle on a grayscale crop are no-ops that warn.
            warnings.simplefilter("ignore", UserWarning)
            out = self.transform(image=image)["image"]
        out = np.asarray(out)
        if out.ndim == 2:
            out = out[:, :, None]
        if out.shape != image.shape or out.dtype != np.uint8:
            raise ValueError(
                f"augmentation changed the image from {image.shape} {image.dtype} to "
                f"{out.shape} {out.dtype}; transforms must keep size and uint8"
            )
        return out

    def __getitem__(self, index: int):
        rows = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        batch = self.images[rows]
        if self.transform is not None:
            # Seeded per (epoch, batch): independent of the order Keras asks for batches.
            self.transform.set_random_seed(self.seed + 1_000_003 * self.epoch + index)
            batch = np.stack([self.augment(image) for image in batch])
        return batch, self.targets[rows]

    def on_epoch_end(self) -> None:
        self.set_epoch(self.epoch + 1)


class MlflowEpochLogger(keras.callbacks.Callback):
    """Log every epoch's logs (loss, metrics, learning rate) to the active MLflow run."""

    def __init__(self, prefix: str = "") -> None:
        super().__init__()
        self.prefix = prefix

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        try:
            import mlflow
        except ImportError:  # pragma: no cover
            return
        if mlflow.active_run() is None or not logs:
            return
        values = {f"{self.prefix}{k}": float(v) for k, v in logs.items() if np.isscalar(v)}
        mlflow.log_metrics(values, step=epoch)


class LearningRateLogger(keras.callbacks.Callback):
    """Put the optimizer's current learning rate into the epoch logs as ``learning_rate``."""

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if logs is not None:
            logs["learning_rate"] = float(ops.convert_to_numpy(self.model.optimizer.learning_rate))


class ResumableCheckpoint(keras.callbacks.Callback):
    """Each epoch: save ``last.keras`` (weights and optimizer state) and ``state.json``
    (epoch done, history so far, best value) into ``directory``, atomically."""

    def __init__(
        self,
        directory: str | os.PathLike,
        history: dict[str, list[float]],
        fingerprint: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.directory = Path(directory)
        self.history = history
        self.fingerprint = fingerprint

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        for key, value in (logs or {}).items():
            if np.isscalar(value):
                self.history.setdefault(key, []).append(float(value))
        model_tmp = self.directory / "last.tmp.keras"
        self.model.save(model_tmp)
        os.replace(model_tmp, self.directory / "last.keras")
        state_tmp = self.directory / "state.tmp.json"
        state = {"epochs_done": epoch + 1, "history": self.history}
        if self.fingerprint is not None:
            state["fingerprint"] = self.fingerprint
        state_tmp.write_text(json.dumps(state))
        os.replace(state_tmp, self.directory / "state.json")


def run_fingerprint(recipe: dict[str, Any], arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """What a resumed run must share with the run that wrote the checkpoint: the recipe
    (JSON-normalised) and a SHA-256 of each training array (pixels and labels)."""
    digests = {}
    for name, array in sorted(arrays.items()):
        digest = hashlib.sha256(str((array.dtype, array.shape)).encode())
        if array.dtype == object:
            digest.update("\x00".join(map(str, array.ravel())).encode())
        else:
            digest.update(memoryview(np.ascontiguousarray(array)).cast("B"))
        digests[name] = digest.hexdigest()
    return json.loads(json.dumps({**recipe, "data": digests}, sort_keys=True))


def fingerprint_mismatch(
    saved: dict[str, Any], current: dict[str, Any], prefix: str = ""
) -> list[str]:
    """Dotted keys whose values differ between two fingerprints (``data.images``,
    ``model.row_context``)."""
    differing = []
    for key in sorted(set(saved) | set(current)):
        a, b = saved.get(key), current.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            differing += fingerprint_mismatch(a, b, f"{prefix}{key}.")
        elif a != b:
            differing.append(prefix + key)
    return differing


def check_plate_shapes(model: keras.Model, config: PlateConfig, source: str) -> None:
    """Raise unless ``model`` takes the plate config's input and gives its slot outputs."""
    expected_in = (None, config.img_height, config.img_width, config.num_channels)
    expected_out = (None, config.max_plate_slots, config.vocabulary_size)
    if tuple(model.input_shape) != expected_in or tuple(model.output_shape) != expected_out:
        raise ValueError(
            f"{source} takes {model.input_shape} and gives {model.output_shape}, which do not "
            f"match the plate config: {expected_in} -> {expected_out}"
        )


def read_checkpoint_state(directory: str | os.PathLike) -> dict[str, Any] | None:
    """The saved ``state.json`` when both it and ``last.keras`` exist, else ``None``."""
    directory = Path(directory)
    state, model = directory / "state.json", directory / "last.keras"
    if not (state.exists() and model.exists()):
        return None
    return json.loads(state.read_text())
