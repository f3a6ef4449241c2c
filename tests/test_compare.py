"""Compare: candidate models read side by side on labelled sets give each one's figures (the
default reader, the model's own reading, with a region hint), deltas against a baseline, the
misread plates across one row, figures on the plates every candidate read, and clear errors
for a bad folder, candidate or baseline."""

from __future__ import annotations

import cv2
import numpy as np
import onnx
import pandas as pd
import pytest

from plate_ocr_pipeline.core.metrics import paired_p_value
from plate_ocr_pipeline.core.onnx_metadata import embed_metadata
from plate_ocr_pipeline.core.plate_config import PlateConfig
from plate_ocr_pipeline.datasets import LabelledSetsDataset
from plate_ocr_pipeline.evaluation import candidate_readings, misread_plates, read_labelled_sets
from plate_ocr_pipeline.inference.recognizer import ONNXPlateRecognizer
from plate_ocr_pipeline.pipelines.compare.nodes import (
    plot_comparison,
    read_candidates,
    summarise_comparison,
)
from tests.plate_model_helpers import (
    PLATE,
    build_memorising_onnx,
    build_memorising_reader_onnx,
    render_plate,
)

# What the reader's region head names for each text. US labels write the letter O as 0, and
# so does the default reader where the head names the US.
TEXT_FAMILIES = {"OK123": "us", "AB123CD": "mercosur", "KO4": "us", "K4M": "us"}
FAMILIES = ["eu", "mercosur", "us"]
# (file, text shown, label, region label)
ROWS = [
    ("a.png", "OK123", "0K123", "us-ny"),  # default reader 0K123: right; own reading: wrong
    ("b.png", "AB123CD", "AB123CD", "ar"),  # Mercosur, one of ar's families: all right
    ("c.png", "KO4", "KO4", "eu-de"),  # read as US: K04, wrong; own and with the hint: right
    ("d.png", "K4M", "K4M", "jp"),  # no family known for jp: no hint reading; region a miss
]
COMPARE = {"candidates_dir": "unused", "batch_size": 2, "threads": 1, "equivalences": ["O0"],
           "region_labels": {"mine": {"ar": ["ar-old", "mercosur"]}}}  # fmt: skip


def write_set(folder):
    folder.mkdir(parents=True)
    for name, shown, _, _ in ROWS:
        cv2.imwrite(str(folder / name), render_plate(shown))
    lines = [f"{name},{label},{region}" for name, _, label, region in ROWS]
    (folder / "annotations.csv").write_text("image_path,plate_text,region\n" + "\n".join(lines))
    return folder / "annotations.csv"


def candidates() -> dict[str, onnx.ModelProto]:
    """``reader`` (with a region head) and ``short``: no region output, six slots (it cannot
    read the 7-character label: a rejected row), and it never learnt KO4."""
    config = PlateConfig.from_dict({**PLATE, "max_plate_slots": 6})
    short = embed_metadata(build_memorising_onnx(config, ("OK123", "K4M")), config)
    return {"reader": build_memorising_reader_onnx(TEXT_FAMILIES, FAMILIES), "short": short}


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    csv = write_set(tmp_path_factory.mktemp("sets") / "mine")
    return LabelledSetsDataset(filepaths={"mine": str(csv)}).load()


@pytest.fixture(scope="module")
def read(labelled):
    models = {name: (lambda m=model: m) for name, model in candidates().items()}
    return read_candidates(models, labelled, COMPARE)


def test_each_candidate_reads_every_plate_three_ways(read):
    readings, _ = read
    reader = readings[readings["model"] == "reader"].set_index("truth")
    assert reader["text"].to_dict() == {
        "0K123": "0K123", "AB123CD": "AB123CD", "KO4": "K04", "K4M": "K4M"
    }  # fmt: skip
    assert reader["raw_text"].to_dict() == {
        "0K123": "OK123", "AB123CD": "AB123CD", "KO4": "KO4", "K4M": "K4M"
    }  # fmt: skip
    assert reader["hint"].to_dict() == {
        "0K123": "us", "AB123CD": "ar-old|mercosur", "KO4": "eu", "K4M": ""
    }  # fmt: skip
    assert reader["hint_text"].to_dict() == {
        "0K123": "0K123", "AB123CD": "AB123CD", "KO4": "KO4", "K4M": ""
    }  # fmt: skip
    assert reader["region_right"].tolist() == [1.0, 1.0, 0.0, 0.0]  # jp is never read: a miss
    assert reader.loc["AB123CD", ["kind", "layout"]].tolist() == ["ar/mercosur", "ar/one-row"]
    short = readings[readings["model"] == "short"].set_index("truth")
    assert "AB123CD" not in short.index
    assert short.loc["KO4", "text"] != "KO4"
    assert short["region"].eq("").all() and short["region_right"].isna().all()


