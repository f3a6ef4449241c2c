"""Parameter count, training samples/s and Keras batch-1 latency for each model at its
default size (64x128 grayscale, 10 slots), on this machine's CPU.

    .venv/bin/python benchmarks/bench_train.py [--batch-size 64] [--steps 8] [--augment]

Times vary run to run on shared machines: compare models side by side, quote ratios.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import numpy as np  # noqa: E402

MODELS = {
    "cnn (default)": ("cnn", {}),
    "cnn conv head": ("cnn", {"head": "conv"}),
    "cnn small (w=0.5)": ("cnn", {"width_multiplier": 0.5}),
    "cnn large (w=1.5, depth=2)": ("cnn", {"width_multiplier": 1.5, "depth": 2}),
    "cct (default)": ("cct", {}),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=8, help="timed training steps per model")
    parser.add_argument("--augment", action="store_true", help="include on-the-fly augmentation")
    args = parser.parse_args()

    import keras

    from plate_ocr_pipeline.core.plate_config import PlateConfig
    from plate_ocr_pipeline.training.batches import AugmentedBatches
    from plate_ocr_pipeline.training.models import build_model
    from plate_ocr_pipeline.training.trainer import set_seed

    config = PlateConfig.from_dict({
        "max_plate_slots": 10, "alphabet": "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_",
        "pad_char": "_", "img_height": 64, "img_width": 128,
    })  # fmt: skip
    transform = None
    if args.augment:
        from plate_ocr_pipeline.datasets import AlbumentationsDataset

        transform = AlbumentationsDataset(filepath="conf/base/augmentation.yml").load()
    rng = np.random.default_rng(0)
    count = args.batch_size * (args.steps + 1)
    images = rng.integers(0, 256, (count, 64, 128, 1), dtype=np.uint8)
    targets = np.eye(37, dtype=np.float32)[rng.integers(0, 37, (count, 10))]
    print(f"backend {keras.backend.backend()}, batch {args.batch_size}, {args.steps} timed steps, "
          f"augmentation {'on' if transform else 'off'}, cpus {os.cpu_count()}")  # fmt: skip
    print(f"{'model':30s} {'params':>9s} {'train samples/s':>16s} {'keras b1 ms':>12s}")
    for label, (model_type, knobs) in MODELS.items():
        set_seed(0)
        model = build_model(config, model_type, **knobs)
        model.compile(optimizer=keras.optimizers.AdamW(1e-3), loss="categorical_crossentropy")
        batches = AugmentedBatches(images, targets, args.batch_size, transform, seed=0)
        x, y = batches[0]
        model.train_on_batch(x, y)  # trace and warm up
        start = time.perf_counter()
        for step in range(1, args.steps + 1):
            x, y = batches[step]
            model.train_on_batch(x, y)
        rate = args.steps * args.batch_size / (time.perf_counter() - start)
        single = images[:1]
        model.predict_on_batch(single)
        times = []
        for _ in range(30):
            t0 = time.perf_counter()
            model.predict_on_batch(single)
            times.append(time.perf_counter() - t0)
        print(
            f"{label:30s} {model.count_params():9,d} {rate:16.1f} {1000 * np.median(times):12.2f}"
        )


if __name__ == "__main__":
    main()
