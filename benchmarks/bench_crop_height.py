"""How reading falls with crop size: the real dev crops shrunk to a few heights (as a detector
cuts plates from distant cars: 16-60 px) and read by each model, side by side.

    .venv/bin/python benchmarks/bench_crop_height.py [--model M.onnx ...] \
        [--heights 16 20 26 32 48] [--annotations A.csv ...]

Each crop is shrunk to the height (aspect kept, area interpolation, as a camera integrates
light), then read as any input is: the recognizer scales it to the model's input size. Crops
already at or below a height are read as they are. Prints, per set and height, exact
plate_acc of the default reader (format-aware decoding by the region output, for a model
that has one) for each model, and the share of crops that were shrunk. Labels are
normalised and checked as the score and compare stages do; rows they would not read (no
image, an undecodable one, a label the first model cannot write) are counted and left out.
A measurement of the dev sets, not a tuning signal.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from plate_ocr_pipeline.core.preprocessing import ImageReadError, read_image
from plate_ocr_pipeline.core.text_codec import normalise_text, text_problem
from plate_ocr_pipeline.datasets import LabelledSetsDataset
from plate_ocr_pipeline.inference.recognizer import DEFAULT_MODEL_PATH, ONNXPlateRecognizer

REAL_SETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"


def shrink(image: np.ndarray, height: int | None) -> np.ndarray:
    """``image`` at ``height`` px (aspect kept), or as it is when not taller."""
    if height is None or image.shape[0] <= height:
        return image
    width = max(1, round(image.shape[1] * height / image.shape[0]))
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", help="ONNX model (repeat); default shipped")
    parser.add_argument("--heights", type=int, nargs="+", default=[16, 20, 26, 32, 48])
    parser.add_argument("--annotations", nargs="+", help="annotations CSVs; default dev sets")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    if any(h < 4 for h in args.heights):
        raise SystemExit("--heights: every height must be at least 4 px")
    csvs = args.annotations or sorted(str(p) for p in REAL_SETS.glob("*/annotations.csv"))
    if not csvs:
        raise SystemExit(f"no annotations CSV given and none under {REAL_SETS}")
    models = args.model or [str(DEFAULT_MODEL_PATH)]
    readers = {_column_name(m, models): ONNXPlateRecognizer(m, threads=args.threads)
               for m in models}  # fmt: skip
    config = next(iter(readers.values())).config
    table = LabelledSetsDataset(filepaths=csvs).load()
    heights: list[int | None] = [None, *sorted(args.heights, reverse=True)]
    width = max(22, *(len(name) for name in readers))
    print(f"{'set':<18} {'height':>7} {'shrunk':>7} " + " ".join(f"{n:>{width}}" for n in readers))
    for name, rows in table.groupby("set", sort=False):
        images, truths, left_out = [], [], 0
        for row in rows.itertuples():
            truth = normalise_text(row.plate_text)
            if isinstance(row.error, str) or text_problem(truth, config) is not None:
                left_out += 1
                continue
            try:
                images.append(read_image(bytes(row.image)))
            except ImageReadError:
                left_out += 1
                continue
            truths.append(truth)
        if left_out:
            print(f"{name}: {left_out} of {len(rows)} rows left out (no image, undecodable, or "
                  "a label the model cannot write)")  # fmt: skip
        if not truths:
            continue
        for height in heights:
            crops = [shrink(image, height) for image in images]
            shrunk = np.mean([c.shape[0] < i.shape[0] for c, i in zip(crops, images, strict=True)])
            cells = []
            for reader in readers.values():
                texts = reader.run(crops)
                right = sum(t == truth for t, truth in zip(texts, truths, strict=True))
                cells.append(f"{right / len(truths):7.1%} ({right:>4}/{len(truths)})")
            label = "native" if height is None else f"{height} px"
            print(
                f"{name:<18} {label:>7} {shrunk:>7.0%} " + " ".join(f"{c:>{width}}" for c in cells)
            )


def _column_name(model: str, models: list[str]) -> str:
    """A model's file name, or its path where two share the name."""
    names = [Path(m).name for m in models]
    return Path(model).name if names.count(Path(model).name) == 1 else model


if __name__ == "__main__":
    main()
