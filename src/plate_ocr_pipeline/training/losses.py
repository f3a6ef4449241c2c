"""Keras losses, metrics and the learning-rate schedule every plate model trains with.

``plate_acc``/``cat_acc``/``top_3_k`` are fast-plate-ocr's metric definitions; a CTC head's
per-column logits train with ``CTCSlotLoss`` and report the same metrics through the greedy
decoding that the exported model uses.
"""

from __future__ import annotations

import math
from typing import Any

import keras
from keras import ops

from plate_ocr_pipeline.core.plate_config import PlateConfig

_PACKAGE = "plate_ocr_pipeline"
Tensor = Any  # a tensor of whichever backend Keras runs on (TensorFlow, JAX, torch)


@keras.saving.register_keras_serializable(package=_PACKAGE)
def plate_acc(y_true: Tensor, y_pred: Tensor) -> Tensor:
    """Per plate: 1 when every slot's argmax matches (pads included)."""
    hits = ops.equal(ops.argmax(y_true, axis=-1), ops.argmax(y_pred, axis=-1))
    return ops.cast(ops.all(hits, axis=-1), "float32")


@keras.saving.register_keras_serializable(package=_PACKAGE)
def cat_acc(y_true: Tensor, y_pred: Tensor) -> Tensor:
    """Per plate: fraction of slots whose argmax matches (pads included)."""
    hits = ops.equal(ops.argmax(y_true, axis=-1), ops.argmax(y_pred, axis=-1))
    return ops.mean(ops.cast(hits, "float32"), axis=-1)


@keras.saving.register_keras_serializable(package=_PACKAGE)
def top_3_k(y_true: Tensor, y_pred: Tensor) -> Tensor:
    """Per plate: fraction of slots whose truth is among the 3 most probable classes."""
    truth = ops.argmax(y_true, axis=-1)
    top = ops.top_k(y_pred, k=3)[1]
    hits = ops.any(ops.equal(top, ops.expand_dims(ops.cast(truth, top.dtype), -1)), axis=-1)
    return ops.mean(ops.cast(hits, "float32"), axis=-1)


SLOT_METRICS = {"plate_acc": plate_acc, "cat_acc": cat_acc, "top_3_k": top_3_k}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class CTCSlotLoss(keras.losses.Loss):
    """CTC loss of per-column logits against the one-hot slot targets every model trains on
    (the label is the slots' argmax up to the first pad; the pad is CTC's blank).

    For an ensemble's stacked logits ``(batch, members, columns, vocab)``: each member's
    loss plus the loss of their average (``average_members``), which is what is read.
    Members trained alone each read well but put a character's spike in their own column,
    or a one-row plate in their own text line, and their average then reads blanks; the
    average's loss makes them agree where."""

    def __init__(self, blank_index: int, name: str = "ctc_slot_loss", **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.blank_index = int(blank_index)

    def _ctc(self, labels, logits):
        label_length = ops.sum(ops.cast(ops.not_equal(labels, self.blank_index), "int32"), -1)
        batch, columns = ops.shape(logits)[0], ops.shape(logits)[1]
        column_length = ops.full((batch,), columns, dtype="int32")
        return ops.ctc_loss(labels, logits, label_length, column_length, self.blank_index)

    def call(self, y_true: Tensor, y_pred: Tensor) -> Tensor:
        from plate_ocr_pipeline.training.models import average_members

        labels = ops.argmax(y_true, axis=-1)
        if len(y_pred.shape) != 4:
            return self._ctc(labels, y_pred)
        members = y_pred.shape[1]
        # Row b*members + m is member m's reading of crop b.
        each = self._ctc(
            ops.repeat(labels, members, axis=0), ops.reshape(y_pred, (-1, *y_pred.shape[2:]))
        )
        members_loss = ops.sum(ops.reshape(each, (-1, members)), axis=1)
        return members_loss + self._ctc(labels, average_members(y_pred))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "blank_index": self.blank_index}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class CTCSlotMetric(keras.metrics.MeanMetricWrapper):
    """A slot metric (``plate_acc``, ``cat_acc``, ``top_3_k``) of per-column logits, read
    through the same greedy decoding as the exported model, so a CTC run's logs and
    ``monitor`` mean what a slot model's do (an ensemble's: its members' average)."""

    def __init__(self, metric: str, slots: int, blank_index: int, **kwargs: Any) -> None:
        from plate_ocr_pipeline.training.models import average_members, ctc_greedy_slots

        if metric not in SLOT_METRICS:
            raise ValueError(f"metric {metric!r} is not one of {sorted(SLOT_METRICS)}")

        def decoded_metric(y_true, y_pred):
            if len(y_pred.shape) == 4:
                y_pred = average_members(y_pred)
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


def loss_and_metrics(
    model: keras.Model, config: PlateConfig, label_smoothing: float
) -> tuple[keras.losses.Loss, list[Any]]:
    """The loss and the ``plate_acc``/``cat_acc``/``top_3_k`` metrics to compile ``model``
    with: cross-entropy per slot, or CTC when ``model`` is a CTC head's column view (the
    metrics then read its greedy decoding, under the same names)."""
    from plate_ocr_pipeline.training.models import is_column_view

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

    def __call__(self, step: Tensor | int) -> Tensor:
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
