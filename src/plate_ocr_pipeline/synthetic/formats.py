"""Region text formats for synthetic plates.

A *format* is a list of groups; each group is a string of character classes:

- ``L``: a letter from the region's letter set
- ``D``: a digit
- ``X``: a letter or a digit
- ``W``: a vanity word (US only; expands to a whole group)

Groups are rendered with a separator between them (dash, dot, emblem, gap, ...), chosen by
the renderer. The *label* is the concatenation of the groups, upper-case ``A-Z0-9``, with the
region's label rule applied (US labels write the letter ``O`` as the digit ``0``).

Two-row plates: a ``/`` group (``ROW_BREAK``) marks the row break, so ``"L DDD / LLL"`` prints
``L`` and ``DDD`` on the top row and ``LLL`` on the bottom one. The break is kept in the sampled
groups (the renderer splits the rows on it, see ``split_rows``) and is no character: the label
is the top row's characters followed by the bottom row's, with no separator.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
DIGITS = "0123456789"
ROW_BREAK = "/"  # a group of its own in a format spec: the row break of a two-row plate

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
                if group == ROW_BREAK:
                    continue
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

    @property
    def two_row(self) -> bool:
        """Whether this region's plates print the text on two rows."""
        return any(ROW_BREAK in groups for groups, _ in self.formats)


def split_rows(groups: list[str] | tuple[str, ...]) -> list[list[str]]:
    """The rows of a plate: ``["L", "123", "/", "ABC"]`` -> ``[["L", "123"], ["ABC"]]``."""
    rows: list[list[str]] = [[]]
    for group in groups:
        if group == ROW_BREAK:
            rows.append([])
        else:
            rows[-1].append(group)
    return [row for row in rows if row]


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

_CZ_LETTERS = "ABCDEFHIJKLMNPRSTUVXYZ"  # no G, O, Q, W
# Letter sets shared by a country's one-row and two-row plates.
_DE_LETTERS = "ABCDEFGHIJKLMNOPRSTUVWXYZ"  # no Q
_FR_LETTERS = "ABCDEFGHJKLMNPQRSTVWXYZ"  # no I, O, U
_IT_LETTERS = "ABCDEFGHJKLMNPRSTVWXYZ"  # no I, O, Q, U

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
        letters=_DE_LETTERS,
        family="eu",
    ),
    "eu-fr": RegionFormat("eu-fr", _f(("LL DDD LL", 1.0)), letters=_FR_LETTERS, family="eu"),
    "eu-it": RegionFormat("eu-it", _f(("LL DDD LL", 1.0)), letters=_IT_LETTERS, family="eu"),
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
    "uy": RegionFormat("uy", _f(("LLL DDDD", 1.0)), family="mercosur"),
    "py": RegionFormat("py", _f(("LLLL DDD", 1.0)), family="mercosur"),
    "ar-old": RegionFormat("ar-old", _f(("LLL DDD", 1.0)), family="ar-old"),
    "br-old": RegionFormat("br-old", _f(("LLL DDDD", 1.0)), family="br-old"),
    # --- more European one-row plates (docs/plate-regions.md, "Europe, one-row plates")
    "eu-be": RegionFormat("eu-be", _f(("D LLL DDD", 1.0)), family="eu"),
    "eu-at": RegionFormat(
        "eu-at",
        _f(
            ("L DDD LL", 2.0),
            ("LL DDD LL", 2.0),
            ("LL DDDD L", 1.0),
            ("L DDDD LL", 1.0),
            ("LL D LLL", 1.0),
        ),
        family="eu",
    ),
    "eu-ch": RegionFormat(
        "eu-ch",
        _f(("LL DDDDDD", 1.0), ("LL DDDDD", 2.0), ("LL DDDD", 1.0), ("LL DDD", 0.5)),
        family="eu",
    ),
    "eu-cz": RegionFormat(
        "eu-cz", _f(("DLD DDDD", 3.0), ("DLL DDDD", 1.0)), letters=_CZ_LETTERS, family="eu"
    ),
    "eu-se": RegionFormat(
        "eu-se",
        _f(("LLL DDD", 3.0), ("LLL DDL", 1.0)),
        letters="ABCDEFGHJKLMNOPRSTUWXYZ",
        family="eu",
    ),
    "eu-no": RegionFormat("eu-no", _f(("LL DDDDD", 1.0)), family="eu"),
    "eu-dk": RegionFormat("eu-dk", _f(("LL DD DDD", 1.0)), family="eu"),
    "eu-pt": RegionFormat(
        "eu-pt", _f(("DD DD LL", 1.0), ("DD LL DD", 1.0), ("LL DD LL", 1.0)), family="eu"
    ),
    "eu-fi": RegionFormat(
        "eu-fi", _f(("LLL DDD", 5.0), ("LL DDD", 1.0), ("LLL DD", 0.5)), family="eu"
    ),
    "eu-ie": RegionFormat(
        "eu-ie",
        _f(("DDD L DDDD", 2.0), ("DDD LL DDDD", 1.0), ("DD L DDDDD", 1.0), ("DD LL DDDD", 1.0)),
        family="eu",
    ),
    "eu-gr": RegionFormat("eu-gr", _f(("LLL DDDD", 1.0)), letters="ABEHIKMNOPTXYZ", family="eu"),
    "eu-lu": RegionFormat("eu-lu", _f(("LL DDDD", 1.0)), family="eu"),
    # --- two-row plates ("/" is the row break; the label is the top row, then the bottom)
    "ar-moto": RegionFormat("ar-moto", _f(("L DDD / LLL", 1.0)), family="mercosur-moto"),
    "br-moto": RegionFormat("br-moto", _f(("LLL / DLDD", 1.0)), family="mercosur-moto"),
    "ar-old-moto": RegionFormat("ar-old-moto", _f(("DDD / LLL", 1.0)), family="old-moto"),
    "br-old-moto": RegionFormat("br-old-moto", _f(("LLL / DDDD", 1.0)), family="old-moto"),
    "eu-de-2row": RegionFormat(
        "eu-de-2row",
        _f(
            ("L / LL DDD", 1.0),
            ("LL / LL DDD", 2.0),
            ("LLL / L DDD", 1.0),
            ("LL / L DDDD", 1.0),
            ("LLL / LL DD", 1.0),
        ),
        letters=_DE_LETTERS,
        family="eu-2row",
    ),
    "eu-fr-2row": RegionFormat(
        "eu-fr-2row", _f(("LL / DDD LL", 1.0)), letters=_FR_LETTERS, family="eu-2row"
    ),
    "eu-it-2row": RegionFormat(
        "eu-it-2row", _f(("LL / DDDDD", 1.0)), letters=_IT_LETTERS, family="eu-2row"
    ),
    "eu-cz-2row": RegionFormat(
        "eu-cz-2row", _f(("DLD / DDDD", 1.0)), letters=_CZ_LETTERS, family="eu-2row"
    ),
    "eu-no-2row": RegionFormat("eu-no-2row", _f(("LL / DDDDD", 1.0)), family="eu-2row"),
}

