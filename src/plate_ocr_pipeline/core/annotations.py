"""Which annotation rows training can use, and why not the others: the rules ingest applies to
every row of every annotations CSV. Pure Python over plain columns, so any reader of
annotations (a table, a CSV, a notebook) applies the same ones."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from .plate_config import PlateConfig
from .text_codec import text_problem

SPLITS = ("train", "val", "test")
CONFLICTING_LABELS = "duplicate path with conflicting labels"
DUPLICATE_ROW = "duplicate row (same path and label)"


def row_problem(
    text: str, split: str | None, config: PlateConfig, earlier: str | None = None
) -> str | None:
    """Why one row cannot be used (``None``: it can): an ``earlier`` problem found while
    reading it (the CSV line, the image), else its text for ``config``, else its split."""
    if earlier:
        return earlier
    problem = text_problem(text, config)
    if problem:
        return problem
    if split and split not in SPLITS:
        return f"unknown split {split!r} (expected one of {SPLITS})"
    return None


def duplicate_problems(
    paths: Sequence[str], texts: Sequence[str], problems: Sequence[str | None]
) -> list[str | None]:
    """``problems`` with the duplicates added, among the rows that had none: a path listed
    with different texts is ambiguous, so all its rows go, naming the texts; a path listed
    again with the same text keeps its first row."""
    texts_of: dict[str, set[str]] = defaultdict(set)
    for path, text, problem in zip(paths, texts, problems, strict=True):
        if problem is None:
            texts_of[path].add(text)
    seen: set[str] = set()
    out = list(problems)
    for index, (path, problem) in enumerate(zip(paths, problems, strict=True)):
        if problem is not None:
            continue
        if len(texts_of[path]) > 1:
            out[index] = f"{CONFLICTING_LABELS}: {sorted(texts_of[path])}"
        elif path in seen:
            out[index] = DUPLICATE_ROW
        seen.add(path)
    return out
