"""Format-aware decoding: the most probable text that fits a format of a likely region.

Each region family has a data file in ``plate_ocr_pipeline/assets/formats/<family>.yaml``
listing its regions' patterns (``LLL DDD``: ``L`` a letter of the region's set, ``D`` a digit,
``X`` either, ``/`` a row break) and letter sets.

Given one plate's slot probabilities (the characters the model read, each a distribution over
the alphabet) and the probabilities of each family (the model's region output, or a user's
hint), :func:`fit_formats` scores every reading that keeps the read length and fits a pattern:
``log P(family) + sum log P(character)``, each position taking its most probable allowed
character. Families without formats (the US: its formats are many and loose) are scored with
the raw reading, written as their labels write it (the US: O as 0). A format's reading is a
candidate only if it costs at most ``max_cost`` nats of character log-probability against the
raw reading (the model was not sure of what it replaces). The best candidate wins; when the
winner is a family without formats that the region output did not rank first (no format of the
likely region fits well), or there is no candidate at all, the raw text is kept and flagged
``fits=False``. Plain numpy: the recognizer runs it on every plate.

When no format of the read length fits and the model gives its CTC column probabilities,
:func:`fit_columns` looks for the most probable column path that fits a format of any length
(:func:`best_fitting_paths`): a character dropped at the crop's edge, or a frame or seal read as
one, is then fixed if the model gave the format's reading enough probability.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources

import numpy as np
import yaml

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
DIGITS = "0123456789"
ROW_BREAK = "/"
# Log-probabilities are floored here, so a zero probability costs a finite amount.
_LOG_FLOOR = np.log(1e-12)
# A format may overrule the model only where the model gave the format's reading at least
# 1/1000 of its own reading's probability (ln 1000 nats): a sure character is never replaced.
DEFAULT_MAX_COST = float(np.log(1000.0))
# Families whose labels write the letter O as the digit 0 (US ground truth: US plate fonts draw
# the two alike). The model reads the glyph; a reading of such a family is written as its
# labels are.
ZERO_FOR_O_FAMILIES = frozenset({"us"})


@dataclass(frozen=True)
class FamilyFormats:
    """The patterns of one family, each as per-position allowed characters."""

    family: str
    patterns: tuple[tuple[str, tuple[str, ...]], ...]  # (pattern text, allowed per position)
    regions: tuple[str, ...] = ()

    def of_length(self, length: int) -> list[tuple[str, tuple[str, ...]]]:
        return [p for p in self.patterns if len(p[1]) == length]


@dataclass(frozen=True)
class FormatReading:
    """The outcome of format-aware decoding for one plate."""

    text: str
    char_probs: np.ndarray
    family: str | None  # the family whose format (or raw reading) won; None: nothing fitted
    pattern: str | None  # the pattern that fitted, None for the raw reading
    fits: bool  # False: no format of a likely family fits within max_cost; raw text kept
    changed: bool  # the text differs from the raw reading


def _positions(pattern: str, letters: str) -> tuple[str, ...]:
    allowed = {"L": letters, "D": DIGITS, "X": letters + DIGITS}
    out = []
    for group in pattern.split():
        if group == ROW_BREAK:
            continue
        for cls in group:
            if cls not in allowed:
                raise ValueError(f"pattern {pattern!r}: {cls!r} is not one of L, D, X or /")
            out.append(allowed[cls])
    return tuple(out)


def parse_family(data: Mapping, source: str = "<formats>") -> FamilyFormats:
    """A family from its data file's mapping (``family``, ``regions: {name: {letters,
    formats}}``); errors name ``source``."""
    try:
        family = str(data["family"])
        # One entry per pattern; regions sharing a pattern with other letters allow the union.
        patterns: dict[str, tuple[str, ...]] = {}
        for spec in dict(data["regions"]).values():
            letters = str(spec.get("letters", LETTERS))
            for pattern in spec["formats"]:
                positions = _positions(str(pattern), letters)
                if pattern in patterns:
                    positions = tuple(
                        "".join(sorted(set(a) | set(b)))
                        for a, b in zip(patterns[pattern], positions, strict=True)
                    )
                patterns[str(pattern)] = positions
    except ValueError as error:
        raise ValueError(f"{source}: {error}") from error
    except (KeyError, TypeError, AttributeError) as error:
        raise ValueError(
            f"{source}: not a formats file ({type(error).__name__}: {error})"
        ) from error
    return FamilyFormats(family, tuple(patterns.items()), tuple(dict(data["regions"])))


@functools.lru_cache(maxsize=1)
def shipped_formats() -> dict[str, FamilyFormats]:
    """Every family file shipped in ``plate_ocr_pipeline/assets/formats``, by family name."""
    folder = resources.files("plate_ocr_pipeline") / "assets" / "formats"
    families = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith((".yaml", ".yml")):
            family = parse_family(yaml.safe_load(entry.read_text("utf-8")), entry.name)
            families[family.family] = family
    return families


def fit_formats(
    char_probs: np.ndarray,
    alphabet: str,
    family_probs: Mapping[str, float],
    formats: Mapping[str, FamilyFormats] | None = None,
    max_cost: float = DEFAULT_MAX_COST,
) -> FormatReading:
    """The most probable reading over families and their formats (see the module docstring).

    Args:
        char_probs: ``(k, vocab)``: the distribution of each of the ``k`` characters read.
        alphabet: the model's alphabet (column order of ``char_probs``).
        family_probs: family name -> probability (the region output, or a hint such as
            ``{"ar-old": 0.5, "mercosur": 0.5}``). A family missing from ``formats`` (the US)
            competes with the raw reading.
        formats: families' formats; default the shipped ones.
        max_cost: the most character log-probability a format's reading may lose against the
            raw reading.
    """
    formats = shipped_formats() if formats is None else formats
    char_probs = np.asarray(char_probs, dtype=np.float64)
    positions = np.arange(len(char_probs))
    best_index = char_probs.argmax(-1) if len(char_probs) else np.zeros(0, int)
    raw = "".join(alphabet[i] for i in best_index)
    raw_probs = char_probs[positions, best_index]
    usable = {f: float(p) for f, p in family_probs.items() if p > 0}  # not zero, not NaN
    order = _likeliest_first(usable, formats)
    # The likeliest family reading the raw text scores what no other candidate can beat: the
    # common case (a US plate, or a plate that already fits its region) needs no search.
    if order and order[0] not in formats:
        text = written_as_labelled(raw, order[0])
        return FormatReading(text, raw_probs.astype(np.float32), order[0], None, True, text != raw)
    log_probs = np.maximum(np.log(np.maximum(char_probs, 1e-300)), _LOG_FLOOR)
    raw_score = float(log_probs[positions, best_index].sum())
    if order:
        patterns, masks = _pattern_masks(formats[order[0]], len(raw), alphabet)
        fitting = masks[:, positions, best_index].all(-1) if len(patterns) else []
        if np.any(fitting):
            pattern = patterns[int(np.argmax(fitting))]
            return FormatReading(raw, raw_probs.astype(np.float32), order[0], pattern, True, False)
    best: tuple[float, str, np.ndarray, str | None, str | None] | None = None
    for family in order:
        prior = float(np.log(usable[family]))
        # No reading scores above the raw one: a family that cannot win is skipped.
        if best is not None and prior + raw_score <= best[0]:
            continue
        if family not in formats:
            best = (prior + raw_score, raw, raw_probs, family, None)
            continue
        patterns, masks = _pattern_masks(formats[family], len(raw), alphabet)
        if not patterns:
            continue
        masked = np.where(masks, log_probs[None], -np.inf)  # (patterns, positions, vocab)
        choices = masked.argmax(-1)
        scores = np.take_along_axis(masked, choices[..., None], -1)[..., 0].sum(-1)
        scores = np.where(raw_score - scores <= max_cost, scores, -np.inf)
        pick = int(scores.argmax())
        if np.isfinite(scores[pick]) and (best is None or prior + scores[pick] > best[0]):
            text = "".join(alphabet[i] for i in choices[pick])
            probs = char_probs[positions, choices[pick]]
            best = (prior + float(scores[pick]), text, probs, family, patterns[pick])
    return _chosen_reading(best, raw, raw_probs, usable)


def _chosen_reading(
    best: tuple[float, str, np.ndarray, str | None, str | None] | None,
    raw: str,
    raw_probs: np.ndarray,
    usable: Mapping[str, float],
) -> FormatReading:
    """The winning candidate ``(score, text, probs, family, pattern)``, or the raw reading
    flagged unfit when there is none or the winner is a family without formats that was not
    among the likeliest (no format of the likely region fits well)."""
    top = max(usable.values(), default=0.0)
    likeliest = {f for f, p in usable.items() if p == top}  # a uniform hint: every family
    if best is None or (best[4] is None and best[3] not in likeliest):
        return FormatReading(raw, raw_probs.astype(np.float32), None, None, False, False)
    _, text, probs, family, pattern = best
    text = written_as_labelled(text, family)
    return FormatReading(text, probs.astype(np.float32), family, pattern, True, text != raw)


def _likeliest_first(
    usable: Mapping[str, float], formats: Mapping[str, FamilyFormats]
) -> list[str]:
    """Families by probability; among equally likely ones (a hint), those with formats first,
    so that a reading fitting one of them does not depend on the hint's order."""
    return sorted(usable, key=lambda family: (-usable[family], family not in formats))


