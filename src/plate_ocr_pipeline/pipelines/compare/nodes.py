"""Compare nodes: each candidate model reads every labelled plate
(``evaluation.read_candidates``), then one table, one figure and the misread plates side by
side."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import onnx
import pandas as pd

from plate_ocr_pipeline.evaluation import comparison_table
from plate_ocr_pipeline.evaluation import read_candidates as evaluation_read_candidates
from plate_ocr_pipeline.pipelines.compare.params import CompareParams
from plate_ocr_pipeline.pipelines.figures import Figure, pyplot

logger = logging.getLogger(__name__)


def read_candidates(
    candidate_models: dict[str, Callable[[], onnx.ModelProto]],
    labelled_sets: pd.DataFrame,
    compare: dict[str, Any],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every candidate's readings of every usable labelled plate and the rows each could not
    read (``evaluation.read_candidates``). Candidates are ``PartitionedDataset`` partitions
    (name -> load function); each reads with the plate config in its ONNX metadata."""
    params = CompareParams.model_validate(compare)
    if not candidate_models:
        raise ValueError(f"no candidate models in {params.candidates_dir}")
    return evaluation_read_candidates(
        candidate_models,
        labelled_sets,
        set_names=params.labelled_sets,
        region_labels=params.region_labels,
        baseline=params.baseline,
        threads=params.threads,
        batch_size=params.batch_size,
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
