"""Candidate models side by side on labelled sets: from every candidate's readings of every
plate, the comparison table (per set, group and model; each figure against a baseline's and
plate by plate) and the plates some candidate misreads. Needs numpy and pandas; no Kedro."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd

from plate_ocr_pipeline.core.metrics import paired_p_value
from plate_ocr_pipeline.core.text_codec import texts_match
from plate_ocr_pipeline.evaluation.groups import report_groups

logger = logging.getLogger(__name__)

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
