"""Report nodes: a model's per-slot probabilities on labelled sets -> metrics, tables, plots.

Shared by ``evaluate`` (the Keras reader after training: ``reader_model``) and ``score`` (an exported ONNX model):
both instantiate the template in ``pipeline.py``. Every node takes the stage's parameter
section and reads it through ``ReportParams``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from plate_ocr_pipeline.core.plate_config import PlateConfig
from plate_ocr_pipeline.evaluation import read_labelled_sets
from plate_ocr_pipeline.evaluation.report_tables import (
    character_confusion,
    predict_probabilities,
    report_metrics,
)
from plate_ocr_pipeline.pipelines.figures import Figure, pyplot
from plate_ocr_pipeline.pipelines.report.params import ReportParams

logger = logging.getLogger(__name__)


def prepare_sets(
    labelled_sets: pd.DataFrame,
    plate_config: dict[str, Any],
    report: dict[str, Any],
    held_out_sets: dict[str, dict[str, np.ndarray]] | None = None,
) -> tuple[dict[str, dict[str, np.ndarray]], pd.DataFrame]:
    """The sets to report on (``read_labelled_sets``): ``held_out_sets`` and the labelled
    sets ``report.labelled_sets`` names (all if null), read for the model's ``plate_config``."""
    params = ReportParams.model_validate(report)
    config = PlateConfig.from_dict(plate_config)
    return read_labelled_sets(labelled_sets, config, params.labelled_sets, held_out_sets)


def predict_sets(
    predictor: Any, sets: dict[str, dict[str, np.ndarray]], report: dict[str, Any]
) -> dict[str, np.ndarray]:
    """Per-slot probabilities for every set."""
    batch_size = ReportParams.model_validate(report).batch_size
    return {name: predict_probabilities(predictor, data["images"], batch_size)
            for name, data in sets.items()}  # fmt: skip


def compute_report_metrics(
    sets: dict[str, dict[str, np.ndarray]],
    probabilities: dict[str, np.ndarray],
    plate_config: dict[str, Any],
    report: dict[str, Any],
) -> tuple[dict[str, dict[str, float]], pd.DataFrame, pd.DataFrame]:
    """Metrics per set and region, and one row per plate (``evaluation.report_metrics``),
    exact and with ``report.equivalences``."""
    equivalences = ReportParams.model_validate(report).equivalences
    return report_metrics(sets, probabilities, PlateConfig.from_dict(plate_config), equivalences)