def test_one_candidate_reads_the_sets_from_python(labelled):
    """The library function that compare's node calls, used without Kedro."""
    recognizer = ONNXPlateRecognizer(candidates()["reader"], threads=1)
    sets, rejects = read_labelled_sets(labelled, recognizer.config)
    mine = candidate_readings("reader", recognizer, sets, COMPARE["region_labels"], 2)
    assert rejects.empty and (mine["model"] == "reader").all() and (mine["set"] == "mine").all()
    assert mine.set_index("truth")["text"].to_dict() == {
        "0K123": "0K123", "AB123CD": "AB123CD", "KO4": "K04", "K4M": "K4M"
    }  # fmt: skip
    assert mine["region_right"].tolist() == [1.0, 1.0, 0.0, 0.0]


def test_a_row_a_candidate_cannot_read_is_its_reject(read):
    _, rejects = read
    assert rejects["model"].tolist() == ["short"]
    assert rejects["source_row"].tolist() == [3]  # the CSV line of AB123CD (header = 1)


def test_the_comparison_counts_the_plates_every_candidate_read(read):
    readings, _ = read
    alone = summarise_comparison(readings[readings["model"] == "reader"], COMPARE)
    overall = alone[alone["group"] == "(all)"].iloc[0]
    assert overall[["plates", "hint_plates", "right"]].tolist() == [4, 3, 3]
    assert overall["plate_acc_format"] == pytest.approx(3 / 4)
    assert overall["plate_acc_eq_format"] == pytest.approx(1.0)  # K04 counts with O as 0
    assert overall["plate_acc_raw"] == pytest.approx(3 / 4)
    assert overall["plate_acc_hint"] == pytest.approx(1.0)
    assert overall["region_acc"] == pytest.approx(2 / 4)
    assert set(alone["group"]) == {"(all)", "us", "ar", "eu", "jp", "ar/mercosur", "ar/one-row"}

    both = summarise_comparison(readings, {**COMPARE, "baseline": "reader"})
    overall = both[both["group"] == "(all)"].set_index("model")
    assert overall["plates"].tolist() == [3, 3]  # AB123CD left out: short rejected it
    assert overall.loc["reader", "right"] == 2 and overall.loc["short", "right"] == 1
    assert overall.loc["short", "right_delta"] == -1
    assert overall.loc["short", "plate_acc_format_delta"] == pytest.approx(-1 / 3)
    assert np.isnan(overall.loc["short", "region_acc"])
    assert overall.loc["reader", "plate_acc_hint_delta"] == 0
    # Plate by plate: short misreads 0K123, which the reader reads; it fixes none.
    assert overall.loc["short", ["fixed", "broken", "p_paired"]].tolist() == [0, 1, 1.0]
    assert overall.loc["reader", ["fixed", "broken"]].tolist() == [0, 0]
    assert "fixed" not in alone


def test_the_paired_p_value_is_the_exact_two_sided_mcnemar_test():
    assert paired_p_value(0, 0) == 1.0
    assert paired_p_value(5, 5) == 1.0
    assert paired_p_value(1, 3) == pytest.approx(2 * (1 + 4) / 16)
    assert paired_p_value(10, 0) == pytest.approx(2 / 1024)
    assert paired_p_value(3, 1) == paired_p_value(1, 3)


def test_misreads_put_every_candidates_text_on_one_row(read):
    readings, _ = read
    misreads = misread_plates(readings).set_index("truth")
    # K4M: both right; AB123CD: the one candidate that read it, right.
    assert sorted(misreads.index) == ["0K123", "KO4"]
    assert misreads.loc["0K123", ["reader", "short"]].tolist() == ["0K123", "OK123"]
    assert misreads.loc["KO4", "reader"] == "K04"
    # A plate one candidate did not read and the other read right is no misread.
    right = readings.assign(text=readings["truth"])
    assert misread_plates(right[right["truth"] != "KO4"]).empty
    wrong_once = readings[~((readings["model"] == "reader") & (readings["truth"] == "KO4"))]
    misreads = misread_plates(wrong_once).set_index("truth")
    assert misreads.loc["KO4", "reader"] == "(rejected)"


