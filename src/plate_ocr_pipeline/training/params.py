"""The training recipe's schema: every key of the ``train`` parameter section, checked when
a run starts, so a typo fails before any plate is rendered."""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

KerasBackend = Literal["tensorflow", "jax", "torch"]
KERAS_BACKENDS: tuple[str, ...] = get_args(KerasBackend)


# Knobs that only one model type's builder takes (``training.models``).
CNN_ONLY = ("filters", "head", "head_channels", "head_units", "row_context", "pool_sizes",
            "text_lines", "members")  # fmt: skip
CCT_ONLY = ("embed_dim", "num_heads", "mlp_ratio")
DEFAULT_CNN_STAGES = 4  # build_cnn_model's default filters


class ModelParams(BaseModel):
    """Knobs of ``plate_ocr_pipeline.training.models.build_model``; unset knobs keep the builder's
    defaults. ``cnn`` uses filters/stem_filters/head/head_channels, ``cct`` uses
    stem_filters (a list)/embed_dim/num_heads/mlp_ratio."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["cnn", "cct"] = "cnn"
    width_multiplier: float = Field(default=1.0, gt=0, le=8)
    depth: int | None = Field(default=None, ge=0, le=16)
    activation: Literal["relu", "relu6", "swish", "gelu", "leaky_relu", "hard_swish"] = "relu"
    dropout: float = Field(default=0.1, ge=0, lt=1)
    filters: list[int] | None = None
    stem_filters: int | list[int] | None = None
    stem_stride: int | None = Field(default=None, ge=1, le=4)
    head: Literal["ctc", "dense"] | None = None
    head_channels: int | None = Field(default=None, ge=1)
    head_units: int | None = Field(default=None, ge=1)
    row_context: int | None = Field(default=None, ge=0, le=64)
    pool_sizes: list[list[int]] | None = None
    text_lines: int | None = Field(default=None, ge=1, le=2)
    embed_dim: int | None = Field(default=None, ge=8)
    num_heads: int | None = Field(default=None, ge=1)
    mlp_ratio: float | None = Field(default=None, gt=0)
    # cnn with the ctc head: conv towers, one column head, read as their average
    members: int | None = Field(default=None, ge=1, le=8)

    @model_validator(mode="after")
    def _members_need_ctc(self) -> ModelParams:
        if (self.members or 1) > 1 and (self.type != "cnn" or self.head != "ctc"):
            raise ValueError(
                f"model.members={self.members} needs type cnn with head ctc, "
                f"not type {self.type} with head {self.head}"
            )
        return self

    @model_validator(mode="after")
    def _knobs_fit_the_type(self) -> ModelParams:
        # What the builder would only refuse after rendering and preprocessing.
        other = CCT_ONLY if self.type == "cnn" else CNN_ONLY
        foreign = sorted(k for k in other if getattr(self, k) is not None)
        if foreign:
            raise ValueError(f"model.type {self.type} takes no {', '.join(foreign)}")
        stem_is_list = isinstance(self.stem_filters, list)
        if self.stem_filters is not None and stem_is_list != (self.type == "cct"):
            want = "a list of channel counts" if self.type == "cct" else "one channel count"
            raise ValueError(f"model.stem_filters for type {self.type} is {want}")
        if self.type == "cnn" and self.depth is not None and self.depth < 1:
            raise ValueError(f"model.depth for type cnn must be at least 1, got {self.depth}")
        if self.filters is not None and (not self.filters or min(self.filters) < 1):
            raise ValueError(f"model.filters must be positive channel counts, got {self.filters}")
        if self.pool_sizes is not None:
            stages = len(self.filters) if self.filters is not None else DEFAULT_CNN_STAGES
            pairs = [p for p in self.pool_sizes if len(p) == 2 and min(p) >= 1]
            if len(pairs) != len(self.pool_sizes) or len(pairs) != stages - 1:
                raise ValueError(
                    f"model.pool_sizes needs {stages - 1} [height, width] pairs of positive "
                    f"integers (one per pooling between the {stages} stages), got "
                    f"{self.pool_sizes}"
                )
        return self

    def builder_kwargs(self) -> dict:
        """Keyword arguments for ``build_model`` (type excluded, unset knobs dropped; one
        member is every builder's default)."""
        kwargs = self.model_dump(exclude={"type"}, exclude_none=True)
        if kwargs.get("members") == 1:
            del kwargs["members"]
        return kwargs


class ReaderParams(BaseModel):
    """What is fitted on the trained model's frozen features before export
    (``training.reader``): a region head and a confidence temperature."""

    model_config = ConfigDict(extra="forbid")

    region_head: bool = True
    region_units: int = Field(default=64, ge=4)
    region_samples: int = Field(default=24000, ge=1)  # training crops, each augmented once
    region_epochs: int = Field(default=8, ge=1)
    region_balanced: bool = True  # every family weighs the same, whatever its share of the data
    calibrate: bool = True  # temperature chosen on the val split


class TrainParams(BaseModel):
    """One training run. ``start`` says what the catalog's ``starting_model`` is for:
    ``scratch`` ignores it, ``fine_tune`` trains it as it is, ``transfer`` builds ``model``
    and copies the starting model's same-named layers into it."""

    model_config = ConfigDict(extra="forbid")

    seed: int = 42
    model: ModelParams = ModelParams()
    start: Literal["scratch", "fine_tune", "transfer"] = "scratch"
    batch_size: int = Field(default=64, ge=1)
    epochs: int = Field(default=16, ge=1)
    learning_rate: float = Field(default=2e-3, gt=0)
    weight_decay: float = Field(default=1e-2, ge=0)
    warmup_epochs: float = Field(default=2, ge=0)
    lr_schedule: Literal["cosine", "plateau", "constant"] = "cosine"
    min_lr_fraction: float = Field(default=0.01, ge=0, le=1)
    label_smoothing: float = Field(default=0.05, ge=0, lt=1)
    early_stopping_patience: int | None = Field(default=12, ge=1)
    # Weights returned as their exponential moving average over the training steps (Polyak
    # averaging; Keras' optimizer option), this fraction kept per step; null: the last step's.
    # With it, early stopping only stops: restoring a best epoch would undo the average.
    # BatchNorm statistics are not averaged: they stay the last step's.
    ema_momentum: float | None = Field(default=None, gt=0, lt=1)
    reduce_lr_patience: int = Field(default=4, ge=1)
    # A metric the model is compiled with; a misspelt one would leave early stopping and the
    # best-epoch restore silently off (Keras only warns).
    monitor: Literal[
        "val_plate_acc", "val_cat_acc", "val_top_3_k", "val_loss",
        "plate_acc", "cat_acc", "top_3_k", "loss",
    ] = "val_plate_acc"  # fmt: skip
    augmentation: bool = True
    # Threads augmenting the next batches while the model trains; the run is the same with any.
    data_workers: int = Field(default=1, ge=1, le=16)
    # auto: continue an unfinished checkpoint of this same run, else start afresh; true: the
    # same, but a checkpoint of another run is an error; false: always start afresh.
    resume: bool | Literal["auto"] = "auto"
    checkpoint: bool = True  # save model + state every epoch (the catalog's training_checkpoint)
    deterministic: bool = True
    # mixed_bfloat16: bf16 compute with float32 weights (faster on CPUs with AVX-512 BF16);
    # the logits and what follows stay float32, and the model returned is a float32 copy.
    precision: Literal["float32", "mixed_bfloat16"] = "float32"
    # The Keras backend a `kedro run` trains on (set before Keras loads; training/backend.py);
    # None: whatever Keras loaded (KERAS_BACKEND).
    backend: KerasBackend | None = None
    verbose: Literal[0, 1, 2] = 2
    # A log line every this many steps (loss, samples/s, time left); null: only per epoch.
    progress_every_steps: int | None = Field(default=200, ge=1)

    @model_validator(mode="after")
    def _warmup_ends_before_training(self) -> TrainParams:
        # A warm-up as long as the run never reaches the peak's decay: no error, a bad model.
        if self.warmup_epochs and self.warmup_epochs >= self.epochs:
            raise ValueError(
                f"train.warmup_epochs ({self.warmup_epochs}) must be under train.epochs "
                f"({self.epochs})"
            )
        return self

    reader: ReaderParams = ReaderParams()

    @model_validator(mode="after")
    def _fine_tune_keeps_its_precision(self) -> TrainParams:
        # A fine-tuned model keeps the dtype policy it was saved with (float32).
        if self.start == "fine_tune" and self.precision != "float32":
            raise ValueError(
                f"train.precision={self.precision} needs a model built for it: with "
                "start=fine_tune the starting model trains as saved, in float32; use "
                "start=transfer (train.model seeded from it) or precision=float32"
            )
        return self


PARAMETER_SCHEMAS = {"train": TrainParams}
