"""Row 46's diagnosis (docs/experiments.md): how many plates each member of an ensemble
(``train.model.members`` > 1) reads on its own, against their average, by greedy CTC without
the format-aware reader. Prints plate counts per labelled set.

    .venv/bin/python scripts/probe_members.py data/06_models/plate_ocr.keras [SET_DIR ...]

Each SET_DIR holds an ``annotations.csv`` (``image_path,plate_text[,region]``); the default is
the real sets in ``../shared/datasets``. A diagnosis after a comparison, not a way to choose.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from plate_ocr_pipeline.core.plate_config import PlateConfig
from plate_ocr_pipeline.core.preprocessing import preprocess_image, read_image
from plate_ocr_pipeline.training.models import MEMBER_LOGITS_LAYER, training_view
from plate_ocr_pipeline.training.reader import greedy_ctc

ROOT = Path(__file__).resolve().parents[1]
DEV_SETS = ROOT.parent / "shared" / "datasets"
CONFIG = ROOT / "src/plate_ocr_pipeline/assets/models/default.yml"


def member_readings(
    view: keras.Model, images: np.ndarray, config: PlateConfig
) -> dict[str, list[str]]:
    """Each member's greedy reading and their average's (the mean of their probabilities)."""
    logits = np.asarray(view.predict(images, batch_size=64, verbose=0))  # (B, M, T, V)
    probabilities = np.exp(logits - logits.max(-1, keepdims=True))
    probabilities /= probabilities.sum(-1, keepdims=True)
    readings = {f"member{m}": greedy_ctc(logits[:, m], config)[0] for m in range(logits.shape[1])}
    readings["average"] = greedy_ctc(np.log(probabilities.mean(1) + 1e-12), config)[0]
    return readings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", type=Path, help="a trained ensemble's .keras file")
    parser.add_argument("sets", type=Path, nargs="*", help="labelled set folders")
    parser.add_argument("--config", type=Path, default=CONFIG, help="the plate config YAML")
    args = parser.parse_args()
    config = PlateConfig.from_yaml(args.config)
    model = keras.models.load_model(args.model, compile=False)
    if MEMBER_LOGITS_LAYER not in {layer.name for layer in model.layers}:
        raise SystemExit(f"{args.model}: not an ensemble (no {MEMBER_LOGITS_LAYER} layer)")
    view = training_view(model)
    for root in args.sets or sorted(p for p in DEV_SETS.iterdir() if p.is_dir()):
        table = pd.read_csv(root / "annotations.csv", keep_default_na=False, dtype=str)
        images = np.stack([
            preprocess_image(read_image(os.fspath(root / path)), config)
            for path in table["image_path"]
        ])  # fmt: skip
        truth = table["plate_text"].to_numpy()
        right = {name: np.asarray(texts) == truth
                 for name, texts in member_readings(view, images, config).items()}  # fmt: skip
        members = [value for name, value in right.items() if name != "average"]
        counts = ", ".join(f"{name} {int(value.sum())}" for name, value in right.items())
        print(f"{root.name} ({len(truth)} plates): {counts}; "
              f"any member {int(np.logical_or.reduce(members).sum())}")  # fmt: skip


if __name__ == "__main__":
    main()
