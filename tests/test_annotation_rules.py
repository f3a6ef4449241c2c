"""The annotation rules ingest applies, on hand-made rows: which rows training can use and
the reason for each other one."""

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
