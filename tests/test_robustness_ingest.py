"""Hostile inputs to ingest and the labelled sets (issue 20): every line of every CSV lands in
exactly one of the clean and rejects tables with its file, line and reason; a file that cannot
be read as lines is one reject naming it; bad parameters or augmentation fail before any work
and leave no MLflow run."""

import json
import logging
import sqlite3
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from kedro.io import DataCatalog, MemoryDataset
from kedro.io.core import DatasetError

from plate_ocr_pipeline.datasets import (
    AlbumentationsDataset,
    AugmentationConfigError,
    LabelledSetsDataset,
    PlateAnnotationsDataset,
)
from plate_ocr_pipeline.hooks import check_augmentation_pipeline
from plate_ocr_pipeline.pipelines.ingest.nodes import (
    assign_splits,
    normalise_plate_texts,
    summarise_ingest,
    validate_annotations,
)
from tests.test_ingest import ingest_params

ROWS = 749
HEADER = "image_path,plate_text\n"


@pytest.fixture(scope="module")
def crops(tmp_path_factory) -> list[str]:
    """Tiny 8x8 PNGs, one per annotation line."""
    folder = tmp_path_factory.mktemp("crops")
    paths = [str(folder / f"{i:04d}.png") for i in range(ROWS + 40)]
    for path in paths:
        cv2.imwrite(path, np.full((8, 8), 200, np.uint8))
    return paths


def lines(crops: list[str], count: int) -> list[str]:
    return [f"{path},P{i:04d}" for i, path in enumerate(crops[:count])]


def csv_text(rows: list[str], end: str = "\n", header: str = HEADER) -> str:
    return header.replace("\n", end) + "".join(row + end for row in rows)


def hostile_files(crops: list[str]) -> dict[str, tuple[bytes, int, dict[int, str]]]:
    """``{file name: (content, data lines or 0 when rejected whole, {line: reason start})}``.

    The 749-row file uses the first 749 crops; the others each take fresh ones."""
    fresh = iter(range(len(crops)))

    def rows(count: int, text: str = "") -> list[str]:
        return [f"{crops[i]},{text or f'P{i:04d}'}" for i in (next(fresh) for _ in range(count))]

    stray = rows(ROWS)
    stray[59] = stray[59].replace(",P", ',"P')  # row 60 = line 61: an unclosed quote
    mid_quote = rows(3)
    mid_quote[1] = mid_quote[1].replace(",P", ',P"')
    big = [*rows(2), *rows(1, "X" * 200_000)]
    mixed = "\r\n".join([HEADER.strip(), *rows(2)]) + "\n" + rows(1)[0]
    multiline = [*rows(1), *rows(1, '"P1\nP2"'), *rows(1)]
    duplicate = csv_text(rows(2), header="image_path,plate_text,plate_text\n")
    return {
        "stray_quote.csv": (csv_text(stray).encode(), ROWS, {61: "malformed CSV line: a quoted"}),
        "mid_quote.csv": (csv_text(mid_quote).encode(), 3, {3: "character outside the alph"}),
        # One Latin-1 line among UTF-8 ones spoils that line only; a Latin-1 header, each line
        # after it (named as the reason); so does a header that is not CSV.
        "latin1.csv": (
            csv_text([*rows(1), *rows(1, "CAFÉ"), *rows(1)]).encode("latin-1"),
            3,
            {3: "not UTF-8 text: byte 0xc9 at character"},
        ),
        "latin1_header.csv": (
            csv_text(rows(2), header="image_path,plate_text,régión\n").encode("latin-1"),
            2,
            {n: "header line not UTF-8 text: byte 0xe9" for n in (2, 3)},
        ),
        "quoted_header.csv": (
            csv_text(rows(2), header='image_path,"plate_text\n').encode(),
            2,
            {n: "malformed header line: a quoted" for n in (2, 3)},
        ),
        "utf16_bom.csv": (csv_text(rows(2)).encode("utf-16"), 2, {}),
        "utf16_no_bom.csv": (csv_text(rows(2)).encode("utf-16-le"), 0, {0: "NUL characters"}),
        "cr_only.csv": (csv_text(rows(3), end="\r").encode(), 3, {}),
        "mixed_endings.csv": (mixed.encode(), 3, {}),
        "big_field.csv": (
            csv_text(big).encode(),
            3,
            {4: "malformed CSV line: a field is longer than"},
        ),
        "blank_lines.csv": (
            csv_text([*rows(1), "", ",", *rows(1)]).encode(),
            4,
            {3: "blank line", 4: "blank line"},
        ),
        "multiline_field.csv": (
            csv_text(multiline).encode(),
            4,
            {3: "malformed CSV line: a quoted", 4: "malformed CSV line: the end of line 3's"},
        ),
        "header_only.csv": (HEADER.encode(), 0, {0: "no data rows: the file has a header only"}),
        "empty.csv": (b"", 0, {0: "no data rows: the file is empty"}),
        "duplicate_column.csv": (
            duplicate.encode(),
            2,
            {n: "bad CSV columns: column 'plate_text' appears twice in the header" for n in (2, 3)},
        ),
        "misspelt_column.csv": (
            csv_text(
                [f"{row},val" for row in rows(2)], header="image_path,plate_text,Split\n"
            ).encode(),
            2,
            {n: "bad CSV columns: column 'Split' is not one of" for n in (2, 3)},
        ),
        "other_column.csv": (
            csv_text(
                [f"{row},seen at noon" for row in rows(2)], header="image_path,plate_text,notes\n"
            ).encode(),
            2,
            {},
        ),
        "unicode_case.csv": (
            csv_text([*rows(1, "straße"), *rows(1, "ﬁ1"), *rows(1)]).encode(),
            3,
            {2: "character outside the alphabet: 'ß' (U+00DF", 3: "character outside the al"},
        ),
    }


