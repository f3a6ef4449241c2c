"""Region text formats for synthetic plates.

A *format* is a list of groups; each group is a string of character classes:

- ``L``: a letter from the region's letter set
- ``D``: a digit
- ``X``: a letter or a digit
- ``W``: a vanity word (US only; expands to a whole group)

Groups are rendered with a separator between them (dash, dot, emblem, gap, ...), chosen by
the renderer. The *label* is the concatenation of the groups, upper-case ``A-Z0-9``, with the
region's label rule applied (US labels write the letter ``O`` as the digit ``0``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
DIGITS = "0123456789"

# Vanity words (typed here, generic English) for US vanity plates.
VANITY_WORDS = [
    "GUTSY",
    "BLOGGER",
    "TURBO",
    "ROCKET",
    "HAPPY",
    "SUNNY",
    "LUCKY",
    "MAGIC",
    "TIGER",
    "EAGLE",
    "RANGER",
    "COWBOY",
    "DREAM",
    "SPEEDY",
    "JAZZ",
    "CHEESE",
    "BIGCAT",
    "MAMA",
    "PAPA",
    "BEACH",
    "SURF",
    "SKIER",
    "HIKER",
    "BIKER",
    "CAMPER",
    "GOLFER",
    "DOCTOR",
    "NURSE",
    "VOTE",
    "SAMPLE",
    "FARMER",
    "HONEY",
    "PEACH",
    "ANGEL",
    "FLASH",
    "STORM",
    "THUNDER",
    "WILDCAT",
    "HORSE",
    "PONY",
    "BEAR",
    "WOLF",
    "FOXY",
    "OWL",
    "HAWK",
    "RAVEN",
    "MAPLE",
    "CEDAR",
    "PINE",
    "RIVER",
    "LAKE",
    "OCEAN",
    "ISLAND",
    "COOKIE",
    "PIZZA",
    "TACO",
    "COFFEE",
    "GEEK",
    "NERD",
    "CODER",
    "ROBOT",
    "PIXEL",
    "LASER",
    "SONIC",
    "GRANDMA",
    "GRANDPA",
    "BUDDY",
    "BOSS",
    "QUEEN",
    "KING",
    "PRINCE",
    "DUKE",
    "JOKER",
    "ACE",
    "WINNER",
    "GOFAST",
    "NOWAY",
    "YESSIR",
    "ILUVU",
    "MYCAR",
    "MYRIDE",
    "XPRESS",
    "ZOOM",
    "VROOM",
    "RETRO",
    "CLASSIC",
    "MUSTANG",
    "CHEVY",
]


@dataclass(frozen=True)
class RegionFormat:
    """Text formats of one region."""

    region: str
    formats: tuple[tuple[tuple[str, ...], float], ...]
    letters: str = LETTERS
    # Characters replaced in the label (not in the rendered glyphs).
    label_map: dict[str, str] = field(default_factory=dict)
    family: str = "us"

    def label_regex(self) -> re.Pattern[str]:
        """Regex that every label of this region matches."""
        letters = "".join(sorted(set(self.letters.translate(str.maketrans(self.label_map)))))
        alts = []
        for groups, _ in self.formats:
            parts = []
            for group in groups:
                if group == "W":
                    parts.append("[A-Z0-9]{2,8}")
                    continue
                for cls in group:
                    if cls == "L":
                        parts.append(f"[{letters}]")
                    elif cls == "D":
                        parts.append("[0-9]")
                    else:
                        parts.append(f"[{letters}0-9]")
            alts.append("".join(parts))
        return re.compile("^(?:" + "|".join(alts) + ")$")


def _f(*items: tuple[str, float]) -> tuple[tuple[tuple[str, ...], float], ...]:
    return tuple((tuple(spec.split()), w) for spec, w in items)


# US serial formats: the families seen on real plates, weighted roughly like them.
_US_FORMATS = _f(
    ("DDD LLL", 14.0),
    ("LLL DDD", 12.0),
    ("LLL DDDD", 9.0),
    ("LLL DDDDD", 0.5),
    ("D LLL DDD", 3.0),
    ("DLLL DDD", 1.5),
    ("LL DDDD", 3.0),
    ("DDD DDD", 3.0),
    ("DDDD LL", 2.5),
    ("LL DDD", 2.0),
    ("DDDD", 2.0),
    ("DDDDD", 2.0),
    ("DDDDDDD", 1.5),
    ("LLL DDL", 2.0),
    ("L DDDDDD", 1.5),
    ("DLL DDD", 1.5),
    ("DDLDDDDL", 1.0),
    ("DL DDDDL", 1.0),
    ("LL DLDDD", 1.0),
    ("DDD LLD", 0.7),
    ("DDLL DD", 1.0),
    ("LDDD LL", 1.0),
    ("DDDDD L", 0.8),
    ("LLLL", 0.6),
    ("DDDD L", 0.7),
    ("LLL", 0.4),
    ("DDD", 0.4),
    ("DD", 0.2),
    ("XXXXXX", 1.5),
    ("XXXXXXX", 1.0),
    ("W", 7.0),
)

REGION_FORMATS: dict[str, RegionFormat] = {
    "us": RegionFormat("us", _US_FORMATS, label_map={"O": "0"}, family="us"),
    # Germany: city code 1-3 letters, 1-2 letters, 1-4 digits.
    "eu-de": RegionFormat(
        "eu-de",
        _f(
            ("L LL DDDD", 3.0),
            ("LL LL DDD", 3.0),
            ("LLL LL DDD", 2.0),
            ("L L DDDD", 1.0),
            ("LL L DDDD", 2.0),
            ("LLL L DD", 1.0),
        ),
        letters="ABCDEFGHIJKLMNOPRSTUVWXYZ",
        family="eu",
    ),
    "eu-fr": RegionFormat(
        "eu-fr", _f(("LL DDD LL", 1.0)), letters="ABCDEFGHJKLMNPQRSTVWXYZ", family="eu"
    ),
    "eu-it": RegionFormat(
        "eu-it", _f(("LL DDD LL", 1.0)), letters="ABCDEFGHJKLMNPRSTVWXYZ", family="eu"
    ),
    "eu-es": RegionFormat(
        "eu-es", _f(("DDDD LLL", 1.0)), letters="BCDFGHJKLMNPRSTVWXYZ", family="eu"
    ),
    "eu-nl": RegionFormat(
        "eu-nl",
        _f(
            ("LL DDD L", 1.0),
            ("D LLL DD", 1.0),
            ("DD LLL D", 1.0),
            ("L DDD LL", 1.0),
            ("LLL DD L", 1.0),
            ("D LL DDD", 1.0),
        ),
        letters="BDFGHJKLNPRSTVXZ",
        family="eu",
    ),
    "eu-pl": RegionFormat(
        "eu-pl",
        _f(("LL DDDDD", 2.0), ("LL DDDLL", 1.0), ("LLL DDLL", 2.0), ("LLL DLDD", 1.0)),
        letters="ABCDEFGHJKLMNPRSTUVWXYZ",
        family="eu",
    ),
    "uk": RegionFormat(
        "uk", _f(("LLDD LLL", 1.0)), letters="ABCDEFGHJKLMNOPRSTUVWXYZ", family="uk"
    ),
    "ar": RegionFormat("ar", _f(("LL DDD LL", 1.0)), family="mercosur"),
    "br": RegionFormat("br", _f(("LLL DLDD", 1.0)), family="mercosur"),
    "ar-old": RegionFormat("ar-old", _f(("LLL DDD", 1.0)), family="ar-old"),
    "br-old": RegionFormat("br-old", _f(("LLL DDDD", 1.0)), family="br-old"),
}

REGIONS: tuple[str, ...] = tuple(REGION_FORMATS)

DEFAULT_REGION_WEIGHTS: dict[str, float] = {
    "us": 0.82,
    "eu-de": 0.02,
    "eu-fr": 0.02,
    "eu-it": 0.02,
    "eu-es": 0.02,
    "eu-nl": 0.015,
    "eu-pl": 0.015,
    "uk": 0.02,
    "ar": 0.02,
    "br": 0.015,
    "ar-old": 0.01,
    "br-old": 0.01,
}


def _sample_vanity(rng: np.random.Generator, letters: str) -> str:
    r = rng.random()
    if r < 0.55:
        word = VANITY_WORDS[rng.integers(len(VANITY_WORDS))]
    elif r < 0.8:
        n = int(rng.integers(2, 8))
        word = "".join(rng.choice(list(letters), n))
    else:
        # letters with a digit or two, e.g. C2TURBO, 4EVER
        word = VANITY_WORDS[rng.integers(len(VANITY_WORDS))][: int(rng.integers(3, 7))]
        pos = int(rng.integers(0, len(word) + 1))
        word = word[:pos] + str(rng.integers(0, 10)) + word[pos:]
    return word[:8]


def sample_groups(rng: np.random.Generator, region: str, allowed: str | None = None) -> list[str]:
    """Sample the displayed character groups of one plate (glyphs as printed)."""
    fmt = REGION_FORMATS[region]
    weights = np.array([w for _, w in fmt.formats], dtype=float)
    groups_spec = fmt.formats[int(rng.choice(len(weights), p=weights / weights.sum()))][0]
    letters = fmt.letters
    digits = DIGITS
    if allowed is not None:
        letters = "".join(c for c in letters if c in allowed) or digits
        digits = "".join(c for c in digits if c in allowed) or letters
    pools = {"L": letters, "D": digits, "X": letters + digits}
    groups = []
    for spec in groups_spec:
        if spec == "W":
            groups.append(_sample_vanity(rng, letters))
            continue
        idx = [rng.integers(len(pools[c])) for c in spec]
        groups.append("".join(pools[c][i] for c, i in zip(spec, idx, strict=True)))
    return groups


def repeat_a_run(rng: np.random.Generator, groups: list[str]) -> list[str]:
    """``groups`` with a run of 2-4 copies of one character written over one group (chosen
    in proportion to its length): ``DDD LLL`` may become ``999 LLA`` or ``DDD BBB``. Real
    plates repeat characters (``9999CF``, ``000BBB``) far more often than uniform sampling
    does, and a CTC reader needs a blank between doubled characters to keep them both."""
    lengths = np.array([len(group) for group in groups], dtype=float)
    if lengths.max() < 2:
        return list(groups)
    lengths[lengths < 2] = 0
    which = int(rng.choice(len(groups), p=lengths / lengths.sum()))
    group = groups[which]
    run = min(len(group), int(rng.integers(2, 5)))
    start = int(rng.integers(0, len(group) - run + 1))
    repeated = group[:start] + group[start] * run + group[start + run :]
    return [*groups[:which], repeated, *groups[which + 1 :]]


def groups_to_label(groups: list[str], region: str) -> str:
    """Label of a plate: upper-case, no separators, region label rule applied."""
    text = "".join(groups).upper()
    label_map = REGION_FORMATS[region].label_map
    if label_map:
        text = text.translate(str.maketrans(label_map))
    return re.sub(r"[^A-Z0-9]", "", text)


def sample_text(
    rng: np.random.Generator,
    region: str,
    max_slots: int = 10,
    alphabet: str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    max_tries: int = 100,
) -> tuple[list[str], str]:
    """Sample (groups, label) whose label fits ``max_slots`` and uses only ``alphabet``."""
    if region not in REGION_FORMATS:
        raise ValueError(f"unknown region {region!r}; known regions: {', '.join(REGIONS)}")
    allowed = set(alphabet)
    for _ in range(max_tries):
        groups = sample_groups(rng, region, alphabet)
        label = groups_to_label(groups, region)
        if 1 <= len(label) <= max_slots and set(label) <= allowed:
            return groups, label
    raise ValueError(
        f"could not sample a {region!r} plate text with at most {max_slots} characters "
        f"from alphabet {alphabet!r}"
    )
