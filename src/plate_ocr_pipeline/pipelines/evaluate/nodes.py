"""Evaluate nodes: metrics per set and per region, a character confusion table, an error
gallery. Sets are the held-out split(s) of ``model_input`` plus labelled extra sets."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from plate_ocr_pipeline import metrics as plate_metrics  # noqa: E402
from plate_ocr_pipeline.image_preprocessing import ImageReadError, load_and_preprocess  # noqa: E402
from plate_ocr_pipeline.plate_config import PlateConfig  # noqa: E402
from plate_ocr_pipeline.text_codec import (  # noqa: E402
    decode_with_confidence,
    encode_texts,
    invalid_characters,
    normalise_text,
)

logger = logging.getLogger(__name__)

SET_KEYS = ("images", "plate_text", "region", "image_path")


def load_labelled_set(name: str, annotations: str, config: PlateConfig) -> dict[str, np.ndarray]:
    csv_path = Path(annotations)
    table = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    missing = {"image_path", "plate_text"} - set(table.columns)
    if missing:
        raise ValueError(f"extra set {name!r} ({csv_path}) lacks columns {sorted(missing)}")
    images, texts, regions, paths = [], [], [], []
    skipped = 0
    for row in table.itertuples(index=False):
        text = normalise_text(row.plate_text)
        path = Path(row.image_path)
        if not path.is_absolute():
            path = csv_path.parent / path
        if not text or invalid_characters(text, config) or len(text) > config.max_plate_slots:
            skipped += 1
            continue
        try:
            images.append(load_and_preprocess(path, config))
        except ImageReadError as error:
            logger.warning("Extra set %s: skipping %s", name, error)
            skipped += 1
            continue
        texts.append(text)
        regions.append(str(getattr(row, "region", "") or ""))
        paths.append(str(path))
    if skipped:
        logger.warning("Extra set %s: %d rows skipped (unreadable or unencodable)", name, skipped)
    shape = (0, config.img_height, config.img_width, config.num_channels)
    return {
        "images": np.stack(images) if images else np.zeros(shape, np.uint8),
        "plate_text": np.array(texts, dtype=str),
        "region": np.array(regions, dtype=str),
        "image_path": np.array(paths, dtype=str),
    }


def prepare_evaluation_sets(
    model_input: dict[str, np.ndarray],
    plate: dict[str, Any],
    splits: list[str],
    extra_sets: list[dict[str, str]],
) -> dict[str, dict[str, np.ndarray]]:
    """The held-out ``splits`` of ``model_input`` and every extra labelled set whose
    annotations CSV exists (missing ones are skipped with a warning), by name."""
    config = PlateConfig.from_dict(plate)
    sets: dict[str, dict[str, np.ndarray]] = {}
    for split in splits:
        mask = model_input["split"] == split
        if not mask.any():
            logger.warning("Split %r has no rows: not evaluated", split)
            continue
        sets[split] = {key: model_input[key][mask] for key in SET_KEYS}
    for extra in extra_sets:
        name, annotations = extra["name"], extra["annotations"]
        if name in sets:
            raise ValueError(f"extra set name {name!r} is already used")
        if not Path(annotations).exists():
            logger.warning("Extra set %s: %s does not exist, skipped", name, annotations)
            continue
        loaded = load_labelled_set(name, annotations, config)
        if len(loaded["images"]):
            sets[name] = loaded
    logger.info("Evaluation sets: %s", {k: len(v["images"]) for k, v in sets.items()})
    return sets


def predict_evaluation_sets(
    trained_model: Any, evaluation_sets: dict[str, dict[str, np.ndarray]], batch_size: int
) -> dict[str, np.ndarray]:
    """Per-slot probabilities ``(N, slots, vocab)`` for every set."""
    return {
        name: np.asarray(trained_model.predict(data["images"], batch_size=batch_size, verbose=0))
        for name, data in evaluation_sets.items()
    }


def _log_to_mlflow(values: dict[str, float]) -> None:
    try:
        import mlflow
    except ImportError:  # pragma: no cover
        return
    if mlflow.active_run() is not None:
        mlflow.log_metrics({k: v for k, v in values.items() if not math.isnan(v)})


def compute_evaluation_metrics(
    evaluation_sets: dict[str, dict[str, np.ndarray]],
    evaluation_probabilities: dict[str, np.ndarray],
    plate: dict[str, Any],
    equivalences: list[str],
) -> tuple[dict[str, dict[str, float]], pd.DataFrame, pd.DataFrame]:
    """Metrics per set (``metrics.compute_metrics``: exact and with ``equivalences``), one row
    per plate (truth, prediction, confidence, correct) and per (set, region) figures.
    Logged to the active MLflow run as ``<set>.<metric>``."""
    config = PlateConfig.from_dict(plate)
    summary: dict[str, dict[str, float]] = {}
    rows, region_rows = [], []
    for name, data in evaluation_sets.items():
        probs = evaluation_probabilities[name]
        truth = encode_texts(data["plate_text"], config)
        summary[name] = plate_metrics.compute_metrics(
            truth, probs, config.alphabet, config.pad_char, equivalences
        )
        decoded = decode_with_confidence(probs, config)
        exact = (truth == probs.argmax(-1)).all(-1)
        equivalent = plate_metrics.decoded_match(
            truth, probs, config.pad_index, config.alphabet, equivalences
        )
        for i, (text, confidence) in enumerate(decoded):
            rows.append(
                {
                    "set": name,
                    "image_path": data["image_path"][i],
                    "region": data["region"][i],
                    "truth": data["plate_text"][i],
                    "prediction": text,
                    "correct": bool(exact[i]),
                    "correct_eq": bool(equivalent[i]),
                    "error_kind": plate_metrics.error_kind(data["plate_text"][i], text) or "",
                    "confidence": float(confidence.prod()) if len(confidence) else 0.0,
                    "min_char_confidence": float(confidence.min()) if len(confidence) else 0.0,
                }
            )
        regions = data["region"]
        for region in sorted(set(regions.tolist())):
            mask = regions == region
            values = plate_metrics.compute_metrics(
                truth[mask], probs[mask], config.alphabet, config.pad_char, equivalences
            )
            region_rows.append({"set": name, "region": region or "(none)", **values})
        logger.info(
            "%s: plate_acc %.4f (O=0: %.4f), cat_acc %.4f, top_3_k %.4f on %d plates",
            name, summary[name]["plate_acc"], summary[name].get("plate_acc_eq", float("nan")),
            summary[name]["cat_acc"], summary[name]["top_3_k"], len(truth),
        )  # fmt: skip
    _log_to_mlflow({f"{s}.{k}": v for s, values in summary.items() for k, v in values.items()})
    return summary, pd.DataFrame(rows), pd.DataFrame(region_rows)


def summarise_by_length(predictions: pd.DataFrame) -> pd.DataFrame:
    """Per (set, label length): plates, plate_acc exact and with the equivalences, and the
    shares read too long and too short. Short and long serials fail differently (a character
    read twice, one dropped), which the per-region table mixes together."""
    columns = ["set", "length", "plates", "plate_acc", "plate_acc_eq", "too_long", "too_short"]
    if predictions.empty:
        return pd.DataFrame(columns=columns)
    truth_len = predictions["truth"].astype(str).str.len()
    read_len = predictions["prediction"].fillna("").astype(str).str.len()
    table = (
        predictions.assign(
            length=truth_len, too_long=read_len > truth_len, too_short=read_len < truth_len
        )
        .groupby(["set", "length"], sort=True)
        .agg(
            plates=("truth", "size"),
            plate_acc=("correct", "mean"),
            plate_acc_eq=("correct_eq", "mean"),
            too_long=("too_long", "mean"),
            too_short=("too_short", "mean"),
        )
        .reset_index()
    )
    return table[columns]


# Shares of each set's plates, most confident first, at which the confidence table reports.
COVERAGE_LEVELS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0)


def summarise_by_confidence(predictions: pd.DataFrame) -> pd.DataFrame:
    """Per set and coverage (the most confident share of its plates): the plate confidence
    that keeps that share (``min_confidence``), how many plates, and their plate_acc exact and
    with the equivalences. What a user needs to pick a threshold below which plates go to a
    person: the accuracy of what the model reads alone, and how much it reads alone."""
    columns = ["set", "coverage", "min_confidence", "plates", "plate_acc", "plate_acc_eq"]
    rows = []
    for name, part in predictions.groupby("set", sort=False):
        ranked = part.sort_values("confidence", ascending=False, kind="stable")
        for coverage in COVERAGE_LEVELS:
            kept = ranked.iloc[: max(1, int(np.ceil(coverage * len(ranked) - 1e-9)))]
            rows.append(
                {
                    "set": name,
                    "coverage": coverage,
                    "min_confidence": float(kept["confidence"].min()),
                    "plates": len(kept),
                    "plate_acc": float(kept["correct"].mean()),
                    "plate_acc_eq": float(kept["correct_eq"].mean()),
                }
            )
    return pd.DataFrame(rows, columns=columns)


def build_character_confusion(
    evaluation_sets: dict[str, dict[str, np.ndarray]],
    evaluation_probabilities: dict[str, np.ndarray],
    plate: dict[str, Any],
) -> pd.DataFrame:
    """Slot-level character confusion, long form: set, truth, predicted, count, share of the
    truth's slots; mistakes first, most frequent first. The pad shows as its character."""
    config = PlateConfig.from_dict(plate)
    alphabet = np.array(list(config.alphabet))
    rows = []
    for name, data in evaluation_sets.items():
        truth = encode_texts(data["plate_text"], config)
        counts = plate_metrics.confusion_counts(
            truth, evaluation_probabilities[name], config.vocabulary_size
        )
        totals = counts.sum(axis=1)
        for t, p in zip(*np.nonzero(counts), strict=True):
            rows.append(
                {
                    "set": name,
                    "truth": alphabet[t],
                    "predicted": alphabet[p],
                    "count": int(counts[t, p]),
                    "share": float(counts[t, p] / totals[t]),
                    "correct": bool(t == p),
                }
            )
    table = pd.DataFrame(rows, columns=["set", "truth", "predicted", "count", "share", "correct"])
    return table.sort_values(
        ["set", "correct", "count"], ascending=[True, True, False]
    ).reset_index(drop=True)


