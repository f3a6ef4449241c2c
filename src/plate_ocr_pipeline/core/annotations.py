"""Which annotation rows training can use, and why not the others: the rules ingest applies to
every row of every annotations CSV. Pure Python over plain columns, so any reader of
annotations (a table, a CSV, a notebook) applies the same ones."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

from .plate_config import PlateConfig
from .text_codec import text_problem

SPLITS = ("train", "val", "test")
BLANK_LINE = "blank line"  # the reject reason of a line that holds no annotation
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


def ingest_summary(
    source_files: Sequence[str],
    source_rows: Sequence[int],
    clean_splits: Sequence[str],
    reject_reasons: Sequence[str],
) -> dict[str, Any]:
    """Account for every row ingest read: lines read (plus files rejected whole, the rows
    with ``source_row`` 0) against clean and rejected rows, rejects counted by the kind of
    their reason, clean rows by split. Blank lines hold no annotation: they are rejected but
    left out of ``reject_fraction``."""
    rows_in = len(source_rows)
    files_rejected = sum(1 for row in source_rows if row == 0)
    rejected = len(reject_reasons)
    blank = sum(1 for reason in reject_reasons if reason == BLANK_LINE)
    counted = rows_in - blank
    # Reasons carry details (the offending characters, lengths); count by their kind.
    kinds = Counter(reason.split(":")[0].split(" (")[0] for reason in reject_reasons)
    return {
        "files": len(set(source_files)),
        "files_rejected": files_rejected,
        "lines_read": rows_in - files_rejected,
        "rows": rows_in,
        "clean": len(clean_splits),
        "rejected": rejected,
        "blank_lines": blank,
        "reject_fraction": ((rejected - blank) / counted) if counted else 0.0,
        "rejects_by_reason": dict(sorted(kinds.items())),
        "clean_by_split": {split: sum(1 for s in clean_splits if s == split) for split in SPLITS},
    }


def check_ingest_summary(
    summary: dict[str, Any], max_reject_fraction: float, first_rejects: Sequence[Any] = ()
) -> None:
    """Raise when a row went missing, when there were no rows, when more than
    ``max_reject_fraction`` of them were rejected, or when none is clean."""
    whole = summary["files_rejected"]
    rows_in, clean, rejected = summary["rows"], summary["clean"], summary["rejected"]
    by_reason = summary["rejects_by_reason"]
    if clean + rejected != rows_in:
        raise RuntimeError(
            f"ingest lost track of rows: {rows_in} in ({summary['lines_read']} lines read"
            f"{f' + {whole} file(s) rejected whole' if whole else ''}) but {clean} clean + "
            f"{rejected} rejected"
        )
    if rows_in == 0:
        raise ValueError("ingest found no annotation rows at all")
    if summary["reject_fraction"] > max_reject_fraction:
        blank = summary["blank_lines"]
        raise ValueError(
            f"ingest rejected {rejected - blank} of {rows_in - blank} rows "
            f"({summary['reject_fraction']:.1%} > max_reject_fraction "
            f"{max_reject_fraction:.1%}); by reason {by_reason}; "
            f"first rejects: {list(first_rejects)}"
        )
    if clean == 0:
        raise ValueError(
            f"ingest found no usable annotation row in {summary['files']} file(s): all "
            f"{rejected} rejected; by reason {by_reason}; first rejects: {list(first_rejects)}"
        )
