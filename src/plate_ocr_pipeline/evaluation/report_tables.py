"""The report's tables from each labelled set's per-slot probabilities: metrics per set and
region, one row per plate, accuracy by length and by confidence, and the character confusion.
Needs numpy and pandas; no Kedro."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from plate_ocr_pipeline.core import metrics as plate_metrics
from plate_ocr_pipeline.core.plate_config import PlateConfig
from plate_ocr_pipeline.core.text_codec import decode_with_confidence, encode_texts

logger = logging.getLogger(__name__)

PREDICTION_COLUMNS = [
    "set", "image_path", "region", "truth", "prediction", "correct", "correct_eq",
    "error_kind", "confidence", "min_char_confidence",
]  # fmt: skip


def predict_probabilities(predictor: Any, images: np.ndarray, batch_size: int) -> np.ndarray:
    """Per-slot probabilities ``(N, slots, vocab)`` from a Keras model
    (``predict(x, batch_size=, verbose=)``; of a model with several outputs, such as the
    reader's ``plate`` and ``region``, the first) or an ``ONNXPlateRecognizer``
    (``predict(batch)``, called batch by batch)."""
    from plate_ocr_pipeline.inference.recognizer import ONNXPlateRecognizer

    if isinstance(predictor, ONNXPlateRecognizer):
        batches = [predictor.predict(images[start : start + batch_size])
                   for start in range(0, max(1, len(images)), batch_size)]  # fmt: skip
        return np.concatenate(batches)
    outputs = predictor.predict(images, batch_size=batch_size, verbose=0)
    return np.asarray(outputs[0] if isinstance(outputs, (list, tuple)) else outputs)


def report_metrics(
    sets: dict[str, dict[str, np.ndarray]],
    probabilities: dict[str, np.ndarray],
    config: PlateConfig,
    equivalences: Sequence[str] = (),
) -> tuple[dict[str, dict[str, float]], pd.DataFrame, pd.DataFrame]:
    """Metrics per set (``metrics.compute_metrics``: exact and with ``equivalences``), one row
    per plate (truth, prediction, confidence, correct) and per (set, region) figures, from each
    set's per-slot ``probabilities``."""
    summary: dict[str, dict[str, float]] = {}
    rows, region_rows = [], []
    for name, data in sets.items():
        probs = probabilities[name]
        truth = encode_texts(data["plate_text"], config)
        summary[name] = plate_metrics.compute_metrics(
            truth, probs, config.alphabet, config.pad_char, equivalences
        )
        decoded = decode_with_confidence(probs, config)
        confidences = plate_metrics.plate_confidence(probs, config.pad_index)
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
                    "confidence": float(confidences[i]),  # the recognizer's plate confidence
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
    return summary, pd.DataFrame(rows, columns=PREDICTION_COLUMNS), pd.DataFrame(region_rows)


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


def character_confusion(
    sets: dict[str, dict[str, np.ndarray]],
    probabilities: dict[str, np.ndarray],
    config: PlateConfig,
) -> pd.DataFrame:
    """Slot-level character confusion, long form: set, truth, predicted, count, share of the
    truth's slots; mistakes first, most frequent first. The pad shows as its character."""
    alphabet = np.array(list(config.alphabet))
    rows = []
    for name, data in sets.items():
        truth = encode_texts(data["plate_text"], config)
        counts = plate_metrics.confusion_counts(truth, probabilities[name], config.vocabulary_size)
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
