"""The reader that ships: the trained OCR model plus a region head and a calibrated temperature.

After the OCR model is trained, two small things are fitted on its frozen features, both on
the training data's own splits (synthetic plates in the shipped recipe):

- a **region head**: pooled features of the last conv map and of the text-line layers, a
  hidden layer and a softmax over region families (``us``, ``mercosur``, ``ar-old``, ...),
  trained on augmented training crops. It costs little beside the OCR model (a dense layer on
  pooled features; ``benchmarks/bench_inference.py`` prints a model's MACs).
- a **temperature** ``T`` for the per-column logits, chosen on the validation split so that
  the plate confidence (the mean probability of the characters read) matches how often the
  reading is right. Dividing logits by ``T`` does not change any argmax, so the texts stay
  exactly those of the trained model.

``build_reader`` joins them into one Keras model with three outputs, ``plate`` (slot
probabilities, as every model here gives), ``region`` (family probabilities) and ``columns``
(the CTC columns' softmax, for format-aware decoding that changes a plate's length): what
the export stage converts to ONNX.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
from keras import layers

from plate_ocr_pipeline.core.metrics import expected_calibration_error
from plate_ocr_pipeline.core.plate_config import PlateConfig
from plate_ocr_pipeline.training.batches import AugmentedBatches
from plate_ocr_pipeline.training.models import (
    COLUMN_LOGITS_LAYER,
    MEMBER_LOGITS_LAYER,
    column_logits_view,
    ctc_decoding,
    has_ctc_head,
)
from plate_ocr_pipeline.training.params import ReaderParams

logger = logging.getLogger(__name__)

REGION_OUTPUT = "region"
PLATE_OUTPUT = "plate"
COLUMNS_OUTPUT = "columns"
TEMPERATURE_LAYER = "temperature"
TEMPERATURES = np.geomspace(0.25, 4.0, 81)


# Region labels that say nothing: ingest fills a missing region with "unknown".
UNLABELLED = ("", "unknown")


def region_family(region: str) -> str:
    """The family a region belongs to (``us-ca`` -> ``us``, ``eu-de`` -> ``eu``); regions the
    formats files do not list (a user's own labels) are their own family; no region
    (``""``, ``"unknown"``) gives ``""``."""
    from plate_ocr_pipeline.core.plate_formats import region_label_family

    if str(region).strip().lower() in UNLABELLED:
        return ""
    return region_label_family(region)


def families_of(regions: Sequence[str]) -> list[str]:
    """Sorted families of the non-empty ``regions``."""
    return sorted({f for f in (region_family(r) for r in regions) if f})


def _feature_tensors(model: keras.Model) -> list[Any]:
    """Pooled features the region head reads: mean and max of the last 4-D map over its
    positions and of each text-line layer over its columns (each member's, for an
    ensemble)."""
    last_maps: dict[str, Any] = {}  # member prefix ("" outside an ensemble) -> its last map
    for layer in model.layers:
        if len(layer.output.shape) == 4 and layer.name != MEMBER_LOGITS_LAYER:
            last_maps[re.match(r"(member\d+_)?", layer.name).group(0)] = layer.output
    if len(last_maps) > 1:
        del last_maps[""]  # an ensemble's layers outside the towers (input, shared head)
    if not last_maps:
        raise ValueError(f"{model.name} has no convolutional map for a region head")
    pooled = []
    for index, last_map in enumerate(last_maps.values()):
        suffix = "" if index == 0 else str(index)
        pooled.append(layers.GlobalAveragePooling2D(name=f"region_map_mean{suffix}")(last_map))
        pooled.append(layers.GlobalMaxPooling2D(name=f"region_map_max{suffix}")(last_map))
    # An ensemble's members share the line layers: one output per member that reads them,
    # counting only the calls inside this model (Keras keeps no public list of them).
    in_model = {id(node) for nodes in model._nodes_by_depth.values() for node in nodes}
    lines = [
        node.output_tensors[0]
        for layer in model.layers
        if layer.name.endswith("hidden_act") and len(layer.output.shape) == 3
        for node in layer._inbound_nodes
        if id(node) in in_model
    ]
    for index, line in enumerate(lines):
        pooled.append(layers.GlobalAveragePooling1D(name=f"region_line{index}_mean")(line))
        pooled.append(layers.GlobalMaxPooling1D(name=f"region_line{index}_max")(line))
    return pooled


def feature_model(model: keras.Model) -> keras.Model:
    """``model``'s input to the region head's concatenated features (shared weights)."""
    features = layers.Concatenate(name="region_features")(_feature_tensors(model))
    return keras.Model(model.input, features, name=f"{model.name}_region_features")


def region_head(feature_size: int, families: int, units: int) -> keras.Model:
    """Features -> hidden layer -> family softmax."""
    inputs = keras.Input((feature_size,), name="region_features_in")
    x = layers.LayerNormalization(name="region_norm")(inputs)
    x = layers.Dense(units, activation="relu", name="region_hidden")(x)
    outputs = layers.Dense(families, activation="softmax", name="region_softmax")(x)
    return keras.Model(inputs, outputs, name="region_head")


def _features(
    extractor: keras.Model, images: np.ndarray, transform: Any | None, seed: int, batch: int = 256
) -> np.ndarray:
    batches = AugmentedBatches(
        images, np.zeros(len(images)), batch, transform, seed=seed, shuffle=False
    )
    return (
        np.concatenate([extractor.predict_on_batch(batches[i][0]) for i in range(len(batches))])
        if len(batches)
        else np.zeros((0, extractor.output.shape[-1]), np.float32)
    )


def fit_region_head(
    model: keras.Model,
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray],
    *,
    units: int = 64,
    samples: int = 24000,
    epochs: int = 8,
    seed: int = 0,
    augmentation: Any | None = None,
    balanced: bool = False,
) -> tuple[keras.Model | None, list[str], dict[str, float]]:
    """Train a region head on ``model``'s frozen features of up to ``samples`` training crops
    (each augmented once, when ``augmentation`` is given) labelled by family.

    ``balanced`` weighs each family's crops by the inverse of its share, so that every family
    counts the same in the loss: the head then carries no prior from the training mix (a
    family drawn four times as often is not four times likelier on an unsure crop).

    ``train``/``val`` are ``(images, regions)``. Returns the head (``None`` when the data
    has fewer than two families), the family names in output order, and a report with the
    val accuracy.
    """
    images, regions = train
    labels = np.array([region_family(r) for r in regions])
    families = families_of(labels)
    if len(families) < 2:
        logger.info("Region head skipped: the training data has %d region families", len(families))
        return None, families, {"region_families": len(families)}
    keep = np.flatnonzero(labels != "")
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.permutation(keep)[:samples])
    index = {family: i for i, family in enumerate(families)}
    extractor = feature_model(model)
    features = _features(extractor, images[chosen], augmentation, seed)
    targets = np.array([index[f] for f in labels[chosen]])

    val_images, val_regions = val
    val_labels = np.array([region_family(r) for r in val_regions])
    known = np.flatnonzero(np.isin(val_labels, families))
    val_features = _features(extractor, val_images[known], None, seed)
    val_targets = np.array([index[f] for f in val_labels[known]], dtype=int)

    keras.utils.set_random_seed(seed)
    head = region_head(features.shape[1], len(families), units)
    head.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    weights = None
    if balanced:
        counts = np.bincount(targets, minlength=len(families))
        weights = {i: len(targets) / (len(families) * c) for i, c in enumerate(counts) if c}
    head.fit(
        features,
        targets,
        batch_size=128,
        epochs=epochs,
        shuffle=True,
        verbose=0,
        class_weight=weights,
    )
    report: dict[str, float] = {
        "region_families": len(families),
        "region_train_crops": len(chosen),
        "region_train_acc": float(head.evaluate(features, targets, verbose=0)[1]),
    }
    if len(val_targets):
        report["region_val_acc"] = float(head.evaluate(val_features, val_targets, verbose=0)[1])
    logger.info("Region head over %d families: %s", len(families), report)
    return head, families, report


def _column_logits(model: keras.Model, images: np.ndarray, batch: int = 256) -> np.ndarray:
    view = column_logits_view(model)
    parts = [view.predict_on_batch(images[i : i + batch]) for i in range(0, len(images), batch)]
    return np.concatenate(parts) if parts else np.zeros((0, 1, 1), np.float32)


def greedy_ctc(logits: np.ndarray, config: PlateConfig) -> tuple[list[str], list[np.ndarray]]:
    """Greedy CTC decoding in numpy, as the graph's ``CTCGreedySlots`` does it: each plate's
    text and, per character read, the (column, class) it came from, as ``(k, 2)`` int arrays."""
    best = logits.argmax(-1)
    previous = np.concatenate([np.full((len(best), 1), -1), best[:, :-1]], axis=1)
    emits = (best != config.pad_index) & (best != previous)
    texts, positions = [], []
    for row in range(len(best)):
        columns = np.flatnonzero(emits[row])[: config.max_plate_slots]
        classes = best[row, columns]
        texts.append("".join(config.alphabet[c] for c in classes))
        positions.append(np.stack([columns, classes], axis=1))
    return texts, positions


def plate_confidences(
    logits: np.ndarray, positions: list[np.ndarray], temperature: float
) -> np.ndarray:
    """Mean probability of the characters read, with logits divided by ``temperature`` (the
    recognizer's plate confidence; 0 for a plate with no character)."""
    scaled = logits / temperature
    scaled = scaled - scaled.max(-1, keepdims=True)
    log_norm = np.log(np.exp(scaled).sum(-1))
    out = np.zeros(len(logits))
    for row, pos in enumerate(positions):
        if len(pos):
            out[row] = np.exp(scaled[row, pos[:, 0], pos[:, 1]] - log_norm[row, pos[:, 0]]).mean()
    return out


def fit_temperature(
    model: keras.Model, images: np.ndarray, texts: Sequence[str], config: PlateConfig
) -> tuple[float, dict[str, float]]:
    """The temperature that minimises the log loss of "the plate is read right" against the
    plate confidence on ``images`` (the val split), with the ECE before and after."""
    logits = _column_logits(model, images)
    read, positions = greedy_ctc(logits, config)
    right = np.array(
        [r == str(t).replace(config.pad_char, "") for r, t in zip(read, texts, strict=True)]
    )

    def log_loss(temperature: float) -> float:
        p = np.clip(plate_confidences(logits, positions, temperature), 1e-6, 1 - 1e-6)
        return float(-np.mean(np.where(right, np.log(p), np.log1p(-p))))

    losses = [log_loss(t) for t in TEMPERATURES]
    # No plate to calibrate on: leave the logits as they are.
    temperature = float(TEMPERATURES[int(np.argmin(losses))]) if len(right) else 1.0
    report = {
        "temperature": temperature,
        "calibration_plates": len(right),
        "calibration_plate_acc": float(right.mean()) if len(right) else 0.0,
        "val_ece_before": expected_calibration_error(
            plate_confidences(logits, positions, 1.0), right
        ),
        "val_ece_after": expected_calibration_error(
            plate_confidences(logits, positions, temperature), right
        ),
    }
    logger.info("Temperature %.3f: %s", temperature, report)
    return temperature, report


def fit_reader(
    model: keras.Model,
    fit_split: dict[str, np.ndarray],
    val_split: dict[str, np.ndarray],
    config: PlateConfig,
    params: ReaderParams | None = None,
    seed: int = 42,
    augmentation: Any = None,
) -> tuple[keras.Model, dict[str, Any]]:
    """The model to export: ``model`` with a region head fitted on its frozen features (when
    ``fit_split`` has at least two region families) and, for a CTC head, its logits'
    temperature chosen on ``val_split``; the report holds the family names, the temperature
    and the fits' figures. Each split holds ``images``, ``region`` and ``plate_text`` arrays
    (``core.splits.select_split`` of the model input); ``params`` defaults to ``ReaderParams()``."""
    params = params or ReaderParams()
    report: dict[str, Any] = {"region_families": [], "temperature": 1.0}
    head = None
    if params.region_head:
        head, families, figures = fit_region_head(
            model,
            (fit_split["images"], fit_split["region"]),
            (val_split["images"], val_split["region"]),
            units=params.region_units,
            samples=params.region_samples,
            epochs=params.region_epochs,
            balanced=params.region_balanced,
            seed=seed,
            augmentation=augmentation,
        )
        report.update(figures)
        report["region_families"] = families if head is not None else []
    # A temperature divides column logits: only a CTC head has them.
    if params.calibrate and has_ctc_head(model) and len(val_split["images"]):
        temperature, figures = fit_temperature(
            model, val_split["images"], val_split["plate_text"], config
        )
        report.update(figures)
        report["temperature"] = temperature
    return build_reader(model, config, report["temperature"], head), report


def build_reader(
    model: keras.Model,
    config: PlateConfig,
    temperature: float = 1.0,
    head: keras.Model | None = None,
) -> keras.Model:
    """One model with the outputs ``plate`` (slot probabilities of the logits divided by
    ``temperature``) and, with a ``head``, ``region`` (family probabilities). A model without
    a CTC head keeps its own slot output (a temperature needs column logits)."""
    if has_ctc_head(model):
        logits = model.get_layer(COLUMN_LOGITS_LAYER).output
        if temperature != 1.0:
            logits = layers.Rescaling(1.0 / temperature, name=TEMPERATURE_LAYER)(logits)
        plate = ctc_decoding(config)(logits)
    else:
        plate = model.output
    if head is None:
        reader = keras.Model(model.input, plate, name=f"{model.name}_reader")
    else:
        region = head(feature_model(model).output)
        region = layers.Identity(name=REGION_OUTPUT)(region)
        reader = keras.Model(model.input, [plate, region], name=f"{model.name}_reader")
    return with_columns_output(reader)


def with_columns_output(reader: keras.Model) -> keras.Model:
    """``reader`` with one more output, ``columns``: the softmax of its CTC column logits
    (divided by its temperature), which lets format-aware decoding change how many
    characters a plate has. A reader without column logits, or with that output already, is
    returned as it is (readers saved before the output existed get it at export)."""
    if COLUMNS_OUTPUT in reader.output_names or not has_ctc_head(reader):
        return reader
    names = {layer.name for layer in reader.layers}
    source = TEMPERATURE_LAYER if TEMPERATURE_LAYER in names else COLUMN_LOGITS_LAYER
    columns = layers.Softmax(name=COLUMNS_OUTPUT)(reader.get_layer(source).output)
    return keras.Model(reader.input, [*reader.outputs, columns], name=reader.name)
