"""How many plates each member of an ensemble (``train.model.members`` > 1) reads on its own,
against their average, by greedy CTC without the format-aware reader. Prints plate counts per
labelled set (docs/experiments.md, row 46).

    .venv/bin/python scripts/probe_members.py data/06_models/plate_ocr.keras [SET_DIR ...]

Each SET_DIR holds an ``annotations.csv`` (``image_path,plate_text[,region]``); the default is
the real sets in ``../shared/datasets``. A diagnosis after a comparison, not a way to choose.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import keras
import numpy as np

from plate_ocr_pipeline.core.plate_config import PlateConfig
from plate_ocr_pipeline.datasets import LabelledSetsDataset
from plate_ocr_pipeline.evaluation import read_labelled_sets
from plate_ocr_pipeline.training.models import (
    MEMBER_LOGITS_LAYER,
    column_logits_view,
    training_view,
)
from plate_ocr_pipeline.training.reader import greedy_ctc

ROOT = Path(__file__).resolve().parents[1]
DEV_SETS = ROOT.parent / "shared" / "datasets"
CONFIG = ROOT / "src/plate_ocr_pipeline/assets/models/default.yml"


def member_readings(
    both: keras.Model, images: np.ndarray, config: PlateConfig
) -> dict[str, list[str]]:
    """Each member's greedy reading and their average's, from ``both``: an ensemble's
    stacked member logits and its own ``column_logits`` (their average), in one pass."""
    members, average = (np.asarray(t) for t in both.predict(images, batch_size=64, verbose=0))
    readings = {f"member{m}": greedy_ctc(members[:, m], config)[0] for m in range(members.shape[1])}
    readings["average"] = greedy_ctc(average, config)[0]
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
    both = keras.Model(model.input, [training_view(model).output, column_logits_view(model).output])
    folders = args.sets or sorted(p for p in DEV_SETS.iterdir() if p.is_dir())
    csvs = [str(folder / "annotations.csv") for folder in folders]
    # Read as score and compare read them: a row that cannot be used is left out, and logged.
    sets, _ = read_labelled_sets(LabelledSetsDataset(filepaths=csvs).load(), config)
    for name, data in sets.items():
        truth = data["plate_text"]
        right = {reader: np.asarray(texts) == truth
                 for reader, texts in member_readings(both, data["images"], config).items()}  # fmt: skip
        members = [value for reader, value in right.items() if reader != "average"]
        counts = ", ".join(f"{reader} {int(value.sum())}" for reader, value in right.items())
        print(f"{name} ({len(truth)} plates): {counts}; "
              f"any member {int(np.logical_or.reduce(members).sum())}")  # fmt: skip


if __name__ == "__main__":
    main()
