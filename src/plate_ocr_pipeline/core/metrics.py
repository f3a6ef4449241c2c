"""Plate OCR metrics on numpy arrays (no TensorFlow, no Kedro).

Inputs are per-slot arrays: ``y_true`` one-hot ``(N, slots, vocab)`` or indices ``(N, slots)``;
``y_pred`` probabilities ``(N, slots, vocab)`` (or indices ``(N, slots)`` where no ranking is
needed). Slots are left-aligned and padded with the pad index, as ``text_codec`` encodes them.

fast-plate-ocr's definitions, over all slots with pads included:

- ``plate_acc``: fraction of plates whose every slot's argmax matches the truth;
- ``cat_acc``: fraction of slots whose argmax matches;
- ``top_3_k``: fraction of slots whose truth is among the 3 most probable classes.

Pad-aware versions count only slots that hold a true character (``char_acc``,
``top_3_k_chars``), ``plate_len_acc`` compares the decoded length (pads stripped), and
``plate_text_acc`` compares the decoded texts (a pad predicted mid-plate is stripped, as the
decoder does). ``equivalences`` (e.g. ``["O0"]``) maps the classes of each group to one class
before comparing, so O and 0 can be counted as the same character.

``error_kind`` sorts a misread plate into ``length`` (wrong number of characters),
``alignment`` (right length, and every wrong slot holds the true character of a slot at most
``ALIGNMENT_REACH`` away: a character doubled, smeared or shifted, a counting error) or
``character`` (right length, a character misread); ``compute_metrics`` reports each kind's
share of all plates.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt


def to_indices(y: npt.ArrayLike) -> np.ndarray:
    """One-hot / probabilities ``(N, S, V)`` to argmax indices ``(N, S)``; indices pass."""
    y = np.asarray(y)
    if y.ndim == 3:
        return y.argmax(axis=-1)
    if y.ndim == 2:
        return y.astype(np.int64)
    raise ValueError(f"expected (N, slots, vocab) or (N, slots), got shape {y.shape}")


def equivalence_map(alphabet: str, equivalences: Sequence[str] = ()) -> np.ndarray:
    """Index -> canonical index, each equivalence group mapped to its first character."""
    mapping = np.arange(len(alphabet))
    for group in equivalences:
        present = [alphabet.index(c) for c in group if c in alphabet]
        for index in present:
            mapping[index] = present[0]
    return mapping


def _prepare(
    y_true: npt.ArrayLike,
    y_pred: npt.ArrayLike,
    alphabet: str | None,
    equivalences: Sequence[str],
) -> tuple[np.ndarray, np.ndarray]:
    true_idx, pred_idx = to_indices(y_true), to_indices(y_pred)
    if true_idx.shape != pred_idx.shape:
        raise ValueError(f"y_true slots {true_idx.shape} and y_pred slots {pred_idx.shape} differ")
    if equivalences:
        if alphabet is None:
            raise ValueError("equivalences need the alphabet")
        mapping = equivalence_map(alphabet, equivalences)
        true_idx, pred_idx = mapping[true_idx], mapping[pred_idx]
    return true_idx, pred_idx


def _safe_mean(values: np.ndarray) -> float:
    return float(values.mean()) if values.size else float("nan")


def plate_acc(
    y_true: npt.ArrayLike,
    y_pred: npt.ArrayLike,
    alphabet: str | None = None,
    equivalences: Sequence[str] = (),
) -> float:
    """Fraction of plates with every slot (pads included) predicted right."""
    true_idx, pred_idx = _prepare(y_true, y_pred, alphabet, equivalences)
    return _safe_mean((true_idx == pred_idx).all(axis=-1))


def cat_acc(
    y_true: npt.ArrayLike,
    y_pred: npt.ArrayLike,
    alphabet: str | None = None,
    equivalences: Sequence[str] = (),
) -> float:
    """Fraction of slots (pads included) predicted right."""
    true_idx, pred_idx = _prepare(y_true, y_pred, alphabet, equivalences)
    return _safe_mean(true_idx == pred_idx)


def _in_top_k(
    y_true: npt.ArrayLike,
    y_pred: npt.ArrayLike,
    k: int,
    alphabet: str | None,
    equivalences: Sequence[str],
) -> np.ndarray:
    probs = np.asarray(y_pred)
    if probs.ndim != 3:
        raise ValueError(f"top-k needs probabilities (N, slots, vocab), got shape {probs.shape}")
    true_idx = to_indices(y_true)
    top = np.argsort(-probs, axis=-1, kind="stable")[..., :k]
    if equivalences:
        if alphabet is None:
            raise ValueError("equivalences need the alphabet")
        mapping = equivalence_map(alphabet, equivalences)
        true_idx, top = mapping[true_idx], mapping[top]
    return (top == true_idx[..., None]).any(axis=-1)


def top_k_acc(
    y_true: npt.ArrayLike,
    y_pred: npt.ArrayLike,
    k: int = 3,
    alphabet: str | None = None,
    equivalences: Sequence[str] = (),
) -> float:
    """Fraction of slots (pads included) whose truth is among the ``k`` most probable."""
    return _safe_mean(_in_top_k(y_true, y_pred, k, alphabet, equivalences))


def top_3_k(
    y_true: npt.ArrayLike,
    y_pred: npt.ArrayLike,
    alphabet: str | None = None,
    equivalences: Sequence[str] = (),
) -> float:
    """fast-plate-ocr's ``top_3_k``: truth among the 3 most probable classes, all slots."""
    return top_k_acc(y_true, y_pred, 3, alphabet, equivalences)


