"""Candidate models side by side on labelled sets: one candidate's readings of every plate
(``candidate_readings``), and from every candidate's, the comparison table (per set, group
and model; each figure against a baseline's and plate by plate) and the plates some candidate
misreads. Needs numpy and pandas; no Kedro.

Three readings per plate and model: the default reader's (format-aware decoding by the
model's region output, what ``plate-ocr read`` and ``infer`` return), the model's own (no
format decoding), and the reading with the plate's region given as a hint (the families its
set's label stands for: what a user who knows the country gets with ``--region``)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from plate_ocr_pipeline.core.metrics import paired_p_value
from plate_ocr_pipeline.core.text_codec import texts_match
from plate_ocr_pipeline.evaluation.groups import check_label_families, label_plates, report_groups
from plate_ocr_pipeline.evaluation.labelled_sets import REJECT_COLUMNS, read_labelled_sets
from plate_ocr_pipeline.evaluation.regions import read_regions_with_recognizer

if TYPE_CHECKING:
    from plate_ocr_pipeline.inference.recognizer import ONNXPlateRecognizer

logger = logging.getLogger(__name__)

READING_COLUMNS = [
    "model", "set", "image_path", "truth", "label", "kind", "layout", "text", "raw_text",
    "hint", "hint_text", "region", "region_right", "confidence",
]  # fmt: skip

# The figures a baseline's are subtracted from (`<figure>_delta`).
FIGURES = [
    "right", "plate_acc_format", "plate_acc_eq_format", "plate_acc_raw", "plate_acc_hint",
    "region_acc",
]  # fmt: skip
COMPARISON_COLUMNS = ["set", "group", "model", "plates", "hint_plates", *FIGURES]
# Against a baseline, plate by plate (the default reader's exact readings).
PAIRED_COLUMNS = ["fixed", "broken", "p_paired"]
# A plate some candidate could not read (its plate config rejected the row), in misreads.csv.
NOT_READ = "(rejected)"
PLATE_KEYS = ["set", "image_path", "truth"]


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


def candidate_readings(
    name: str,
    recognizer: ONNXPlateRecognizer,
    sets: Mapping[str, Mapping[str, Any]],
    region_labels: Mapping[str, Mapping[str, Any]],
    batch_size: int = 64,
) -> pd.DataFrame:
    """``recognizer``'s readings of every plate of ``sets`` (``read_labelled_sets`` for its
    plate config), one row per plate (``READING_COLUMNS``), the model named ``name``.

    ``hint`` names the families of the plate's label that the model knows (``|``-joined); a
    label naming none (a country without formats) gets no hint reading. ``region_labels``
    maps a set's region labels to families, as ``label_plates`` takes them."""
    known = set(recognizer.known_families)
    read = read_regions_with_recognizer(recognizer.reading(format_decoding=True), sets, batch_size)
    readings = []
    for set_name, data in sets.items():
        truths = [str(t) for t in data["plate_text"]]
        table = label_plates(data["region"], truths, region_labels.get(set_name, {}))
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
                hint_text=_hint_texts(recognizer, data["images"], hints, batch_size),
                region=regions,
                # Unknown (NaN) where the model has no region output or the label names no
                # family; a miss where it names families the model never read.
                region_right=[
                    float(region in families) if region and families else np.nan
                    for region, families in zip(regions, table["families"], strict=True)
                ],
                confidence=read[set_name]["confidence"],
            )
        )
        right = sum(text == truth for text, truth in zip(texts, truths, strict=True))
        logger.info("%s on %s: %d of %d plates read exactly", name, set_name, right, len(truths))
    if not readings:
        return pd.DataFrame(columns=READING_COLUMNS)
    return pd.concat(readings, ignore_index=True).reindex(columns=READING_COLUMNS)


def _candidate(
    name: str, model: Any, region_labels: Mapping[str, Any] | None, threads: int | None
) -> ONNXPlateRecognizer:
    from plate_ocr_pipeline.inference.recognizer import ONNXPlateRecognizer

    try:
        recognizer = ONNXPlateRecognizer(model, threads=threads)
        if recognizer.region_families:
            check_label_families(region_labels, recognizer.known_families)
    except (FileNotFoundError, ValueError) as error:
        raise ValueError(f"candidate {name!r}: {error}") from error
    return recognizer


