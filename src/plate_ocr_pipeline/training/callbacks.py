"""Keras callbacks of a training run: learning-rate logging and warm-up, MLflow epoch
metrics, and the per-epoch checkpoint that makes a run resumable."""

from __future__ import annotations

import logging
import time
from typing import Any

import keras
import numpy as np
from keras import ops

from plate_ocr_pipeline.training.checkpoints import CheckpointStore, random_states

logger = logging.getLogger(__name__)


def _duration(seconds: float) -> str:
    minutes, seconds = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{seconds:02d}s"


class BatchEpoch(keras.callbacks.Callback):
    """Sets the training batches to Keras' epoch number before each epoch: the batch order
    follows the epoch a run is at, including the first epoch of a resumed run."""

    def __init__(self, batches: Any) -> None:
        super().__init__()
        self.batches = batches

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.batches.set_epoch(epoch)


class StepProgress(keras.callbacks.Callback):
    """Every ``every`` steps, one log line: epoch, step, running loss, samples per second and
    the time left in the epoch and in the run. Epochs last minutes on a CPU; a log file
    should show the run is alive and when it will end."""

    def __init__(self, every: int, steps_per_epoch: int, epochs: int, batch_size: int) -> None:
        super().__init__()
        self.every, self.steps, self.epochs = int(every), int(steps_per_epoch), int(epochs)
        self.batch_size = int(batch_size)
        self._epoch, self._started = 0, time.perf_counter()
        self.lines: list[str] = []

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._epoch, self._started = epoch, time.perf_counter()

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        step = batch + 1
        if step % self.every and step != self.steps:
            return
        elapsed = time.perf_counter() - self._started
        per_step = elapsed / step
        epoch_left = per_step * (self.steps - step)
        run_left = epoch_left + per_step * self.steps * (self.epochs - self._epoch - 1)
        loss = (logs or {}).get("loss")
        line = (
            f"epoch {self._epoch + 1}/{self.epochs} step {step}/{self.steps} "
            f"({100 * step / self.steps:.0f}%)"
            + (f" loss {float(loss):.4f}" if loss is not None else "")
            + f", {self.batch_size / per_step:.0f} samples/s, epoch left {_duration(epoch_left)}"
            + f", run left ~{_duration(run_left)} (+ validation)"
        )
        self.lines.append(line)
        logger.info(line)


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


class LinearWarmup(keras.callbacks.Callback):
    """Linear warm-up to ``peak`` over ``warmup_steps`` for the plateau/constant schedules
    (the cosine schedule warms up by itself)."""

    def __init__(self, peak: float, warmup_steps: int) -> None:
        super().__init__()
        self.peak, self.warmup_steps = float(peak), int(warmup_steps)

    def on_train_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        step = int(self.model.optimizer.iterations.numpy())
        if step < self.warmup_steps:
            fraction = 0.1 + 0.9 * step / max(self.warmup_steps, 1)
            self.model.optimizer.learning_rate.assign(self.peak * fraction)
        elif step == self.warmup_steps:
            self.model.optimizer.learning_rate.assign(self.peak)


class _KeepsCounts:
    """A Keras callback whose counts (``COUNTS``) go into the checkpoint each epoch and come
    back after ``on_train_begin`` zeroes them, so a resumed run waits, stops and lowers the
    rate when an uninterrupted one would."""

    COUNTS: tuple[str, ...] = ()

    def counts(self) -> dict[str, Any]:
        return {name: _plain(getattr(self, name)) for name in self.COUNTS}

    def restore_counts(self, saved: dict[str, Any] | None) -> None:
        self._saved_counts = saved

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        super().on_train_begin(logs)  # the Keras callback's, which zeroes the counts
        for name, value in (getattr(self, "_saved_counts", None) or {}).items():
            setattr(self, name, value)


def _plain(value: Any) -> Any:
    return float(value) if isinstance(value, np.floating) else value


class ResumableEarlyStopping(_KeepsCounts, keras.callbacks.EarlyStopping):
    """``EarlyStopping`` that a resumed run continues: its wait, best value and best epoch,
    and the best epoch's weights (``restore_best_weights``), which the checkpoint keeps."""

    COUNTS = ("wait", "best", "best_epoch", "stopped_epoch")

    def restore(self, saved: dict[str, Any] | None, best_weights: list[np.ndarray] | None) -> None:
        self.restore_counts(saved)
        self._saved_best_weights = best_weights

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        super().on_train_begin(logs)
        if getattr(self, "_saved_best_weights", None) is not None:
            self.best_weights = self._saved_best_weights


class ResumablePlateau(_KeepsCounts, keras.callbacks.ReduceLROnPlateau):
    """``ReduceLROnPlateau`` that a resumed run continues (the rate itself is in the
    optimizer the checkpoint keeps)."""

    COUNTS = ("wait", "best", "cooldown_counter")


class EpochCheckpoint(keras.callbacks.Callback):
    """Each epoch: save the model (weights and optimizer state) and the state (epochs done,
    history so far, the dropout layers' random states, the counts of ``keeping``'s callbacks,
    the run's fingerprint) into ``store``; with early stopping's best weights, those too. It
    must come after the callbacks it keeps, which update their counts at the epoch's end."""

    def __init__(
        self,
        store: CheckpointStore,
        history: dict[str, list[float]],
        fingerprint: dict[str, Any] | None = None,
        keeping: dict[str, _KeepsCounts] | None = None,
    ) -> None:
        super().__init__()
        self.store = store
        self.history = history
        self.fingerprint = fingerprint
        self.keeping = keeping or {}

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        for key, value in (logs or {}).items():
            if np.isscalar(value):
                self.history.setdefault(key, []).append(float(value))
        state: dict[str, Any] = {
            "epochs_done": epoch + 1,
            "history": self.history,
            "random_states": [np.asarray(v).tolist() for v in random_states(self.model)],
        }
        if self.keeping:
            state["callbacks"] = {name: kept.counts() for name, kept in self.keeping.items()}
        best_weights = None
        stopping = self.keeping.get("early_stopping")
        if isinstance(stopping, ResumableEarlyStopping) and stopping.best_weights is not None:
            best_weights = (stopping.best_epoch, stopping.best_weights)
        if self.fingerprint is not None:
            state["fingerprint"] = self.fingerprint
        self.store.save(self.model, state, best_weights)
