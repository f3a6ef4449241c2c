"""Batch-1 ONNX latency of model variants beside the recipe's own model, untrained (speed
only): what a bigger or smaller model would cost at inference before one trains it.

    .venv/bin/python benchmarks/bench_architectures.py \
        --variant width_multiplier=1.25 --variant width_multiplier=1.5,depth=2 \
        [--runs 300] [--warmup 30] [--threads 1] [--no-int8]

Each variant is ``conf/base``'s ``train.model`` with the given knobs changed (comma-
separated ``key=value``, values read as YAML; a typo fails through ``ModelParams``); a knob
named ``plate.KEY`` changes the input instead (``plate.img_width=160``), through
``PlateConfig``. Every model gets the reader's region head (9 families,
``train.reader.region_units``) and goes through the export stage's own steps:
``export_onnx`` (converted, simplified, streamlined) and, unless ``--no-int8``,
``quantize_static_int8`` calibrated on random crops (latency does not depend on the
calibration). The models then run in alternating rounds, the order flipped each round, with
``--threads`` intra-op threads (no spinning), so load from other processes hits all alike;
running in turn, each also starts with the others' weights in the cache, as a process
serving several models would. The shipped models (``assets/models/default*.onnx``) run
beside them as a check that the untrained recipe times as the trained one. Prints per model:
parameters, float32 and INT8 median milliseconds, and each as a ratio of the recipe's model
of the same precision (``bench_vs_fast_plate_ocr.py`` times a model beside fast-plate-ocr's
cct_xs_v1).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ["KERAS_BACKEND"] = "tensorflow"  # tf2onnx converts in this process
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import yaml  # noqa: E402
from compare_models import parse_variant  # noqa: E402  (benchmarks/, the script's folder)

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "src/plate_ocr_pipeline/assets/models"
REGION_FAMILIES = 9


def _export(model_params, reader_units: int, config, int8: bool, rng) -> tuple[int, list]:
    """Parameter count and the ONNX models (float32, then INT8) of one variant."""
    from plate_ocr_pipeline.training.export import export_onnx, quantize_static_int8
    from plate_ocr_pipeline.training.models import build_model
    from plate_ocr_pipeline.training.reader import build_reader, feature_model, region_head

    model = build_model(config, model_params.type, **model_params.builder_kwargs())
    features = feature_model(model).output.shape[-1]
    reader = build_reader(model, config, 2.0, region_head(features, REGION_FAMILIES, reader_units))
    params = reader.count_params()
    float_model = export_onnx(reader, config)
    models = [float_model]
    if int8:
        shape = (64, *config.input_shape)
        models.append(quantize_static_int8(float_model, rng.integers(0, 256, shape, np.uint8)))
    return params, models


def variant(text: str, recipe: dict, config):
    """The model parameters and plate config of one ``--variant``: ``plate.KEY`` knobs change
    the input, the others ``train.model``; both validated (a typo fails here, by name)."""
    from plate_ocr_pipeline.core.plate_config import PlateConfig
    from plate_ocr_pipeline.training.params import ModelParams

    knobs = parse_variant(text)
    plate = {k.removeprefix("plate."): v for k, v in knobs.items() if k.startswith("plate.")}
    model = {k: v for k, v in knobs.items() if not k.startswith("plate.")}
    return (
        ModelParams.model_validate({**recipe, **model}),
        PlateConfig.from_dict({**config.to_dict(), **plate}) if plate else config,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", action="append", default=[], help="knobs, e.g. depth=2")
    parser.add_argument("--runs", type=int, default=300, help="timed rounds")
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads")
    parser.add_argument("--no-int8", action="store_true", help="float32 only")
    args = parser.parse_args()

    import onnxruntime as ort

    from plate_ocr_pipeline.core.plate_config import PlateConfig
    from plate_ocr_pipeline.training.params import ModelParams

    conf = ROOT / "conf/base"
    config = PlateConfig.from_dict(
        yaml.safe_load((conf / "parameters_plate.yml").read_text())["plate"]
    )
    train = yaml.safe_load((conf / "parameters_train.yml").read_text())["train"]
    recipe = dict(train["model"])
    variants = {"recipe": (ModelParams.model_validate(recipe), config)}
    for text in args.variant:  # all validated before the first export
        variants[text] = variant(text, recipe, config)

    rng = np.random.default_rng(0)
    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    precisions = ["float32"] if args.no_int8 else ["float32", "int8"]
    sessions, counts, inputs = {}, {}, {}
    for name, (params, variant_config) in variants.items():
        counts[name], models = _export(params, train["reader"]["region_units"], variant_config,
                                       not args.no_int8, rng)  # fmt: skip
        inputs[name] = variant_config
        for precision, model in zip(precisions, models, strict=True):
            sessions[name, precision] = ort.InferenceSession(
                model.SerializeToString(), options, providers=["CPUExecutionProvider"]
            )
        print(f"exported {name}: {counts[name]:,} parameters", flush=True)
    shipped = {"float32": SHIPPED / "default_fp32.onnx", "int8": SHIPPED / "default.onnx"}
    if all(shipped[precision].is_file() for precision in precisions):
        counts["shipped"] = counts["recipe"]
        inputs["shipped"] = config
        for precision in precisions:
            sessions["shipped", precision] = ort.InferenceSession(
                str(shipped[precision]), options, providers=["CPUExecutionProvider"]
            )

    keys = list(sessions)
    feeds = {}
    for key in keys:
        shape = (1, *inputs[key[0]].input_shape)
        feeds[key] = {sessions[key].get_inputs()[0].name: rng.integers(0, 256, shape, np.uint8)}
    times: dict = {key: [] for key in keys}
    for round_ in range(args.warmup + args.runs):
        for key in keys if round_ % 2 == 0 else reversed(keys):
            session, feed = sessions[key], feeds[key]
            start = time.perf_counter()
            session.run(None, feed)
            if round_ >= args.warmup:
                times[key].append(time.perf_counter() - start)

    print(f"\nbatch 1, {args.threads} thread(s), {args.runs} rounds, median ms "
          f"(ratio to the recipe's model of the same precision)")  # fmt: skip
    header = f"{'model':42s} {'parameters':>11s}" + "".join(f" {p:>18s}" for p in precisions)
    print(header)
    for name in dict.fromkeys(name for name, _ in keys):
        cells = ""
        for precision in precisions:
            median = float(np.median(times[name, precision])) * 1e3
            base = float(np.median(times["recipe", precision])) * 1e3
            cells += f" {median:8.3f} ({median / base:5.2f}x)"
        print(f"{name:42s} {counts[name]:>11,}{cells}")


if __name__ == "__main__":
    main()
