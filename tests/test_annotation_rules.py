"""The annotation rules ingest applies, on hand-made rows: which rows training can use and
the reason for each other one."""

import pytest

from plate_ocr_pipeline.core.annotations import duplicate_problems, row_problem
from plate_ocr_pipeline.core.plate_config import PlateConfig
from tests.plate_model_helpers import PLATE

CONFIG = PlateConfig.from_dict(PLATE)


def test_a_row_keeps_the_first_problem_found():
    assert row_problem("AB123", "train", CONFIG) is None
    assert row_problem("AB123", None, CONFIG) is None  # the split is drawn later
    assert row_problem("AB123", "train", CONFIG, "file does not exist") == "file does not exist"
    assert row_problem("AB-1", "train", CONFIG) == "character outside the alphabet: '-'"
    assert row_problem("AB123", "dev", CONFIG) == (
        "unknown split 'dev' (expected one of ('train', 'val', 'test'))"
    )


def test_duplicates_conflicting_labels_lose_every_row_and_repeats_keep_the_first():
    paths = ["a.png", "b.png", "a.png", "c.png", "c.png", "c.png", "d.png", "d.png"]
    texts = ["AAA", "BBB", "AAB", "CCC", "CCC", "CCC", "DDD", "XXX"]
    problems = [None, None, None, None, None, None, None, "bad text"]
    assert duplicate_problems(paths, texts, problems) == [
        "duplicate path with conflicting labels: ['AAA', 'AAB']",
        None,
        "duplicate path with conflicting labels: ['AAA', 'AAB']",
        None,
        "duplicate row (same path and label)",
        "duplicate row (same path and label)",
        None,  # its second row was already rejected: no conflict with a rejected text
        "bad text",
    ]
    assert duplicate_problems([], [], []) == []


def test_ingest_summary_accounts_for_every_row_and_leaves_blank_lines_out_of_the_fraction():
    from plate_ocr_pipeline.core.annotations import (
        BLANK_LINE,
        check_ingest_summary,
        ingest_summary,
    )

    # a.csv: lines 2-6 (two clean, a blank line, two rejects); b.csv rejected whole (row 0).
    summary = ingest_summary(
        ["a.csv"] * 5 + ["b.csv"],
        [2, 3, 4, 5, 6, 0],
        ["train", "val"],
        [BLANK_LINE, "bad characters: $", "missing file x.png", "not UTF-8 (no BOM)"],
    )
    assert summary == {
        "files": 2,
        "files_rejected": 1,
        "lines_read": 5,
        "rows": 6,
        "clean": 2,
        "rejected": 4,
        "blank_lines": 1,
        "reject_fraction": 3 / 5,
        "rejects_by_reason": {
            "bad characters": 1,
            "blank line": 1,
            "missing file x.png": 1,
            "not UTF-8": 1,
        },
        "clean_by_split": {"train": 1, "val": 1, "test": 0},
    }
    check_ingest_summary(summary, max_reject_fraction=0.6)
    with pytest.raises(ValueError, match=r"rejected 3 of 5 rows \(60.0% > max_reject_fraction"):
        check_ingest_summary(summary, max_reject_fraction=0.5)
    with pytest.raises(RuntimeError, match="lost track of rows: 7 in"):
        check_ingest_summary({**summary, "rows": 7}, max_reject_fraction=1.0)
    with pytest.raises(ValueError, match="no usable annotation row in 2 file"):
        check_ingest_summary({**summary, "clean": 0, "rows": 4}, max_reject_fraction=1.0)
