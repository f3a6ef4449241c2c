"""Nodes of the ``synthesize`` pipeline: plan plates, render them, write annotations, gallery.

Nodes are pure: the images are returned as lazy partitions (callables) that the catalog's
``PartitionedDataset`` calls one by one while saving, so a whole set never sits in memory.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from functools import partial
from typing import Any

import pandas as pd
from PIL import Image

from plate_ocr_pipeline.core.plate_config import PlateConfig
from plate_ocr_pipeline.pipelines.figures import Figure, pyplot
from plate_ocr_pipeline.synthetic.generate import (
    OrderedRenderStream,
    PlatePlan,
    plan_plates,
    render_planned,
)

from .params import validate_synthesize

logger = logging.getLogger(__name__)

PLAN_COLUMNS = ["index", "image_path", "plate_text", "region", "width", "height", "groups"]


def _label_fields(plate: dict[str, Any]) -> dict[str, Any]:
    """The plate-config fields that decide the rendered labels (the others size the model's
    input and do not matter here)."""
    config = PlateConfig.from_dict(plate)
    return {
        "max_plate_slots": config.max_plate_slots,
        "alphabet": config.alphabet,
        "pad_char": config.pad_char,
    }


def _partition_name(index: int, n: int) -> str:
    return f"{index:0{max(6, len(str(n - 1)))}d}"


def plan_synthetic_plates(synthesize: dict[str, Any], plate: dict[str, Any]) -> pd.DataFrame:
    """Region, text and size of every plate (one row per plate, no rendering yet)."""
    p = validate_synthesize(synthesize)
    labels = _label_fields(plate)
    plans = plan_plates(
        p.num_plates, p.region_weights, p.seed, p.image_width, p.image_height,
        labels["max_plate_slots"], labels["alphabet"], labels["pad_char"], p.repeat_odds,
    )  # fmt: skip
    sub = p.images_subdir.strip("/")
    rows = [
        {
            "index": pl.index,
            "image_path": f"{sub}/{_partition_name(pl.index, len(plans))}.png",
            "plate_text": pl.label,
            "region": pl.region,
            "width": pl.width,
            "height": pl.height,
            "groups": " ".join(pl.groups),
        }
        for pl in plans
    ]
    return pd.DataFrame(rows, columns=PLAN_COLUMNS)


def _plans_from_frame(plan: pd.DataFrame) -> list[PlatePlan]:
    return [
        PlatePlan(
            int(r.index),
            str(r.region),
            tuple(str(r.groups).split(" ")),
            str(r.plate_text),
            int(r.width),
            int(r.height),
        )
        for r in plan.itertuples(index=False)
    ]


def render_synthetic_images(
    plan: pd.DataFrame,
    synthesize: dict[str, Any],
    plate: dict[str, Any],
    synthetic_manifest_previous: dict[str, Any],
) -> tuple[dict[str, Callable[[], Image.Image]], int]:
    """Lazy image partitions ``{name: () -> PIL image}``, rendered across processes as they
    are saved, and their number; none when the set on disk was rendered with the same
    parameters, or ``synthesize.render`` is ``never``."""
    p = validate_synthesize(synthesize)
    if p.render == "never" or (
        p.render == "auto"
        and synthetic_manifest_previous.get("fingerprint") == p.fingerprint(_label_fields(plate))
        and not synthetic_manifest_previous.get("missing")
    ):
        logger.info(
            "Synthetic plates: %s (synthesize.render=%s): not rendering",
            "the set on disk matches these parameters"
            if p.render == "auto"
            else "kept as they are",
            p.render,
        )
        return {}, 0
    plans = _plans_from_frame(plan)
    stream = OrderedRenderStream(plans, p.seed, p.num_workers, p.fonts_dir, p.drawing())
    n = len(plans)
    return {_partition_name(pl.index, n): partial(stream.get, pl.index) for pl in plans}, n


ANNOTATION_COLUMNS = ["image_path", "plate_text", "region"]


def build_synthetic_annotations(
    plan: pd.DataFrame,
    synthesize: dict[str, Any],
    synthetic_annotations_previous: pd.DataFrame | None,
) -> pd.DataFrame:
    """Annotations in the ingest format: ``image_path`` (relative to the CSV), text, region.
    With ``synthesize.render`` ``never``, those on disk as they are (none: a header)."""
    if validate_synthesize(synthesize).render == "never":
        if synthetic_annotations_previous is None:
            return pd.DataFrame(columns=ANNOTATION_COLUMNS)
        return synthetic_annotations_previous
    return plan[ANNOTATION_COLUMNS].reset_index(drop=True)


def record_rendered_set(
    rendered: int,
    synthetic_plate_images_on_disk: dict[str, Callable[[], Any]],
    plan: pd.DataFrame,
    synthesize: dict[str, Any],
    plate: dict[str, Any],
    synthetic_manifest_previous: dict[str, Any],
) -> dict[str, Any]:
    """The manifest of the set on disk, written once every planned plate is there (after
    this run's ``rendered`` plates are saved): the next run skips rendering when its
    parameters give the same fingerprint. With ``synthesize.render`` ``never`` the set on
    disk is not this run's to describe: the previous manifest is kept."""
    p = validate_synthesize(synthesize)
    if p.render == "never":
        return synthetic_manifest_previous
    n = len(plan)
    on_disk = synthetic_plate_images_on_disk
    missing = [i for i in plan["index"] if _partition_name(int(i), n) not in on_disk]
    if missing:
        raise FileNotFoundError(
            f"synthetic plates: {len(missing)} of {n} planned images are not on disk "
            f"(first: {_partition_name(int(missing[0]), n)}.png)"
        )
    return {
        "fingerprint": p.fingerprint(_label_fields(plate)),
        "num_plates": n,
        "missing": len(missing),
        "seed": p.seed,
    }


def plot_synthetic_gallery(plan: pd.DataFrame, synthesize: dict[str, Any]) -> Figure:
    """Grid of sample plates per region with their labels (re-rendered: same pixels)."""
    plt = pyplot()
    p = validate_synthesize(synthesize)
    drawing = p.drawing()
    per = max(1, p.gallery_per_region)
    regions = sorted(plan["region"].unique(), key=lambda r: (r != "us", r))
    picks = {r: plan[plan["region"] == r].head(per * (3 if r == "us" else 1)) for r in regions}
    cols = per
    rows = sum(math.ceil(len(df) / cols) for df in picks.values())
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 2.4, rows * 1.45), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    row = 0
    for region, df in picks.items():
        plans = _plans_from_frame(df)
        for k, pl in enumerate(plans):
            ax = axes[row + k // cols, k % cols]
            ax.imshow(render_planned(pl, p.seed, p.fonts_dir, drawing))
            ax.set_title(f"{region}: {pl.label}", fontsize=8)
        row += math.ceil(len(plans) / cols)
    fig.tight_layout(rect=(0, 0, 1, 0.98))
    fig.suptitle(f"Synthetic plates (seed {p.seed}, {len(plan)} plates)", fontsize=10)
    return fig
