"""Short side-by-side training runs of model variants on a subset of the cached model input.

    .venv/bin/python benchmarks/compare_models.py \
        --variant "head=dense" --variant "head=dense,row_context=8" [--train 20000] [--epochs 4]

Each ``--variant`` is a comma-separated list of ``build_model`` knobs (``type=cct`` picks the
family; values are parsed as YAML, so ``filters=[16,48,96,128]`` works). Every variant gets
the same seed, the same training subset (the first ``--train`` rows of the train split of
``data/05_model_input/model_input.npz``, written by ``kedro run --pipelines=train``), the same
warm-up + cosine schedule and no augmentation, and reports validation plate_acc after each
epoch, parameters and wall time. It is a screening tool for deciding what to train for real:
a few epochs on a subset rank variants roughly, they do not predict the final figure.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _split_top_level(text: str) -> list[str]:
    """Split on commas outside brackets, so ``pool_sizes=[[2,2],[2,1]]`` stays one knob."""
    parts, depth, start = [], 0, 0
    for index, char in enumerate(text):
        depth += {"[": 1, "]": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(text[start:index])
            start = index + 1
    return [*parts, text[start:]]


def parse_variant(text: str) -> dict:
    """``"head=ctc,head_units=256"`` -> ``{"head": "ctc", "head_units": 256}``."""
    knobs = {}
    for part in filter(None, (p.strip() for p in _split_top_level(text))):
        key, sep, value = part.partition("=")
        if not sep:
            raise SystemExit(f"variant {text!r}: {part!r} is not key=value")
        knobs[key.strip()] = yaml.safe_load(value)
    return knobs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", action="append", required=True, help="knobs, e.g. head=mlp")
    parser.add_argument("--train", type=int, default=20000, help="training rows used")
    parser.add_argument("--val", type=int, default=2000, help="validation rows used")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--model-input", default=str(ROOT / "data/05_model_input/model_input.npz"))
    args = parser.parse_args()
    variants = [parse_variant(v) for v in args.variant]  # fail on a typo before any training

    import keras

    from plate_ocr_pipeline.core.plate_config import PlateConfig
    from plate_ocr_pipeline.core.text_codec import one_hot_encode
    from plate_ocr_pipeline.training.losses import WarmupCosine, loss_and_metrics
    from plate_ocr_pipeline.training.models import build_model, training_view
    from plate_ocr_pipeline.training.trainer import set_seed

    plate = yaml.safe_load((ROOT / "conf/base/parameters_plate.yml").read_text())["plate"]
    config = PlateConfig.from_dict(plate)
    data = np.load(args.model_input)
    train_rows = np.flatnonzero(data["split"] == "train")[: args.train]
    val_rows = np.flatnonzero(data["split"] == "val")[: args.val]
    x_train, x_val = data["images"][train_rows], data["images"][val_rows]
    y_train = one_hot_encode(data["plate_text"][train_rows], config)
    y_val = one_hot_encode(data["plate_text"][val_rows], config)
    print(f"{len(x_train)} training / {len(x_val)} validation plates, {args.epochs} epochs")

    steps = len(x_train) // args.batch_size
    for knobs in variants:
        label = ",".join(f"{k}={v}" for k, v in knobs.items())
        knobs = dict(knobs)
        set_seed(args.seed)
        model = build_model(config, knobs.pop("type", "cnn"), **knobs)
        schedule = WarmupCosine(
            args.learning_rate,
            total_steps=args.epochs * steps,
            warmup_steps=steps // 2,
            final_fraction=0.05,
        )
        # A CTC head trains its per-column logits; the metrics read them decoded.
        model = training_view(model) or model
        loss, metrics = loss_and_metrics(model, config, label_smoothing=0.05)
        model.compile(
            optimizer=keras.optimizers.AdamW(schedule, weight_decay=0.01, clipnorm=5.0),
            loss=loss,
            metrics=metrics,
        )
        start = time.perf_counter()
        history = model.fit(
            x_train,
            y_train,
            batch_size=args.batch_size,
            epochs=args.epochs,
            validation_data=(x_val, y_val),
            verbose=0,
        ).history
        curve = " ".join(f"{v:.3f}" for v in history["val_plate_acc"])
        print(
            f"{label:45s} params {model.count_params():>9,}  {time.perf_counter() - start:6.0f} s"
            f"  val plate_acc by epoch {curve}",
            flush=True,
        )


if __name__ == "__main__":
    main()