def ingest(paths: list[Path], plate_params: dict, **params):
    normalised = normalise_plate_texts(
        PlateAnnotationsDataset(filepaths=[str(p) for p in paths]).load(), ingest_params(**params)
    )
    valid, rejects = validate_annotations(normalised, plate_params)
    return normalised, valid, rejects


def test_every_line_of_every_hostile_csv_is_accounted_for(tmp_path, crops, plate_params):
    files = hostile_files(crops)
    paths = []
    for name, (content, _, _) in files.items():
        paths.append(tmp_path / name)
        paths[-1].write_bytes(content)
    normalised, valid, rejects = ingest(paths, plate_params)
    # Every line after each header, or the file as a whole (line 0), exactly once.
    expected = {
        (str(tmp_path / name), line)
        for name, (_, data_lines, _) in files.items()
        for line in (range(2, data_lines + 2) if data_lines else [0])
    }
    seen = [(r.source_file, r.source_row) for r in (*valid.itertuples(), *rejects.itertuples())]
    assert len(seen) == len(set(seen)) == len(normalised) and set(seen) == expected
    reasons = {(Path(r.source_file).name, r.source_row): r.reason for r in rejects.itertuples()}
    wanted = {(name, line): start for name, f in files.items() for line, start in f[2].items()}
    assert {key: reasons[key][: len(start)] for key, start in wanted.items()} == wanted
    assert set(reasons) == set(wanted)  # nothing else rejected: the other lines are clean
    assert "'ﬁ' (U+FB01 LATIN SMALL LIGATURE FI; upper case 'FI'" in reasons["unicode_case.csv", 3]


def test_a_stray_quote_spoils_one_line_and_the_run_logs_the_accounting(
    tmp_path, crops, plate_params, caplog
):
    """One stray quote in row 60 of 749: 748 clean, line 61 rejected, the run passes."""
    content, _, _ = hostile_files(crops)["stray_quote.csv"]
    (tmp_path / "annotations.csv").write_bytes(content)
    (tmp_path / "header_only.csv").write_text(HEADER)
    normalised, valid, rejects = ingest(
        [tmp_path / "annotations.csv", tmp_path / "header_only.csv"], plate_params
    )
    clean = assign_splits(valid, ingest_params())
    with caplog.at_level(logging.INFO):
        summary = summarise_ingest(
            normalised, clean, rejects, ingest_params(max_reject_fraction=0.05)
        )
    assert (
        "749 lines read from 1 file(s) + 1 file(s) rejected whole = 748 clean + 2 rejected"
        in caplog.text
    )
    assert f"whole file {tmp_path / 'header_only.csv'}: no data rows" in caplog.text
    assert {k: summary[k] for k in ("files", "files_rejected", "lines_read", "clean", "rejected")} == {
        "files": 2, "files_rejected": 1, "lines_read": 749, "clean": 748, "rejected": 2,
    }  # fmt: skip
    assert rejects["source_row"].tolist() == [61, 0]


