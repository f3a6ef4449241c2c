"""Plate text <-> model targets and model outputs -> plate text.

The model has one softmax head per character slot over the alphabet (pad included). Text is
left-aligned in the slots and the remaining slots hold the pad character, which decoding strips.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence

import numpy as np

from plate_ocr_pipeline.core.plate_config import PlateConfig


def upper_case(character: str) -> str:
    """The upper case of one character when Unicode maps it to one character that lower-cases
    back to it (``a`` -> ``A``); otherwise the character itself, so that ``ß`` (-> ``SS``),
    ``ﬁ`` (-> ``FI``), dotless ``ı`` or long ``ſ`` (-> ``I``, ``S``) are kept as written and
    fail the alphabet check instead of turning into other letters."""
    upper = character.upper()
    if len(upper) == 1 and upper.lower() == character:
        return upper
    return character


# Separators that labels write between a plate's groups and that are not characters read:
# space, dash, dot, underscore and the middle dot (Brazil's "ABC·1234").
LABEL_SEPARATORS = " -._·"


def normalise_text(
    text: str, uppercase: bool = True, drop_characters: str = LABEL_SEPARATORS
) -> str:
    """Upper-case and drop separators, so ``"ab-12 3"`` becomes ``"AB123"``.

    Upper-casing is one character for one (see :func:`upper_case`): it never changes the
    length of a text or turns a character into letters it does not show."""
    text = str(text).strip()
    if uppercase:
        text = text.upper() if text.isascii() else "".join(map(upper_case, text))
    if drop_characters:
        text = text.translate({ord(c): None for c in drop_characters})
    return text


def invalid_characters(text: str, config: PlateConfig) -> str:
    """The characters of ``text`` that the model cannot emit (pad included), in order."""
    allowed = set(config.characters)
    return "".join(dict.fromkeys(c for c in text if c not in allowed))


def describe_characters(characters: str) -> str:
    """``characters`` for a message: ``'#'`` when all are printable ASCII; otherwise each one
    with its code point and name, and what Unicode upper-casing would have made of it
    (``'ß' (U+00DF LATIN SMALL LETTER SHARP S; upper case 'SS', not one letter)``)."""
    if all(" " <= c <= "~" for c in characters):
        return repr(characters)
    described = []
    for c in characters:
        name = unicodedata.name(c, "unnamed character")
        text = f"{c!r} (U+{ord(c):04X} {name}"
        upper = c.upper()
        if upper != c and upper_case(c) == c:
            why = "not one letter" if len(upper) != 1 else "a different letter"
            text += f"; upper case {upper!r}, {why}"
        described.append(text + ")")
    return ", ".join(described)


def text_problem(text: str, config: PlateConfig) -> str | None:
    """Why a normalised plate text cannot be a target of the model of ``config`` (None: it
    can). The one wording of ingest's and evaluation's rejects tables and ``encode_text``'s
    error; ingest's summary counts reasons by the words before the colon or bracket, so the
    details come after them."""
    if not text:
        return "empty text"
    bad = invalid_characters(text, config)
    if bad:
        return f"character outside the alphabet: {describe_characters(bad)}"
    if len(text) > config.max_plate_slots:
        return f"longer than max_plate_slots ({len(text)} > {config.max_plate_slots})"
    return None


def encode_text(text: str, config: PlateConfig) -> np.ndarray:
    """Slot indices ``(max_plate_slots,)`` for ``text``, padded with the pad index."""
    problem = text_problem(text, config)
    if problem is not None:
        raise ValueError(f"plate text {text!r}: {problem}")
    padded = text.ljust(config.max_plate_slots, config.pad_char)
    lookup = {c: i for i, c in enumerate(config.alphabet)}
    return np.array([lookup[c] for c in padded], dtype=np.int32)


def encode_texts(texts: Iterable[str], config: PlateConfig) -> np.ndarray:
    """Slot indices ``(N, max_plate_slots)`` int32."""
    encoded = [encode_text(t, config) for t in texts]
    if not encoded:
        return np.zeros((0, config.max_plate_slots), dtype=np.int32)
    return np.stack(encoded)


def one_hot_encode(texts: Iterable[str], config: PlateConfig) -> np.ndarray:
    """One-hot targets ``(N, max_plate_slots, vocabulary_size)`` float32."""
    indices = encode_texts(texts, config)
    return np.eye(config.vocabulary_size, dtype=np.float32)[indices]


def decode_indices(indices: np.ndarray, config: PlateConfig) -> list[str]:
    """Slot indices ``(N, slots)`` to texts with every pad character removed."""
    alphabet = np.array(list(config.alphabet))
    rows = alphabet[np.asarray(indices)]
    return ["".join(row).replace(config.pad_char, "") for row in np.atleast_2d(rows)]


def decode_predictions(probabilities: np.ndarray, config: PlateConfig) -> list[str]:
    """Per-slot softmax outputs ``(N, slots, vocab)`` to plate texts, pad stripped."""
    probabilities = _as_batch(probabilities, config)
    return decode_indices(probabilities.argmax(axis=-1), config)


def decode_with_confidence(
    probabilities: np.ndarray, config: PlateConfig
) -> list[tuple[str, np.ndarray]]:
    """Texts plus the probability of each kept (non-pad) character, in reading order."""
    probabilities = _as_batch(probabilities, config)
    best = probabilities.argmax(axis=-1)
    best_probability = probabilities.max(axis=-1)
    results = []
    for slot_indices, slot_probability in zip(best, best_probability, strict=True):
        keep = slot_indices != config.pad_index
        text = "".join(config.alphabet[i] for i in slot_indices[keep])
        results.append((text, slot_probability[keep].astype(np.float32)))
    return results


def _as_batch(probabilities: np.ndarray, config: PlateConfig) -> np.ndarray:
    probabilities = np.asarray(probabilities)
    if probabilities.ndim == 2:
        probabilities = probabilities[None]
    expected = (config.max_plate_slots, config.vocabulary_size)
    if probabilities.ndim != 3 or probabilities.shape[1:] != expected:
        raise ValueError(
            f"model output shape {probabilities.shape} does not match (batch, {expected[0]}, "
            f"{expected[1]}) from the plate config"
        )
    return probabilities


def texts_equal(a: str, b: str, equivalences: Sequence[str] = ()) -> bool:
    """Compare texts, treating the characters of each equivalence string as one."""
    table = {ord(c): group[0] for group in equivalences for c in group}
    return a.translate(table) == b.translate(table)


def texts_match(
    texts: Iterable[object], truths: Iterable[object], equivalences: Sequence[str] = ()
) -> list[bool]:
    """``texts_equal`` of each text and its truth, pairwise (texts as strings)."""
    return [
        texts_equal(str(text), str(truth), equivalences)
        for text, truth in zip(texts, truths, strict=True)
    ]
