"""Ingest on a hand-made CSV holding one example of every reject reason."""

from pathlib import Path

import pandas as pd
import pytest
from pydantic import ValidationError

from plate_ocr_pipeline.core.image_header import UNKNOWN_HEADER
from plate_ocr_pipeline.datasets import PlateAnnotationsDataset
from plate_ocr_pipeline.pipelines.ingest.nodes import (
    assign_splits,
    compute_dataset_statistics,
    normalise_plate_texts,
    plot_dataset_statistics,
    summarise_ingest,
    validate_annotations,
)
from tests.conftest import write_text_image

SPLITS = {"train": 0.6, "val": 0.2, "test": 0.2}


def ingest_params(**overrides) -> dict:
    """An ``ingest`` parameter section, as the nodes take it."""
    params = {
        "uppercase": True,
        "drop_characters": " -",
        "split_fractions": SPLITS,
        "seed": 7,
        "max_reject_fraction": 0.8,
    }
    return {**params, **overrides}


@pytest.fixture
def annotations_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "plates"
    for name, text in [
        ("good1", "AB123"),
        ("good2", "XY 99"),
        ("good3", "K-7"),
        ("bad_char", "AB#1"),
        ("too_long", "ABCDEFGHIJK"),
        ("empty_text", ""),
        ("conflict", "AAA"),
        ("dup", "DUP1"),
        ("split", "SPL1"),
        ("own_split", "TST1"),
    ]:
        write_text_image(folder / "imgs" / f"{name}.png", text or "x")
    (folder / "imgs" / "empty.png").write_bytes(b"")
    (folder / "imgs" / "corrupt.png").write_text("this is not a png")
    (folder / "annotations.csv").write_text(
        "image_path,plate_text,region,split\n"
        "imgs/good1.png,AB123,us,\n"
        "imgs/good2.png,xy 99,eu-de,\n"
        "imgs/good3.png,k-7,,\n"
        "imgs/missing.png,ZZZ1,us,\n"
        "imgs/empty.png,EMP1,us,\n"
        "imgs/corrupt.png,COR1,us,\n"
        "imgs/bad_char.png,AB#1,us,\n"
        "imgs/too_long.png,ABCDEFGHIJK,us,\n"
        "imgs/empty_text.png,,us,\n"
        "imgs/conflict.png,AAA,us,\n"
        "imgs/conflict.png,AAB,us,\n"
        "imgs/dup.png,DUP1,us,\n"
        "imgs/dup.png,dup1,us,\n"
        "imgs/split.png,SPL1,us,holdout\n"
        "imgs/own_split.png,TST1,us,test\n"
        "imgs/good1.png,AB123,us,extra-field,oops\n"
    )
    # A second CSV whose header lacks plate_text: every row rejected, none silently lost.
    (folder / "bad_columns.csv").write_text("image_path,text\nimgs/good1.png,AB123\n")
    return folder


def run_ingest(folder: Path, plate_params: dict, **ingest_overrides):
    raw = PlateAnnotationsDataset(
        filepaths=[str(folder / "annotations.csv"), str(folder / "bad_columns.csv")]
    ).load()
    normalised = normalise_plate_texts(raw, ingest_params(**ingest_overrides))
    valid, rejects = validate_annotations(normalised, plate_params)
    return normalised, assign_splits(valid, ingest_params(**ingest_overrides)), rejects


def test_clean_and_rejects_hold_exactly_the_expected_rows(annotations_dir, plate_params):
    raw, clean, rejects = run_ingest(annotations_dir, plate_params)
    assert len(raw) == 17
    assert sorted(clean["plate_text"]) == ["AB123", "DUP1", "K7", "TST1", "XY99"]
    assert all(Path(p).is_absolute() and Path(p).exists() for p in clean["image_path"])
    assert clean.set_index("plate_text").loc["TST1", "split"] == "test"
    assert clean.set_index("plate_text").loc["K7", "region"] == "unknown"
    # Each clean plate names the CSV line it came from (header = line 1; DUP1 keeps its first).
    lines = {r.plate_text: (Path(r.source_file).name, r.source_row) for r in clean.itertuples()}
    assert lines == {
        "AB123": ("annotations.csv", 2),
        "XY99": ("annotations.csv", 3),
        "K7": ("annotations.csv", 4),
        "DUP1": ("annotations.csv", 13),
        "TST1": ("annotations.csv", 16),
    }

    reasons = {(Path(r.source_file).name, r.source_row): r.reason for r in rejects.itertuples()}
    expected = {
        ("annotations.csv", 5): "missing file",
        ("annotations.csv", 6): "empty image: file has 0 bytes",
        ("annotations.csv", 7): f"unreadable image: {UNKNOWN_HEADER}",
        ("annotations.csv", 8): "character outside the alphabet: '#'",
        ("annotations.csv", 9): "longer than max_plate_slots (11 > 10)",
        ("annotations.csv", 10): "empty text",
        ("annotations.csv", 11): "duplicate path with conflicting labels: ['AAA', 'AAB']",
        ("annotations.csv", 12): "duplicate path with conflicting labels: ['AAA', 'AAB']",
        ("annotations.csv", 14): "duplicate row (same path and label)",
        (
            "annotations.csv",
            15,
        ): "unknown split 'holdout' (expected one of ('train', 'val', 'test'))",
        ("annotations.csv", 17): "bad CSV row: 5 fields where the header has 4",
        ("bad_columns.csv", 2): "bad CSV columns: missing ['plate_text'] in header "
        "['image_path', 'text']",
    }
    assert reasons == expected
    assert len(clean) + len(rejects) == len(raw)


