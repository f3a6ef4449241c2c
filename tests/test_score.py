"""`kedro run --pipeline=score` on a tiny labelled folder gives the expected numbers."""

from __future__ import annotations

import json

import cv2
import onnx
import pandas as pd
import pytest

from plate_ocr_pipeline.onnx_metadata import embed_metadata
from plate_ocr_pipeline.pipelines.score.nodes import set_name
from plate_ocr_pipeline.plate_config import PlateConfig
from tests.plate_model_helpers import PLATE, TEXTS, build_memorising_onnx, render_plate


@pytest.fixture
def labelled_folder(tmp_path):
    """Three crops the model reads exactly; the third is labelled X4M although it shows K4M."""
    folder = tmp_path / "tiny-set"
    folder.mkdir()
    rows = []
    for name, shown, label, region in [("a.png", TEXTS[0], TEXTS[0], "us-ca"),
                                       ("b.png", TEXTS[1], TEXTS[1], "us-ca"),
                                       ("c.png", TEXTS[2], "X4M", "us-ny")]:  # fmt: skip
        cv2.imwrite(str(folder / name), render_plate(shown))
        rows.append(f"{name},{label},{region}")
    (folder / "annotations.csv").write_text("image_path,plate_text,region\n" + "\n".join(rows))
    return folder


def test_score_reports_the_expected_figures(kedro_project, labelled_folder, tmp_path):
    model = tmp_path / "model.onnx"
    onnx.save(embed_metadata(build_memorising_onnx(), PlateConfig.from_dict(PLATE)), model)
    csv = labelled_folder / "annotations.csv"
    kedro_project(
        "--pipeline=score", f"--params=score.model_path={model},score.annotations=[{csv}]"
    )
    reports = kedro_project.path / "data" / "08_reporting" / "score"
    metrics = json.loads((reports / "score_metrics.json").read_text())["tiny-set"]
    # a and b are read right; c is wrong in one slot of 10.
    assert metrics["plate_acc"] == pytest.approx(2 / 3)
    assert metrics["cat_acc"] == pytest.approx(29 / 30)
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
    assert (reports / "error_gallery.png").stat().st_size > 1000


def test_set_names_follow_the_folder():
    assert set_name("../shared/datasets/real-us-plates/annotations.csv") == "real-us-plates"
    assert set_name("/data/mine.csv") == "mine"