def written_as_labelled(text: str, family: str | None) -> str:
    """``text`` as ``family``'s labels write it: ``O`` as ``0`` for the US."""
    return text.replace("O", "0") if family in ZERO_FOR_O_FAMILIES else text


def fit_slots(
    slot_probs: np.ndarray,
    pad_index: int,
    alphabet: str,
    family_probs: Mapping[str, float],
    formats: Mapping[str, FamilyFormats] | None = None,
    max_cost: float = DEFAULT_MAX_COST,
) -> FormatReading:
    """:func:`fit_formats` over the characters a model's output slots ``(slots, vocab)`` read:
    those whose most probable class is not the pad."""
    slot_probs = np.asarray(slot_probs)
    kept = slot_probs[slot_probs.argmax(-1) != pad_index]
    return fit_formats(kept, alphabet, family_probs, formats, max_cost)


def read_by_format(
    slot_probs: np.ndarray,
    column_probs: np.ndarray | None,
    pad_index: int,
    alphabet: str,
    family_probs: Mapping[str, float],
) -> FormatReading:
    """A reader's format-aware text: :func:`fit_slots` over its output slots, else, where no
    format of the slots' length fits and the model has column outputs, :func:`fit_columns`
    (a character dropped at the crop's edge or a frame read as one changes the length)."""
    fitted = fit_slots(slot_probs, pad_index, alphabet, family_probs)
    if not fitted.fits and column_probs is not None:
        fitted = fit_columns(column_probs, alphabet, pad_index, family_probs)
    return fitted