def test_split_is_deterministic_and_seeded(annotations_dir, plate_params):
    _, first, _ = run_ingest(annotations_dir, plate_params)
    _, second, _ = run_ingest(annotations_dir, plate_params)
    pd.testing.assert_frame_equal(first, second)
    valid = first.assign(split=None)
    shuffled = valid.sample(frac=1.0, random_state=3)
    # The split follows the path, not the row order.
    pd.testing.assert_frame_equal(
        assign_splits(valid, ingest_params()), assign_splits(shuffled, ingest_params())
    )
    # Another seed draws other splits. The keys are the paths relative to their CSV: absolute
    # ones hold pytest's numbered temp folder, which drew seed 7's splits in about one session
    # of 100.
    _, other_seed, _ = run_ingest(annotations_dir, plate_params, seed=8)
    assert list(other_seed["split"]) == ["train", "test", "train", "val", "test"]
    assert list(first["split"]) == ["train", "train", "train", "test", "test"]


def test_split_fractions_are_respected_on_many_rows():
    table = pd.DataFrame(
        {
            "image_path": [f"/x/{i}.png" for i in range(4000)],
            "plate_text": "A",
            "region": "us",
            "split": None,
            "image_height": 10,
            "image_width": 20,
        }
    )
    clean = assign_splits(table, ingest_params(seed=1))
    counts = clean["split"].value_counts(normalize=True)
    assert counts["train"] == pytest.approx(0.6, abs=0.03)
    # A table made in Python names no CSV line.
    assert set(clean["source_file"]) == {""} and clean["source_row"].isna().all()
    assert counts["test"] == pytest.approx(0.2, abs=0.03)


def test_summary_counts_reasons_and_fails_over_the_limit(annotations_dir, plate_params):
    raw, clean, rejects = run_ingest(annotations_dir, plate_params)
    summary = summarise_ingest(raw, clean, rejects, ingest_params(max_reject_fraction=0.8))
    assert summary["rows"] == 17 and summary["rejected"] == 12
    assert (summary["files"], summary["lines_read"], summary["clean"]) == (2, 17, 5)
    assert summary["rejects_by_reason"]["duplicate path with conflicting labels"] == 2
    assert summary["rejects_by_reason"]["missing file"] == 1
    with pytest.raises(ValueError, match="rejected 12 of 17 rows"):
        summarise_ingest(raw, clean, rejects, ingest_params(max_reject_fraction=0.5))
    # A row that went missing between the tables is an error, never a smaller success.
    with pytest.raises(RuntimeError, match="lost track of rows: 17 in"):
        summarise_ingest(raw, clean, rejects.iloc[1:], ingest_params(max_reject_fraction=0.8))


def test_nodes_validate_the_ingest_section(annotations_dir):
    raw = PlateAnnotationsDataset(filepaths=[str(annotations_dir / "annotations.csv")]).load()
    with pytest.raises(ValidationError, match="split_fractions"):
        assign_splits(raw, ingest_params(split_fractions={"train": 0.9, "val": 0.2, "test": 0}))
    with pytest.raises(ValidationError, match="uppercas"):
        normalise_plate_texts(raw, ingest_params(uppercas=False))


def test_statistics_table_and_plot(annotations_dir, plate_params):
    _, clean, _ = run_ingest(annotations_dir, plate_params)
    stats = compute_dataset_statistics(clean)
    lengths = stats[stats["statistic"] == "text_length"].set_index("key")["value"]
    assert lengths.to_dict() == {"2": 1, "4": 3, "5": 1}  # K7; DUP1 TST1 XY99; AB123
    frequency = stats[stats["statistic"] == "character_frequency"].set_index("key")["value"]
    assert frequency["1"] == 3  # AB123, DUP1, TST1
    figure = plot_dataset_statistics(clean)
    assert len(figure.axes) >= 4


