"""Score nodes: an ONNX model from the catalog -> a recognizer and the plate config that
travels in the model's metadata."""

from __future__ import annotations

import copy
import logging
from typing import Any

import numpy as np
import onnx
import pandas as pd

from plate_ocr_pipeline.core.onnx_metadata import (
    MODEL_NAME_KEY,
    PLATE_CONFIG_KEY,
    plate_config_from_metadata,
    read_metadata,
)
from plate_ocr_pipeline.core.text_codec import texts_equal
from plate_ocr_pipeline.inference.recognizer import ONNXPlateRecognizer
from plate_ocr_pipeline.pipelines.score.params import ScoreParams

logger = logging.getLogger(__name__)


def load_recognizer(
    score_model: onnx.ModelProto, score: dict[str, Any]
) -> tuple[ONNXPlateRecognizer, dict[str, Any]]:
    """An ``ONNXPlateRecognizer`` over ``score_model`` and the plate config from its metadata
    (which sizes the crops and decodes the slots)."""
    params = ScoreParams.model_validate(score)
    metadata = read_metadata(score_model)
    config = plate_config_from_metadata(metadata)
    if config is None:
        raise ValueError(
            f"the model to score has no plate config in its ONNX metadata (key "
            f"{PLATE_CONFIG_KEY!r}): export it with the export pipeline, or add one with "
            "plate_ocr_pipeline.core.onnx_metadata.embed_metadata"
        )
    recognizer = ONNXPlateRecognizer(score_model, threads=params.threads, plate_config=config)
    logger.info("Scoring %s", metadata.get(MODEL_NAME_KEY, "an unnamed model"))
    return recognizer, config.to_dict()


def _accepted_families(label: str, label_families: dict[str, list[str]]) -> list[str]:
    """The families a set's region label stands for: ``score.region_labels`` first (a real
    set's ``ar`` covers every Argentine plate type), else the generator's own family."""
    from plate_ocr_pipeline.core.plate_formats import region_label_family

    if label in label_families:
        return label_families[label]
    family = region_label_family(label)
    return [family] if family else []


def _label_group(label: str, label_families: dict[str, list[str]]) -> str:
    from plate_ocr_pipeline.core.plate_formats import region_label_family

    return label if label in label_families else region_label_family(label)


def score_regions_and_formats(
    predictor: ONNXPlateRecognizer,
    sets: dict[str, dict[str, np.ndarray]],
    score: dict[str, Any],
) -> tuple[dict[str, dict[str, float]], pd.DataFrame, pd.DataFrame]:
    """Region accuracy and format-aware decoding, per set, for a model with a region output.

    Returns the region metrics (``region_acc`` over plates whose label maps to families,
    ``region_plates``), the region confusion table (set, label, predicted family, plates) and
    the format-decoding table: per set and region label (a label of ``score.region_labels``
    as it is, others as their family: ``us-ca`` is counted under ``us``), exact and O=0 plate_acc of the
    model's own reading and of the format-aware one, side by side, and how many texts it
    changed. A model without a region output gives empty tables (logged).
    """
    params = ScoreParams.model_validate(score)
    if not predictor.region_families:
        logger.info("The scored model has no region output: no region or format report")
        return {}, pd.DataFrame(columns=CONFUSION_COLUMNS), pd.DataFrame(columns=FORMAT_COLUMNS)
    reader = copy.copy(predictor)  # the same session, reading with format-aware decoding on
    reader.format_decoding = True
    metrics, confusion, formats = {}, [], []
    for name, data in sets.items():
        images = data["images"]
        results = [
            result
            for start in range(0, len(images), params.batch_size)
            for result in reader.read_batch(
                images[start : start + params.batch_size],
                [str(i) for i in range(start, min(start + params.batch_size, len(images)))],
            )
        ]
        # Labels as the report groups them: a state's us-ca joins us, a listed label stays.
        labels = [_label_group(str(r), params.region_labels) for r in data["region"]]
        truths = [str(t) for t in data["plate_text"]]
        accepted = [_accepted_families(label, params.region_labels) for label in labels]
        known = [i for i, families in enumerate(accepted) if families]
        hits = [results[i].region in accepted[i] for i in known]
        metrics[name] = {
            "region_acc": float(np.mean(hits)) if hits else float("nan"),
            "region_plates": float(len(known)),
        }
        table = pd.DataFrame(
            {
                "label": labels,
                "predicted": [r.region for r in results],
                "raw": [texts_equal(r.raw_text, t) for r, t in zip(results, truths, strict=True)],
                "format": [texts_equal(r.text, t) for r, t in zip(results, truths, strict=True)],
                "raw_eq": [
                    texts_equal(r.raw_text, t, params.equivalences)
                    for r, t in zip(results, truths, strict=True)
                ],
                "format_eq": [
                    texts_equal(r.text, t, params.equivalences)
                    for r, t in zip(results, truths, strict=True)
                ],
                "changed": [r.text != r.raw_text for r in results],
            }
        )
        for (label, predicted), group in table.groupby(["label", "predicted"]):
            confusion.append({"set": name, "label": label, "predicted": predicted,
                              "plates": len(group)})  # fmt: skip
        for label, group in [("(all)", table), *table.groupby("label")]:
            formats.append(
                {
                    "set": name,
                    "region": label,
                    "plates": len(group),
                    "plate_acc_raw": group["raw"].mean(),
                    "plate_acc_format": group["format"].mean(),
                    "plate_acc_eq_raw": group["raw_eq"].mean(),
                    "plate_acc_eq_format": group["format_eq"].mean(),
                    "texts_changed": int(group["changed"].sum()),
                }
            )
        logger.info(
            "%s: region_acc %.4f on %d plates; format-aware decoding plate_acc %.4f vs %.4f raw",
            name, metrics[name]["region_acc"], len(known), table["format"].mean(),
            table["raw"].mean(),
        )  # fmt: skip
    return (
        metrics,
        pd.DataFrame(confusion, columns=CONFUSION_COLUMNS),
        pd.DataFrame(formats, columns=FORMAT_COLUMNS),
    )


CONFUSION_COLUMNS = ["set", "label", "predicted", "plates"]
FORMAT_COLUMNS = [
    "set",
    "region",
    "plates",
    "plate_acc_raw",
    "plate_acc_format",
    "plate_acc_eq_raw",
    "plate_acc_eq_format",
    "texts_changed",
]
