"""The default reader with and without O and 0 read as glyph twins (``core.plate_formats``'s
``GLYPH_TWINS``), side by side: plates read exactly, per set and region group, per model.

    .venv/bin/python benchmarks/bench_glyph_twins.py [--model M.onnx ...] \
        [--synthetic data/05_model_input/model_input.npz] [--annotations A.csv ...]

``--synthetic`` reads the test split of a training run's model input (preprocessed crops);
the dev sets beside the checkout are read unless ``--annotations`` names others (the real
Argentine set's ``ar`` label stands for every Argentine family, as in ``conf/base``). Each
model reads every crop once per decoding. A measurement, not a tuning signal.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from plate_ocr_pipeline.core import plate_formats
from plate_ocr_pipeline.core.splits import select_split
from plate_ocr_pipeline.datasets import LabelledSetsDataset
from plate_ocr_pipeline.evaluation import (
    label_plates,
    read_labelled_sets,
    read_regions_with_recognizer,
    report_groups,
)
from plate_ocr_pipeline.inference.recognizer import DEFAULT_MODEL_PATH, ONNXPlateRecognizer

REAL_SETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
REGION_LABELS = {"real-ar-plates": {"ar": ["ar-old", "mercosur", "old-moto", "mercosur-moto"]}}
WAYS = {"without": (), "twins": plate_formats.GLYPH_TWINS}


def load_sets(args: argparse.Namespace, reader: ONNXPlateRecognizer) -> dict[str, dict]:
    sets = {}
    if args.synthetic:
        arrays = np.load(args.synthetic, mmap_mode="r")
        columns = {key: arrays[key] for key in ("images", "plate_text", "region", "split")}
        test = select_split(columns, "test", keys=("images", "plate_text", "region"))
        sets["synthetic-test"] = {key: np.asarray(test[key]) for key in test}
    csvs = args.annotations or sorted(str(p) for p in REAL_SETS.glob("*/annotations.csv"))
    if csvs:
        real, rejects = read_labelled_sets(
            LabelledSetsDataset(filepaths=csvs).load(), reader.config
        )
        if len(rejects):
            print(f"{len(rejects)} dev rows left out (see read_labelled_sets' reasons)")
        sets.update(real)
    return sets


def right_per_group(sets: dict[str, dict], reader: ONNXPlateRecognizer) -> dict[tuple, int]:
    """(set, group) -> plates read exactly by ``reader``'s default reading."""
    readings = read_regions_with_recognizer(reader, sets, 256)
    out = {}
    for name, read in readings.items():
        truths = [str(t) for t in sets[name]["plate_text"]]
        table = label_plates(sets[name]["region"], truths, REGION_LABELS.get(name, {}))
        table["right"] = [a == b for a, b in zip(read["text"], truths, strict=True)]
        for group, rows in report_groups(table):
            out[(name, group)] = (int(rows["right"].sum()), len(rows))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", help="ONNX model (repeat); default shipped")
    parser.add_argument("--synthetic", help="a model_input.npz: its test split is read too")
    parser.add_argument("--annotations", nargs="+", help="annotations CSVs; default dev sets")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    models = args.model or [str(DEFAULT_MODEL_PATH)]
    rows = []
    sets = None
    for model in models:
        reader = ONNXPlateRecognizer(model, threads=args.threads).reading(format_decoding=True)
        sets = sets if sets is not None else load_sets(args, reader)
        for way, twins in WAYS.items():
            plate_formats.GLYPH_TWINS = twins
            for (name, group), (right, plates) in right_per_group(sets, reader).items():
                rows.append({"model": Path(model).stem, "set": name, "group": group,
                             "plates": plates, way: right})  # fmt: skip
    table = pd.DataFrame(rows).groupby(["set", "group", "model"], sort=False).first()
    table["gain"] = table["twins"] - table["without"]
    pd.set_option("display.width", 200)
    pd.set_option("display.max_rows", 500)
    print(table.reset_index().to_string(index=False))


if __name__ == "__main__":
    main()