@functools.lru_cache(maxsize=256)
def _pattern_masks(
    family: FamilyFormats, length: int, alphabet: str
) -> tuple[list[str], np.ndarray]:
    """The family's patterns of ``length`` characters that ``alphabet`` can write, and their
    allowed characters as a ``(patterns, length, len(alphabet))`` boolean mask."""
    names, masks = [], []
    for pattern, allowed in family.of_length(length):
        mask = np.array([[c in characters for c in alphabet] for characters in allowed])
        if mask.size and mask.any(-1).all():
            names.append(pattern)
            masks.append(mask)
    shape = (0, length, len(alphabet))
    return names, np.stack(masks) if masks else np.zeros(shape, bool)


def matching_format(
    text: str, families: Sequence[str], formats: Mapping[str, FamilyFormats] | None = None
) -> tuple[str, str] | None:
    """``(family, pattern)`` of the first of ``families`` with a format ``text`` fits (the
    pattern shows the layout: ``/`` marks a two-row plate); ``None`` if none does."""
    formats = shipped_formats() if formats is None else formats
    for family in families:
        if family not in formats:
            continue
        for pattern, allowed in formats[family].of_length(len(text)):
            if all(c in chars for c, chars in zip(text, allowed, strict=True)):
                return family, pattern
    return None


