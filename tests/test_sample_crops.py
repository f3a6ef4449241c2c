"""The shipped sample crops are what ``scripts/make_sample_crops.py`` draws with today's
renderer: a renderer change that alters them fails here until the script is run again."""

from __future__ import annotations

import csv

import cv2
import numpy as np
import pytest

from tests.conftest import REPO_ROOT, load_script

pytest.importorskip("PIL")

ASSETS = REPO_ROOT / "src/plate_ocr_pipeline/assets"


@pytest.fixture(scope="module")
def drawn() -> list[tuple[str, np.ndarray, str, str]]:
    return load_script("make_sample_crops").sample_crops()


def test_the_shipped_labels_are_the_drawn_ones(drawn):
    with open(ASSETS / "samples.csv", newline="", encoding="utf-8") as handle:
        shipped = [tuple(row) for row in csv.reader(handle)][1:]
    assert shipped == [(f"samples/{name}", label, region) for name, _, label, region in drawn]
    assert sorted(path.name for path in (ASSETS / "samples").glob("*.png")) == sorted(
        name for name, *_ in drawn
    )


def test_the_shipped_crops_are_the_drawn_ones(drawn):
    for name, image, _, _ in drawn:
        shipped = cv2.cvtColor(cv2.imread(str(ASSETS / "samples" / name)), cv2.COLOR_BGR2RGB)
        assert shipped.shape == image.shape, name
        # A renderer change moves most pixels; a font rasteriser's rounding moves a few by one.
        difference = np.abs(shipped.astype(int) - image.astype(int)).mean()
        assert difference < 0.5, f"{name} differs from what the renderer draws: run the script"
