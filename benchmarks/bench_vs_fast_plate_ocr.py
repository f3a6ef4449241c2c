"""Batch-1 CPU latency of our ONNX model beside fast-plate-ocr's ``cct_xs_v1`` architecture,
measured side by side in one process with onnxruntime.

    .venv/bin/python benchmarks/bench_vs_fast_plate_ocr.py [--model PATH] [--runs 300]
        [--warmup 50] [--threads 1] [--save-cct-onnx PATH]

Ours: the ONNX file given by ``--model`` (default ``src/plate_ocr_pipeline/assets/models/
default.onnx`` if it exists, else ``data/06_models/model.onnx``): uint8 NHWC input, shape read
from the graph, dynamic batch.

Theirs: the ``cct_xs_v1`` architecture, untrained (random weights; this is about speed only),
built with fast-plate-ocr's own model builder from its model config, wrapped with a uint8 NHWC
input like its published ONNX files, and exported with tf2onnx. Exact GELU exports as
``Erf``/``Erfc``, which tf2onnx cannot map, so every GELU Dense is switched to the tanh
approximation before export (same layers, same weights, same parameter count).

fast-plate-ocr is an optional comparison and not a project dependency:

    .venv/bin/pip install --no-deps fast-plate-ocr==1.1.0

Both sessions use the CPU provider, ``--threads`` intra-op threads (default 1), one inter-op
thread and sequential execution. After warm-up, the two models run in alternating rounds (the
order flips every round) so that load from other processes on a shared machine hits both
alike. Absolute times vary run to run here: compare the ratios.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODELS = (
    ROOT / "src/plate_ocr_pipeline/assets/models/default.onnx",
    ROOT / "data/06_models/model.onnx",
)
INSTALL_HINT = ".venv/bin/pip install --no-deps fast-plate-ocr==1.1.0"

# fast-plate-ocr's cct_xs_v1 model config, as data. Source: GitHub ankandrew/fast-plate-ocr,
# file models/cct_xs_v1.yaml (commit ba92187c06ab1180cce0a6f4135e336ceddb15c9). The config
# file is not shipped in the wheel; field names follow fast_plate_ocr.train.model.model_schema.
CCT_XS_V1_MODEL_CONFIG = {
    "model": "cct",
    "rescaling": {"scale": 0.00392156862745098, "offset": 0.0},
    "tokenizer": {
        "blocks": [
            {"layer": "Conv2D", "filters": 32, "kernel_size": 3, "strides": 1,
             "padding": "valid", "activation": "relu", "use_bias": True},
            {"layer": "MaxBlurPooling2D", "pool_size": 2, "filter_size": 3},
            {"layer": "Conv2D", "filters": 48, "kernel_size": 3, "strides": 1,
             "padding": "valid", "activation": "relu", "use_bias": True},
            {"layer": "Conv2D", "filters": 64, "kernel_size": 3, "strides": 1,
             "padding": "valid", "activation": "relu", "use_bias": True},
            {"layer": "MaxBlurPooling2D", "pool_size": 2, "filter_size": 3},
            {"layer": "Conv2D", "filters": 80, "kernel_size": 3, "strides": 1,
             "padding": "valid", "activation": "relu", "use_bias": True},
            {"layer": "Conv2D", "filters": 96, "kernel_size": 3, "strides": 1,
             "padding": "valid", "activation": "relu", "use_bias": True},
        ],
        "positional_emb": True,
        "patch_size": 2,
        "patch_mlp": {"layer": "MLP", "hidden_units": [64], "activation": "gelu",
                      "dropout_rate": 0.05},
    },
    "transformer_encoder": {
        "layers": 4,
        "heads": 1,
        "projection_dim": 64,
        "units": [64, 64],
        "activation": "gelu",
        "stochastic_depth": 0.05,
        "attention_dropout": 0.05,
        "mlp_dropout": 0.1,
        "head_mlp_dropout": 0.05,
        "token_reducer_heads": 4,
        "normalization": "dyt",
    },
}  # fmt: skip

# The plate config the cct_xs_v1 architecture is trained with: GitHub ankandrew/fast-plate-ocr,
# config/default_latin_plate_config.yaml (commit 9cea93b068b6523da95f0adf3399ca65c9f06480):
# 9 slots, 37-character alphabet, 64x128 RGB. Its published cct_xs_v1_global model reads the
# same 64x128x3 uint8 NHWC input.
CCT_XS_V1_PLATE_CONFIG = {
    "max_plate_slots": 9,
    "alphabet": "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_",
    "pad_char": "_",
    "img_height": 64,
    "img_width": 128,
    "keep_aspect_ratio": False,
    "interpolation": "linear",
    "image_color_mode": "rgb",
}

ONNX_OPSET = 17


@dataclass
class Candidate:
    """One model under test: its ONNX bytes and what the table prints about it."""

    label: str
    model_bytes: bytes
    source: str
    params: int
    session: ort.InferenceSession | None = None
    feed: dict[str, np.ndarray] | None = None
    times_ms: list[float] | None = None

    @property
    def input_shape(self) -> str:
        arg = self.session.get_inputs()[0]
        dims = "x".join(str(d) if isinstance(d, int) else "N" for d in arg.shape)
        return f"{dims} {arg.type.removeprefix('tensor(').removesuffix(')')}"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=None, help="our ONNX model")
    parser.add_argument("--runs", type=int, default=300, help="timed runs per model")
    parser.add_argument("--warmup", type=int, default=50, help="untimed runs per model first")
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime intra-op threads")
    parser.add_argument(
        "--save-cct-onnx", type=Path, default=None, help="also write the exported cct_xs_v1 here"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.runs < 1 or args.warmup < 0 or args.threads < 1:
        parser.error("--runs and --threads must be >= 1, --warmup >= 0")
    if args.model is None:
        args.model = next((path for path in DEFAULT_MODELS if path.is_file()), None)
        if args.model is None:
            parser.error(
                "no --model given and none of the defaults exists: "
                + ", ".join(str(p.relative_to(ROOT)) for p in DEFAULT_MODELS)
            )
    elif not args.model.is_file():
        parser.error(f"--model {args.model} does not exist")
    return args


def import_fast_plate_ocr():
    """The fast-plate-ocr training modules, or None (with the reason) when not importable."""
    try:
        builders = importlib.import_module("fast_plate_ocr.train.model.model_builders")
        config = importlib.import_module("fast_plate_ocr.train.model.config")
        schema = importlib.import_module("fast_plate_ocr.train.model.model_schema")
        version = importlib.import_module("importlib.metadata").version("fast-plate-ocr")
    except ImportError as error:
        return None, f"{type(error).__name__}: {error}"
    return (builders, config, schema, version), ""


# Which inputs of ONNX's quantised operators hold data (a weight once it is an initializer);
# their other inputs are scales and zero points.
QUANTISED_OPERANDS = {
    "QuantizeLinear": (0,),
    "DequantizeLinear": (0,),
    "QLinearConv": (0, 3, 8),
    "QLinearMatMul": (0, 3),
    "ConvInteger": (0, 1),
    "MatMulInteger": (0, 1),
}


def onnx_param_count(model: onnx.ModelProto) -> int:
    """Elements of the trained weights among the initializers: floating-point ones (BatchNorm
    folded by the converter) and the integer weights a quantised model dequantises, leaving out
    quantisation scales and zero points, and constant 0/1 selector kernels (fast-plate-ocr's
    patch extraction becomes a Conv with a fixed one-hot kernel of 147k elements that is no
    trained weight)."""
    floating = {onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE}
    quantised, bookkeeping = set(), set()
    for node in model.graph.node:
        if node.op_type not in QUANTISED_OPERANDS:
            continue
        operands = QUANTISED_OPERANDS[node.op_type]
        for index, name in enumerate(node.input):
            (quantised if index in operands else bookkeeping).add(name)
    total = 0
    for init in model.graph.initializer:
        if init.name in bookkeeping or (
            init.data_type not in floating and init.name not in quantised
        ):
            continue
        values = numpy_helper.to_array(init)
        if values.size > 1 and set(np.unique(values).tolist()) == {0.0, 1.0}:
            continue
        total += int(values.size)
    return total


def approximate_gelu_everywhere(model) -> int:
    """Point every Dense layer using exact GELU at the tanh approximation; returns how many."""
    import keras

    def gelu_tanh(x):
        return keras.activations.gelu(x, approximate=True)

    swapped = 0
    for layer in model._flatten_layers(include_self=False, recursive=True):
        activation = getattr(layer, "activation", None)
        if isinstance(layer, keras.layers.Dense) and activation is keras.activations.gelu:
            layer.activation = gelu_tanh
            swapped += 1
    return swapped


def build_cct_xs_v1(fpo, seed: int) -> tuple[bytes, dict[str, str]]:
    """cct_xs_v1 from fast-plate-ocr's builder, uint8 NHWC wrapper, tf2onnx export."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import tensorflow as tf
    import tf2onnx

    builders, config_module, schema, _ = fpo
    keras.utils.set_random_seed(seed)
    model_cfg = schema.CCTModelConfig.model_validate(CCT_XS_V1_MODEL_CONFIG)
    plate_cfg = config_module.PlateConfig(**CCT_XS_V1_PLATE_CONFIG)
    core = builders.build_model(model_cfg, plate_cfg)
    keras_params = core.count_params()
    shape = (plate_cfg.img_height, plate_cfg.img_width, plate_cfg.num_channels)
    probe = np.random.default_rng(seed).integers(0, 256, (1, *shape), dtype=np.uint8)
    # Eager calls (predict() would reuse its traced function and miss the swap).
    exact = keras.ops.convert_to_numpy(core(probe.astype(np.float32), training=False)["plate"])
    swapped = approximate_gelu_everywhere(core)
    approx = keras.ops.convert_to_numpy(core(probe.astype(np.float32), training=False)["plate"])

    # Same input contract as fast-plate-ocr's published ONNX files and ours: uint8 NHWC.
    inputs = keras.Input(shape=shape, dtype="uint8", name="input")
    outputs = core(keras.ops.cast(inputs, "float32"))["plate"]
    wrapped = keras.Model(inputs, outputs, name="cct_xs_v1_uint8")
    signature = (tf.TensorSpec((None, *shape), tf.uint8, name="input"),)
    started = time.perf_counter()
    proto, _ = tf2onnx.convert.from_keras(wrapped, input_signature=signature, opset=ONNX_OPSET)
    export_s = time.perf_counter() - started
    leftover = sorted({node.op_type for node in proto.graph.node} & {"Erf", "Erfc"})
    if leftover:
        raise RuntimeError(f"exported cct_xs_v1 still holds {leftover}: GELU swap incomplete")

    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    onnx_out = session.run(None, {session.get_inputs()[0].name: probe})[0]
    notes = {
        "builder": "fast_plate_ocr.train.model.model_builders.build_model "
        "(models/cct_xs_v1.yaml + config/default_latin_plate_config.yaml values)",
        "keras params": f"{keras_params:,}",
        "export": f"tf2onnx {tf2onnx.__version__}, opset {ONNX_OPSET}, {export_s:.1f} s",
        "GELU": f"tanh approximation in {swapped} Dense layers (exact GELU gives TF Erfc, "
        "which tf2onnx cannot map to an ONNX op); max |exact - tanh| output prob "
        f"{np.abs(exact - approx).max():.1e}",
        "parity": f"max |keras - onnx| output prob {np.abs(approx - onnx_out).max():.1e}",
    }
    return proto.SerializeToString(), notes


