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

from plate_ocr_pipeline.core.text_codec import texts_equal
from plate_ocr_pipeline.inference.recognizer import ONNXPlateRecognizer, PlateResult
from plate_ocr_pipeline.pipelines.compare.params import CompareParams
from plate_ocr_pipeline.pipelines.figures import Figure, pyplot
from plate_ocr_pipeline.pipelines.report.nodes import (
    REJECT_COLUMNS,
    _accepted_families,
    _label_group,
    plate_kinds,
    prepare_sets,
)

logger = logging.getLogger(__name__)

READING_COLUMNS = [
    "model", "set", "image_path", "truth", "label", "kind", "layout",
    "text", "raw_text", "hint_text", "region", "region_right", "confidence",
]  # fmt: skip
COMPARISON_COLUMNS = [
    "set", "group", "model", "plates", "right", "plate_acc", "plate_acc_eq", "plate_acc_raw",
    "plate_acc_hint", "region_acc",
]  # fmt: skip


def _recognizer(name: str, model: onnx.ModelProto, threads: int | None) -> ONNXPlateRecognizer:
    try:
        return ONNXPlateRecognizer(model, threads=threads)
    except (FileNotFoundError, ValueError) as error:
        raise ValueError(f"candidate {name!r}: {error}") from error


def _read(reader: ONNXPlateRecognizer, images: np.ndarray, batch_size: int) -> list[PlateResult]:
    return reader.run_detailed(images, batch_size=batch_size)


def _hint_texts(
    recognizer: ONNXPlateRecognizer,
    images: np.ndarray,
    accepted: list[list[str]],
    batch_size: int,
) -> list[str]:
    """Each plate read with its label's families as the region hint; ``""`` where the label
    names none."""
    texts = [""] * len(images)
    groups: dict[tuple[str, ...], list[int]] = {}
    for index, families in enumerate(accepted):
        if families:
            groups.setdefault(tuple(families), []).append(index)
    for families, rows in groups.items():
        reader = recognizer.reading(region_hint=list(families))
        for row, result in zip(rows, _read(reader, images[rows], batch_size), strict=True):
            texts[row] = result.text
    return texts


