"""Keras 3 model builders for multi-head plate OCR.

Every model takes the preprocessed crop as ``uint8`` NHWC (``(H, W, C)`` from the plate
config), normalises inside the graph (cast + ``Rescaling(1/255)``) and returns per-slot
softmax probabilities ``(batch, max_plate_slots, vocabulary_size)``. Keeping normalisation in
the graph means the exported ONNX file takes the exact array that ``preprocess_image`` makes.

Two families, both built from plain parameters (``build_model(config, **params)``):

- ``cnn``: conv blocks (Conv + BatchNorm + activation, max-pooling between stages) with a
  ``ctc`` head (the shipped one: logits per column of the last map, trained with CTC through
  ``column_logits_view`` and decoded greedily into the slots inside the graph by
  ``CTCGreedySlots``, so its outputs look like every other model's) or a ``dense`` head, as
  fast-plate-ocr's CNNs have (1x1 channel squeeze, flatten, one Dense over all slots).
- ``cct``: compact convolutional transformer: conv stem, a few pre-norm transformer blocks
  over the feature-map tokens, then learned slot queries that cross-attend to the tokens.
  GELU uses the tanh approximation (exact GELU exports as ``Erf``/``Erfc``, which tf2onnx
  cannot map).

The logits and everything after them are float32 layers whatever the dtype policy: under
``mixed_bfloat16`` the body computes in bf16 while the CTC loss and the decoding see float32.

Size knobs: ``width_multiplier`` scales every channel count, ``depth`` is the number of conv
layers per stage (cnn) or transformer blocks (cct). ``members`` (cnn with the ctc head) builds
that many conv towers on one input, read by one column head, each tower's reading trained
by its own CTC loss and their average by one more (``training_view``), and reads their
average: one file, one pass, some of the steadiness of an ensemble.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import keras
from keras import layers, ops

from plate_ocr_pipeline.core.plate_config import PlateConfig

if TYPE_CHECKING:
    from plate_ocr_pipeline.training.losses import Tensor

MODEL_TYPES = ("cnn", "cct")
CNN_HEADS = ("ctc", "dense")
COLUMN_LOGITS_LAYER = "column_logits"
MEMBER_LOGITS_LAYER = "member_logits"  # an ensemble's members' logits, stacked on axis 1
SHARED_HEAD_LOGITS = "shared_column_logits"  # an ensemble's head, which every member's map reads
ACTIVATIONS = ("relu", "relu6", "swish", "gelu", "leaky_relu", "hard_swish")

_PACKAGE = "plate_ocr_pipeline"


def _scaled(channels: int, width_multiplier: float, divisor: int = 8) -> int:
    """Scale a channel count and round to a multiple of ``divisor`` (at least ``divisor``)."""
    value = channels * width_multiplier
    return max(divisor, int(value + divisor / 2) // divisor * divisor)


def _activation(name: str, label: str) -> layers.Layer:
    if name == "gelu":
        # tanh approximation: exports to ONNX without Erf/Erfc.
        return layers.Activation(gelu_approximate, name=label)
    if name == "leaky_relu":
        return layers.LeakyReLU(negative_slope=0.1, name=label)
    if name == "relu6":
        return layers.ReLU(max_value=6.0, name=label)
    if name == "hard_swish":
        return layers.Activation("hard_swish", name=label)
    if name in ("relu", "swish"):
        return layers.Activation(name, name=label)
    raise ValueError(f"activation {name!r} is not one of {ACTIVATIONS}")


@keras.saving.register_keras_serializable(package=_PACKAGE)
def gelu_approximate(x: Tensor) -> Tensor:
    """GELU, tanh approximation (ONNX-exportable)."""
    return keras.activations.gelu(x, approximate=True)


def _input_block(config: PlateConfig) -> tuple[keras.KerasTensor, keras.KerasTensor]:
    inputs = keras.Input(
        shape=config.input_shape,
        dtype="uint8",
        name="input",
    )
    x = layers.Rescaling(1.0 / 255.0, name="normalise")(ops.cast(inputs, "float32"))
    return inputs, x


def _conv_bn_act(
    x, filters: int, kernel: int | tuple[int, int], activation: str, name: str, strides: int = 1
):
    x = layers.Conv2D(
        filters, kernel, strides=strides, padding="same", use_bias=False, name=f"{name}_conv"
    )(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return _activation(activation, f"{name}_act")(x)


def _slot_softmax(x, config: PlateConfig):
    x = layers.Reshape(
        (config.max_plate_slots, config.vocabulary_size), name="slots", dtype="float32"
    )(x)
    return layers.Softmax(axis=-1, name="plate", dtype="float32")(x)


def build_cnn_model(
    config: PlateConfig,
    *,
    width_multiplier: float = 1.0,
    depth: int = 1,
    filters: Sequence[int] = (16, 48, 96, 128),
    stem_filters: int = 16,
    stem_stride: int = 2,
    activation: str = "relu",
    head: str = "dense",
    head_channels: int = 32,
    head_units: int = 512,
    row_context: int = 0,
    pool_sizes: Sequence[Sequence[int]] | None = None,
    text_lines: int = 1,
    dropout: float = 0.1,
    members: int = 1,
    name: str = "cnn_ocr",
) -> keras.Model:
    """Multi-head CNN in the spirit of fast-plate-ocr's ``cnn_ocr_model``.

    A strided stem conv, then one stage per entry of ``filters`` (``depth`` Conv-BN-act
    layers each, one in the first, highest-resolution stage) with 2x2 max-pooling between
    stages. The ``ctc`` head gives each column of the last map a hidden layer of
    ``head_units`` and logits over the alphabet (the pad is CTC's blank), then decodes them
    greedily into the slots; it needs more columns than characters (``pool_sizes``
    ``[[2, 2], [2, 1], [2, 1]]`` keeps 32). The ``dense`` head squeezes channels to
    ``head_channels`` with a 1x1 conv, flattens (so each slot sees where the characters are)
    and predicts every slot with one Dense layer.

    ``row_context`` > 0 adds a Conv-BN-act with a ``(1, row_context)`` kernel after the last
    stage. At the default size the last map is 8 columns wide and each column sees about 63 of
    the 128 input pixels, so a character in the middle cannot see where the text starts; a
    kernel as wide as the map lets every column count the characters to its left.

    ``pool_sizes`` gives the ``(height, width)`` of each pooling between stages (default 2x2
    everywhere). ``[[2, 2], [2, 2], [2, 1]]`` keeps 16 columns in the last stage instead of 8:
    about one column per half character, so each slot can find its character's edges.

    ``text_lines`` (``ctc`` head only) is how many rows of text the head can read. With 2,
    each text line gets its own hidden layer and logits over the same columns, and the
    lines' columns are joined top line first: CTC reads a two-row plate top row then bottom
    row, and a one-row plate leaves one line blank.

    ``members`` > 1 (``ctc`` head only) builds that many such conv towers, layer names
    prefixed ``member{i}_``, from one input, whose last maps one column head reads (with a
    head each, members put a character in columns and lines of their own, and their average
    reads blanks). Their column logits are stacked (``member_logits``, what
    the members' CTC losses and their average's train) and averaged as probabilities
    (``column_logits``, what the decoding, the temperature and the export read).
    """
    if depth < 1:
        raise ValueError(f"depth must be at least 1, got {depth}")
    pools = [(2, 2)] * (len(filters) - 1) if pool_sizes is None else [tuple(p) for p in pool_sizes]
    if len(pools) != len(filters) - 1 or any(len(p) != 2 or min(p) < 1 for p in pools):
        raise ValueError(
            f"pool_sizes needs {len(filters) - 1} [height, width] pairs of positive integers"
            f" (one per pooling between the {len(filters)} stages), got {pool_sizes}"
        )
    if head not in CNN_HEADS:
        raise ValueError(f"head {head!r} is not one of {CNN_HEADS}")
    if text_lines not in (1, 2):
        raise ValueError(f"text_lines must be 1 or 2, got {text_lines}")
    if text_lines > 1 and head != "ctc":
        raise ValueError(f"text_lines={text_lines} needs the ctc head, not {head!r}")
    if members < 1 or (members > 1 and head != "ctc"):
        raise ValueError(f"members={members} needs a positive count and, above 1, the ctc head")
    inputs, normalised = _input_block(config)

    def tower(prefix: str):
        x = _conv_bn_act(
            normalised, _scaled(stem_filters, width_multiplier), 3, activation,
            f"{prefix}stem", stem_stride,
        )  # fmt: skip
        for stage, base in enumerate(filters):
            channels = _scaled(base, width_multiplier)
            # The first stage runs at the highest resolution: one conv there keeps it fast.
            for layer in range(1 if stage == 0 else depth):
                x = _conv_bn_act(x, channels, 3, activation, f"{prefix}stage{stage}_{layer}")
            if stage < len(filters) - 1:
                x = layers.MaxPooling2D(pools[stage], name=f"{prefix}stage{stage}_pool")(x)
        if row_context:
            x = _conv_bn_act(x, x.shape[-1], (1, row_context), activation, f"{prefix}row_context")
        return x

    if head == "ctc":
        if members == 1:
            read = _ctc_head(config, head_units, activation, dropout, text_lines)
            logits = read(tower(""))
        else:
            read = _ctc_head(
                config, head_units, activation, dropout, text_lines, SHARED_HEAD_LOGITS
            )
            stacked = StackMembers(name=MEMBER_LOGITS_LAYER, dtype="float32")(
                [read(tower(f"member{i}_")) for i in range(members)]
            )
            logits = MemberAverage(name=COLUMN_LOGITS_LAYER, dtype="float32")(stacked)
        return keras.Model(inputs, ctc_decoding(config)(logits), name=name)
    x = tower("")
    x = _conv_bn_act(x, _scaled(head_channels, width_multiplier), 1, activation, "squeeze")
    x = layers.Flatten(name="flatten")(x)
    if dropout:
        x = layers.Dropout(dropout, name="head_dropout")(x)
    x = layers.Dense(
        config.max_plate_slots * config.vocabulary_size, name="head_dense", dtype="float32"
    )(x)
    return keras.Model(inputs, _slot_softmax(x, config), name=name)


def _ctc_head(
    config: PlateConfig,
    hidden_units: int,
    activation: str,
    dropout: float,
    text_lines: int,
    logits_name: str = COLUMN_LOGITS_LAYER,
):
    """A function from a last map to per-column logits over the alphabet, the pad doubling
    as CTC's blank (the last layer named ``logits_name``). With two text lines, each line
    reads all columns with its own layers and the lines are joined along the column axis,
    top line first. Its layers are made once: every map it reads shares them (an
    ensemble's members, so that they put a character in the same column and line)."""
    made: dict[str, layers.Layer] = {}

    def layer(name: str, make) -> layers.Layer:
        if name not in made:
            made[name] = make(name)
        return made[name]

    def read(x):
        rows, columns, channels = x.shape[1:]
        x = layer("columns_first", lambda n: layers.Permute((2, 1, 3), name=n))(x)
        features = layer(
            "column_features", lambda n: layers.Reshape((columns, rows * channels), name=n)
        )(x)
        if text_lines == 1:
            x = layer("column_hidden", lambda n: layers.Dense(hidden_units, name=n))(features)
            x = layer("column_hidden_act", lambda n: _activation(activation, n))(x)
            if dropout:
                x = layer("head_dropout", lambda n: layers.Dropout(dropout, name=n))(x)
            vocab = config.vocabulary_size
            return layer(logits_name, lambda n: layers.Dense(vocab, name=n, dtype="float32"))(x)
        per_line = []
        for line in range(text_lines):
            x = layer(f"line{line}_hidden", lambda n: layers.Dense(hidden_units, name=n))(features)
            x = layer(f"line{line}_hidden_act", lambda n: _activation(activation, n))(x)
            if dropout:
                x = layer(f"line{line}_dropout", lambda n: layers.Dropout(dropout, name=n))(x)
            per_line.append(
                layer(
                    f"line{line}_logits",
                    lambda n: layers.Dense(config.vocabulary_size, name=n, dtype="float32"),
                )(x)
            )
        join = layer(logits_name, lambda n: layers.Concatenate(axis=1, name=n, dtype="float32"))
        return join(per_line)

    return read


def average_members(stacked: Tensor) -> Tensor:
    """``(batch, members, columns, vocab)`` logits to the log of the members' mean column
    probabilities ``(batch, columns, vocab)``: logits whose softmax is that mean."""
    log_probabilities = ops.log_softmax(stacked, axis=-1)
    return ops.logsumexp(log_probabilities, axis=1) - ops.log(float(stacked.shape[1]))


@keras.saving.register_keras_serializable(package=_PACKAGE)
class StackMembers(layers.Layer):
    """The members' column logits, stacked on a new axis 1."""

    def call(self, member_logits: list[Tensor]) -> Tensor:
        return ops.stack(member_logits, axis=1)

    def compute_output_shape(self, input_shape: list[tuple]) -> tuple:
        first = input_shape[0]
        return (first[0], len(input_shape), *first[1:])


@keras.saving.register_keras_serializable(package=_PACKAGE)
class MemberAverage(layers.Layer):
    """Stacked members' logits to one set of column logits (``average_members``)."""

    def call(self, stacked: Tensor) -> Tensor:
        return average_members(stacked)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (input_shape[0], *input_shape[2:])


@keras.saving.register_keras_serializable(package=_PACKAGE)
class CTCGreedySlots(layers.Layer):
    """Greedy CTC decoding inside the graph: per-column logits ``(batch, columns, vocab)`` to
    the slot probabilities every other model gives ``(batch, slots, vocab)``.

    A column emits when its most probable class is not the blank (the pad) and differs from
    the previous column's; the k-th emission fills slot k with that column's softmax, so the
    per-character confidence is the emitting column's. Slots past the last emission hold a
    certain pad; emissions past the last slot are dropped. Only argmax, comparisons, cumsum
    and matmul: it exports to ONNX, and downstream code cannot tell it from a slot head.
    """

    def __init__(self, slots: int, blank_index: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.slots = int(slots)
        self.blank_index = int(blank_index)

    def call(self, logits: Tensor) -> Tensor:
        return ctc_greedy_slots(logits, self.slots, self.blank_index)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (input_shape[0], self.slots, input_shape[-1])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "slots": self.slots, "blank_index": self.blank_index}


def ctc_greedy_slots(logits: Tensor, slots: int, blank_index: int) -> Tensor:
    """Greedy CTC decoding of ``(batch, columns, vocab)`` logits into ``(batch, slots, vocab)``
    slot probabilities (see ``CTCGreedySlots``)."""
    probabilities = ops.softmax(logits, axis=-1)
    dtype = probabilities.dtype
    # Each column's best class one-hot, first one on ties. Not ops.argmax: Keras' float
    # argmax uses Bitcast, which ONNX lacks.
    best = ops.cast(ops.equal(logits, ops.max(logits, axis=-1, keepdims=True)), dtype)
    best = best * ops.cast(ops.equal(ops.cumsum(best, axis=-1), 1.0), dtype)
    previous = ops.concatenate([ops.zeros_like(best[:, :1]), best[:, :-1]], axis=1)
    repeats = ops.sum(best * previous, axis=-1)
    emits = (1.0 - best[:, :, blank_index]) * (1.0 - repeats)
    position = ops.cumsum(emits, axis=1) - 1.0
    slot_ids = ops.cast(ops.arange(slots), dtype)
    # (batch, columns, slots): 1 where a column emits the character of that slot.
    assignment = ops.cast(ops.equal(ops.expand_dims(position, -1), slot_ids), dtype)
    assignment = assignment * ops.expand_dims(emits, -1)
    filled = ops.matmul(ops.transpose(assignment, (0, 2, 1)), probabilities)
    empty = 1.0 - ops.sum(assignment, axis=1)
    pad = ops.cast(ops.equal(ops.arange(probabilities.shape[-1]), blank_index), filled.dtype)
    return filled + ops.expand_dims(empty, -1) * pad


def ctc_decoding(config: PlateConfig) -> CTCGreedySlots:
    """The greedy decoding layer for ``config``'s slots, named like every model's output."""
    return CTCGreedySlots(config.max_plate_slots, config.pad_index, name="plate", dtype="float32")


def has_ctc_head(model: keras.Model) -> bool:
    """Whether ``model`` has per-column logits (a CTC head, its column view or an
    ensemble's training view)."""
    return any(layer.name in (COLUMN_LOGITS_LAYER, MEMBER_LOGITS_LAYER) for layer in model.layers)


def is_column_view(model: keras.Model) -> bool:
    """Whether ``model`` ends in per-column logits, or an ensemble's stacked members' logits:
    what a CTC run trains and checkpoints."""
    return model.layers[-1].name in (COLUMN_LOGITS_LAYER, MEMBER_LOGITS_LAYER)


def column_logits_view(model: keras.Model) -> keras.Model | None:
    """The model from the input to a CTC head's per-column logits (sharing weights), or
    ``None`` when ``model`` has no CTC head."""
    if not has_ctc_head(model):
        return None
    names = {layer.name for layer in model.layers}
    if COLUMN_LOGITS_LAYER in names:
        logits = model.get_layer(COLUMN_LOGITS_LAYER).output
    else:  # an ensemble's training view: its members' average
        stacked = model.get_layer(MEMBER_LOGITS_LAYER).output
        logits = MemberAverage(name=COLUMN_LOGITS_LAYER, dtype="float32")(stacked)
    return keras.Model(model.input, logits, name=f"{model.name}_columns")


def training_view(model: keras.Model) -> keras.Model | None:
    """What a CTC run trains: an ensemble's stacked members' logits (each member's CTC loss
    and their average's), else the column view; ``None`` without a CTC head."""
    if not any(layer.name == MEMBER_LOGITS_LAYER for layer in model.layers):
        return column_logits_view(model)
    layer = model.get_layer(MEMBER_LOGITS_LAYER)
    return keras.Model(model.input, layer.output, name=f"{model.name}_members")


def as_slot_model(model: keras.Model, config: PlateConfig) -> keras.Model:
    """``model`` itself, or, for a column view (or an ensemble's training view), the same
    weights with the greedy slot decoding on top (named as the model it was cut from)."""
    if not is_column_view(model):
        return model
    logits = column_logits_view(model).output  # an ensemble's: its members' average
    name = model.name.removesuffix("_columns").removesuffix("_members")
    return keras.Model(model.input, ctc_decoding(config)(logits), name=name)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class LearnedEmbedding(layers.Layer):
    """A learned ``(length, dim)`` table, either added to the input (positions) or broadcast
    over the batch as a new sequence (slot queries)."""

    def __init__(self, length: int, dim: int, mode: str = "add", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if mode not in ("add", "broadcast"):
            raise ValueError(f"mode {mode!r} is not one of ('add', 'broadcast')")
        self.length = length
        self.dim = dim
        self.mode = mode

    def build(self, input_shape: tuple) -> None:
        self.table = self.add_weight(
            name="table",
            shape=(self.length, self.dim),
            initializer=keras.initializers.TruncatedNormal(stddev=0.02),
        )

    def call(self, inputs: Tensor) -> Tensor:
        table = ops.expand_dims(self.table, 0)
        if self.mode == "add":
            return inputs + ops.cast(table, inputs.dtype)
        # Multiply by ones shaped like the batch: a broadcast that every exporter handles.
        ones = ops.ones_like(inputs[:, :1, :1])
        return ones * ops.cast(table, ones.dtype)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        if self.mode == "add":
            return input_shape
        return (input_shape[0], self.length, self.dim)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "length": self.length, "dim": self.dim, "mode": self.mode}


def _transformer_block(x, dim: int, heads: int, mlp_ratio: float, dropout: float, name: str):
    y = layers.LayerNormalization(epsilon=1e-5, name=f"{name}_ln1")(x)
    y = layers.MultiHeadAttention(heads, dim // heads, dropout=dropout, name=f"{name}_attn")(y, y)
    x = layers.Add(name=f"{name}_res1")([x, y])
    y = layers.LayerNormalization(epsilon=1e-5, name=f"{name}_ln2")(x)
    y = layers.Dense(int(dim * mlp_ratio), name=f"{name}_mlp1")(y)
    y = _activation("gelu", f"{name}_gelu")(y)
    if dropout:
        y = layers.Dropout(dropout, name=f"{name}_drop")(y)
    y = layers.Dense(dim, name=f"{name}_mlp2")(y)
    return layers.Add(name=f"{name}_res2")([x, y])


def build_cct_model(
    config: PlateConfig,
    *,
    width_multiplier: float = 1.0,
    depth: int = 2,
    stem_filters: Sequence[int] = (16, 32, 64),
    stem_stride: int = 2,
    embed_dim: int = 64,
    num_heads: int = 2,
    mlp_ratio: float = 2.0,
    activation: str = "relu",
    dropout: float = 0.1,
    name: str = "cct_ocr",
) -> keras.Model:
    """Compact convolutional transformer with learned slot queries.

    Conv stem (a strided Conv-BN-act, then Conv-BN-act + 2x2 max-pool per further stage, so
    three stages take 64x128 to 8x16 tokens), learned position embeddings, ``depth`` pre-norm transformer blocks, then one
    learned query per slot cross-attends to the tokens and a shared Dense classifies each slot.
    """
    if depth < 0:
        raise ValueError(f"depth must be at least 0, got {depth}")
    dim = _scaled(embed_dim, width_multiplier, divisor=num_heads * 8)
    inputs, x = _input_block(config)
    for stage, base in enumerate(stem_filters):
        channels = _scaled(base, width_multiplier)
        if stage == 0 and stem_stride > 1:
            # Strided first conv instead of conv + pool at full resolution.
            x = _conv_bn_act(x, channels, 3, activation, f"stem{stage}", strides=stem_stride)
            continue
        x = _conv_bn_act(x, channels, 3, activation, f"stem{stage}")
        x = layers.MaxPooling2D(2, name=f"stem{stage}_pool")(x)
    x = layers.Conv2D(dim, 1, name="tokens_proj")(x)
    height, width = x.shape[1], x.shape[2]
    x = layers.Reshape((height * width, dim), name="tokens")(x)
    x = LearnedEmbedding(height * width, dim, mode="add", name="position")(x)
    for block in range(depth):
        x = _transformer_block(x, dim, num_heads, mlp_ratio, dropout, f"block{block}")
    memory = layers.LayerNormalization(epsilon=1e-5, name="memory_ln")(x)

    queries = LearnedEmbedding(config.max_plate_slots, dim, mode="broadcast", name="slot_queries")(
        memory
    )
    attended = layers.MultiHeadAttention(num_heads, dim // num_heads, name="slot_attn")(
        queries, memory
    )
    y = layers.Add(name="slot_res")([queries, attended])
    y = layers.LayerNormalization(epsilon=1e-5, name="slot_ln")(y)
    y = layers.Dense(int(dim * mlp_ratio), name="slot_mlp")(y)
    y = _activation("gelu", "slot_gelu")(y)
    if dropout:
        y = layers.Dropout(dropout, name="slot_drop")(y)
    y = layers.Dense(config.vocabulary_size, name="slot_logits", dtype="float32")(y)
    return keras.Model(inputs, _slot_softmax(y, config), name=name)


def build_model(config: PlateConfig, model_type: str = "cnn", **params: Any) -> keras.Model:
    """Build a model by type name with its knobs as keyword arguments."""
    if model_type == "cnn":
        return build_cnn_model(config, **params)
    if model_type == "cct":
        return build_cct_model(config, **params)
    raise ValueError(f"model type {model_type!r} is not one of {MODEL_TYPES}")
