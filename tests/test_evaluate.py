"""The report (evaluate and score) on predictors whose outputs are known: metrics, regions,
lengths, confidence, confusion, gallery, labelled sets and their rejects, and the evaluate
pipeline run through Kedro on hand-made data."""

import logging

import cv2
import numpy as np
import pandas as pd
import pytest
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

from plate_ocr_pipeline.core.plate_config import PlateConfig
from plate_ocr_pipeline.core.text_codec import one_hot_encode
from plate_ocr_pipeline.datasets import LabelledSetsDataset
from plate_ocr_pipeline.evaluation import (
    REJECT_COLUMNS,
    summarise_by_confidence,
    summarise_by_length,
)
from plate_ocr_pipeline.pipelines import evaluate
from plate_ocr_pipeline.pipelines.evaluate.nodes import select_held_out_splits
from plate_ocr_pipeline.pipelines.report.nodes import (
    build_character_confusion,
    compute_report_metrics,
    plot_confidence_coverage,
    plot_error_gallery,
    plot_per_region,
    plot_region_gallery,
    predict_sets,
    prepare_sets,
)
from tests.conftest import write_text_image

TRUTH = ["AB12", "O00", "XYZ9", "K7"]
PREDICTED = ["AB12", "000", "XYZ8", "K7"]  # O read as 0 (wrong exact, right with O=0), 9 -> 8
REPORT = {"equivalences": ["O0"], "batch_size": 8, "gallery_size": 10, "gallery_columns": 4}
NO_LABELLED_SETS = LabelledSetsDataset(filepaths=[]).load()


class FixedModel:
    """Stands in for a Keras model: returns the one-hot of PREDICTED, row by row."""

    def __init__(self, config):
        self.outputs = one_hot_encode(PREDICTED, config) * 0.9 + 0.1 / config.vocabulary_size

    def predict(self, images, batch_size=None, verbose=0):
        return self.outputs[: len(images)]


class GreyLevelModel:
    """Stands in for a Keras model: a crop filled with grey level g reads ``reads[g]``
    (one-hot probabilities), whatever order the crops come in."""

    def __init__(self, reads: dict[int, str], config: PlateConfig):
        self.reads, self.config = reads, config

    def predict(self, images, batch_size=None, verbose=0):
        levels = images.reshape(len(images), -1)[:, 0]
        return one_hot_encode([self.reads[int(g)] for g in levels], self.config)


class KeptDataset(MemoryDataset):
    """A MemoryDataset that the runner cannot empty, to read a node's output after a run."""

    def _release(self) -> None:
        pass


REPORT_OUTPUTS = (
    "metrics", "mlflow_metrics", "predictions", "rejects", "per_region", "per_length",
    "confidence_coverage", "confidence_coverage_plot", "character_confusion", "error_gallery",
    "per_region_plot",
)  # fmt: skip
REGION_OUTPUTS = ("region_metrics", "region_confusion", "format_decoding")


def grey_png(path, level: int):
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((40, 120, 3), level, np.uint8))


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
    held_out = select_held_out_splits(model_input, {"splits": ["test"]})
    report_sets, rejects = prepare_sets(NO_LABELLED_SETS, plate_params, REPORT, held_out)
    assert list(report_sets) == ["test"] and rejects.empty
    probabilities = predict_sets(FixedModel(config), report_sets, REPORT)
    return report_sets, probabilities