def char_acc(
    y_true: npt.ArrayLike,
    y_pred: npt.ArrayLike,
    pad_index: int,
    alphabet: str | None = None,
    equivalences: Sequence[str] = (),
) -> float:
    """Pad-aware ``cat_acc``: only slots whose truth is a character (not the pad)."""
    true_idx, pred_idx = _prepare(y_true, y_pred, alphabet, equivalences)
    mask = to_indices(y_true) != pad_index
    return _safe_mean((true_idx == pred_idx)[mask])


def top_3_k_chars(
    y_true: npt.ArrayLike,
    y_pred: npt.ArrayLike,
    pad_index: int,
    alphabet: str | None = None,
    equivalences: Sequence[str] = (),
) -> float:
    """Pad-aware ``top_3_k``: only slots whose truth is a character."""
    hits = _in_top_k(y_true, y_pred, 3, alphabet, equivalences)
    return _safe_mean(hits[to_indices(y_true) != pad_index])


def plate_lengths(y: npt.ArrayLike, pad_index: int) -> np.ndarray:
    """Number of non-pad slots per plate (the decoded text's length)."""
    return (to_indices(y) != pad_index).sum(axis=-1)


def plate_len_acc(y_true: npt.ArrayLike, y_pred: npt.ArrayLike, pad_index: int) -> float:
    """Fraction of plates whose decoded length (pads stripped) equals the true length."""
    return _safe_mean(plate_lengths(y_true, pad_index) == plate_lengths(y_pred, pad_index))


def decoded_match(
    y_true: npt.ArrayLike,
    y_pred: npt.ArrayLike,
    pad_index: int,
    alphabet: str | None = None,
    equivalences: Sequence[str] = (),
) -> np.ndarray:
    """Per plate: do the decoded texts (pads stripped wherever they are) match?"""
    true_idx, pred_idx = _prepare(y_true, y_pred, alphabet, equivalences)
    raw_true, raw_pred = to_indices(y_true), to_indices(y_pred)
    matches = np.empty(len(true_idx), dtype=bool)
    for row, (t, p, rt, rp) in enumerate(zip(true_idx, pred_idx, raw_true, raw_pred, strict=True)):
        matches[row] = np.array_equal(t[rt != pad_index], p[rp != pad_index])
    return matches


def plate_text_acc(
    y_true: npt.ArrayLike,
    y_pred: npt.ArrayLike,
    pad_index: int,
    alphabet: str | None = None,
    equivalences: Sequence[str] = (),
) -> float:
    """Fraction of plates whose decoded text equals the truth (pads stripped)."""
    return _safe_mean(decoded_match(y_true, y_pred, pad_index, alphabet, equivalences))


ERROR_KINDS = ("length", "alignment", "character")
ALIGNMENT_REACH = 2  # 444MWK read as 444KKK: K smeared two slots to the left


def error_kind(truth: Sequence, prediction: Sequence) -> str | None:
    """``None`` when the decoded sequences match, else one of ``ERROR_KINDS``.

    >>> error_kind("267WJE", "267JJE"), error_kind("548", "54"), error_kind("ABC", "A8C")
    ('alignment', 'length', 'character')
    """
    if len(truth) != len(prediction):
        return "length"
    wrong = [k for k in range(len(truth)) if truth[k] != prediction[k]]
    if not wrong:
        return None
    copies = all(
        prediction[k] in truth[max(0, k - ALIGNMENT_REACH) : k + ALIGNMENT_REACH + 1] for k in wrong
    )
    return "alignment" if copies else "character"