def plot_error_gallery(
    evaluation_sets: dict[str, dict[str, np.ndarray]],
    evaluation_predictions: pd.DataFrame,
    plate: dict[str, Any],
    gallery_size: int,
    gallery_columns: int,
) -> plt.Figure:
    """The most confident mistakes of every set: crop, truth, prediction, confidence."""
    config = PlateConfig.from_dict(plate)
    errors = evaluation_predictions[~evaluation_predictions["correct"].astype(bool)]
    errors = errors.sort_values("confidence", ascending=False, kind="stable").head(gallery_size)
    lookup = {
        (name, path): i
        for name, data in evaluation_sets.items()
        for i, path in enumerate(data["image_path"].tolist())
    }
    count = max(1, len(errors))
    columns = min(gallery_columns, count)
    grid_rows = math.ceil(count / columns)
    figure, axes = plt.subplots(
        grid_rows, columns, figsize=(2.6 * columns, 1.7 * grid_rows), squeeze=False
    )
    for axis in axes.ravel():
        axis.axis("off")
    if errors.empty:
        axes[0, 0].text(0.5, 0.5, "no errors", ha="center", va="center", fontsize=12)
    cmap = "gray" if config.num_channels == 1 else None
    for axis, row in zip(axes.ravel(), errors.itertuples(index=False), strict=False):
        image = evaluation_sets[row.set]["images"][lookup[(row.set, row.image_path)]]
        axis.imshow(image.squeeze(), cmap=cmap, vmin=0, vmax=255)
        axis.set_title(
            f"{row.set}  true {row.truth}\npred {row.prediction or '(empty)'}  "
            f"conf {row.confidence:.2f}",
            fontsize=7,
            color="firebrick",
        )
    figure.suptitle("Error gallery: most confident mistakes", fontsize=10)
    figure.tight_layout()
    return figure


def plot_confidence_coverage(confidence_table: pd.DataFrame) -> plt.Figure:
    """plate_acc of the most confident plates against the share of plates kept, per set,
    each point labelled with the confidence threshold that keeps it."""
    figure, axis = plt.subplots(figsize=(6, 4))
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


def plot_per_region(evaluation_per_region: pd.DataFrame) -> plt.Figure:
    """plate_acc (and with O=0) per region for every set, as horizontal bars."""
    table = evaluation_per_region
    sets = list(dict.fromkeys(table["set"])) if not table.empty else []
    height = max(2.0, 0.22 * len(table) + 1.0)
    figure, axes = plt.subplots(1, max(1, len(sets)), figsize=(5 * max(1, len(sets)), height),
                                squeeze=False)  # fmt: skip
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
