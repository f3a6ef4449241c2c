"""Read each crop twice, as given and at a second framing, and keep the more confident
reading. Prints plate counts, one view against two (docs/experiments.md, row 41).

    .venv/bin/python scripts/probe_two_framings.py val --model M.onnx --model-input NPZ
    .venv/bin/python scripts/probe_two_framings.py dev --framing NAME --model M.onnx ...

``val`` reads the synthetic val split of a ``model_input.npz`` with every framing (the
choice); ``dev`` reads the real sets in ``../shared/datasets`` with one framing (the
measurement). Framings act on the crop after its preprocessing to the model's input size and
resize back, so synthetic and real crops go through the same code.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from plate_ocr_pipeline.core.plate_config import PlateConfig
from plate_ocr_pipeline.datasets import LabelledSetsDataset
from plate_ocr_pipeline.evaluation import read_labelled_sets
from plate_ocr_pipeline.inference.recognizer import ONNXPlateRecognizer

ROOT = Path(__file__).resolve().parents[1]
DEV_SETS = ROOT.parent / "shared" / "datasets"
PADDING_GREY = 114


def _margins(image: np.ndarray, dy: float, dx: float) -> tuple[int, int]:
    return max(1, round(image.shape[0] * dy)), max(1, round(image.shape[1] * dx))


def _back_to_size(framed: np.ndarray, like: np.ndarray) -> np.ndarray:
    resized = cv2.resize(framed, (like.shape[1], like.shape[0]), interpolation=cv2.INTER_LINEAR)
    return resized.reshape(like.shape)


def loose(image: np.ndarray) -> np.ndarray:
    """6% of the height above and below, 3% of the width each side, border pixels repeated."""
    y, x = _margins(image, 0.06, 0.03)
    framed = cv2.copyMakeBorder(image, y, y, x, x, cv2.BORDER_REPLICATE)
    return _back_to_size(framed, image)


def padded(image: np.ndarray) -> np.ndarray:
    """The same margins in the padding grey: the plate seen a little smaller."""
    y, x = _margins(image, 0.06, 0.03)
    framed = cv2.copyMakeBorder(image, y, y, x, x, cv2.BORDER_CONSTANT, value=PADDING_GREY)
    return _back_to_size(framed, image)


def tight(image: np.ndarray) -> np.ndarray:
    """5% of the height and 2% of the width cut from each side."""
    y, x = _margins(image, 0.05, 0.02)
    return _back_to_size(image[y:-y, x:-x], image)


FRAMINGS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "loose": loose,
    "padded": padded,
    "tight": tight,
}


def read(reader: ONNXPlateRecognizer, images: np.ndarray) -> tuple[list[str], np.ndarray]:
    results = reader.run_detailed(images, 256)
    return [r.text for r in results], np.array([r.confidence for r in results])


def two_view_counts(
    reader: ONNXPlateRecognizer, images: np.ndarray, truth: np.ndarray, framings: list[str]
) -> dict[str, int]:
    """Plates read right by one view, and by two views with each framing."""
    texts, confidence = read(reader, images)
    counts = {"one view": int((np.array(texts) == truth).sum())}
    for name in framings:
        framed = np.stack([FRAMINGS[name](image) for image in images])
        other_texts, other_confidence = read(reader, framed)
        chosen = np.where(other_confidence > confidence, other_texts, texts)
        counts[f"{name} alone"] = int((np.array(other_texts) == truth).sum())
        counts[f"two views, {name}"] = int((chosen == truth).sum())
    return counts


def dev_sets(config: PlateConfig) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The real sets' crops preprocessed for ``config``, and their normalised texts, read as
    score and compare read them (a row that cannot be used is left out, and logged)."""
    csvs = sorted(str(path) for path in DEV_SETS.glob("*/annotations.csv"))
    sets, _ = read_labelled_sets(LabelledSetsDataset(filepaths=csvs).load(), config)
    return {name: (data["images"], data["plate_text"]) for name, data in sets.items()}


def val_set(model_input: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    data = np.load(model_input)
    val = data["split"] == "val"
    return {"synthetic val": (data["images"][val], data["plate_text"][val])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", choices=["val", "dev"])
    parser.add_argument("--model", action="append", required=True, type=Path)
    parser.add_argument("--model-input", type=Path, help="model_input.npz (for val)")
    parser.add_argument("--framing", choices=sorted(FRAMINGS), help="the chosen one (for dev)")
    args = parser.parse_args()
    if args.target == "val" and args.model_input is None:
        parser.error("val needs --model-input")
    if args.target == "dev" and args.framing is None:
        parser.error("dev needs --framing")
    readers = [ONNXPlateRecognizer(model, threads=2) for model in args.model]
    if args.target == "val":
        sets, framings = val_set(args.model_input), sorted(FRAMINGS)
    else:
        sets, framings = dev_sets(readers[0].config), [args.framing]
    rows = []
    for model, reader in zip(args.model, readers, strict=True):
        for name, (images, truth) in sets.items():
            counts = two_view_counts(reader, images, truth, framings)
            rows.append({"model": model.stem, "set": name, "plates": len(truth), **counts})
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