def error_kind_shares(
    y_true: npt.ArrayLike, y_pred: npt.ArrayLike, pad_index: int
) -> dict[str, float]:
    """Share of all plates misread in each of ``ERROR_KINDS`` (``error_<kind>``); with
    ``plate_text_acc`` they sum to 1."""
    kinds = [
        error_kind(t[t != pad_index].tolist(), p[p != pad_index].tolist())
        for t, p in zip(to_indices(y_true), to_indices(y_pred), strict=True)
    ]
    return {
        f"error_{kind}": _safe_mean(np.array([k == kind for k in kinds])) for kind in ERROR_KINDS
    }


def plate_confidence(y_pred: np.ndarray, pad_index: int) -> np.ndarray:
    """Per plate: the mean probability of its read characters (slots whose most probable class
    is not the pad); 0.0 for an empty reading. The recognizer's ``PlateResult.confidence``:
    what users threshold, what the exported temperature calibrates and what reports use."""
    probabilities = np.asarray(y_pred, dtype=np.float64)
    best = probabilities.max(axis=-1)
    read = probabilities.argmax(axis=-1) != pad_index
    count = read.sum(axis=-1)
    total = np.where(read, best, 0.0).sum(axis=-1)
    return np.divide(total, count, out=np.zeros_like(total), where=count > 0)


def expected_calibration_error(
    confidence: npt.ArrayLike, correct: npt.ArrayLike, bins: int = 10
) -> float:
    """ECE: over ``bins`` equal-width confidence bins, the gap between the share right and the
    mean confidence, weighted by the bin's share of plates. 0 when plates reported at 0.9 are
    right 90% of the time; NaN without plates."""
    confidence = np.asarray(confidence, dtype=np.float64)
    correct = np.asarray(correct, dtype=np.float64)
    if not confidence.size:
        return float("nan")
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    gap = 0.0
    for b in np.unique(which):
        inside = which == b
        gap += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(gap)


def compute_metrics(
    y_true: npt.ArrayLike,
    y_pred: npt.ArrayLike,
    alphabet: str,
    pad_char: str,
    equivalences: Sequence[str] = ("O0",),
) -> dict[str, float]:
    """Every metric in one mapping; ``*_eq`` variants apply ``equivalences``."""
    pad_index = alphabet.index(pad_char)
    values = {
        "plate_acc": plate_acc(y_true, y_pred),
        "cat_acc": cat_acc(y_true, y_pred),
        "top_3_k": top_3_k(y_true, y_pred),
        "char_acc": char_acc(y_true, y_pred, pad_index),
        "top_3_k_chars": top_3_k_chars(y_true, y_pred, pad_index),
        "plate_len_acc": plate_len_acc(y_true, y_pred, pad_index),
        "plate_text_acc": plate_text_acc(y_true, y_pred, pad_index),
        **error_kind_shares(y_true, y_pred, pad_index),
    }
    # How well the plate confidence is calibrated (0: plates reported at 0.9 are right 90%).
    exact = (to_indices(y_true) == to_indices(y_pred)).all(axis=-1)
    values["plate_ece"] = expected_calibration_error(plate_confidence(y_pred, pad_index), exact)
    if equivalences:
        eq = tuple(equivalences)
        values["plate_acc_eq"] = plate_acc(y_true, y_pred, alphabet, eq)
        values["cat_acc_eq"] = cat_acc(y_true, y_pred, alphabet, eq)
        values["char_acc_eq"] = char_acc(y_true, y_pred, pad_index, alphabet, eq)
        values["plate_text_acc_eq"] = plate_text_acc(y_true, y_pred, pad_index, alphabet, eq)
    values["num_plates"] = float(len(to_indices(y_true)))
    return values


def confusion_counts(
    y_true: npt.ArrayLike, y_pred: npt.ArrayLike, vocabulary_size: int
) -> np.ndarray:
    """Slot-level confusion matrix ``(vocab, vocab)``: rows truth, columns prediction."""
    true_idx, pred_idx = to_indices(y_true).ravel(), to_indices(y_pred).ravel()
    counts = np.zeros((vocabulary_size, vocabulary_size), dtype=np.int64)
    np.add.at(counts, (true_idx, pred_idx), 1)
    return counts


def paired_p_value(fixed: int, broken: int) -> float:
    """Two-sided exact McNemar p-value: how often plates split ``fixed`` against ``broken``
    (or more unevenly) if either model were as likely as the other to read each one that
    only one of them reads. Sampling noise of the set's plates only, not of training."""
    n, k = fixed + broken, min(fixed, broken)
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)