def test_splits_do_not_depend_on_where_the_data_sits(tmp_path):
    """The same annotations CSV and images in two folders get the same splits: the hash keys
    on the image's path relative to its CSV, so a fresh clone elsewhere trains on the same
    split as the run that made the shipped model."""
    from plate_ocr_pipeline.datasets import PlateAnnotationsDataset
    from plate_ocr_pipeline.pipelines.ingest.nodes import (
        assign_splits,
        normalise_plate_texts,
        validate_annotations,
    )
    from tests.conftest import DEFAULT_PLATE, write_text_image

    ingest = {"split_fractions": {"train": 0.5, "val": 0.25, "test": 0.25}, "seed": 3,
              "max_reject_fraction": 0.1}  # fmt: skip
    splits = []
    for place in ("here", "elsewhere/deeper"):
        folder = tmp_path / place
        texts = [f"AB{i:03d}" for i in range(24)]
        for i, text in enumerate(texts):
            write_text_image(folder / "images" / f"{i}.png", text)
        rows = "".join(f"images/{i}.png,{text}\n" for i, text in enumerate(texts))
        (folder / "annotations.csv").write_text(f"image_path,plate_text\n{rows}")
        raw = PlateAnnotationsDataset(filepaths=[str(folder / "annotations.csv")]).load()
        valid, _ = validate_annotations(normalise_plate_texts(raw, ingest), DEFAULT_PLATE)
        clean = assign_splits(valid, ingest)
        splits.append(dict(zip(clean["plate_text"], clean["split"], strict=True)))
    assert splits[0] == splits[1]
    assert set(splits[0].values()) == {"train", "val", "test"}


def test_draw_split_is_a_stable_hash_of_the_path_relative_to_its_csv():
    from collections import Counter

    from plate_ocr_pipeline.core.splits import draw_split, split_key

    assert split_key("/data/set/imgs/a.png", "/data/set/annotations.csv") == "imgs/a.png"
    assert split_key("imgs/a.png") == "imgs/a.png"
    keys = [f"imgs/{i:05d}.png" for i in range(20000)]
    drawn = [draw_split(key, 42, 0.9, 0.05) for key in keys]
    assert drawn == [draw_split(key, 42, 0.9, 0.05) for key in keys]  # the same every time
    shares = {name: count / len(keys) for name, count in Counter(drawn).items()}
    assert shares["train"] == pytest.approx(0.9, abs=0.01)
    assert shares["val"] == pytest.approx(0.05, abs=0.005)
    assert shares["test"] == pytest.approx(0.05, abs=0.005)
    assert drawn != [draw_split(key, 43, 0.9, 0.05) for key in keys]  # the seed draws anew
    assert {draw_split(key, 42, 1.0, 0.0) for key in keys[:100]} == {"train"}
    assert {draw_split(key, 42, 0.0, 0.0) for key in keys[:100]} == {"test"}


def test_ingest_and_the_labelled_set_reader_drop_the_same_separators():
    """A label is cleaned the same way for training (ingest, by the recipe's parameters) and
    for scoring (evaluate, score, compare): "ABC·1234" and "ab.12-3" train and score alike."""
    import yaml

    from plate_ocr_pipeline.core.text_codec import LABEL_SEPARATORS, normalise_text
    from plate_ocr_pipeline.pipelines.ingest.params import IngestParams
    from tests.conftest import REPO_ROOT

    recipe = yaml.safe_load((REPO_ROOT / "conf/base/parameters_ingest.yml").read_text("utf-8"))
    assert recipe["ingest"]["drop_characters"] == LABEL_SEPARATORS
    assert IngestParams.model_fields["drop_characters"].default == LABEL_SEPARATORS
    table = pd.DataFrame({"raw_text": ["ABC·1234", "ab.12-3", "X_Y 9"]})
    cleaned = normalise_plate_texts(table, ingest_params(drop_characters=LABEL_SEPARATORS))
    assert cleaned["plate_text"].tolist() == ["ABC1234", "AB123", "XY9"]
    assert [normalise_text(t) for t in table["raw_text"]] == cleaned["plate_text"].tolist()


def test_a_failed_ingest_writes_no_clean_table(annotations_dir, plate_params, tmp_path):
    """plates_clean is saved only after the reject checks pass: a run over the limit leaves
    no clean table for a later `--tags=augment,train` run to train on; under it, it does."""
    from kedro.io import DataCatalog, MemoryDataset
    from kedro.runner import SequentialRunner
    from kedro_datasets.pandas import CSVDataset

    from plate_ocr_pipeline.pipelines.ingest import create_pipeline

    def run(max_reject_fraction: float) -> None:
        catalog = DataCatalog(
            {
                "raw_annotations": PlateAnnotationsDataset(
                    filepaths=[str(annotations_dir / "annotations.csv")]
                ),
                "plates_clean": CSVDataset(filepath=str(tmp_path / "clean.csv")),
                "params:ingest": MemoryDataset(
                    ingest_params(max_reject_fraction=max_reject_fraction)
                ),
                "params:plate": MemoryDataset(plate_params),
            }
        )
        SequentialRunner().run(create_pipeline(), catalog)

    with pytest.raises(ValueError, match="max_reject_fraction"):
        run(0.5)
    assert not (tmp_path / "clean.csv").exists()
    run(0.8)
    assert len(pd.read_csv(tmp_path / "clean.csv")) == 5