def metrics_for_mlflow(metrics: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """``{"<set>.<metric>": {"value": v, "step": 0}}`` for MLflow (NaN values left out)."""
    return {
        f"{name}.{key}": {"value": float(value), "step": 0}
        for name, values in metrics.items()
        for key, value in values.items()
        if not math.isnan(value)
    }


def build_character_confusion(
    sets: dict[str, dict[str, np.ndarray]],
    probabilities: dict[str, np.ndarray],
    plate_config: dict[str, Any],
) -> pd.DataFrame:
    """Slot-level character confusion (``evaluation.character_confusion``)."""
    return character_confusion(sets, probabilities, PlateConfig.from_dict(plate_config))


def _gallery_grid(
    sets: dict[str, dict[str, np.ndarray]],
    plate_config: dict[str, Any],
    rows: int,
    columns: int,
    tile: tuple[float, float],
) -> tuple[Figure, np.ndarray, Callable[[Any, str, str], None]]:
    """A ``rows`` x ``columns`` grid of blank axes (``tile`` inches each) and ``show(axis, set,
    image_path)``, which draws that crop of ``sets`` as the model sees it."""
    config = PlateConfig.from_dict(plate_config)
    figure, axes = pyplot().subplots(
        rows, columns, figsize=(tile[0] * columns, tile[1] * rows), squeeze=False
    )
    for axis in axes.ravel():
        axis.axis("off")
    index = {(name, path): i for name, data in sets.items()
             for i, path in enumerate(data["image_path"].tolist())}  # fmt: skip
    cmap = "gray" if config.num_channels == 1 else None

    def show(axis: Any, name: str, image_path: str) -> None:
        image = sets[name]["images"][index[(name, image_path)]]
        axis.imshow(image.squeeze(), cmap=cmap, vmin=0, vmax=255)

    return figure, axes, show


def plot_error_gallery(
    sets: dict[str, dict[str, np.ndarray]],
    predictions: pd.DataFrame,
    plate_config: dict[str, Any],
    report: dict[str, Any],
) -> Figure:
    """The most confident mistakes of every set: crop, truth, prediction, confidence."""
    params = ReportParams.model_validate(report)
    errors = predictions[~predictions["correct"].astype(bool)]
    errors = errors.sort_values("confidence", ascending=False, kind="stable")
    errors = errors.head(params.gallery_size)
    count = max(1, len(errors))
    columns = min(params.gallery_columns, count)
    figure, axes, show = _gallery_grid(
        sets, plate_config, math.ceil(count / columns), columns, (2.6, 1.7)
    )
    if errors.empty:
        axes[0, 0].text(0.5, 0.5, "no errors", ha="center", va="center", fontsize=12)
    for axis, row in zip(axes.ravel(), errors.itertuples(index=False), strict=False):
        show(axis, row.set, row.image_path)
        axis.set_title(
            f"{row.set}  true {row.truth}\npred {row.prediction or '(empty)'}  "
            f"conf {row.confidence:.2f}",
            fontsize=7,
            color="firebrick",
        )
    figure.suptitle("Error gallery: most confident mistakes", fontsize=10)
    figure.tight_layout()
    return figure


def plot_region_gallery(
    sets: dict[str, dict[str, np.ndarray]],
    predictions: pd.DataFrame,
    plate_config: dict[str, Any],
    report: dict[str, Any],
) -> Figure:
    """One row per (set, region): its first ``region_gallery_size`` crops as the model sees
    them, with truth and prediction (green when right, red when wrong). Where a region is
    weak, the row shows what its plates look like."""
    per_row = ReportParams.model_validate(report).region_gallery_size
    regions = predictions.assign(region=predictions["region"].fillna("").replace("", "(none)"))
    rows = [(key, part.head(per_row)) for key, part in regions.groupby(["set", "region"])]
    figure, axes, show = _gallery_grid(
        sets, plate_config, max(1, len(rows)), max(1, per_row), (2.2, 1.2)
    )
    if not rows or per_row == 0:
        axes[0, 0].text(0.5, 0.5, "no plates", ha="center", va="center", fontsize=12)
    for axes_row, ((name, region), part) in zip(axes, rows, strict=False):
        for axis, row in zip(axes_row, part.itertuples(index=False), strict=False):
            show(axis, name, row.image_path)
            axis.set_title(
                f"{name}/{region}: {row.truth}\nread {row.prediction or '(empty)'}",
                fontsize=6,
                color="darkgreen" if row.correct else "firebrick",
            )
    figure.suptitle("Plates per region: truth and reading", fontsize=10)
    figure.tight_layout()
    return figure


def plot_confidence_coverage(confidence_table: pd.DataFrame) -> Figure:
    """plate_acc of the most confident plates against the share of plates kept, per set,
    each point labelled with the confidence threshold that keeps it."""
    figure, axis = pyplot().subplots(figsize=(6, 4))
    for name, part in confidence_table.groupby("set", sort=False):
        line = axis.plot(part["coverage"], part["plate_acc_eq"], marker="o", label=f"{name} (O=0)")
        axis.plot(part["coverage"], part["plate_acc"], linestyle="--", color=line[0].get_color(),
                  label=f"{name} (exact)")  # fmt: skip
        for coverage, accuracy, threshold in zip(
            part["coverage"], part["plate_acc_eq"], part["min_confidence"], strict=True
        ):
            axis.annotate(f"{threshold:.2f}", (coverage, accuracy), fontsize=6,
                          textcoords="offset points", xytext=(0, 4), ha="center")  # fmt: skip
    axis.set_xlabel("share of plates read alone (most confident first)")
    axis.set_ylabel("plate_acc of those plates")
    axis.set_title("Accuracy against coverage (labels: confidence threshold)")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=7, loc="lower left")
    figure.tight_layout()
    return figure


def plot_per_region(evaluation_per_region: pd.DataFrame) -> Figure:
    """plate_acc (and with O=0) per region for every set, as horizontal bars."""
    table = evaluation_per_region
    sets = list(dict.fromkeys(table["set"])) if not table.empty else []
    height = max(2.0, 0.22 * len(table) + 1.0)
    figure, axes = pyplot().subplots(
        1, max(1, len(sets)), figsize=(5 * max(1, len(sets)), height), squeeze=False
    )
    for axis, name in zip(axes[0], sets, strict=False):
        part = table[table["set"] == name].sort_values("plate_acc")
        y = np.arange(len(part))
        if "plate_acc_eq" in part:
            axis.barh(y, part["plate_acc_eq"], color="lightsteelblue", label="plate_acc (O=0)")
        axis.barh(y, part["plate_acc"], color="steelblue", height=0.5, label="plate_acc")
        axis.set_yticks(y, [f"{r} ({int(n)})" for r, n in zip(part["region"], part["num_plates"],
                                                               strict=True)], fontsize=7)  # fmt: skip
        axis.set_xlim(0, 1)
        axis.set_title(name)
        axis.legend(fontsize=7, loc="lower right")
    figure.tight_layout()
    return figure