def read_candidates(
    models: Mapping[str, Callable[[], Any]],
    labelled_sets: pd.DataFrame,
    *,
    set_names: Sequence[str] | None = None,
    region_labels: Mapping[str, Any] | None = None,
    baseline: str | None = None,
    threads: int | None = None,
    batch_size: int = 256,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every candidate's readings of every usable plate of ``labelled_sets``
    (``READING_COLUMNS``), and the rows a candidate could not read, with its name and the
    reason (a candidate with another alphabet or slot count may reject other rows).

    ``models`` maps each name to a function that loads its ONNX model: every candidate is
    checked before any reads a plate (a bad file, a region label it cannot map, a
    ``baseline`` that is not among them), then each is loaded again to read, so that one
    model at a time is in memory.
    """
    if not models:
        raise ValueError("no candidate models")
    if baseline is not None and baseline not in models:
        raise ValueError(
            f"baseline {baseline!r} is not among the candidates ({', '.join(sorted(models))})"
        )
    for name in sorted(models):
        _candidate(name, models[name](), region_labels, threads)
    readings, rejects = [], []
    for name in sorted(models):
        recognizer = _candidate(name, models[name](), region_labels, threads)
        try:
            sets, rejected = read_labelled_sets(labelled_sets, recognizer.config, set_names)
        except ValueError as error:
            raise ValueError(f"candidate {name!r}: {error}") from error
        rejects.append(rejected.assign(model=name))
        readings.append(candidate_readings(name, recognizer, sets, region_labels, batch_size))
    return (
        pd.concat(readings, ignore_index=True),  # each in READING_COLUMNS already
        pd.concat(rejects, ignore_index=True).reindex(columns=["model", *REJECT_COLUMNS]),
    )


def _rates(group: pd.DataFrame, equivalences: list[str]) -> dict[str, float]:
    def hits(rows: pd.DataFrame, column: str, equal: list[str] | tuple = ()) -> list[bool]:
        return texts_match(rows[column], rows["truth"], equal)

    def share(values: list[bool]) -> float:
        return float(np.mean(values)) if values else float("nan")

    right = group["exact"].tolist()
    hinted = group[group["hint"] != ""]
    return {
        "plates": len(group),
        "hint_plates": len(hinted),
        "right": int(sum(right)),
        "plate_acc_format": share(right),
        "plate_acc_eq_format": share(hits(group, "text", equivalences)),
        "plate_acc_raw": share(hits(group, "raw_text")),
        "plate_acc_hint": share(hits(hinted, "hint_text")),
        "region_acc": float(group["region_right"].mean()),  # unknown (NaN) rows skipped
    }


def _paired(group: pd.DataFrame, baseline_right: pd.Series) -> dict[str, float]:
    right = group["exact"].to_numpy(dtype=bool)
    keys = pd.MultiIndex.from_frame(group[PLATE_KEYS])
    base = baseline_right.reindex(keys).fillna(False).to_numpy(dtype=bool)
    fixed = int((right & ~base).sum())
    broken = int((~right & base).sum())
    return {"fixed": fixed, "broken": broken, "p_paired": paired_p_value(fixed, broken)}


def _read_by_all(readings: pd.DataFrame) -> pd.DataFrame:
    """The readings of the plates every candidate read: figures of candidates that rejected
    different rows would otherwise count different plates."""
    keys = PLATE_KEYS
    models = readings.groupby(keys)["model"].transform("nunique")
    common = readings[models == readings["model"].nunique()]
    dropped = readings.drop_duplicates(keys).shape[0] - common.drop_duplicates(keys).shape[0]
    if dropped:
        logger.warning("%d plates not read by every candidate are left out of the comparison "
                       "(see rejects.csv)", dropped)  # fmt: skip
    return common


def comparison_table(
    readings: pd.DataFrame, equivalences: Sequence[str] = (), baseline: str | None = None
) -> pd.DataFrame:
    """From every candidate's readings of every labelled plate (``model``, ``set``,
    ``image_path``, ``truth``, ``text``, ``raw_text``, ``hint``, ``hint_text``,
    ``region_right`` and the ``label_plates`` columns): per set, group (``report_groups``:
    all plates, each region label, each plate kind and layout) and model, over the plates
    every candidate read: plates, plates with a hint reading, plates read exactly by the
    default reader (``right``), exact and equivalence plate_acc of the default reader
    (``*_format``), exact plate_acc of the model's own reading (``_raw``) and with the
    region as a hint (``_hint``, over ``hint_plates``), and region accuracy; with
    ``baseline`` set, ``<figure>_delta`` is each figure minus the baseline's in the same set
    and group, and plate by plate the plates the model reads exactly that the baseline
    misreads (``fixed``), the opposite (``broken``) and the exact McNemar p-value of that
    split (``p_paired``: small where the set's plates say the difference is real; it knows
    nothing of how much another training seed would move it)."""
    # The default reader's exact hits, once per plate and model: rates and pairing read them.
    common = _read_by_all(readings)
    common = common.assign(exact=texts_match(common["text"], common["truth"]))
    baseline_right = None
    if baseline is not None:
        base = common[common["model"] == baseline]
        baseline_right = pd.Series(
            base["exact"].to_numpy(), index=pd.MultiIndex.from_frame(base[PLATE_KEYS])
        )
    rows = []
    for (set_name, model), table in common.groupby(["set", "model"], sort=False):
        for name, group in report_groups(table):
            paired = {} if baseline_right is None else _paired(group, baseline_right)
            rows.append({"set": set_name, "group": name, "model": model,
                         **_rates(group, list(equivalences)), **paired})  # fmt: skip
    columns = COMPARISON_COLUMNS + (PAIRED_COLUMNS if baseline_right is not None else [])
    comparison = pd.DataFrame(rows, columns=columns)
    if baseline is not None:
        keys = ["set", "group"]
        base = comparison[comparison["model"] == baseline].set_index(keys)[FIGURES]
        joined = comparison.join(base, on=keys, rsuffix="_baseline")
        for figure in FIGURES:
            comparison[f"{figure}_delta"] = joined[figure] - joined[f"{figure}_baseline"]
    for set_name, table in comparison[comparison["group"] == "(all)"].groupby("set"):
        logger.info("%s: %s", set_name, ", ".join(
            f"{row.model} {row.plate_acc_format:.1%} ({row.right})" for row in table.itertuples()
        ))  # fmt: skip
    return comparison


def misread_plates(readings: pd.DataFrame) -> pd.DataFrame:
    """The plates some candidate's default reader misreads: set, image, truth, and each
    model's text in a column of its name (``(rejected)`` where it could not read the row), so
    that what a change fixed and broke reads across one row."""
    wide = readings.pivot_table(
        index=["set", "image_path", "truth"], columns="model", values="text", aggfunc="first"
    )
    truths = np.asarray(wide.index.get_level_values("truth"))[:, None]
    wrong = (wide.notna() & wide.ne(truths)).any(axis=1)
    return wide[wrong].fillna(NOT_READ).reset_index().rename_axis(columns=None)