def test_blank_lines_do_not_count_against_the_limit_but_nothing_usable_fails(
    tmp_path, crops, plate_params
):
    (tmp_path / "a.csv").write_text(csv_text([*lines(crops, 4), "", ""]))
    summary = summarise_ingest(*_ingest_one(tmp_path / "a.csv", plate_params))
    assert (summary["blank_lines"], summary["rejected"], summary["reject_fraction"]) == (2, 2, 0)
    (tmp_path / "b.csv").write_text(HEADER + "\n,\n")
    with pytest.raises(ValueError, match=r"no usable annotation row in 1 file.*'blank line'"):
        summarise_ingest(*_ingest_one(tmp_path / "b.csv", plate_params))
    (tmp_path / "c.csv").write_text(HEADER)
    with pytest.raises(ValueError, match=r"rejected 1 of 1 rows.*c\.csv.*a header only"):
        summarise_ingest(*_ingest_one(tmp_path / "c.csv", plate_params))


def _ingest_one(path: Path, plate_params: dict):
    normalised, valid, rejects = ingest([path], plate_params)
    return normalised, assign_splits(valid, ingest_params()), rejects, ingest_params()


def test_labelled_sets_keep_same_named_folders_and_name_bad_files(tmp_path, crops):
    for folder in ("a/test", "b/test"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "annotations.csv").write_text(csv_text(lines(crops, 3)))
    table = LabelledSetsDataset(
        filepaths=[str(tmp_path / f / "annotations.csv") for f in ("a/test", "b/test")]
    ).load()
    assert table.groupby("set").size().to_dict() == {"a/test": 3, "b/test": 3}
    for name, content in [
        ("header", HEADER.encode()),
        ("blank", (HEADER + "\n\n").encode()),
        ("utf16", csv_text(lines(crops, 2)).encode("utf-16-le")),
    ]:
        path = tmp_path / name / "annotations.csv"
        path.parent.mkdir()
        path.write_bytes(content)
        with pytest.raises(DatasetError, match=rf"'{name}': {path}:? (has )?(no data rows|NUL)"):
            LabelledSetsDataset(filepaths=[str(path)]).load()


BAD_AUGMENTATION = """\
transform:
  __class_fullname__: Compose
  transforms:
    - {__class_fullname__: GaussNoise, p: 0.3, var_limit: [10, 50]}
"""


def test_a_bad_augmentation_file_fails_before_the_pipeline_runs(tmp_path):
    from plate_ocr_pipeline.pipelines.chain import train_chain
    from plate_ocr_pipeline.pipelines.ingest import create_pipeline as ingest_pipeline

    (tmp_path / "augmentation.yml").write_text(BAD_AUGMENTATION)
    catalog = DataCatalog(
        {
            "augmentation_pipeline": AlbumentationsDataset(
                filepath=str(tmp_path / "augmentation.yml")
            ),
            "params:train": MemoryDataset({"start": "scratch"}),
        }
    )
    with pytest.raises(AugmentationConfigError, match="GaussNoise"):
        check_augmentation_pipeline(train_chain(), catalog)
    check_augmentation_pipeline(ingest_pipeline(), catalog)  # ingest alone does not augment


def _runs(tracking: Path) -> list:
    if not tracking.exists():
        return []
    with sqlite3.connect(tracking) as db:
        return db.execute("select status from runs").fetchall()


def test_bad_parameters_or_augmentation_fail_the_run_before_mlflow_opens_one(kedro_project):
    result = kedro_project("--pipeline=ingest", "--params=plate.img_heigth=64", check=False)
    assert result.returncode != 0 and "img_heigth" in result.stdout + result.stderr
    assert _runs(kedro_project.tracking) == []

    (kedro_project.path / "conf" / "base" / "augmentation.yml").write_text(BAD_AUGMENTATION)
    result = kedro_project("--pipelines=train", "--env=quick", check=False)
    assert result.returncode != 0
    assert "GaussNoise" in result.stdout + result.stderr
    assert "var_limit" in result.stdout + result.stderr
    assert _runs(kedro_project.tracking) == []
    # Failed before any node: nothing rendered, nothing ingested.
    assert not (kedro_project.path / "data").exists()


