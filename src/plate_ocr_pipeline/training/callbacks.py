"""Keras callbacks of a training run: learning-rate logging and warm-up, MLflow epoch
metrics, and the per-epoch checkpoint that makes a run resumable."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops

from plate_ocr_pipeline.training.checkpoints import CheckpointStore


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


class EpochCheckpoint(keras.callbacks.Callback):
    """Each epoch: save the model (weights and optimizer state) and the state (epochs done,
    history so far, the run's fingerprint) into ``store``."""

    def __init__(
        self,
        store: CheckpointStore,
        history: dict[str, list[float]],
        fingerprint: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.store = store
        self.history = history
        self.fingerprint = fingerprint

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        for key, value in (logs or {}).items():
            if np.isscalar(value):
                self.history.setdefault(key, []).append(float(value))
        state: dict[str, Any] = {"epochs_done": epoch + 1, "history": self.history}
        if self.fingerprint is not None:
            state["fingerprint"] = self.fingerprint
        self.store.save(self.model, state)
