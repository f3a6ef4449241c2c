"""Ingest nodes: pure functions over the annotations table that the catalog loads.

Each node that needs settings takes the whole ``ingest`` section and validates it with
``IngestParams``.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

import pandas as pd

from plate_ocr_pipeline.core.annotations import (
    check_ingest_summary,
    duplicate_problems,
    ingest_summary,
    row_problem,
)
from plate_ocr_pipeline.core.plate_config import PlateConfig
from plate_ocr_pipeline.core.splits import draw_split, split_key
from plate_ocr_pipeline.core.text_codec import normalise_text
from plate_ocr_pipeline.pipelines.figures import Figure, pyplot

from .params import IngestParams

logger = logging.getLogger(__name__)

# source_file and source_row (the line, header = 1) lead a clean plate back to its CSV line.
CLEAN_COLUMNS = [
    "image_path",
    "plate_text",
    "region",
    "split",
    "image_height",
    "image_width",
    "source_file",
    "source_row",
]
REJECT_COLUMNS = ["source_file", "source_row", "image_path", "raw_text", "reason"]


def annotations_after_rendering(
    raw_annotations: pd.DataFrame,
    synthetic_annotations: pd.DataFrame,
    synthetic_manifest: dict[str, Any],
) -> pd.DataFrame:
    """The annotations, read only once the synthetic set and its CSV are on disk: the ingest
    stage reads files that the synthesize stage writes, which Kedro cannot see by dataset
    names (so a run cut with ``--to-nodes`` keeps the nodes that write them)."""
    return raw_annotations


def normalise_plate_texts(raw_annotations: pd.DataFrame, ingest: dict[str, Any]) -> pd.DataFrame:
    """Add ``plate_text``: the raw text upper-cased (``ingest.uppercase``) with the
    ``ingest.drop_characters`` separators dropped.

    Upper-casing maps one character to one: ``ß`` or ``ﬁ`` stay as written (Unicode would
    make them ``SS`` and ``FI``) and the alphabet check rejects the row, naming them."""
    p = IngestParams.model_validate(ingest)
    table = raw_annotations.copy()
    table["plate_text"] = [
        normalise_text(text, uppercase=p.uppercase, drop_characters=p.drop_characters)
        if isinstance(text, str)
        else ""
        for text in table["raw_text"]
    ]
    return table


def _text_or_none(value: Any) -> str | None:
    """Table cells hold str, None or NaN depending on the path they took; keep real text."""
    return value if isinstance(value, str) and value else None


def validate_annotations(
    annotations: pd.DataFrame, plate: dict[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split rows into usable ones and rejects, each reject with its reason, by the rules of
    ``core.annotations`` (a path listed with different texts loses all its rows; listed again
    with the same text, it keeps its first)."""
    config = PlateConfig.from_dict(plate)
    table = annotations.reset_index(drop=True).copy()
    problems = [
        row_problem(
            row.plate_text or "",
            _text_or_none(row.split),
            config,
            _text_or_none(row.csv_error) or _text_or_none(row.image_error),
        )
        for row in table.itertuples(index=False)
    ]
    table["reason"] = duplicate_problems(
        [str(path) for path in table["image_path"]], list(table["plate_text"]), problems
    )
    valid = table[table["reason"].isna()].drop(columns=["reason"]).reset_index(drop=True)
    rejects = table[table["reason"].notna()][REJECT_COLUMNS].reset_index(drop=True)
    return valid, rejects


def assign_splits(valid_annotations: pd.DataFrame, ingest: dict[str, Any]) -> pd.DataFrame:
    """Keep a split the CSV gives; otherwise draw one from a hash of (``ingest.seed``, the
    image's path relative to its CSV (the path itself in a table without ``source_file``))
    with the ``ingest.split_fractions``.

    Hashing the path rather than shuffling keeps each image's split stable when rows are
    reordered or new data is added.
    """
    p = IngestParams.model_validate(ingest)
    table = valid_annotations.copy()
    # A table made in Python, not read from a CSV, has no line to name.
    if "source_file" not in table:
        table["source_file"] = ""
    if "source_row" not in table:
        table["source_row"] = pd.Series(pd.NA, index=table.index, dtype="Int64")
    fractions = p.split_fractions
    table["split"] = [
        _text_or_none(split)
        or draw_split(
            split_key(path, source if isinstance(source, str) else ""),
            p.seed,
            fractions.train,
            fractions.val,
        )
        for path, source, split in zip(
            table["image_path"], table["source_file"], table["split"], strict=True
        )
    ]
    table["region"] = table["region"].fillna("unknown")
    return table[CLEAN_COLUMNS].sort_values("image_path", kind="stable").reset_index(drop=True)


