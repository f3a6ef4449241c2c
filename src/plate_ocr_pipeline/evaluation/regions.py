"""Region accuracy and format-aware decoding on labelled sets: from each plate's readings (the
model's own text, the format-aware one, the family read), the tables evaluate and score
write."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from plate_ocr_pipeline.core.plate_config import PlateConfig
from plate_ocr_pipeline.core.plate_formats import read_by_format
from plate_ocr_pipeline.core.text_codec import decode_predictions, texts_match
from plate_ocr_pipeline.evaluation.groups import label_plates, report_groups

logger = logging.getLogger(__name__)

REGION_CONFUSION_COLUMNS = ["set", "label", "predicted", "plates"]
FORMAT_DECODING_COLUMNS = [
    "set",
    "region",
    "plates",
    "plate_acc_raw",
    "plate_acc_format",
    "plate_acc_eq_raw",
    "plate_acc_eq_format",
    "texts_changed",
]


def region_tables(
    sets: dict[str, dict[str, np.ndarray]],
    readings: dict[str, dict[str, list[str]]],
    region_labels: dict[str, dict[str, list[str]]],
    equivalences: Sequence[str],
) -> tuple[dict[str, dict[str, float]], pd.DataFrame, pd.DataFrame]:
    """Region accuracy and format-aware decoding per set, from each plate's ``readings``
    (``raw``: the model's own text, ``text``: the format-aware one, ``region``: the family
    read).

    A set's labels map to families by ``region_labels[set]`` (a real set's ``ar`` may stand
    for every Argentine plate type), else by the formats files (``us-ca`` is ``us``).

    Returns the region metrics (``region_acc`` over plates whose label maps to families,
    ``region_plates``), the region confusion table (set, label, family read, plates) and the
    format-decoding table: per set and region label (grouped as ``label_plates`` does), exact and
    equivalence plate_acc of the raw and the format-aware readings side by side and how many
    texts format-aware decoding changed. A label that stands for several families also gets a
    row per family whose formats the true texts fit (``ar/ar-old``) and per layout
    (``ar/one-row``, ``ar/two-row``).
    """
    metrics, confusion, formats = {}, [], []
    for name, read in readings.items():
        data = sets[name]
        truths = [str(t) for t in data["plate_text"]]
        table = label_plates(data["region"], truths, region_labels.get(name, {}))
        accepted = table["families"].tolist()
        known = [i for i, families in enumerate(accepted) if families]
        hits = [read["region"][i] in accepted[i] for i in known]
        metrics[name] = {
            "region_acc": float(np.mean(hits)) if hits else float("nan"),
            "region_plates": float(len(known)),
        }
        table["predicted"] = read["region"]
        for column, key, equal in (
            ("raw", "raw", ()),
            ("format", "text", ()),
            ("raw_eq", "raw", tuple(equivalences)),
            ("format_eq", "text", tuple(equivalences)),
        ):
            table[column] = texts_match(read[key], truths, equal)
        table["changed"] = [a != b for a, b in zip(read["raw"], read["text"], strict=True)]
        for (label, predicted), group in table.groupby(["label", "predicted"]):
            confusion.append({"set": name, "label": label, "predicted": predicted,
                              "plates": len(group)})  # fmt: skip
        for label, group in report_groups(table):
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
        pd.DataFrame(confusion, columns=REGION_CONFUSION_COLUMNS),
        pd.DataFrame(formats, columns=FORMAT_DECODING_COLUMNS),
    )


def read_regions_with_keras(
    reader_model: Any,
    families: list[str],
    sets: dict[str, dict[str, np.ndarray]],
    config: PlateConfig,
    batch_size: int,
) -> dict[str, dict[str, list[str]]]:
    """``region_tables``' readings from a Keras reader (``training.reader``: ``plate``,
    ``region`` and, where it has one, ``columns``): each plate's raw text, format-aware text
    (``core.plate_formats.read_by_format``, as the recognizer reads) and family read."""
    readings = {}
    for name, data in sets.items():
        outputs = reader_model.predict(data["images"], batch_size=batch_size, verbose=0)
        plates, regions = outputs[0], outputs[1]
        columns = outputs[2] if len(outputs) > 2 else [None] * len(plates)
        raw, text, region = decode_predictions(plates, config), [], []
        for probs, family_probs, column_probs in zip(plates, regions, columns, strict=True):
            priors = dict(zip(families, family_probs.tolist(), strict=True))
            fitted = read_by_format(probs, column_probs, config.pad_index, config.alphabet, priors)
            text.append(fitted.text)
            region.append(families[int(family_probs.argmax())])
        readings[name] = {"raw": raw, "text": text, "region": region}
    return readings


def read_regions_with_recognizer(
    reader: Any, sets: dict[str, dict[str, np.ndarray]], batch_size: int
) -> dict[str, dict[str, list]]:
    """``region_tables``' readings from an ``ONNXPlateRecognizer`` (or one of its
    ``reading(...)`` views): each plate's raw text, text as that reader returns it, family
    read (empty for a model without a region output) and confidence."""
    readings = {}
    for name, data in sets.items():
        results = reader.run_detailed(data["images"], batch_size)
        readings[name] = {
            "raw": [r.raw_text for r in results],
            "text": [r.text for r in results],
            "region": [r.region or "" for r in results],
            "confidence": [r.confidence for r in results],
        }
    return readings
