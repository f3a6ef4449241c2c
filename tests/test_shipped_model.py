"""The model shipped in the package: loads, describes itself, reads the shipped samples."""

from __future__ import annotations

import csv

import yaml

from plate_ocr_pipeline import ONNXPlateRecognizer
from plate_ocr_pipeline.core.metrics import cat_acc
from plate_ocr_pipeline.core.plate_config import PlateConfig
from plate_ocr_pipeline.core.text_codec import encode_texts
from plate_ocr_pipeline.inference.recognizer import DEFAULT_MODEL_PATH
from tests.conftest import REPO_ROOT

SAMPLES = REPO_ROOT / "src" / "plate_ocr_pipeline" / "assets" / "samples"


def test_shipped_model_metadata_matches_the_plate_config():
    reader = ONNXPlateRecognizer()
    assert reader.model_path == DEFAULT_MODEL_PATH
    # A few MB at most: the shipped CTC model is 2.2 MB.
    assert DEFAULT_MODEL_PATH.stat().st_size < 4_000_000
    beside = PlateConfig.from_yaml(DEFAULT_MODEL_PATH.with_suffix(".yml"))
    assert reader.config == beside
    base = yaml.safe_load((REPO_ROOT / "conf/base/parameters_plate.yml").read_text())["plate"]
    assert reader.config == PlateConfig.from_dict(base)
    assert reader.input_shape == (base["img_height"], base["img_width"], 1)


def test_shipped_model_reads_the_shipped_samples():
    with open(SAMPLES.with_suffix(".csv"), newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) >= 10
    reader = ONNXPlateRecognizer(threads=1)
    texts = reader.run([SAMPLES.parent / row["image_path"] for row in rows])
    truths = [row["plate_text"] for row in rows]
    slot_accuracy = cat_acc(encode_texts(truths, reader.config), encode_texts(texts, reader.config))
    exact = sum(text == truth for text, truth in zip(texts, truths, strict=True))
    # The shipped model reads all 12 (one per family, US the most). The real sets are the
    # measure (README); this checks the file as shipped, so a new model that misreads one
    # changes this figure knowingly.
    assert exact == len(rows), list(zip(texts, truths, strict=True))
    assert slot_accuracy >= 0.9, list(zip(texts, truths, strict=True))
