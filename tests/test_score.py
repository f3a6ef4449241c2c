"""Score: an ONNX model and labelled CSVs through the catalog give the expected figures; set
names stay unique; a CSV without rows or a model without a plate config fail clearly."""

from __future__ import annotations

import json
import sqlite3
from pathlib import PurePosixPath

import cv2
import onnx
import pandas as pd
import pytest
from kedro.io import DataCatalog, DatasetError, MemoryDataset
from kedro.runner import SequentialRunner

from plate_ocr_pipeline.core.onnx_metadata import embed_metadata
from plate_ocr_pipeline.core.plate_config import PlateConfig
from plate_ocr_pipeline.datasets import LabelledSetsDataset
from plate_ocr_pipeline.datasets.labelled_sets_dataset import set_names
from plate_ocr_pipeline.pipelines import score
from plate_ocr_pipeline.pipelines.score.nodes import load_recognizer
from tests.plate_model_helpers import PLATE, TEXTS, build_memorising_onnx, render_plate

SCORE = {"equivalences": ["O0"], "batch_size": 2, "threads": 1, "gallery_size": 4,
         "gallery_columns": 2}  # fmt: skip


def write_set(folder, labels=(TEXTS[0], TEXTS[1], "X4M")):
    """Three crops the model reads exactly (TEXTS); written with ``labels`` (by default the
    third is labelled X4M although it shows K4M)."""
    folder.mkdir(parents=True)
    rows = []
    for name, shown, label, region in zip(
        ("a.png", "b.png", "c.png"), TEXTS, labels, ("us-ca", "us-ca", "us-ny"), strict=True
    ):
        cv2.imwrite(str(folder / name), render_plate(shown))
        rows.append(f"{name},{label},{region}")
    (folder / "annotations.csv").write_text("image_path,plate_text,region\n" + "\n".join(rows))
    return folder / "annotations.csv"


@pytest.fixture
def model():
    return embed_metadata(build_memorising_onnx(), PlateConfig.from_dict(PLATE))


def test_score_reports_the_expected_figures(kedro_project, model, tmp_path):
    model_path = tmp_path / "model.onnx"
    onnx.save(model, model_path)
    csv = write_set(tmp_path / "tiny-set")
    kedro_project(
        "--pipelines=score", f"--params=score.model_path={model_path},score.annotations=[{csv}]"
    )
    reports = kedro_project.path / "data" / "08_reporting" / "score"
    metrics = json.loads((reports / "metrics.json").read_text())
    assert list(metrics) == ["tiny-set"]
    # a and b are read right; c is wrong in one slot of 10.
    assert metrics["tiny-set"]["plate_acc"] == pytest.approx(2 / 3)
    assert metrics["tiny-set"]["cat_acc"] == pytest.approx(29 / 30)
    per_region = pd.read_csv(reports / "per_region.csv").set_index("region")
    assert per_region.loc["us-ca", "plate_acc"] == pytest.approx(1.0)
    assert per_region.loc["us-ny", "plate_acc"] == pytest.approx(0.0)
    per_length = pd.read_csv(reports / "per_length.csv").set_index("length")
    assert list(per_length.index) == [3, 5, 7]  # X4M, AB123, XY9876Z
    assert per_length["plate_acc"].tolist() == [0.0, 1.0, 1.0]
    assert per_length["too_long"].sum() == 0 and per_length["too_short"].sum() == 0
    predictions = pd.read_csv(
        kedro_project.path / "data" / "07_model_output" / "score_predictions.csv"
    )
    assert predictions.set_index("truth").loc["X4M", "prediction"] == "K4M"
    assert pd.read_csv(reports / "rejects.csv").empty
    assert (reports / "error_gallery.png").stat().st_size > 1000
    with sqlite3.connect(kedro_project.tracking) as db:
        logged = dict(db.execute("SELECT key, value FROM metrics").fetchall())
    assert logged["tiny-set.plate_acc"] == pytest.approx(2 / 3)


def test_two_sets_in_folders_of_the_same_name_are_both_scored(model, tmp_path):
    first = write_set(tmp_path / "a" / "test")
    # The same crops, labelled with what they show: every plate right.
    second = write_set(tmp_path / "b" / "test", labels=TEXTS)
    reports = ("metrics", "predictions", "rejects")
    catalog = DataCatalog(
        {
            "score_model": MemoryDataset(model),
            "score_labelled_sets": LabelledSetsDataset(filepaths=[str(first), str(second)]),
            "params:score": MemoryDataset(SCORE),
            "score.predictor": MemoryDataset(copy_mode="assign"),  # as in catalog_score.yml
            **{f"score.{name}": MemoryDataset() for name in reports},
        }
    )
    pipeline = score.create_pipeline().to_outputs(*(f"score.{name}" for name in reports))
    outputs = SequentialRunner().run(pipeline, catalog)
    metrics = outputs["score.metrics"].load()
    assert {name: round(m["plate_acc"], 4) for name, m in metrics.items()} == {
        "a/test": 0.6667,
        "b/test": 1.0,
    }
    assert outputs["score.predictions"].load().groupby("set").size().to_dict() == {
        "a/test": 3,
        "b/test": 3,
    }


def test_set_names_follow_the_folder_and_stay_unique():
    def names(*paths):
        return set_names([PurePosixPath(p) for p in paths])

    assert names("../shared/datasets/real-us-plates/annotations.csv") == ["real-us-plates"]
    assert names("/data/mine.csv") == ["mine"]
    assert names("a/test/annotations.csv", "b/test/annotations.csv") == ["a/test", "b/test"]
    assert names("x/a/test/annotations.csv", "y/a/test/annotations.csv", "c/val.csv") == [
        "x/a/test",
        "y/a/test",
        "val",
    ]
    assert names("test/annotations.csv", "a/test/annotations.csv") == ["test", "a/test"]
    with pytest.raises(DatasetError, match="same name"):
        names("a/annotations.csv", "a/annotations.csv")
    # Named by the user: the names are kept.
    dataset = LabelledSetsDataset(filepaths={"us": "a/test/annotations.csv"})
    assert dataset._describe()["filepaths"] == {"us": "a/test/annotations.csv"}


@pytest.mark.parametrize("content", ["image_path,plate_text,region\n", ""])
def test_a_csv_without_rows_is_an_error_naming_the_file(tmp_path, content):
    csv = tmp_path / "empty-set" / "annotations.csv"
    csv.parent.mkdir()
    csv.write_text(content)
    for skip_missing in (False, True):
        dataset = LabelledSetsDataset(filepaths=[str(csv)], skip_missing=skip_missing)
        with pytest.raises(DatasetError, match=rf"'empty-set'.*{csv}.*no data rows"):
            dataset.load()


def test_a_named_csv_that_does_not_exist_is_an_error(tmp_path):
    dataset = LabelledSetsDataset(filepaths=[str(tmp_path / "gone" / "annotations.csv")])
    assert not dataset.exists()
    with pytest.raises(DatasetError, match="annotations file not found"):
        dataset.load()


def test_a_model_without_a_plate_config_fails_clearly():
    with pytest.raises(ValueError, match="no plate config in its ONNX metadata"):
        load_recognizer(build_memorising_onnx(), SCORE)
    recognizer, plate = load_recognizer(
        embed_metadata(build_memorising_onnx(), PlateConfig.from_dict(PLATE)), SCORE
    )
    assert plate == PlateConfig.from_dict(PLATE).to_dict()
    assert recognizer.predict(render_plate("K4M")[None, ..., None]).shape == (1, 10, 37)