REGIONS: tuple[str, ...] = tuple(REGION_FORMATS)

# Many countries, not mainly the US: a reader trained on these reads plates of every region
# it is shown. Sums to 1.05: generate._normalise_weights normalises (us 42%).
DEFAULT_REGION_WEIGHTS: dict[str, float] = {
    "us": 0.44,
    # Mercosur one-row (0.14)
    "ar": 0.06,
    "br": 0.05,
    "uy": 0.015,
    "py": 0.015,
    # old South American one-row (0.18)
    "ar-old": 0.12,
    "br-old": 0.06,
    # Europe one-row, 18 countries (0.15)
    "eu-de": 0.016,
    "eu-fr": 0.013,
    "eu-it": 0.013,
    "eu-es": 0.011,
    "eu-nl": 0.009,
    "eu-pl": 0.009,
    "eu-be": 0.008,
    "eu-at": 0.008,
    "eu-ch": 0.008,
    "eu-cz": 0.007,
    "eu-pt": 0.007,
    "eu-se": 0.006,
    "eu-no": 0.006,
    "eu-dk": 0.006,
    "eu-fi": 0.006,
    "eu-ie": 0.006,
    "eu-gr": 0.006,
    "eu-lu": 0.005,
    "uk": 0.03,
    # two-row (0.11)
    "ar-moto": 0.02,
    "br-moto": 0.015,
    "ar-old-moto": 0.02,
    "br-old-moto": 0.015,
    "eu-de-2row": 0.01,
    "eu-fr-2row": 0.008,
    "eu-it-2row": 0.008,
    "eu-cz-2row": 0.007,
    "eu-no-2row": 0.007,
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
        if spec == ROW_BREAK:
            groups.append(ROW_BREAK)
            continue
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
