"""Evaluate nodes on a model whose predictions are known: metrics, regions, confusion,
gallery, extra sets (missing ones skipped)."""

import logging

import numpy as np
import pandas as pd
import pytest

from plate_ocr_pipeline.pipelines.evaluate.nodes import (
    build_character_confusion,
    compute_evaluation_metrics,
    plot_confidence_coverage,
    plot_error_gallery,
    plot_per_region,
    predict_evaluation_sets,
    prepare_evaluation_sets,
    summarise_by_confidence,
    summarise_by_length,
)
from plate_ocr_pipeline.plate_config import PlateConfig
from plate_ocr_pipeline.text_codec import one_hot_encode
from tests.conftest import write_text_image

TRUTH = ["AB12", "O00", "XYZ9", "K7"]
PREDICTED = ["AB12", "000", "XYZ8", "K7"]  # O read as 0 (wrong exact, right with O=0), 9 -> 8


class FixedModel:
    """Stands in for a Keras model: returns the one-hot of PREDICTED, row by row."""

    def __init__(self, config):
        self.outputs = one_hot_encode(PREDICTED, config) * 0.9 + 0.1 / config.vocabulary_size

    def predict(self, images, batch_size=None, verbose=0):
        return self.outputs[: len(images)]


@pytest.fixture
def sets(plate_params):
    config = PlateConfig.from_dict(plate_params)
    model_input = {
        "images": np.zeros((5, 64, 128, 1), np.uint8),
        "plate_text": np.array([*TRUTH, "TRAIN1"]),
        "region": np.array(["us-ca", "us-ca", "us-ny", "us-ny", "us-ca"]),
        "image_path": np.array([f"/x/{i}.png" for i in range(5)]),
        "split": np.array(["test"] * 4 + ["train"]),
    }
    evaluation_sets = prepare_evaluation_sets(model_input, plate_params, ["test"], [])
    probabilities = predict_evaluation_sets(FixedModel(config), evaluation_sets, 8)
    return evaluation_sets, probabilities


def test_metrics_exact_and_with_o_equals_zero(sets, plate_params):
    evaluation_sets, probabilities = sets
    summary, predictions, per_region = compute_evaluation_metrics(
        evaluation_sets, probabilities, plate_params, ["O0"]
    )
    assert summary["test"]["plate_acc"] == pytest.approx(0.5)
    assert summary["test"]["plate_acc_eq"] == pytest.approx(0.75)
    assert summary["test"]["cat_acc"] == pytest.approx(38 / 40)  # 2 wrong slots of 40
    assert summary["test"]["char_acc"] == pytest.approx(11 / 13)
    assert summary["test"]["plate_len_acc"] == 1.0
    assert list(predictions["prediction"]) == PREDICTED
    assert list(predictions["correct"]) == [True, False, False, True]
    assert list(predictions["correct_eq"]) == [True, True, False, True]
    regions = per_region.set_index("region")
    assert regions.loc["us-ca", "plate_acc"] == pytest.approx(0.5)
    assert regions.loc["us-ca", "plate_acc_eq"] == pytest.approx(1.0)
    assert regions.loc["us-ny", "num_plates"] == 2
    assert len(plot_per_region(per_region).axes) == 1


def test_per_length_table_counts_plates_read_too_long_and_too_short():
    predictions = pd.DataFrame(
        {
            "set": ["real"] * 5 + ["test"],
            "truth": ["2368", "BB63", "BB63", "ABC1234", "ABC1234", "K7"],
            "prediction": ["23368", "BB63", "BB6", "ABC1234", "ABC1Z34", "K7"],
            "correct": [False, True, False, True, False, True],
            "correct_eq": [False, True, False, True, False, True],
        }
    )
    table = summarise_by_length(predictions).set_index(["set", "length"])
    assert list(table.index) == [("real", 4), ("real", 7), ("test", 2)]
    four = table.loc[("real", 4)]
    assert four["plates"] == 3
    assert four["plate_acc"] == pytest.approx(1 / 3)
    assert four["too_long"] == pytest.approx(1 / 3)
    assert four["too_short"] == pytest.approx(1 / 3)
    seven = table.loc[("real", 7)]
    assert (seven["plates"], seven["plate_acc"], seven["too_long"]) == (2, 0.5, 0.0)
    assert summarise_by_length(predictions.iloc[:0]).empty