def test_ingest_run_logs_and_summarises_lines_read_as_clean_plus_rejected(
    kedro_project, tmp_path, crops, monkeypatch
):
    monkeypatch.setenv("COLUMNS", "400")  # rich logging: one log record on one line
    content, _, _ = hostile_files(crops)["stray_quote.csv"]
    (tmp_path / "stray.csv").write_bytes(content)
    (tmp_path / "utf16.csv").write_bytes("image_path,plate_text\nx.png,CAF\n".encode("utf-16-le"))
    # Two files: `--params=ingest.annotation_files=[a,b]` splits at the comma in Kedro 1.7.
    entry = {
        "raw_annotations": {"filepaths": [str(tmp_path / n) for n in ("stray.csv", "utf16.csv")]}
    }
    (kedro_project.path / "conf" / "quick" / "catalog_mine.yml").write_text(json.dumps(entry))
    result = kedro_project("--pipeline=ingest", "--env=quick")
    logged = result.stdout + result.stderr
    assert (
        "749 lines read from 1 file(s) + 1 file(s) rejected whole = 748 clean + 2 rejected"
        in logged
    )
    out = kedro_project.path / "data" / "quick" / "08_reporting" / "ingest"
    summary = json.loads((out / "ingest_summary.json").read_text())
    assert {k: summary[k] for k in ("files", "files_rejected", "lines_read", "clean", "rejected")} == {
        "files": 2, "files_rejected": 1, "lines_read": 749, "clean": 748, "rejected": 2,
    }  # fmt: skip
    rejects = pd.read_csv(out / "plates_rejects.csv")
    assert rejects["source_row"].tolist() == [61, 0]
    assert _runs(kedro_project.tracking) == [("FINISHED",)]


def test_rows_pointing_at_special_or_huge_files_are_rejected_unread(tmp_path):
    """A FIFO (would hang), a link to /dev/zero (would never end) and a PNG whose header says
    20000x20000 (5 GB decoded): each row is a reject with the reason, read no further."""
    import os
    import struct
    import zlib

    from plate_ocr_pipeline.datasets import PlateAnnotationsDataset

    os.mkfifo(tmp_path / "fifo.png")
    os.symlink("/dev/zero", tmp_path / "zero.png")
    ihdr = struct.pack(">IIBBBBB", 20000, 20000, 8, 0, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    png = (
        b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk))
    )
    (tmp_path / "huge.png").write_bytes(png)
    (tmp_path / "a.csv").write_text(
        "image_path,plate_text\nfifo.png,AB1\nzero.png,AB2\nhuge.png,AB3\n"
    )
    table = PlateAnnotationsDataset(filepaths=[str(tmp_path / "a.csv")]).load()
    reasons = dict(zip(table["raw_text"], table["image_error"], strict=True))
    assert reasons["AB1"].startswith("not a regular file")
    assert reasons["AB2"].startswith("not a regular file")
    assert "20000x20000" in reasons["AB3"] and "not decoded" in reasons["AB3"]


def test_an_annotations_csv_that_is_a_fifo_is_one_reject_and_not_opened(tmp_path):
    """A FIFO named as an annotations CSV would hang the read: it is one file reject, and the
    other CSVs load."""
    import os

    from plate_ocr_pipeline.datasets import PlateAnnotationsDataset

    os.mkfifo(tmp_path / "fifo.csv")
    (tmp_path / "a.csv").write_text("image_path,plate_text\nx.png,AB1\n")
    table = PlateAnnotationsDataset(
        filepaths=[str(tmp_path / "fifo.csv"), str(tmp_path / "a.csv")], probe_images=False
    ).load()
    assert table["source_row"].tolist() == [0, 2]
    assert table["csv_error"].iloc[0] == "not a regular file (other)"
    assert table["raw_text"].iloc[1] == "AB1"


def test_labelled_sets_refuse_special_and_huge_files_unread(tmp_path, monkeypatch):
    """Score, compare and evaluate read their real sets through LabelledSetsDataset: a FIFO
    and a link to /dev/zero are rows with the reason (neither hangs), and so is a file over
    the size cap; a readable crop keeps its bytes."""
    import os

    from plate_ocr_pipeline.datasets import LabelledSetsDataset, labelled_sets_dataset

    os.mkfifo(tmp_path / "fifo.png")
    os.symlink("/dev/zero", tmp_path / "zero.png")
    (tmp_path / "big.png").write_bytes(b"x" * 2000)
    (tmp_path / "ok.png").write_bytes(b"\x89PNG")
    (tmp_path / "annotations.csv").write_text(
        "image_path,plate_text\nfifo.png,AB1\nzero.png,AB2\nbig.png,AB3\nok.png,AB4\n"
    )
    monkeypatch.setattr(labelled_sets_dataset, "MAX_IMAGE_BYTES", 1000)
    table = LabelledSetsDataset(filepaths={"real": str(tmp_path / "annotations.csv")}).load()
    errors = dict(zip(table["plate_text"], table["error"], strict=True))
    assert errors["AB1"] == "not a regular file (other)"
    assert errors["AB2"] == "not a regular file (other)"
    assert errors["AB3"] == "file over 1,000 bytes: not read"
    assert pd.isna(errors["AB4"])
    assert table.set_index("plate_text").loc["AB4", "image"] == b"\x89PNG"