def region_label_family(region: str) -> str:
    """The family of a region label: ``us`` and ``us-*`` are ``us``, a region listed in a
    shipped formats file is that file's family, any other label is its own family, ``""``
    stays ``""``."""
    region = str(region).strip()
    if region == "us" or region.startswith("us-"):
        return "us"
    for family in shipped_formats().values():
        if region in family.regions:
            return family.family
    return region


def known_families(region_families: Iterable[str] = ()) -> list[str]:
    """The region families a hint or a report label may name for a model whose region output
    has ``region_families``: those, the families with a formats file, and the US."""
    return sorted({*region_families, *shipped_formats(), "us"})


def family_hint(families: Iterable[str], known: Sequence[str] | None = None) -> dict[str, float]:
    """A uniform prior over ``families`` (a user's ``--region`` hint); names outside
    ``known`` (when given) are an error naming them."""
    names = list(dict.fromkeys(f.strip() for f in families if f.strip()))
    if known is not None:
        unknown = sorted(set(names) - set(known))
        if unknown:
            raise ValueError(
                f"unknown region families {unknown}; known: {', '.join(sorted(known))}"
            )
    if not names:
        raise ValueError("a region hint needs at least one family")
    return {name: 1.0 / len(names) for name in names}


# ------------------------------------------------------------------ column-level decoding
def best_fitting_paths(
    log_probs: np.ndarray, masks: np.ndarray, blank: int, lengths: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The most probable CTC path over ``log_probs`` ``(columns, vocab)`` that emits, for each
    pattern of ``masks`` ``(patterns, length, vocab)``, exactly its length's characters, the
    i-th one allowed by ``masks[:, i]``. ``lengths`` ``(patterns,)``: each pattern's own length
    when patterns of several lengths share one call (positions past it unused); default all
    ``length``.

    Viterbi over the states (position, character) and (blank after position): a character
    holds over a run of columns, a new position starts after a blank or with another
    character. Returns each pattern's path log-probability ``(patterns,)`` (``-inf`` where no
    path fits the columns), its characters ``(patterns, length)`` and the column where each
    is first emitted ``(patterns, length)``; entries past a pattern's length are 0.
    """
    columns = len(log_probs)
    patterns, length, vocab = masks.shape
    lengths = np.full(patterns, length) if lengths is None else np.asarray(lengths, int)
    chars = np.zeros((patterns, length), int)
    starts = np.zeros((patterns, length), int)
    if patterns == 0 or length == 0 or columns == 0:
        return np.full(patterns, -np.inf), chars, starts
    used = np.arange(length)[None] < lengths[:, None]  # (P, L)
    allowed = np.where(masks & used[..., None], 0.0, -np.inf)  # (P, L, V)
    neg = np.full((patterns, length, vocab), -np.inf)
    a = neg.copy()
    a[:, 0] = log_probs[0] + allowed[:, 0]
    b = np.full((patterns, length + 1), -np.inf)  # b[:, i]: blank after i characters
    b[:, 0] = log_probs[0, blank]
    # Back-pointers: for a, 0 = same state, 1 = from the blank before, 2 = from the previous
    # position's best other character (prev_char); for b, 0 = same blank, 1 = from the last
    # character (its best, b_char).
    a_from = np.zeros((columns, patterns, length, vocab), np.int8)
    prev_char = np.zeros((columns, patterns, length, vocab), np.int16)
    b_from = np.zeros((columns, patterns, length + 1), np.int8)
    b_char = np.zeros((columns, patterns, length + 1), np.int16)
    vocab_ids = np.arange(vocab)[None, None]
    candidates = np.empty((3, patterns, length, vocab))
    candidates[2, :, 0] = -np.inf  # the first position is never entered from a character
    grid = np.ogrid[:patterns, :length]  # (P, 1) and (1, L) indices, for per-state picks
    leave = np.full((patterns, length + 1), -np.inf)  # into blank i from character i
    for t in range(1, columns):
        first = a.argmax(-1)  # (P, L): each position's best character, and its second best
        top1 = a.max(-1)
        others = a.copy()
        others[grid[0], grid[1], first] = -np.inf
        second = others.argmax(-1)
        top2 = others.max(-1)
        # Entering position i with character c from position i - 1's best other character.
        same = vocab_ids == first[:, :-1, None]
        candidates[0] = a
        candidates[1] = b[:, :length, None]
        candidates[2, :, 1:] = np.where(same, top2[:, :-1, None], top1[:, :-1, None])
        prev_char[t, :, 1:] = np.where(same, second[:, :-1, None], first[:, :-1, None])
        a_from[t] = candidates.argmax(0)
        a = candidates.max(0) + log_probs[t] + allowed
        stay = b
        leave[:, 1:] = top1
        b_from[t] = leave > stay
        b_char[t, :, 1:] = first
        b = np.maximum(stay, leave) + log_probs[t, blank]
    rows = np.arange(patterns)
    last_state = a[rows, np.maximum(lengths - 1, 0)]  # (P, V): the last position's states
    last = np.where(lengths > 0, last_state.max(-1), -np.inf)
    end_blank = b[rows, lengths]
    scores = np.where(lengths > 0, np.maximum(last, end_blank), -np.inf)
    for p in range(patterns):
        if not np.isfinite(scores[p]):
            continue
        # Walk back from the best final state; a state is (kind, position, character).
        if end_blank[p] >= last[p]:
            kind, i, c = "b", int(lengths[p]), 0
        else:
            kind, i, c = "a", int(lengths[p]) - 1, int(last_state[p].argmax())
        for t in range(columns - 1, -1, -1):
            if kind == "a":
                chars[p, i], starts[p, i] = c, t
                step = a_from[t, p, i, c] if t else 0
                if step == 1:
                    kind = "b"
                elif step == 2:
                    c, i = int(prev_char[t, p, i, c]), i - 1
            else:
                if t and b_from[t, p, i]:
                    kind, c, i = "a", int(b_char[t, p, i]), i - 1
    return scores, chars, starts


def _merge_sure_blanks(
    log_probs: np.ndarray, blank: int, max_cost: float
) -> tuple[np.ndarray, np.ndarray]:
    """``log_probs`` with each run of columns whose blank beats every character by more than
    ``max_cost`` nats made one blank column, and each kept column's index in ``log_probs``.
    A path that emits a character in such a column costs more than the search accepts, and a
    run of blanks scores the same for every path as one blank column with the run's
    log-probability: the search gives the same answer, several times faster (most columns of
    a plate are sure blanks)."""
    best = np.delete(log_probs, blank, axis=-1).max(-1)
    sure = log_probs[:, blank] - best > max_cost
    run_start = sure & ~np.r_[False, sure[:-1]]  # the first column of each run of sure blanks
    kept = ~sure | run_start
    if kept.all():
        return log_probs, np.arange(len(log_probs))
    group = np.cumsum(kept) - 1  # each column's kept column
    merged = np.where(sure[:, None], -np.inf, log_probs)[kept]
    merged[:, blank] = np.bincount(group, weights=log_probs[:, blank])
    return merged, np.flatnonzero(kept)


def fit_columns(
    column_probs: np.ndarray,
    alphabet: str,
    blank: int,
    family_probs: Mapping[str, float],
    formats: Mapping[str, FamilyFormats] | None = None,
    max_cost: float = DEFAULT_MAX_COST,
) -> FormatReading:
    """Format-aware decoding over a CTC model's column probabilities ``(columns, vocab)``:
    unlike :func:`fit_formats` it may read more or fewer characters than the greedy reading
    (a character dropped at the crop's edge, a frame or seal read as one). Each family with
    formats scores its best fitting path (:func:`best_fitting_paths`) of every length it
    writes; a path may cost at most ``max_cost`` nats against the greedy path. Families
    without formats keep the greedy reading; the choice among families is
    :func:`fit_formats`'."""
    formats = shipped_formats() if formats is None else formats
    column_probs = np.asarray(column_probs, dtype=np.float64)
    log_probs = np.maximum(np.log(np.maximum(column_probs, 1e-300)), _LOG_FLOOR)
    best_index = column_probs.argmax(-1)
    greedy_score = float(log_probs[np.arange(len(log_probs)), best_index].sum())
    emits = (best_index != blank) & np.r_[True, best_index[1:] != best_index[:-1]]
    raw = "".join(alphabet[i] for i in best_index[emits])
    raw_probs = column_probs[np.flatnonzero(emits), best_index[emits]].astype(np.float32)

    usable = {f: float(p) for f, p in family_probs.items() if p > 0}
    top_prior = float(np.log(max(usable.values(), default=1.0)))
    # Candidates in the order the families are tried (most likely first), each family's
    # patterns by length; the first best one wins. One Viterbi call searches the patterns of
    # every family and length at once.
    order: list[tuple[float, str]] = []
    sure = -np.inf  # the best score a family without formats already gives
    for family in _likeliest_first(usable, formats):
        prior = float(np.log(usable[family]))
        if prior < top_prior - max_cost:
            break  # families a thousand times less likely than the first are not searched
        if prior + greedy_score <= sure:
            continue  # no path scores above the greedy one: this family cannot win
        order.append((prior, family))
        if family not in formats:
            sure = max(sure, prior + greedy_score)
    names: list[tuple[str, str]] = []
    masks: list[np.ndarray] = []
    for _, family in order:
        if family in formats:
            for length in sorted({len(allowed) for _, allowed in formats[family].patterns}):
                patterns, family_masks = _pattern_masks(formats[family], length, alphabet)
                names.extend((family, pattern) for pattern in patterns)
                masks.extend(family_masks)
    if masks:
        lengths = np.array([len(mask) for mask in masks])
        padded = np.zeros((len(masks), lengths.max(), len(alphabet)), bool)
        for row, mask in enumerate(masks):
            padded[row, : len(mask)] = mask
        columns, origin = _merge_sure_blanks(log_probs, blank, max_cost)
        scores, chars, starts = best_fitting_paths(columns, padded, blank, lengths)
        starts = origin[starts]
        scores = np.where(greedy_score - scores <= max_cost, scores, -np.inf)
    best: tuple[float, str, np.ndarray, str | None, str | None] | None = None
    row = 0
    for prior, family in order:
        if family not in formats:
            if best is None or prior + greedy_score > best[0]:
                best = (prior + greedy_score, raw, raw_probs, family, None)
            continue
        while row < len(names) and names[row][0] == family:
            if np.isfinite(scores[row]) and (best is None or prior + scores[row] > best[0]):
                picked = chars[row, : lengths[row]]
                text = "".join(alphabet[i] for i in picked)
                probs = column_probs[starts[row, : lengths[row]], picked].astype(np.float32)
                best = (prior + float(scores[row]), text, probs, family, names[row][1])
            row += 1
    return _chosen_reading(best, raw, raw_probs, usable)
