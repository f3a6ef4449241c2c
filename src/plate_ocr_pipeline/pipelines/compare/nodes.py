"""Compare nodes: each candidate model reads every labelled plate, then one table, one
figure and the misread plates side by side.

Three readings per plate and model: the default reader's (format-aware decoding by the
model's region output, what ``plate-ocr read`` and ``infer`` return), the model's own (no
format decoding), and the reading with the plate's region given as a hint (the families its
set's label stands for: what a user who knows the country gets with ``--region``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import onnx
import pandas as pd

from plate_ocr_pipeline.evaluation import (
    REJECT_COLUMNS,
    comparison_table,
    label_plates,
    read_labelled_sets,
    read_regions_with_recognizer,
)
from plate_ocr_pipeline.inference.recognizer import ONNXPlateRecognizer
from plate_ocr_pipeline.pipelines.compare.params import CompareParams
from plate_ocr_pipeline.pipelines.figures import Figure, pyplot

logger = logging.getLogger(__name__)

READING_COLUMNS = [
    "model", "set", "image_path", "truth", "label", "kind", "layout", "text", "raw_text",
    "hint", "hint_text", "region", "region_right", "confidence",
]  # fmt: skip


def _recognizer(name: str, model: onnx.ModelProto, threads: int | None) -> ONNXPlateRecognizer:
    try:
        return ONNXPlateRecognizer(model, threads=threads)
    except (FileNotFoundError, ValueError) as error:
        raise ValueError(f"candidate {name!r}: {error}") from error


def _hint_texts(
    recognizer: ONNXPlateRecognizer, images: np.ndarray, hints: list[str], batch_size: int
) -> list[str]:
    """Each plate read with its hint (families joined by ``|``); ``""`` where there is none."""
    texts = [""] * len(images)
    rows_by_hint: dict[str, list[int]] = {}
    for index, hint in enumerate(hints):
        if hint:
            rows_by_hint.setdefault(hint, []).append(index)
    for hint, rows in rows_by_hint.items():
        reader = recognizer.reading(region_hint=hint.split("|"))
        for row, result in zip(rows, reader.run_detailed(images[rows], batch_size), strict=True):
            texts[row] = result.text
    return texts


def read_candidates(
    candidate_models: dict[str, Callable[[], onnx.ModelProto]],
    labelled_sets: pd.DataFrame,
    compare: dict[str, Any],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every candidate's readings of every usable labelled plate (``READING_COLUMNS``), and
    the rows a candidate could not read, with its name and the reason (a candidate with
    another alphabet or slot count may reject other rows).

    Candidates are ``PartitionedDataset`` partitions (name -> load function), loaded one at a
    time; each reads with the plate config in its ONNX metadata. ``hint`` names the families
    of the plate's label that the candidate knows (``|``-joined); a label naming none (a
    country without formats) gets no hint reading.
    """
    params = CompareParams.model_validate(compare)
    if not candidate_models:
        raise ValueError(f"no candidate models in {params.candidates_dir}")
    if params.baseline is not None and params.baseline not in candidate_models:
        raise ValueError(
            f"compare.baseline {params.baseline!r} is not among the candidates "
            f"({', '.join(sorted(candidate_models))})"
        )
    readings, rejects = [], []
    for name in sorted(candidate_models):
        recognizer = _recognizer(name, candidate_models[name](), params.threads)
        try:
            sets, rejected = read_labelled_sets(
                labelled_sets, recognizer.config, params.labelled_sets
            )
        except ValueError as error:
            raise ValueError(f"candidate {name!r}: {error}") from error
        rejects.append(rejected.assign(model=name))
        known = set(recognizer.known_families)
        default = recognizer.reading(format_decoding=True)
        read = read_regions_with_recognizer(default, sets, params.batch_size)
        for set_name, data in sets.items():
            truths = [str(t) for t in data["plate_text"]]
            table = label_plates(data["region"], truths, params.region_labels.get(set_name, {}))
            hints = ["|".join(f for f in families if f in known) for families in table["families"]]
            texts, regions = read[set_name]["text"], read[set_name]["region"]
            readings.append(
                table.drop(columns="families").assign(
                    model=name,
                    set=set_name,
                    image_path=data["image_path"],
                    truth=truths,
                    text=texts,
                    raw_text=read[set_name]["raw"],
                    hint=hints,
                    hint_text=_hint_texts(recognizer, data["images"], hints, params.batch_size),
                    region=regions,
                    # Unknown (NaN) where the model has no region output or the label names
                    # no family; a miss where it names families the model never read.
                    region_right=[
                        float(region in families) if region and families else np.nan
                        for region, families in zip(regions, table["families"], strict=True)
                    ],
                    confidence=read[set_name]["confidence"],
                )
            )
            right = sum(text == truth for text, truth in zip(texts, truths, strict=True))
            logger.info("%s on %s: %d of %d plates read exactly", name, set_name, right,
                        len(truths))  # fmt: skip
    return (
        pd.concat(readings, ignore_index=True).reindex(columns=READING_COLUMNS),
        pd.concat(rejects, ignore_index=True).reindex(columns=["model", *REJECT_COLUMNS]),
    )


def summarise_comparison(readings: pd.DataFrame, compare: dict[str, Any]) -> pd.DataFrame:
    """The comparison table (``evaluation.comparison_table``) with ``compare.equivalences``
    and against ``compare.baseline``."""
    params = CompareParams.model_validate(compare)
    return comparison_table(readings, params.equivalences, params.baseline)


def plot_comparison(comparison: pd.DataFrame) -> Figure:
    """One panel per set: each group's exact plate_acc by the default reader, a bar per
    model, the group's plates under its name."""
    plt = pyplot()
    sets = list(dict.fromkeys(comparison["set"]))
    models = list(dict.fromkeys(comparison["model"]))
    figure, axes = plt.subplots(
        len(sets), 1, figsize=(10, 3.2 * max(1, len(sets))), squeeze=False, layout="constrained"
    )
    width = 0.8 / max(1, len(models))
    for axis, set_name in zip(axes[:, 0], sets, strict=True):
        table = comparison[comparison["set"] == set_name]
        groups = list(dict.fromkeys(table["group"]))
        for index, model in enumerate(models):
            percent = table[table["model"] == model].set_index("group").reindex(groups)
            percent = percent["plate_acc_format"] * 100
            positions = np.arange(len(groups)) + (index - (len(models) - 1) / 2) * width
            bars = axis.bar(positions, percent, width, label=model)
            axis.bar_label(bars, labels=[f"{v:.0f}" if pd.notna(v) else "" for v in percent],
                           fontsize=7)  # fmt: skip
        # Every candidate is scored on the same plates (summarise_comparison).
        plates = table.drop_duplicates("group").set_index("group")["plates"]
        axis.set_xticks(np.arange(len(groups)),
                        [f"{g}\n{int(plates[g])}" for g in groups], fontsize=8)  # fmt: skip
        axis.set_ylim(0, 105)
        axis.set_ylabel("exact plate_acc, %")
        axis.set_title(set_name)
    axes[0, 0].legend(fontsize=8, ncols=min(4, len(models)))
    return figure