def summarise_ingest(
    normalised_annotations: pd.DataFrame,
    split_annotations: pd.DataFrame,
    plates_rejects: pd.DataFrame,
    ingest: dict[str, Any],
) -> dict[str, Any]:
    """Account for every row: lines read (plus files rejected whole) = clean + rejected,
    counts per reject reason; fails when a row went missing, when nothing is usable, or when
    more than ``ingest.max_reject_fraction`` was rejected (blank lines hold no annotation and
    do not count towards that fraction).

    ``normalised_annotations`` has one row per line after each CSV header and one row
    (``source_row`` 0) per file that could not be read as lines."""
    max_reject_fraction = IngestParams.model_validate(ingest).max_reject_fraction
    summary = ingest_summary(
        normalised_annotations["source_file"].astype(str).tolist(),
        normalised_annotations["source_row"].astype(int).tolist(),
        split_annotations["split"].tolist(),
        plates_rejects["reason"].astype(str).tolist(),
    )
    whole_files = normalised_annotations[normalised_annotations["source_row"] == 0]
    whole = f" + {len(whole_files)} file(s) rejected whole" if len(whole_files) else ""
    logger.info(
        "Ingest: %d lines read from %d file(s)%s = %d clean + %d rejected",
        summary["lines_read"],
        summary["files"] - summary["files_rejected"],
        whole,
        summary["clean"],
        summary["rejected"],
    )
    for row in whole_files.itertuples(index=False):
        logger.warning("Ingest rejected the whole file %s: %s", row.source_file, row.csv_error)
    for reason, count in summary["rejects_by_reason"].items():
        logger.warning("Ingest rejected %d row(s): %s", count, reason)
    check_ingest_summary(summary, max_reject_fraction, plates_rejects.head(5).to_dict("records"))
    return summary


def accept_clean_plates(
    split_annotations: pd.DataFrame, ingest_summary: dict[str, Any]
) -> pd.DataFrame:
    """The clean table, handed on once ``summarise_ingest`` has passed its checks."""
    return split_annotations


def compute_dataset_statistics(plates_clean: pd.DataFrame) -> pd.DataFrame:
    """Long table (statistic, key, value): counts per split and region, text lengths,
    character frequencies and image sizes."""
    rows: list[tuple[str, str, float]] = []
    rows += [("count_per_split", k, v) for k, v in plates_clean["split"].value_counts().items()]
    rows += [("count_per_region", k, v) for k, v in plates_clean["region"].value_counts().items()]
    lengths = plates_clean["plate_text"].str.len().value_counts().sort_index()
    rows += [("text_length", str(k), v) for k, v in lengths.items()]
    characters = Counter("".join(plates_clean["plate_text"]))
    rows += [("character_frequency", k, v) for k, v in sorted(characters.items())]
    for column in ("image_height", "image_width"):
        described = pd.to_numeric(plates_clean[column]).describe()
        rows += [
            (column, stat, float(described[stat]))
            for stat in ("min", "25%", "50%", "75%", "max", "mean")
        ]
    return pd.DataFrame(rows, columns=["statistic", "key", "value"])


def plot_dataset_statistics(plates_clean: pd.DataFrame) -> Figure:
    """Four panels: split x region counts, text lengths, character frequency, image sizes."""
    figure, axes = pyplot().subplots(2, 2, figsize=(14, 9))
    if plates_clean.empty:
        figure.suptitle("no clean plates")
        return figure
    counts = pd.crosstab(plates_clean["region"], plates_clean["split"])
    counts.plot.barh(stacked=True, ax=axes[0, 0])
    axes[0, 0].set_title("plates per region and split")
    plates_clean["plate_text"].str.len().value_counts().sort_index().plot.bar(ax=axes[0, 1])
    axes[0, 1].set_title("text length")
    characters = pd.Series(Counter("".join(plates_clean["plate_text"]))).sort_index()
    characters.plot.bar(ax=axes[1, 0])
    axes[1, 0].set_title("character frequency")
    axes[1, 1].scatter(plates_clean["image_width"], plates_clean["image_height"], s=4, alpha=0.3)
    axes[1, 1].set_xlabel("width (px)")
    axes[1, 1].set_ylabel("height (px)")
    axes[1, 1].set_title("image size")
    figure.suptitle(f"{len(plates_clean)} clean plates")
    figure.tight_layout()
    return figure