def read_candidates(
    candidate_models: dict[str, Callable[[], onnx.ModelProto]],
    labelled_sets: pd.DataFrame,
    compare: dict[str, Any],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every candidate's readings of every usable labelled plate (``READING_COLUMNS``), and
    the rows not read with the candidate and reason (a candidate with another alphabet or
    input size may reject other rows).

    Candidates are ``PartitionedDataset`` partitions (name -> load function), loaded one at a
    time; each is read with its own plate config from its ONNX metadata.
    """
    params = CompareParams.model_validate(compare)
    if not candidate_models:
        raise ValueError(f"no candidate models in {params.candidates_dir}")
    readings, rejects = [], []
    for name in sorted(candidate_models):
        recognizer = _recognizer(name, candidate_models[name](), params.threads)
        sets, rejected = prepare_sets(labelled_sets, recognizer.config.to_dict(), compare)
        rejects.append(rejected.assign(model=name))
        default = recognizer.reading(format_decoding=True)
        own = recognizer.reading(format_decoding=False)
        for set_name, data in sets.items():
            label_families = params.region_labels.get(set_name, {})
            truths = [str(t) for t in data["plate_text"]]
            labels = [_label_group(str(r), label_families) for r in data["region"]]
            accepted = [_accepted_families(label, label_families) for label in labels]
            kinds, layouts = plate_kinds(truths, labels, label_families)
            results = _read(default, data["images"], params.batch_size)
            raw = _read(own, data["images"], params.batch_size)
            regions = [r.region or "" for r in results]
            readings.append(
                pd.DataFrame(
                    {
                        "model": name,
                        "set": set_name,
                        "image_path": data["image_path"],
                        "truth": truths,
                        "label": labels,
                        "kind": kinds,
                        "layout": layouts,
                        "text": [r.text for r in results],
                        "raw_text": [r.text for r in raw],
                        "hint_text": _hint_texts(
                            recognizer, data["images"], accepted, params.batch_size
                        ),
                        "region": regions,
                        # Unknown (NaN) where the model has no region output or the label
                        # names no family.
                        "region_right": [
                            float(region in families) if region and families else np.nan
                            for region, families in zip(regions, accepted, strict=True)
                        ],
                        "confidence": [r.confidence for r in results],
                    }
                )
            )
            right = sum(r.text == t for r, t in zip(results, truths, strict=True))
            logger.info("%s on %s: %d of %d plates read exactly", name, set_name, right,
                        len(truths))  # fmt: skip
    table = pd.concat(readings, ignore_index=True) if readings else pd.DataFrame()
    rejected = pd.concat(rejects, ignore_index=True)
    return table.reindex(columns=READING_COLUMNS), rejected.reindex(
        columns=["model", *REJECT_COLUMNS]
    )


def _rates(group: pd.DataFrame, equivalences: list[str]) -> dict[str, float]:
    def hits(rows: pd.DataFrame, column: str, equal: list[str] | tuple = ()) -> list[bool]:
        pairs = zip(rows[column], rows["truth"], strict=True)
        return [texts_equal(str(text), str(truth), equal) for text, truth in pairs]

    def share(values: list[bool]) -> float:
        return float(np.mean(values)) if values else float("nan")

    right = hits(group, "text")
    return {
        "plates": len(group),
        "right": int(sum(right)),
        "plate_acc": share(right),
        "plate_acc_eq": share(hits(group, "text", equivalences)),
        "plate_acc_raw": share(hits(group, "raw_text")),
        "plate_acc_hint": share(hits(group[group["hint_text"] != ""], "hint_text")),
        "region_acc": float(group["region_right"].mean()),  # unknown (NaN) rows skipped
    }


def summarise_comparison(readings: pd.DataFrame, compare: dict[str, Any]) -> pd.DataFrame:
    """Per set, group (``(all)``, each region label, and each plate kind and layout where
    a label stands for several families) and model: plates, plates read exactly by the
    default reader (``right``), exact and equivalence plate_acc, the model's own reading's,
    with a region hint, and region accuracy; with ``baseline`` set, ``*_delta`` columns give
    each figure minus the baseline's in the same set and group."""
    params = CompareParams.model_validate(compare)
    rows = []
    for (set_name, model), table in readings.groupby(["set", "model"], sort=False):
        groups = [("(all)", table)]
        for column in ("label", "kind", "layout"):
            groups += [(key, group) for key, group in table.groupby(column) if key]
        for name, group in groups:
            rows.append({"set": set_name, "group": name, "model": model,
                         **_rates(group, params.equivalences)})  # fmt: skip
    comparison = pd.DataFrame(rows, columns=COMPARISON_COLUMNS)
    if params.baseline is not None:
        if params.baseline not in set(comparison["model"]):
            raise ValueError(
                f"compare.baseline {params.baseline!r} is not among the candidates "
                f"({', '.join(sorted(set(comparison['model'])))})"
            )
        keys = ["set", "group"]
        base = comparison[comparison["model"] == params.baseline].set_index(keys)
        figures = ["right", "plate_acc", "plate_acc_eq", "plate_acc_raw", "plate_acc_hint"]
        joined = comparison.join(base[figures], on=keys, rsuffix="_baseline")
        for figure in figures:
            comparison[f"{figure}_delta"] = joined[figure] - joined[f"{figure}_baseline"]
    for set_name, table in comparison[comparison["group"] == "(all)"].groupby("set"):
        logger.info("%s: %s", set_name, ", ".join(
            f"{row.model} {row.plate_acc:.1%} ({row.right})" for row in table.itertuples()
        ))  # fmt: skip
    return comparison


def misread_plates(readings: pd.DataFrame) -> pd.DataFrame:
    """The plates some candidate's default reader misreads: set, image, truth, and each
    model's text in a column of its name, so that what a change fixed and broke reads across
    one row."""
    wide = readings.pivot_table(
        index=["set", "image_path", "truth"], columns="model", values="text", aggfunc="first"
    )
    truths = wide.index.get_level_values("truth")
    wrong = (wide.ne(np.asarray(truths)[:, None])).any(axis=1)
    return wide[wrong].reset_index().rename_axis(columns=None)


def plot_comparison(comparison: pd.DataFrame) -> Figure:
    """One panel per set: each group's exact plate_acc (default reader), a bar per model."""
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
            rows = table[table["model"] == model].set_index("group").reindex(groups)
            positions = np.arange(len(groups)) + (index - (len(models) - 1) / 2) * width
            bars = axis.bar(positions, rows["plate_acc"] * 100, width, label=model)
            axis.bar_label(bars, labels=[f"{v:.0f}" if v == v else "" for v in
                                         rows["plate_acc"] * 100], fontsize=7)  # fmt: skip
        plates = table.drop_duplicates("group").set_index("group")["plates"]
        axis.set_xticks(np.arange(len(groups)),
                        [f"{g}\n{int(plates[g])}" for g in groups], fontsize=8)  # fmt: skip
        axis.set_ylim(0, 105)
        axis.set_ylabel("exact plate_acc, %")
        axis.set_title(set_name)
    axes[0, 0].legend(fontsize=8, ncols=min(4, len(models)))
    return figure