def test_confidence_table_gives_the_accuracy_of_the_most_confident_plates():
    # Ten plates, confidence 0.95 down to 0.05; the three least confident are wrong, and the
    # fourth least confident is right only with O=0.
    confidence = [0.95, 0.85, 0.75, 0.65, 0.55, 0.45, 0.35, 0.25, 0.15, 0.05]
    predictions = pd.DataFrame(
        {
            "set": ["real"] * 10 + ["test"] * 2,
            "confidence": confidence + [0.9, 0.1],
            "correct": [True] * 6 + [False] * 4 + [True, False],
            "correct_eq": [True] * 7 + [False] * 3 + [True, True],
        }
    )
    table = summarise_by_confidence(predictions).set_index(["set", "coverage"])
    half = table.loc[("real", 0.5)]
    assert (half["plates"], half["min_confidence"]) == (5, 0.55)
    assert (half["plate_acc"], half["plate_acc_eq"]) == (1.0, 1.0)
    seventy = table.loc[("real", 0.7)]
    assert (seventy["plates"], seventy["min_confidence"]) == (7, 0.35)
    assert seventy["plate_acc"] == pytest.approx(6 / 7)
    assert seventy["plate_acc_eq"] == 1.0
    everything = table.loc[("real", 1.0)]
    assert (everything["plates"], everything["plate_acc"], everything["plate_acc_eq"]) == (
        10,
        0.6,
        0.7,
    )
    # Two plates: half is the more confident one.
    assert table.loc[("test", 0.5), "plates"] == 1
    assert table.loc[("test", 0.5), "plate_acc"] == 1.0
    assert table.loc[("test", 1.0), "plate_acc"] == 0.5
    assert len(plot_confidence_coverage(summarise_by_confidence(predictions)).axes) == 1
    assert summarise_by_confidence(predictions.iloc[:0]).empty


def test_confusion_table_lists_mistakes_first(sets, plate_params):
    table = build_character_confusion(*sets, plate_params)
    mistakes = table[~table["correct"]]
    pairs = set(zip(mistakes["truth"], mistakes["predicted"], strict=True))
    assert pairs == {("O", "0"), ("9", "8")}
    assert mistakes.set_index(["truth", "predicted"]).loc[("O", "0"), "count"] == 1
    assert not table.iloc[0]["correct"]


def test_error_gallery_shows_only_mistakes(sets, plate_params):
    evaluation_sets, probabilities = sets
    _, predictions, _ = compute_evaluation_metrics(evaluation_sets, probabilities, plate_params, [])
    figure = plot_error_gallery(evaluation_sets, predictions, plate_params, 10, 4)
    titles = [axis.get_title() for axis in figure.axes if axis.get_title()]
    assert len(titles) == 2 and any("true O00" in t and "pred 000" in t for t in titles)
    none_wrong = predictions.assign(correct=True)
    assert plot_error_gallery(evaluation_sets, none_wrong, plate_params, 10, 4) is not None


def test_extra_sets_load_relative_paths_and_missing_is_skipped(tmp_path, plate_params, caplog):
    folder = tmp_path / "real"
    write_text_image(folder / "imgs" / "a.png", "AB12")
    write_text_image(folder / "imgs" / "b.png", "ZZ9")
    pd.DataFrame(
        {"image_path": ["imgs/a.png", "imgs/b.png", "imgs/gone.png", "imgs/a.png"],
         "plate_text": ["ab-12", "ZZ9", "GONE1", "TOOLONGPLATE1"],
         "region": ["us-ca", "us-ny", "us-ny", "us-ny"]}
    ).to_csv(folder / "annotations.csv", index=False)  # fmt: skip
    model_input = {
        "images": np.zeros((0, 64, 128, 1), np.uint8),
        **{k: np.array([], dtype=str) for k in ("plate_text", "region", "image_path", "split")},
    }
    extra = [
        {"name": "real", "annotations": str(folder / "annotations.csv")},
        {"name": "absent", "annotations": str(tmp_path / "nope.csv")},
    ]
    with caplog.at_level(logging.WARNING):
        sets = prepare_evaluation_sets(model_input, plate_params, ["test"], extra)
    assert list(sets) == ["real"]
    assert list(sets["real"]["plate_text"]) == ["AB12", "ZZ9"]
    assert sets["real"]["images"].shape == (2, 64, 128, 1)
    assert "absent" in caplog.text and "does not exist" in caplog.text
