"""Training samples/s of the shipped architecture (conf/base train.model, its CTC loss and
optimizer, as the trainer compiles them) under each Keras backend, side by side.

    .venv/bin/python benchmarks/bench_backends.py [--backends tensorflow,jax] [--steps 300]
        [--warmup-steps 20] [--batch-size 64] [--augment] [--data-workers 1]
        [--precisions float32,mixed_bfloat16] [--augmentation conf/base/augmentation.yml]

Keras fixes its backend per process, so each backend runs in its own child Python with
``KERAS_BACKEND`` set. Each child fits ``--warmup-steps`` first (tracing/XLA compilation,
not timed), then times one ``fit`` of ``--steps`` steps on random crops and texts, under each
Keras dtype policy of ``--precisions`` (``mixed_bfloat16``: bf16 compute, float32 weights;
faster only on CPUs with AVX512-BF16). Speed only: whether a policy keeps the accuracy takes a training
run. Times vary run to run on shared machines: run it on idle cores, compare the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MARKER = "BENCH_RESULT "


def child(args: argparse.Namespace) -> None:
    """Under this process's ``KERAS_BACKEND``: print one ``BENCH_RESULT {json}`` line."""
    import keras
    import numpy as np
    import yaml

    from plate_ocr_pipeline.core.plate_config import PlateConfig
    from plate_ocr_pipeline.core.text_codec import one_hot_encode
    from plate_ocr_pipeline.training.batches import AugmentedBatches
    from plate_ocr_pipeline.training.callbacks import BatchEpoch
    from plate_ocr_pipeline.training.models import build_model, training_view
    from plate_ocr_pipeline.training.params import TrainParams
    from plate_ocr_pipeline.training.trainer import compile_for_training, set_seed

    plate = yaml.safe_load((ROOT / "conf/base/parameters_plate.yml").read_text())["plate"]
    train = yaml.safe_load((ROOT / "conf/base/parameters_train.yml").read_text())["train"]
    params = TrainParams.model_validate({**train, "batch_size": args.batch_size})
    config = PlateConfig.from_dict(plate)
    set_seed(params.seed, params.deterministic)
    keras.mixed_precision.set_global_policy(args.precision)

    transform = None
    if args.augment:
        from plate_ocr_pipeline.datasets import AlbumentationsDataset

        transform = AlbumentationsDataset(filepath=str(ROOT / args.augmentation)).load()
    rng = np.random.default_rng(0)
    count = args.batch_size * 64  # batches repeat: a fixed pool of random crops
    shape = (count, *config.input_shape)
    images = rng.integers(0, 256, shape, dtype=np.uint8)
    texts = ["".join(rng.choice(list(config.alphabet[:-1]), rng.integers(4, 9)))
             for _ in range(count)]  # fmt: skip
    batches = AugmentedBatches(images, one_hot_encode(texts, config), args.batch_size, transform,
                               seed=params.seed, workers=args.data_workers)  # fmt: skip

    net = build_model(config, params.model.type, **params.model.builder_kwargs())
    fitted = training_view(net) or net
    compile_for_training(fitted, params, len(batches), config)

    def timed_fit(steps: int) -> float:
        epochs = -(-steps // len(batches))
        start = time.perf_counter()
        # As the trainer fits: batches in index order, the epoch set by the callback.
        fitted.fit(batches, epochs=epochs, steps_per_epoch=min(steps, len(batches)), verbose=0,
                   shuffle=False, callbacks=[BatchEpoch(batches)])  # fmt: skip
        return time.perf_counter() - start

    warmup = timed_fit(args.warmup_steps)
    steps = -(-args.steps // len(batches)) * min(args.steps, len(batches))
    seconds = timed_fit(args.steps)
    result = {
        "backend": keras.backend.backend(),
        "precision": args.precision,
        "params": net.count_params(),
        "warmup_s": round(warmup, 2),
        "steps": steps,
        "seconds": round(seconds, 2),
        "samples_per_s": round(steps * args.batch_size / seconds, 1),
    }
    print(MARKER + json.dumps(result), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="tensorflow,jax")
    parser.add_argument("--steps", type=int, default=300, help="timed training steps")
    parser.add_argument("--warmup-steps", type=int, default=20, help="untimed steps first")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--augment", action="store_true", help="include on-the-fly augmentation")
    parser.add_argument("--augmentation", default="conf/base/augmentation.yml",
                        help="albumentations YAML used with --augment (relative to the project)")  # fmt: skip
    parser.add_argument("--data-workers", type=int, default=1,
                        help="threads augmenting batches (train.data_workers)")  # fmt: skip
    parser.add_argument(
        "--precisions",
        default="float32",
        help="Keras dtype policies, comma-separated (e.g. float32,mixed_bfloat16)",
    )
    parser.add_argument("--precision", default="float32", help=argparse.SUPPRESS)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    forwarded = [f"--steps={args.steps}", f"--warmup-steps={args.warmup_steps}",
                 f"--batch-size={args.batch_size}", f"--data-workers={args.data_workers}",
                 f"--augmentation={args.augmentation}",
                 *(["--augment"] if args.augment else [])]  # fmt: skip
    print(f"shipped architecture, batch {args.batch_size}, {args.steps} timed steps after "
          f"{args.warmup_steps} untimed, augmentation {'on' if args.augment else 'off'} "
          f"({args.data_workers} data worker(s), {args.augmentation}), "
          f"cpus {os.cpu_count()}")  # fmt: skip
    print(f"{'backend':24s} {'params':>10s} {'warm-up s':>10s} {'timed s':>9s} {'samples/s':>10s}")
    rates = {}
    runs = [(b, p) for b in args.backends.split(",") for p in args.precisions.split(",")]
    for backend, precision in runs:
        label = backend if precision == "float32" else f"{backend} {precision}"
        env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3",
               "NO_ALBUMENTATIONS_UPDATE": "1"}  # fmt: skip
        result = subprocess.run(
            [sys.executable, __file__, "--child", f"--precision={precision}", *forwarded],
            cwd=ROOT, env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        lines = [line for line in result.stdout.splitlines() if line.startswith(MARKER)]
        if result.returncode != 0 or not lines:
            print(f"{label:24s} failed (exit {result.returncode}): {result.stderr[-1500:]}")
            continue
        r = json.loads(lines[-1][len(MARKER) :])
        rates[label] = r["samples_per_s"]
        print(f"{label:24s} {r['params']:10,d} {r['warmup_s']:10.1f} {r['seconds']:9.1f} "
              f"{r['samples_per_s']:10.1f}")  # fmt: skip
    if "tensorflow" in rates:
        for backend, rate in rates.items():
            if backend != "tensorflow":
                print(f"{backend}: {rate / rates['tensorflow']:.2f}x tensorflow's samples/s")


if __name__ == "__main__":
    main()