def make_session(model_bytes: bytes, threads: int) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])


def batch_one_feed(session: ort.InferenceSession, seed: int) -> dict[str, np.ndarray]:
    """A random batch-1 input for every graph input; the dynamic batch dim becomes 1."""
    rng = np.random.default_rng(seed)
    feed = {}
    for arg in session.get_inputs():
        dims = list(arg.shape)
        if not dims:
            raise SystemExit(f"input {arg.name!r} has no shape")
        dims[0] = 1
        if not all(isinstance(d, int) and d > 0 for d in dims[1:]):
            raise SystemExit(f"input {arg.name!r} has dynamic non-batch dims {arg.shape}")
        if arg.type == "tensor(uint8)":
            feed[arg.name] = rng.integers(0, 256, dims, dtype=np.uint8)
        elif arg.type == "tensor(float)":
            feed[arg.name] = rng.random(dims, dtype=np.float32)
        else:
            raise SystemExit(f"input {arg.name!r} has unsupported type {arg.type}")
    return feed


def interleaved_latency(candidates: list[Candidate], runs: int, warmup: int) -> None:
    """Warm up each model, then time one batch-1 run of each per round, order flipping."""
    for _ in range(warmup):
        for cand in candidates:
            cand.session.run(None, cand.feed)
    for cand in candidates:
        cand.times_ms = []
    for round_index in range(runs):
        order = candidates if round_index % 2 == 0 else candidates[::-1]
        for cand in order:
            started = time.perf_counter_ns()
            cand.session.run(None, cand.feed)
            cand.times_ms.append((time.perf_counter_ns() - started) / 1e6)