def test_metrics_exact_and_with_o_equals_zero(sets, plate_params):
    report_sets, probabilities = sets
    summary, predictions, per_region = compute_report_metrics(
        report_sets, probabilities, plate_params, REPORT
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
    report_sets, probabilities = sets
    _, predictions, _ = compute_report_metrics(report_sets, probabilities, plate_params, REPORT)
    figure = plot_error_gallery(report_sets, predictions, plate_params, REPORT)
    titles = [axis.get_title() for axis in figure.axes if axis.get_title()]
    assert len(titles) == 2 and any("true O00" in t and "pred 000" in t for t in titles)
    none_wrong = predictions.assign(correct=True)
    empty = plot_error_gallery(report_sets, none_wrong, plate_params, REPORT)
    assert not [axis for axis in empty.axes if axis.get_title()]
    assert [t.get_text() for t in empty.axes[0].texts] == ["no errors"]


def test_region_gallery_has_a_row_per_region_coloured_by_correctness(sets, plate_params):
    report_sets, probabilities = sets
    _, predictions, _ = compute_report_metrics(report_sets, probabilities, plate_params, REPORT)
    two_regions = predictions.assign(region=["us", "us", "us", "ar"])
    figure = plot_region_gallery(report_sets, two_regions, plate_params, {"region_gallery_size": 2})
    titled = [axis for axis in figure.axes if axis.get_title()]
    assert len(titled) == 3  # the first 2 of us, the one ar
    wrong = {row.truth for row in two_regions.itertuples() if not row.correct}
    for axis in titled:
        truth = axis.get_title().split(": ")[1].split("\n")[0]
        assert (axis.title.get_color() == "firebrick") == (truth in wrong)
    empty = plot_region_gallery(report_sets, two_regions.iloc[:0], plate_params, REPORT)
    assert not [axis for axis in empty.axes if axis.get_title()]


def test_labelled_sets_load_relative_paths_reject_with_reasons_and_skip_missing(
    tmp_path, plate_params, caplog
):
    folder = tmp_path / "real"
    write_text_image(folder / "imgs" / "a.png", "AB12")
    write_text_image(folder / "imgs" / "b.png", "ZZ9")
    (folder / "imgs" / "broken.png").write_bytes(b"not a png")
    pd.DataFrame(
        {"image_path": ["imgs/a.png", "imgs/b.png", "imgs/gone.png", "imgs/a.png",
                        "imgs/broken.png", "imgs/a.png"],
         "plate_text": ["ab-12", "ZZ9", "GONE1", "TOOLONGPLATE1", "BRK1", "AB#1"],
         "region": ["us-ca", "us-ny", "us-ny", "us-ny", "us-ny", "us-ny"]}
    ).to_csv(folder / "annotations.csv", index=False)  # fmt: skip
    dataset = LabelledSetsDataset(
        filepaths={"real": str(folder / "annotations.csv"), "absent": str(tmp_path / "no.csv")},
        skip_missing=True,
    )
    with caplog.at_level(logging.WARNING):
        table = dataset.load()
        report_sets, rejects = prepare_sets(table, plate_params, REPORT)
    assert list(report_sets) == ["real"]
    assert list(report_sets["real"]["plate_text"]) == ["AB12", "ZZ9"]
    assert list(report_sets["real"]["region"]) == ["us-ca", "us-ny"]
    assert report_sets["real"]["images"].shape == (2, 64, 128, 1)
    assert "absent" in caplog.text and "does not exist" in caplog.text
    # Every row that is not reported on is a reject: file, line (header = 1) and reason.
    assert list(rejects.columns) == REJECT_COLUMNS
    reasons = dict(zip(rejects["source_row"], rejects["reason"], strict=True))
    assert reasons[4] == "missing file"
    assert reasons[5] == "longer than max_plate_slots (13 > 10)"
    assert "not a recognised image" in reasons[6]
    assert "'#'" in reasons[7] and "alphabet" in reasons[7]
    assert set(rejects["source_file"]) == {str(folder / "annotations.csv")}
    assert "4 of 6 rows rejected" in caplog.text
    # The selection by name: none of them.
    assert not LabelledSetsDataset(filepaths=[]).load().shape[0]
    with pytest.raises(ValueError, match="no plates to report on"):
        prepare_sets(table, plate_params, {**REPORT, "labelled_sets": []})


def test_evaluate_pipeline_through_kedro_gives_exact_figures(tmp_path, plate_params):
    """The evaluate stage as Kedro runs it (namespace, template, parameters) on a hand-made
    predictor: exact figures for the held-out split and a labelled set, rejects kept."""
    config = PlateConfig.from_dict(plate_params)
    # Held-out split: three plates, two read right; O00 read as 000 is right only with O=0.
    model_input = {
        "images": np.stack([np.full((64, 128, 1), g, np.uint8) for g in (10, 20, 30, 90)]),
        "plate_text": np.array(["AB12", "O00", "XYZ9", "TRAIN1"]),
        "region": np.array(["us-ca", "us-ca", "us-ny", "us-ca"]),
        "image_path": np.array(["t/1.png", "t/2.png", "t/3.png", "t/4.png"]),
        "split": np.array(["test", "test", "test", "train"]),
    }
    folder = tmp_path / "real"
    grey_png(folder / "k7.png", 40)
    grey_png(folder / "zz9.png", 50)
    (folder / "annotations.csv").write_text(
        "image_path,plate_text,region\nk7.png,K7,ar\nzz9.png,ZZ9,ar\ngone.png,GONE1,ar\n"
    )
    reads = {10: "AB12", 20: "000", 30: "XYZ9", 40: "K7", 50: "ZZ8", 90: "TRAIN1"}
    catalog = DataCatalog(
        {
            "model_input": MemoryDataset(model_input),
            # The reader (the trained model with its temperature) is what evaluate reads with:
            # no trained_model here. Without a region head its region tables stay empty.
            "reader_model": MemoryDataset(GreyLevelModel(reads, config), copy_mode="assign"),
            "reader_report": MemoryDataset({"region_families": [], "temperature": 1.0}),
            "evaluate_labelled_sets": LabelledSetsDataset(
                filepaths={"real": str(folder / "annotations.csv")}
            ),
            "params:plate": MemoryDataset(plate_params),
            "params:evaluate": MemoryDataset({"splits": ["test"], **REPORT}),
            **{f"evaluate.{name}": KeptDataset() for name in REPORT_OUTPUTS + REGION_OUTPUTS},
        }
    )
    SequentialRunner().run(evaluate.create_pipeline(), catalog)
    assert catalog.load("evaluate.region_metrics") == {}
    assert catalog.load("evaluate.format_decoding").empty
    metrics = catalog.load("evaluate.metrics")
    assert list(metrics) == ["test", "real"]
    assert round(metrics["test"]["plate_acc"], 4) == 0.6667
    assert metrics["test"]["plate_acc_eq"] == 1.0
    assert metrics["test"]["num_plates"] == 3
    assert (metrics["real"]["plate_acc"], metrics["real"]["plate_acc_eq"]) == (0.5, 0.5)
    mlflow_metrics = catalog.load("evaluate.mlflow_metrics")
    assert mlflow_metrics["test.plate_acc_eq"] == {"value": 1.0, "step": 0}
    predictions = catalog.load("evaluate.predictions")
    assert predictions["prediction"].tolist() == ["AB12", "000", "XYZ9", "K7", "ZZ8"]
    rejects = catalog.load("evaluate.rejects")
    assert rejects[["set", "source_row", "reason"]].values.tolist() == [["real", 4, "missing file"]]
    per_length = catalog.load("evaluate.per_length").set_index(["set", "length"])
    assert per_length.loc[("test", 4), "plate_acc"] == 1.0
    assert per_length.loc[("test", 3), ["plate_acc", "plate_acc_eq"]].tolist() == [0.0, 1.0]
    confusion = catalog.load("evaluate.character_confusion")
    mistakes = confusion[~confusion["correct"]]
    pairs = set(zip(mistakes["set"], mistakes["truth"], mistakes["predicted"], strict=True))
    assert pairs == {("test", "O", "0"), ("real", "9", "8")}
    from matplotlib.figure import Figure

    for name in ("error_gallery", "per_region_plot", "confidence_coverage_plot"):
        assert isinstance(catalog.load(f"evaluate.{name}"), Figure), name


def test_no_stage_imports_another_stages_nodes():
    from pathlib import Path

    import plate_ocr_pipeline.pipelines as stages

    root = Path(stages.__file__).parent
    for stage in ("evaluate", "score", "report"):
        for module in (root / stage).glob("*.py"):
            text = module.read_text()
            others = [
                other.name
                for other in root.iterdir()
                if other.is_dir() and other.name not in (stage, "report", "__pycache__")
            ]
            for other in others:
                assert f"pipelines.{other}" not in text, (module, other)
    # No stage imports another stage's nodes, in any import form: shared code lives in the
    # library (evaluate and score instantiate the report template's pipeline, not its nodes).
    for stage in (d for d in root.iterdir() if d.is_dir() and d.name != "__pycache__"):
        for module in stage.glob("*.py"):
            assert _other_stages_nodes(module.read_text(), stage.name) == [], module
    for source in (
        "from plate_ocr_pipeline.pipelines.report.nodes import region_tables",
        "from plate_ocr_pipeline.pipelines.report import nodes",
        "from ..report.nodes import prepare_sets",
        "from ..report import nodes",
        "import plate_ocr_pipeline.pipelines.report.nodes",
    ):
        assert _other_stages_nodes(source, "compare") == ["report"], source
    assert _other_stages_nodes("from .nodes import read_candidates", "compare") == []
    assert _other_stages_nodes("from . import nodes", "compare") == []


def _other_stages_nodes(source: str, stage: str) -> list[str]:
    """The other stages whose nodes module ``source`` (a module of ``stage``) imports."""
    import ast

    prefix = ["plate_ocr_pipeline", "pipelines"]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            targets = [(alias.name.split("."), set()) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            parts = [p for p in (node.module or "").split(".") if p]
            if node.level == 1:
                parts = [stage, *parts]
            elif node.level == 0:
                if parts[:2] != prefix:
                    continue
                parts = parts[2:]
            targets = [(parts, {alias.name for alias in node.names})]
        else:
            continue
        for parts, names in targets:
            if isinstance(node, ast.Import):
                if parts[:2] != prefix:
                    continue
                parts = parts[2:]
            if parts and parts[0] != stage and ("nodes" in parts[1:] or "nodes" in names):
                found.append(parts[0])
    return found


def test_a_two_output_reader_is_read_by_its_plate_output():
    from plate_ocr_pipeline.evaluation import predict_probabilities

    class TwoOutputs:
        def predict(self, images, batch_size, verbose):
            plates = np.full((len(images), 10, 37), 0.5, np.float32)
            return [plates, np.full((len(images), 9), 1 / 9, np.float32)]

    probs = predict_probabilities(TwoOutputs(), np.zeros((3, 64, 128, 1), np.uint8), 2)
    assert probs.shape == (3, 10, 37) and (probs == 0.5).all()


def test_region_readings_search_the_columns_where_the_slots_fit_no_format():
    """Evaluate's format-aware reading decodes as the recognizer does: where the slots fit no
    format of the likely family, the CTC columns are searched (a last digit the greedy path
    dropped at the crop's edge is read)."""
    from plate_ocr_pipeline.evaluation import read_regions_with_keras
    from tests.plate_model_helpers import PLATE, column_probs

    config = PlateConfig.from_dict(PLATE)
    alphabet = config.alphabet
    slots = np.full((1, config.max_plate_slots, len(alphabet)), 1e-4)
    for i, character in enumerate("ABC12".ljust(config.max_plate_slots, "_")):
        slots[0, i, alphabet.index(character)] = 1.0
    columns = column_probs(list("_A_B_C_1_2_") + [{"_": 0.7, "3": 0.3}], columns=16)[None]
    regions = np.array([[1.0, 0.0]])

    class Reader:
        def __init__(self, outputs):
            self.outputs = outputs

        def predict(self, images, batch_size, verbose):
            return self.outputs

    sets = {"s": {"images": np.zeros((1, 64, 128, 1), np.uint8)}}
    families = ["ar-old", "us"]
    with_columns = read_regions_with_keras(
        Reader([slots, regions, columns]), families, sets, config, 8
    )
    assert with_columns["s"] == {"raw": ["ABC12"], "text": ["ABC123"], "region": ["ar-old"]}
    slots_only = read_regions_with_keras(Reader([slots, regions]), families, sets, config, 8)
    assert slots_only["s"]["text"] == ["ABC12"]


def test_evaluate_warns_of_a_region_label_family_the_reader_does_not_know(caplog):
    from plate_ocr_pipeline.pipelines.evaluate.nodes import evaluate_regions
    from tests.plate_model_helpers import PLATE

    report = {"region_families": ["ar-old", "mercosur", "us"], "temperature": 1.0}
    labels = {"real_ar": {"ar": ["ar-old", "mercosor"]}, "real_us": {"us": ["us"]}}
    with caplog.at_level(logging.WARNING):
        metrics, _, _ = evaluate_regions(None, report, {}, PLATE, {"region_labels": labels})
    assert metrics == {}
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "evaluate.region_labels names a family the model does not know: real_ar: ar -> ['mercosor']"
    ]
