"""Render the small folder of synthetic sample crops shipped in the package.

    .venv/bin/python scripts/make_sample_crops.py

Writes ``src/plate_ocr_pipeline/assets/samples/*.png`` and, beside that folder, their labels in
``samples.csv`` (ingest format; outside the folder, so that reading it reads images only), so
that ``kedro run --pipelines=infer`` and the README's first command have something to read
right after a clone. Seeded: the same code writes the same bytes.
"""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np

from plate_ocr_pipeline.synthetic import generate_plates

SAMPLES = Path(__file__).resolve().parents[1] / "src" / "plate_ocr_pipeline" / "assets" / "samples"
# One crop per entry: a tour of the families the reader knows (US the most, as on the roads it
# is most used on), in an order that keeps the file names the tests and docs use.
REGIONS = [
    "us",
    "br",
    "us",
    "ar-old",
    "ar",
    "us",
    "eu-de",
    "br-old",
    "eu-fr",
    "uk",
    "us",
    "ar-moto",
]


def sample_crops(seed: int = 2024) -> list[tuple[str, np.ndarray, str, str]]:
    """``(file name, RGB image, label, region)`` of each sample crop, in ``REGIONS``' order."""
    crops = []
    for index, region in enumerate(REGIONS):
        image, label, drawn = generate_plates(
            1,
            {region: 1.0},
            seed=seed + index,
            width_range=(240, 320),
            height_range=(100, 160),
            num_workers=1,
        )[0]
        crops.append((f"{index:02d}_{drawn}.png", image, label, drawn))
    return crops


def main(seed: int = 2024) -> None:
    SAMPLES.mkdir(parents=True, exist_ok=True)
    for old in SAMPLES.glob("*.png"):
        old.unlink()
    crops = sample_crops(seed)
    with open(SAMPLES.with_suffix(".csv"), "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image_path", "plate_text", "region"])
        for name, image, label, region in crops:
            cv2.imwrite(
                str(SAMPLES / name),
                cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
                [cv2.IMWRITE_PNG_COMPRESSION, 9],
            )
            writer.writerow([f"{SAMPLES.name}/{name}", label, region])
    print(f"wrote {len(crops)} crops to {SAMPLES}")


if __name__ == "__main__":
    main()
