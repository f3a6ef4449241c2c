"""Format-aware decoding: the most probable text that fits a format of a likely region.

Each region family has a data file in ``plate_ocr_pipeline/assets/formats/<family>.yaml``
listing its regions' patterns (``LLL DDD``: ``L`` a letter of the region's set, ``D`` a digit,
``X`` either, ``/`` a row break) and letter sets.

Given one plate's slot probabilities (the characters the model read, each a distribution over
the alphabet) and the probabilities of each family (the model's region output, or a user's
hint), :func:`fit_formats` scores every reading that keeps the read length and fits a pattern:
``log P(family) + sum log P(character)``, each position taking its most probable allowed
character. Families without formats (the US: its formats are many and loose) are scored with
the raw reading. A format's reading is a candidate only if it costs at most ``max_cost`` nats of
character log-probability against the raw reading (the model was not sure of what it
replaces). The best candidate wins; when the winner is a family without formats that the
region output did not rank first (no format of the likely region fits well), or there is no
candidate at all, the raw text is kept and flagged ``fits=False``. Plain numpy: the recognizer runs it on every plate.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

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


def load_family_file(path: str | Path) -> FamilyFormats:
    """One family's data file."""
    with open(path, encoding="utf-8") as handle:
        return parse_family(yaml.safe_load(handle), str(path))


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
    best_index = char_probs.argmax(-1) if len(char_probs) else np.zeros(0, int)
    raw = "".join(alphabet[i] for i in best_index)
    raw_probs = char_probs[np.arange(len(best_index)), best_index]
    log_probs = np.maximum(np.log(np.maximum(char_probs, 1e-300)), _LOG_FLOOR)
    raw_score = float(log_probs[np.arange(len(best_index)), best_index].sum())
    columns = {c: i for i, c in enumerate(alphabet)}

    best: tuple[float, str, np.ndarray, str | None, str | None] | None = None
    for family, probability in family_probs.items():
        if not probability > 0:  # zero or NaN: not a candidate
            continue
        prior = float(np.log(probability))
        if family not in formats:
            candidates = [(prior + raw_score, raw, raw_probs, family, None)]
        else:
            candidates = []
            for pattern, allowed in formats[family].of_length(len(raw)):
                fit = _best_fit(log_probs, char_probs, allowed, columns, alphabet)
                if fit is None:  # the model's alphabet cannot write this pattern
                    continue
                text, probs, score = fit
                if raw_score - score <= max_cost:
                    candidates.append((prior + score, text, probs, family, pattern))
        for candidate in candidates:
            if best is None or candidate[0] > best[0]:
                best = candidate
    usable = {f: p for f, p in family_probs.items() if p > 0}
    top = max(usable.values(), default=0.0)
    likeliest = {f for f, p in usable.items() if p == top}  # a uniform hint: every family
    if best is None or (best[4] is None and best[3] not in likeliest):
        return FormatReading(raw, raw_probs.astype(np.float32), None, None, False, False)
    _, text, probs, family, pattern = best
    return FormatReading(text, probs.astype(np.float32), family, pattern, True, text != raw)


def _best_fit(
    log_probs: np.ndarray,
    char_probs: np.ndarray,
    allowed: Sequence[str],
    columns: Mapping[str, int],
    alphabet: str,
) -> tuple[str, np.ndarray, float] | None:
    text, probs, score = [], [], 0.0
    for position, characters in enumerate(allowed):
        options = [columns[c] for c in characters if c in columns]
        if not options:
            return None
        choice = options[int(np.argmax(log_probs[position, options]))]
        text.append(alphabet[choice])
        probs.append(char_probs[position, choice])
        score += float(log_probs[position, choice])
    return "".join(text), np.array(probs), score


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