def test_the_plot_has_a_panel_per_set_and_a_bar_per_candidate_and_group(read):
    readings, _ = read
    figure = plot_comparison(summarise_comparison(readings, COMPARE))
    (axis,) = figure.axes
    assert axis.get_title() == "mine"
    groups = [label.get_text().split("\n") for label in axis.get_xticklabels()]
    assert groups == [["(all)", "3"], ["eu", "1"], ["jp", "1"], ["us", "1"]]
    assert len(axis.patches) == 2 * 4


def test_a_bad_candidate_folder_or_baseline_fails_before_reading(labelled):
    bare = build_memorising_onnx(PlateConfig.from_dict(PLATE))
    with pytest.raises(ValueError, match="candidate 'bare'"):
        read_candidates({"bare": lambda: bare}, labelled, COMPARE)
    with pytest.raises(ValueError, match="no candidate models in unused"):
        read_candidates({}, labelled, COMPARE)

    def never_loaded():
        raise AssertionError("a candidate was loaded before the baseline was checked")

    with pytest.raises(ValueError, match="baseline 'best' is not among the candidates"):
        read_candidates({"a": never_loaded}, labelled, {**COMPARE, "baseline": "best"})


def test_a_misspelt_region_label_family_fails_before_the_candidate_reads(labelled, monkeypatch):
    misspelt = {**COMPARE, "region_labels": {"mine": {"ar": ["ar-olds", "mercosur"]}}}
    models = candidates()
    with pytest.raises(ValueError, match=r"candidate 'reader': .*mine: ar -> \['ar-olds'\]"):
        read_candidates({"reader": lambda: models["reader"]}, labelled, misspelt)
    # A bad candidate stops the run before the others read: "a" sorts first and its
    # recognizer would read through this never-called method.
    calls = []
    monkeypatch.setattr(ONNXPlateRecognizer, "run_detailed", lambda *a, **k: calls.append(a))
    with pytest.raises(ValueError, match="candidate 'reader'"):
        read_candidates(
            {"a": lambda: models["short"], "reader": lambda: models["reader"]}, labelled, misspelt
        )
    assert calls == []
    monkeypatch.undo()
    # A model without a region output does not use the labels: read as before.
    readings, _ = read_candidates({"short": lambda: models["short"]}, labelled, misspelt)
    assert set(readings["model"]) == {"short"}


def test_compare_runs_through_the_catalog(kedro_project, tmp_path):
    folder = tmp_path / "candidates"
    (folder / "older").mkdir(parents=True)
    models = candidates()
    onnx.save(models["reader"], folder / "reader.onnx")
    onnx.save(models["short"], tmp_path / "short.onnx")
    (folder / "older" / "short.onnx").symlink_to(tmp_path / "short.onnx")  # as README shows
    (folder / "notes.txt").write_text("not a model")
    csv = write_set(tmp_path / "mine")
    kedro_project(
        "--pipelines=compare",
        f"--params=compare.candidates_dir={folder},compare.annotations=[{csv}],"
        "compare.baseline=reader",
    )
    reports = kedro_project.path / "data" / "08_reporting" / "compare"
    table = pd.read_csv(reports / "comparison.csv", keep_default_na=False, na_values=[""])
    overall = table[table["group"] == "(all)"].set_index("model")
    assert sorted(overall.index) == ["older/short", "reader"]  # named by path, no suffix
    assert overall.loc["reader", "right"] == 2 and overall.loc["older/short", "right"] == 1
    assert overall.loc["older/short", "right_delta"] == -1
    assert overall.loc["reader", "region_acc"] == pytest.approx(1 / 3)
    assert np.isnan(overall.loc["older/short", "region_acc"])
    misreads = pd.read_csv(reports / "misreads.csv", dtype=str, keep_default_na=False)
    assert misreads["truth"].tolist() == ["0K123", "KO4"]
    assert pd.read_csv(reports / "rejects.csv")["model"].tolist() == ["older/short"]
    assert cv2.imread(str(reports / "comparison.png")).shape[1] == 1000  # 10 in at 100 dpi
    readings = pd.read_csv(
        kedro_project.path / "data" / "07_model_output" / "compare_readings.csv",
        dtype=str,
        keep_default_na=False,
    )
    assert len(readings) == 7
    assert readings.set_index(["model", "truth"]).loc[("reader", "0K123"), "raw_text"] == "OK123"