def print_table(candidates: list[Candidate]) -> None:
    header = ("model", "params", "input", "ONNX size", "mean ms", "p50 ms", "p95 ms")
    rows = []
    for cand in candidates:
        times = np.asarray(cand.times_ms)
        rows.append(
            (
                cand.label,
                f"{cand.params:,}",
                cand.input_shape,
                f"{len(cand.model_bytes) / 1024:.0f} kB",
                f"{times.mean():.3f}",
                f"{np.percentile(times, 50):.3f}",
                f"{np.percentile(times, 95):.3f}",
            )
        )
    widths = [max(len(str(r[i])) for r in (header, *rows)) for i in range(len(header))]
    for row in (header, None, *rows):
        if row is None:
            print("  ".join("-" * w for w in widths))
            continue
        cells = (
            f"{cell:<{w}}" if i < 3 else f"{cell:>{w}}"
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        print("  ".join(cells))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    fpo, reason = import_fast_plate_ocr()
    if fpo is None:
        print(
            "fast-plate-ocr is not importable, so there is nothing to compare against "
            f"({reason}).\nIt is an optional comparison, not a project dependency; "
            f"install it with:\n    {INSTALL_HINT}",
            file=sys.stderr,
        )
        return 0

    ours_bytes = args.model.read_bytes()
    ours = Candidate(
        label="ours",
        model_bytes=ours_bytes,
        source=str(args.model),
        params=onnx_param_count(onnx.load_from_string(ours_bytes)),
    )
    print(f"building fast-plate-ocr {fpo[3]} cct_xs_v1 and exporting it with tf2onnx ...")
    cct_bytes, notes = build_cct_xs_v1(fpo, args.seed)
    if args.save_cct_onnx is not None:
        args.save_cct_onnx.write_bytes(cct_bytes)
        notes["saved"] = str(args.save_cct_onnx)
    cct = Candidate(
        label="cct_xs_v1 (untrained)",
        model_bytes=cct_bytes,
        source=f"fast-plate-ocr {fpo[3]}",
        params=onnx_param_count(onnx.load_from_string(cct_bytes)),
    )
    candidates = [ours, cct]
    for index, cand in enumerate(candidates):
        cand.session = make_session(cand.model_bytes, args.threads)
        cand.feed = batch_one_feed(cand.session, args.seed + index)

    load_before = os.getloadavg()
    interleaved_latency(candidates, args.runs, args.warmup)
    load_after = os.getloadavg()

    print()
    print(
        f"onnxruntime {ort.__version__} CPUExecutionProvider | intra_op_num_threads="
        f"{args.threads}, inter_op_num_threads=1, ORT_SEQUENTIAL, ORT_ENABLE_ALL | batch 1"
    )
    print(
        f"{args.warmup} warm-up + {args.runs} timed runs per model, alternating rounds | "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load avg "
        f"{load_before[0]:.2f} -> {load_after[0]:.2f}"
    )
    print(f"ours: {ours.source}")
    print()
    print_table(candidates)
    ours_t, cct_t = np.asarray(ours.times_ms), np.asarray(cct.times_ms)
    print()
    print(
        f"ratio ours / cct_xs_v1, p50: {np.median(ours_t) / np.median(cct_t):.2f}x  "
        f"(median of per-round ratios: {np.median(ours_t / cct_t):.2f}x)"
    )
    print(
        "params: counted the same way for both, from the ONNX file (float initializers, "
        "BatchNorm folded, constant 0/1 selector kernels left out)."
    )
    print()
    print("cct_xs_v1 notes:")
    for key, value in notes.items():
        print(f"  {key}: {value}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.exit(main())
