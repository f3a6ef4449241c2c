"""Compare: candidate models read side by side on labelled sets give each one's figures (the
default reader, the model's own reading, with a region hint), deltas against a baseline,
the misread plates across one row, and clear errors for a bad folder or baseline."""

from __future__ import annotations

import cv2
import numpy as np
import onnx
import pandas as pd
import pytest

from plate_ocr_pipeline.core.onnx_metadata import embed_metadata
from plate_ocr_pipeline.core.plate_config import PlateConfig
from plate_ocr_pipeline.datasets import LabelledSetsDataset
from plate_ocr_pipeline.pipelines.compare.nodes import (
    misread_plates,
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

# The reader's region head names each text's family. OK123 is a US plate, labelled as US
# labels write it (0K123): read as European, it keeps its O; with the US as hint it is
# written 0K123. K4M is labelled an old Brazilian plate; AB123CD an Argentine (Mercosur) one.
TEXT_FAMILIES = {"OK123": "eu", "AB123CD": "mercosur", "K4M": "us"}
FAMILIES = ["eu", "mercosur", "us"]
ROWS = [("a.png", "OK123", "0K123", "us-ny"), ("b.png", "AB123CD", "AB123CD", "ar"),
        ("c.png", "K4M", "K4M", "br-old")]  # fmt: skip
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
    config = PlateConfig.from_dict(PLATE)
    # "plain" has no region output and never learnt K4M: it misreads that crop.
    plain = embed_metadata(build_memorising_onnx(config, ("OK123", "AB123CD")), config)
    return {"reader": build_memorising_reader_onnx(TEXT_FAMILIES, FAMILIES), "plain": plain}


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    csv = write_set(tmp_path_factory.mktemp("sets") / "mine")
    return LabelledSetsDataset(filepaths={"mine": str(csv)}).load()


@pytest.fixture(scope="module")
def readings(labelled):
    models = {name: (lambda m=model: m) for name, model in candidates().items()}
    table, rejects = read_candidates(models, labelled, COMPARE)
    assert rejects.empty
    return table


def test_each_candidate_reads_every_plate_three_ways(readings):
    reader = readings[readings["model"] == "reader"].set_index("truth")
    assert reader.loc["0K123", "text"] == "OK123"  # region eu: the letter O stays
    assert reader.loc["0K123", "raw_text"] == "OK123"
    assert reader.loc["0K123", "hint_text"] == "0K123"  # the US hint writes O as 0
    assert reader.loc["0K123", "region"] == "eu" and reader.loc["0K123", "region_right"] == 0
    assert reader.loc["AB123CD", "region_right"] == 1  # mercosur is one of ar's families
    assert reader.loc["K4M", "text"] == "K4M" and reader.loc["K4M", "region_right"] == 0
    assert reader.loc["AB123CD", "kind"] == "ar/mercosur"
    assert reader.loc["AB123CD", "layout"] == "ar/one-row"
    plain = readings[readings["model"] == "plain"].set_index("truth")
    assert plain.loc["K4M", "text"] != "K4M"
    assert plain["region"].eq("").all() and plain["region_right"].isna().all()
    assert len(readings) == 6


def test_the_comparison_gives_each_candidates_figures_and_deltas(readings):
    table = summarise_comparison(readings, {**COMPARE, "baseline": "reader"})
    overall = table[table["group"] == "(all)"].set_index("model")
    assert overall.loc["reader", ["plates", "right"]].tolist() == [3, 2]
    assert overall.loc["reader", "plate_acc"] == pytest.approx(2 / 3)
    assert overall.loc["reader", "plate_acc_eq"] == pytest.approx(1.0)  # O counted as 0
    assert overall.loc["reader", "plate_acc_raw"] == pytest.approx(2 / 3)
    assert overall.loc["reader", "plate_acc_hint"] == pytest.approx(1.0)
    assert overall.loc["reader", "region_acc"] == pytest.approx(1 / 3)
    assert overall.loc["plain", "plate_acc"] == pytest.approx(1 / 3)
    assert np.isnan(overall.loc["plain", "region_acc"])
    assert overall.loc["plain", "right_delta"] == -1
    assert overall.loc["plain", "plate_acc_delta"] == pytest.approx(-1 / 3)
    assert overall.loc["reader", "plate_acc_delta"] == 0
    groups = set(table[table["model"] == "reader"]["group"])
    assert groups == {"(all)", "us", "ar", "br-old", "ar/mercosur", "ar/one-row"}
    with pytest.raises(ValueError, match="baseline 'best' is not among the candidates"):
        summarise_comparison(readings, {**COMPARE, "baseline": "best"})


def test_misreads_put_every_candidates_text_on_one_row(readings):
    misreads = misread_plates(readings).set_index("truth")
    assert sorted(misreads.index) == ["0K123", "K4M"]  # AB123CD: both right
    assert misreads.loc["0K123", ["plain", "reader"]].tolist() == ["OK123", "OK123"]
    assert misreads.loc["K4M", "reader"] == "K4M"


def test_the_plot_has_a_panel_per_set_and_a_bar_per_candidate_and_group(readings):
    figure = plot_comparison(summarise_comparison(readings, COMPARE))
    (axis,) = figure.axes
    assert axis.get_title() == "mine"
    assert len(axis.patches) == 2 * 6


def test_a_candidate_without_a_plate_config_or_no_candidate_fails_naming_it(labelled):
    bare = build_memorising_onnx(PlateConfig.from_dict(PLATE))
    with pytest.raises(ValueError, match="candidate 'bare'"):
        read_candidates({"bare": lambda: bare}, labelled, COMPARE)
    with pytest.raises(ValueError, match="no candidate models in unused"):
        read_candidates({}, labelled, COMPARE)


def test_compare_runs_through_the_catalog(kedro_project, tmp_path):
    folder = tmp_path / "candidates"
    (folder / "older").mkdir(parents=True)
    models = candidates()
    onnx.save(models["reader"], folder / "reader.onnx")
    onnx.save(models["plain"], tmp_path / "plain.onnx")
    (folder / "older" / "plain.onnx").symlink_to(tmp_path / "plain.onnx")  # as README shows
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
    assert sorted(overall.index) == ["older/plain", "reader"]  # named by path, no suffix
    assert overall.loc["reader", "right"] == 2 and overall.loc["older/plain", "right"] == 1
    assert overall.loc["older/plain", "right_delta"] == -1
    misreads = pd.read_csv(reports / "misreads.csv", dtype=str, keep_default_na=False)
    assert sorted(misreads["truth"]) == ["0K123", "K4M"]
    assert (reports / "comparison.png").stat().st_size > 1000
    readings = pd.read_csv(kedro_project.path / "data" / "07_model_output" / "compare_readings.csv")
    assert len(readings) == 6
