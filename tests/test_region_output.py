"""The region output end to end: a model with a region head (a memorising ONNX model whose
``region`` output names each text's family) read by the recognizer, the infer table, the CLI
and the score stage's region and format-aware decoding report."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from plate_ocr_pipeline.core.plate_config import PlateConfig
from plate_ocr_pipeline.core.preprocessing import preprocess_image
from plate_ocr_pipeline.inference.cli import main
from plate_ocr_pipeline.inference.recognizer import ONNXPlateRecognizer
from plate_ocr_pipeline.pipelines.infer import nodes as infer_nodes
from plate_ocr_pipeline.pipelines.score.nodes import load_recognizer, score_regions_and_formats

from .plate_model_helpers import PLATE, build_memorising_reader_onnx, render_plate

FAMILIES = ["eu", "mercosur", "us"]
# AB123 fits eu-ch's LL DDD; XY9876Z fits no Mercosur format; K4M is a US plate.
TEXT_FAMILIES = {"AB123": "eu", "XY9876Z": "mercosur", "K4M": "us"}


@pytest.fixture(scope="module")
def model_bytes() -> bytes:
    return build_memorising_reader_onnx(TEXT_FAMILIES, FAMILIES).SerializeToString()


@pytest.fixture(scope="module")
def crops(tmp_path_factory):
    folder = tmp_path_factory.mktemp("crops")
    import cv2

    for text in TEXT_FAMILIES:
        cv2.imwrite(str(folder / f"{text}.png"), render_plate(text))
    return folder


def test_the_recognizer_returns_each_plates_region_and_its_probability(model_bytes, crops):
    reader = ONNXPlateRecognizer(model_bytes)
    assert reader.region_families == FAMILIES
    results = {r.text: r for r in reader.run_detailed(sorted(str(p) for p in crops.iterdir()))}
    assert set(results) == set(TEXT_FAMILIES)
    for text, family in TEXT_FAMILIES.items():
        assert results[text].region == family
        assert results[text].region_prob == pytest.approx(1.0, abs=1e-3)
        assert results[text].raw_text == text
        # Format-aware decoding is on by default; no Mercosur format fits XY9876Z (flagged).
        assert results[text].format_fit is (text != "XY9876Z")
    off = ONNXPlateRecognizer(model_bytes, format_decoding=False).run_detailed(
        str(crops / "K4M.png")
    )
    assert off[0].format_fit is None and off[0].region == "us"


def test_format_aware_decoding_keeps_readings_that_fit_and_flags_a_hint_that_cannot(
    model_bytes, crops
):
    paths = sorted(str(p) for p in crops.iterdir())
    reader = ONNXPlateRecognizer(model_bytes, format_decoding=True)
    by_region = {r.raw_text: r for r in reader.run_detailed(paths)}
    assert all(r.text == r.raw_text for r in by_region.values())  # sure characters stay
    # AB123 fits eu-ch's LL DDD, K4M is read as US (no formats); XY9876Z is read as
    # Mercosur, whose formats would replace a sure character: kept, and flagged.
    assert by_region["AB123"].format_fit and by_region["K4M"].format_fit
    assert by_region["XY9876Z"].format_fit is False
    with pytest.raises(ValueError, match="unknown region families"):
        ONNXPlateRecognizer(model_bytes, region_hint=["atlantis"])
    # A hint may name a family the model's head does not know: it replaces the region output.
    assert ONNXPlateRecognizer(model_bytes, region_hint=["ar-old"]).format_decoding
    hinted = ONNXPlateRecognizer(model_bytes, format_decoding=True, region_hint=["mercosur"])
    for result in hinted.run_detailed(paths):  # no reading fits a Mercosur format
        assert result.format_fit is False
        assert result.text == result.raw_text


def test_another_reading_shares_the_session_and_leaves_the_recognizer_as_it_was(model_bytes, crops):
    reader = ONNXPlateRecognizer(model_bytes)
    hinted = reader.reading(region_hint=["mercosur"])
    assert hinted.session is reader.session
    assert hinted.format_decoding and hinted.region_hint == {"mercosur": 1.0}
    assert reader.region_hint is None
    own = reader.reading(format_decoding=False)
    assert reader.format_decoding and not own.format_decoding
    result = own.run_detailed(str(crops / "K4M.png"))[0]
    assert result.format_fit is None and result.text == "K4M"
    with pytest.raises(ValueError, match="unknown region families"):
        reader.reading(region_hint=["atlantis"])


def test_the_infer_table_has_the_region_columns(model_bytes, crops):
    files = {p.name: p.read_bytes for p in sorted(crops.iterdir())}
    files["broken.png"] = lambda: b"not an image"
    params = {
        "input_dir": str(crops),
        "output_path": "unused.csv",
        "model_path": "unused.onnx",
        "progress": False,
    }
    table = infer_nodes.recognize_images(files, model_bytes, params).set_index("path")
    assert list(table.reset_index().columns) == infer_nodes.PREDICTION_COLUMNS
    for text, family in TEXT_FAMILIES.items():
        row = table.loc[f"{text}.png"]
        assert (row["text"], row["raw_text"], row["region"]) == (text, text, family)
        assert row["region_confidence"] == pytest.approx(1.0, abs=1e-3)
    broken = table.loc["broken.png"]
    assert broken["status"] == "error" and broken["region"] == ""
    assert np.isnan(broken["region_confidence"])


def test_the_cli_prints_the_region(model_bytes, crops, tmp_path, capsys):
    model = tmp_path / "reader.onnx"
    model.write_bytes(model_bytes)
    crop = crops / "XY9876Z.png"
    assert main(["read", str(crop), "--model", str(model)]) == 0
    path, text, _, region, region_confidence = capsys.readouterr().out.strip().split("\t")
    assert (path, text, region) == (str(crop), "XY9876Z", "mercosur")
    assert float(region_confidence) == pytest.approx(1.0, abs=1e-3)
    assert main(["read", str(crop), "--model", str(model), "--json", "--region", "mercosur"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert (record["text"], record["raw_text"], record["region"]) == (
        "XY9876Z",
        "XY9876Z",
        "mercosur",
    )
    # A misspelt family is the argument's error, not the model's.
    assert main(["read", str(crop), "--model", str(model), "--region", "mercosor"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "plate-ocr: error: argument --region: unknown region families ['mercosor']" in (
        captured.err
    )


def test_score_reports_region_accuracy_a_confusion_table_and_format_decoding(model_bytes):
    config = PlateConfig.from_dict(PLATE)
    texts = list(TEXT_FAMILIES)
    images = np.stack([preprocess_image(render_plate(t), config) for t in texts])
    sets = {
        "mine": {
            "images": images,
            "plate_text": np.array(texts),
            # K4M is labelled Brazilian (old plates): read as us, a miss.
            "region": np.array(["eu-de", "ar", "br-old"]),
        }
    }
    score = {"region_labels": {"mine": {"ar": ["ar-old", "mercosur"]}}, "equivalences": ["O0"]}
    metrics, confusion, formats = score_regions_and_formats(
        ONNXPlateRecognizer(model_bytes), sets, score
    )
    assert metrics == {"mine": {"region_acc": pytest.approx(2 / 3), "region_plates": 3.0}}
    assert sorted(confusion[["label", "predicted", "plates"]].itertuples(index=False)) == [
        ("ar", "mercosur", 1),
        ("br-old", "us", 1),
        ("eu", "eu", 1),
    ]
    overall = formats[formats["region"] == "(all)"].iloc[0]
    assert overall["plates"] == 3
    assert overall["plate_acc_raw"] == overall["plate_acc_format"] == 1.0
    assert overall["texts_changed"] == 0


def test_score_fails_on_a_region_label_family_the_model_does_not_know(model_bytes):
    import onnx

    from plate_ocr_pipeline.evaluation import unknown_label_families

    model = onnx.load_from_string(model_bytes)
    labels = {"real_ar": {"ar": ["ar-old", "mercosor"], "py": ["mercosur"]}}
    with pytest.raises(
        ValueError, match=r"\(real_ar: ar -> \[.mercosor.\]\); known: ar-old, br-old"
    ):
        load_recognizer(model, {"region_labels": labels})
    # Families of the model's region output, of the formats files and the US are known.
    labels = {"real_ar": {"ar": ["ar-old", "mercosur", "old-moto"], "x": ["us", "eu"]}}
    recognizer, config = load_recognizer(model, {"region_labels": labels})
    assert recognizer.region_families == FAMILIES and config["max_plate_slots"] == 10
    assert unknown_label_families(labels, ["us"]) == [
        "real_ar: ar -> ['ar-old', 'mercosur', 'old-moto']",
        "real_ar: x -> ['eu']",
    ]


def test_score_leaves_the_region_tables_empty_for_a_model_without_a_region_output(
    tmp_path, model_bytes
):
    """The same labelled set: a model without a region output gets empty tables, one with a
    region output gets them filled."""
    from .plate_model_helpers import save_memorising_onnx

    config = PlateConfig.from_dict(PLATE)
    texts = list(TEXT_FAMILIES)
    images = np.stack([preprocess_image(render_plate(t), config) for t in texts])
    sets = {
        "mine": {"images": images, "plate_text": np.array(texts), "region": np.array(["eu"] * 3)}
    }
    reader = ONNXPlateRecognizer(save_memorising_onnx(tmp_path))
    metrics, confusion, formats = score_regions_and_formats(reader, sets, {})
    assert metrics == {} and confusion.empty and formats.empty
    assert isinstance(formats, pd.DataFrame)
    metrics, confusion, formats = score_regions_and_formats(
        ONNXPlateRecognizer(model_bytes), sets, {}
    )
    assert metrics["mine"]["region_plates"] == 3.0 and len(confusion) and len(formats)


def test_a_label_of_several_families_is_also_reported_by_family_and_layout():
    from plate_ocr_pipeline.evaluation import region_tables

    truths = ["ABC123", "DEF456", "AB123CD", "123ABC"]  # old, old, Mercosur, old motorcycle
    sets = {"real": {"plate_text": np.array(truths), "region": np.array(["ar"] * 4)}}
    readings = {
        "real": {
            "raw": ["ABC123", "DEF45", "AB123CD", "123A8C"],
            "text": ["ABC123", "DEF456", "AB123CD", "123A8C"],
            "region": ["ar-old", "ar-old", "mercosur", "us"],
        }
    }
    labels = {"real": {"ar": ["ar-old", "mercosur", "old-moto"]}}
    _, _, formats = region_tables(sets, readings, labels, ["O0"])
    rows = formats.set_index("region")
    assert rows.loc["(all)", "plates"] == rows.loc["ar", "plates"] == 4
    assert rows.loc["ar/ar-old", ["plates", "plate_acc_raw", "plate_acc_format"]].tolist() == [
        2,
        0.5,
        1.0,
    ]
    assert rows.loc["ar/mercosur", "plate_acc_format"] == 1.0
    assert rows.loc["ar/old-moto", ["plates", "plate_acc_format"]].tolist() == [1, 0.0]
    assert rows.loc["ar/one-row", "plates"] == 3 and rows.loc["ar/two-row", "plates"] == 1
    assert rows.loc["ar/one-row", "texts_changed"] == 1
