"""Format-aware decoding (``core.plate_formats``): the shipped family data files, kept in step
with the synthetic generator's formats, and the choice of the most probable reading that fits
a likely family's format, on hand-made slot probabilities."""

from __future__ import annotations

from importlib import resources

import numpy as np
import pytest
import yaml

from plate_ocr_pipeline.core.plate_formats import (
    DIGITS,
    LETTERS,
    ROW_BREAK,
    best_fitting_paths,
    family_hint,
    fit_columns,
    fit_formats,
    fit_slots,
    parse_family,
    read_by_format,
    shipped_formats,
)
from plate_ocr_pipeline.synthetic.formats import REGION_FORMATS
from tests.plate_model_helpers import column_probs

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_"
SHIPPED_FAMILIES = {
    *("ar-old", "br-old", "mercosur", "mercosur-moto", "old-moto", "uk", "eu", "eu-2row")
}


def slot_probs(text: str, mass: dict[tuple[int, str], float] | None = None) -> np.ndarray:
    """``(len(text), 37)`` probabilities: ``mass[(position, char)]`` where given, 1e-5 on
    every other class, and the rest (the most) on ``text``'s character: rows sum to 1."""
    probs = np.full((len(text), len(ALPHABET)), 1e-5)
    for (position, character), value in (mass or {}).items():
        probs[position, ALPHABET.index(character)] = value
    for position, character in enumerate(text):
        probs[position, ALPHABET.index(character)] = 0.0
        probs[position, ALPHABET.index(character)] = 1.0 - probs[position].sum()
    assert (probs.argmax(-1) == [ALPHABET.index(c) for c in text]).all()
    return probs


def chosen_probs(probs: np.ndarray, text: str) -> np.ndarray:
    return probs[np.arange(len(text)), [ALPHABET.index(c) for c in text]]


def pattern_classes(pattern: str) -> str:
    """The character classes of a pattern in reading order (``"DDD / LLL"`` -> ``DDDLLL``)."""
    return "".join(group for group in pattern.split() if group != ROW_BREAK)


def formats_files() -> dict[str, dict]:
    """The shipped data files as parsed YAML, by file name."""
    folder = resources.files("plate_ocr_pipeline") / "assets" / "formats"
    return {
        entry.name: yaml.safe_load(entry.read_text("utf-8"))
        for entry in folder.iterdir()
        if entry.name.endswith((".yaml", ".yml"))
    }


# --------------------------------------------------------------------------- shipped data


def test_shipped_formats_hold_every_format_family_and_not_the_us():
    families = shipped_formats()
    assert set(families) >= SHIPPED_FAMILIES
    assert "us" not in families
    for name, family in families.items():
        assert family.family == name
        assert family.patterns, name


def test_every_generated_pattern_and_letter_is_allowed_by_its_family_file():
    """Pin: what the synthetic generator draws for each non-US region fits its family's data
    file, position by position."""
    families = shipped_formats()
    checked = 0
    for region, fmt in REGION_FORMATS.items():
        if fmt.family == "us":
            continue
        assert fmt.family in families, f"{region}: no data file for family {fmt.family}"
        patterns = dict(families[fmt.family].patterns)
        for groups, _ in fmt.formats:
            pattern = " ".join(groups)
            assert pattern in patterns, f"{region}: {pattern!r} missing from {fmt.family}"
            allowed = patterns[pattern]
            classes = pattern_classes(pattern)
            assert len(allowed) == len(classes)
            for position, (cls, characters) in enumerate(zip(classes, allowed, strict=True)):
                if cls == "L":
                    missing = set(fmt.letters) - set(characters)
                    assert not missing, f"{region} {pattern!r} @{position}: {sorted(missing)}"
                elif cls == "D":
                    assert set(characters) == set(DIGITS)
            checked += 1
    assert checked >= 40


def test_every_region_of_the_data_files_is_a_generator_region_with_the_same_formats():
    """Pin the other way: a region of a data file exists in ``REGION_FORMATS`` with the
    file's family, the generator's patterns and letters."""
    seen = set()
    for name, data in formats_files().items():
        for region, spec in data["regions"].items():
            assert region in REGION_FORMATS, f"{name}: {region} is not a generator region"
            fmt = REGION_FORMATS[region]
            assert fmt.family == data["family"], f"{name}: {region} is in {fmt.family}"
            assert set(spec["formats"]) == {" ".join(groups) for groups, _ in fmt.formats}
            assert set(spec.get("letters", LETTERS)) == set(fmt.letters), region
            seen.add(region)
    non_us = {r for r, fmt in REGION_FORMATS.items() if fmt.family != "us"}
    assert seen == non_us


# ---------------------------------------------------------------------------- fit_formats


def test_a_letter_read_as_a_digit_is_corrected_to_the_families_format():
    probs = slot_probs("0PJ120", {(0, "O"): 0.3})
    reading = fit_formats(probs, ALPHABET, {"ar-old": 1.0})
    assert reading.text == "OPJ120"
    assert reading.changed and reading.fits
    assert (reading.family, reading.pattern) == ("ar-old", "LLL DDD")
    np.testing.assert_allclose(reading.char_probs, chosen_probs(probs, "OPJ120"), rtol=1e-6)
    assert reading.char_probs[0] == pytest.approx(0.3, rel=1e-6)


def test_a_digit_read_as_a_letter_is_corrected_to_the_second_best_digit():
    probs = slot_probs("KYQ2I6", {(4, "1"): 0.2, (4, "7"): 0.1})
    reading = fit_formats(probs, ALPHABET, {"ar-old": 1.0})
    assert reading.text == "KYQ216"
    assert reading.changed
    np.testing.assert_allclose(reading.char_probs, chosen_probs(probs, "KYQ216"), rtol=1e-6)


def test_a_reading_no_format_fits_keeps_the_raw_text_and_is_flagged():
    probs = slot_probs("AB123", {(2, "I"): 0.3})
    reading = fit_formats(probs, ALPHABET, {"ar-old": 1.0})
    assert reading.text == "AB123"
    assert not reading.fits and not reading.changed
    assert reading.family is None and reading.pattern is None
    np.testing.assert_allclose(reading.char_probs, chosen_probs(probs, "AB123"), rtol=1e-6)


def test_a_family_without_formats_keeps_the_raw_reading():
    probs = slot_probs("0PJ120", {(0, "O"): 0.45})
    reading = fit_formats(probs, ALPHABET, {"us": 1.0})
    assert reading.text == "0PJ120"
    assert reading.fits and not reading.changed
    assert (reading.family, reading.pattern) == ("us", None)


def test_a_family_of_zero_probability_is_not_considered():
    probs = slot_probs("0PJ120", {(0, "O"): 0.3})
    reading = fit_formats(probs, ALPHABET, {"us": 0.0, "ar-old": 1.0})
    assert (reading.text, reading.family) == ("OPJ120", "ar-old")


def test_a_weak_reading_is_corrected_when_the_format_family_outweighs_the_us():
    """The prior ratio against the two characters' probability ratio decides: 0.8/0.2 beats
    0.55/0.45, not 1/1e-6."""
    weak = slot_probs("0PJ120", {(0, "O"): 0.45})
    reading = fit_formats(weak, ALPHABET, {"us": 0.2, "ar-old": 0.8})
    assert (reading.text, reading.family, reading.changed) == ("OPJ120", "ar-old", True)
    # A sure character is not replaced (it would cost more than max_cost): the likely
    # family's format does not fit, so the raw reading is kept and flagged.
    sure = slot_probs("0PJ120", {(0, "O"): 1e-6})
    reading = fit_formats(sure, ALPHABET, {"us": 0.2, "ar-old": 0.8})
    assert (reading.text, reading.family, reading.fits) == ("0PJ120", None, False)
    fairly_sure = slot_probs("0PJ120", {(0, "O"): 1e-4})  # O costs ln(1e4) = 9.2 nats
    assert fit_formats(fairly_sure, ALPHABET, {"ar-old": 1.0}).fits is False
    assert fit_formats(fairly_sure, ALPHABET, {"ar-old": 1.0}, max_cost=10.0).text == "OPJ120"


@pytest.mark.parametrize("o_probability", [1e-6, 0.45])
def test_an_even_us_prior_keeps_the_raw_reading(o_probability):
    """The US's raw reading takes each position's best character, so it scores at least as
    high as any format's reading: a format wins only where its family is more likely, however
    close the format's character came (0.45) or not (1e-6)."""
    probs = slot_probs("0PJ120", {(0, "O"): o_probability})
    reading = fit_formats(probs, ALPHABET, {"us": 0.5, "ar-old": 0.5})
    assert (reading.text, reading.family, reading.changed) == ("0PJ120", "us", False)


def test_a_us_reading_writes_its_letter_o_as_0_and_other_families_keep_it():
    """US labels write the letter O as 0: a reader that tells the glyphs apart reads O, and a
    reading the US wins is written as the US labels are. The same O stays on an old
    Argentine plate, and a plate no family claims keeps the raw text."""
    probs = slot_probs("OPJ120")
    us = fit_formats(probs, ALPHABET, {"us": 0.9, "ar-old": 0.1})
    assert (us.text, us.family, us.fits, us.changed) == ("0PJ120", "us", True, True)
    assert fit_formats(probs, ALPHABET, {"us": 0.1, "ar-old": 0.9}).text == "OPJ120"
    assert fit_formats(probs, ALPHABET, {}).text == "OPJ120"
    # Through the search as well: an even hint, and no old Argentine format of 4 characters.
    mixed = fit_formats(slot_probs("OP12"), ALPHABET, {"ar-old": 0.5, "us": 0.5})
    assert (mixed.text, mixed.family) == ("0P12", "us")
    # An even hint reads the same whatever its order: the fitting format family first.
    for hint in ({"us": 0.5, "ar-old": 0.5}, {"ar-old": 0.5, "us": 0.5}):
        reading = fit_formats(probs, ALPHABET, hint)
        assert (reading.text, reading.family) == ("OPJ120", "ar-old")
        columns = column_probs(list("O_P_J_1_2_0"), alphabet=ALPHABET)
        assert fit_columns(columns, ALPHABET, len(ALPHABET) - 1, hint).text == "OPJ120"


def test_the_families_written_o_as_0_are_those_whose_labels_write_it():
    from plate_ocr_pipeline.core.plate_formats import ZERO_FOR_O_FAMILIES

    labelled = {fmt.family for fmt in REGION_FORMATS.values() if fmt.label_map.get("O") == "0"}
    assert labelled == ZERO_FOR_O_FAMILIES


def test_a_two_row_pattern_fits_the_reading_of_both_rows():
    probs = slot_probs("382EMY")
    reading = fit_formats(probs, ALPHABET, {"old-moto": 1.0})
    assert reading.text == "382EMY"
    assert reading.fits and not reading.changed
    assert (reading.family, reading.pattern) == ("old-moto", "DDD / LLL")


def test_a_pattern_the_alphabet_cannot_write_does_not_fit():
    digits = "0123456789_"
    probs = np.full((6, len(digits)), 1 / len(digits))
    reading = fit_formats(probs, digits, {"ar-old": 1.0})
    assert not reading.fits


# --------------------------------------------------------------------------- parse_family


def test_regions_sharing_a_pattern_allow_the_union_of_their_letters():
    family = parse_family(
        {
            "family": "test",
            "regions": {
                "one": {"letters": "AB", "formats": ["LL DDD"]},
                "two": {"letters": "CD", "formats": ["LL DDD", "DDD L"]},
            },
        }
    )
    patterns = dict(family.patterns)
    assert set(patterns) == {"LL DDD", "DDD L"}
    assert patterns["LL DDD"][:2] == ("ABCD", "ABCD")
    assert set(patterns["LL DDD"][2]) == set(DIGITS)
    assert patterns["DDD L"][3] == "CD"
    # The union is what decoding chooses from: C (second best) replaces E (not allowed).
    probs = slot_probs("EB123", {(0, "C"): 0.2})
    reading = fit_formats(probs, ALPHABET, {"test": 1.0}, formats={"test": family})
    assert reading.text == "CB123"


def test_a_region_without_letters_allows_every_letter():
    family = parse_family({"family": "f", "regions": {"r": {"formats": ["L / D"]}}})
    assert dict(family.patterns)["L / D"] == (LETTERS, DIGITS)


def test_a_bad_class_letter_is_an_error_naming_the_source_and_the_pattern():
    with pytest.raises(ValueError, match=r"broken\.yaml.*LLQ"):
        parse_family({"family": "f", "regions": {"r": {"formats": ["LLQ"]}}}, "broken.yaml")


@pytest.mark.parametrize(
    "data",
    [{"family": "f"}, {"regions": {}}, None, {"family": "f", "regions": {"r": None}}],
    ids=["no-regions", "no-family", "empty-file", "empty-region"],
)
def test_a_mapping_that_is_not_a_formats_file_is_an_error_naming_the_source(data):
    with pytest.raises(ValueError, match="broken.yaml: not a formats file"):
        parse_family(data, "broken.yaml")


# ---------------------------------------------------------------------------- family_hint


def test_a_hint_is_a_uniform_prior_over_its_families():
    assert family_hint(["ar-old", " mercosur "]) == {"ar-old": 0.5, "mercosur": 0.5}
    assert family_hint(["uk"], known=["uk", "eu"]) == {"uk": 1.0}


def test_a_hint_naming_unknown_families_is_an_error_naming_them():
    with pytest.raises(ValueError, match=r"\['xx', 'yy'\]"):
        family_hint(["uk", "yy", "xx"], known=["uk", "eu"])


@pytest.mark.parametrize("families", [[], ["", "  "]])
def test_an_empty_hint_is_an_error(families):
    with pytest.raises(ValueError, match="at least one family"):
        family_hint(families)


def test_a_hint_repeating_a_family_is_still_a_distribution():
    assert family_hint(["ar-old", "ar-old", "mercosur"]) == {"ar-old": 0.5, "mercosur": 0.5}


def test_nan_family_probabilities_are_no_candidates():
    probs = slot_probs("0PJ120", {(0, "O"): 0.45})
    reading = fit_formats(probs, ALPHABET, {"br-old": float("nan"), "ar-old": 1.0})
    assert (reading.text, reading.family) == ("OPJ120", "ar-old")
    raw = fit_formats(probs, ALPHABET, {"ar-old": float("nan")})
    assert (raw.text, raw.fits) == ("0PJ120", False)


def test_a_uniform_hint_does_not_depend_on_its_order():
    probs = slot_probs("ABC12")  # fits no Mercosur format; the US keeps the reading
    for order in (["us", "mercosur"], ["mercosur", "us"]):
        reading = fit_formats(probs, ALPHABET, family_hint(order))
        assert (reading.text, reading.family, reading.fits) == ("ABC12", "us", True)


def test_fit_slots_reads_the_characters_before_the_pad_slots():
    # An old Argentine plate in 10 slots, its 0 read as O: the pad slots are no characters.
    slots = slot_probs("ABCO12____", {(3, "0"): 0.3})
    reading = fit_slots(slots, ALPHABET.index("_"), ALPHABET, {"ar-old": 1.0})
    assert reading.text == "ABC012" and reading.changed and reading.family == "ar-old"
    same = fit_formats(slots[:6], ALPHABET, {"ar-old": 1.0})
    assert (reading.text, reading.pattern) == (same.text, same.pattern)


BLANK = ALPHABET.index("_")


def test_columns_that_fit_keep_the_greedy_reading_at_no_cost():
    probs = column_probs(list("__AA_B_CC__1_22__3__"))
    reading = fit_columns(probs, ALPHABET, BLANK, {"ar-old": 1.0})
    assert (reading.text, reading.fits, reading.changed) == ("ABC123", True, False)
    masks = np.array([[[c == x for c in ALPHABET] for x in "ABC123"]])
    scores, chars, starts = best_fitting_paths(np.log(probs), masks, BLANK)
    greedy = np.log(probs.max(-1)).sum()
    assert scores[0] == pytest.approx(greedy)
    assert "".join(ALPHABET[i] for i in chars[0]) == "ABC123"
    assert starts[0].tolist() == [2, 5, 7, 11, 13, 17]  # each character's first column


def test_a_character_the_greedy_path_dropped_is_read_where_the_format_needs_it():
    # The last digit at the crop's edge: blank 0.7, 3 only 0.3. An Argentine plate has 3.
    probs = column_probs(list("__AA_B_CC__1_22__") + [{"_": 0.7, "3": 0.3}])
    reading = fit_columns(probs, ALPHABET, BLANK, {"ar-old": 1.0})
    assert (reading.text, reading.fits, reading.changed) == ("ABC123", True, True)
    assert reading.char_probs[-1] == pytest.approx(0.3, abs=0.01)
    # A US plate has no formats: the greedy reading stays.
    assert fit_columns(probs, ALPHABET, BLANK, {"us": 1.0}).text == "ABC12"


def test_a_frame_read_as_a_character_is_dropped_and_a_sure_one_never_is():
    frame = [{"C": 0.6, "_": 0.4}]
    probs = column_probs(frame + list("_NN_Y_SS__0_0__6_"))
    assert fit_columns(probs, ALPHABET, BLANK, {"ar-old": 1.0}).text == "NYS006"
    sure = column_probs(["C"] + list("_NN_Y_SS__0_0__6_"))  # 0.99: over ln 1000 to drop
    reading = fit_columns(sure, ALPHABET, BLANK, {"ar-old": 1.0})
    assert (reading.text, reading.fits) == ("CNYS006", False)


def test_columns_choose_between_hinted_families_by_length():
    probs = column_probs(list("_A_D_9_7_9_") + [{"_": 0.8, "E": 0.2}] + list("_A_"))
    reading = fit_columns(probs, ALPHABET, BLANK, {"ar-old": 0.5, "mercosur": 0.5})
    assert (reading.text, reading.family) == ("AD979EA", "mercosur")


def test_read_by_format_searches_the_columns_only_where_the_slots_fit_no_format():
    # The slots dropped the last digit (ABC12 fits no old Argentine format); the columns
    # still hold it at 0.3.
    slots = slot_probs("ABC12_____")
    columns = column_probs(list("__AA_B_CC__1_22__") + [{"_": 0.7, "3": 0.3}])
    hint = {"ar-old": 1.0}
    assert read_by_format(slots, columns, BLANK, ALPHABET, hint).text == "ABC123"
    without_columns = read_by_format(slots, None, BLANK, ALPHABET, hint)
    assert (without_columns.text, without_columns.fits) == ("ABC12", False)
    # Slots that fit are read from the slots, though the columns would read another text.
    fitting = read_by_format(slot_probs("ABC124____"), columns, BLANK, ALPHABET, hint)
    assert (fitting.text, fitting.fits) == ("ABC124", True)


def test_patterns_of_several_lengths_in_one_search_score_as_searched_apart():
    probs = column_probs(list("_A_D_9_7_9_") + [{"_": 0.8, "E": 0.2}] + list("_A_"))
    log_probs = np.log(probs)

    def mask(pattern: str) -> np.ndarray:
        sets = {"L": LETTERS, "D": DIGITS}
        return np.array([[c in sets[kind] for c in ALPHABET] for kind in pattern])

    patterns = ["LLDDDLL", "LLDDDL", "LLL"]
    padded = np.zeros((3, 7, len(ALPHABET)), bool)
    for row, pattern in enumerate(patterns):
        padded[row, : len(pattern)] = mask(pattern)
    scores, chars, starts = best_fitting_paths(log_probs, padded, BLANK, [7, 6, 3])
    for row, pattern in enumerate(patterns):
        alone = best_fitting_paths(log_probs, mask(pattern)[None], BLANK)
        assert scores[row] == alone[0][0]
        assert chars[row, : len(pattern)].tolist() == alone[1][0].tolist()
        assert starts[row, : len(pattern)].tolist() == alone[2][0].tolist()
        assert (chars[row, len(pattern) :] == 0).all()
    texts = ["".join(ALPHABET[i] for i in chars[r, :n]) for r, n in enumerate([7, 6, 3])]
    assert texts[:2] == ["AD979EA", "AD979A"]
    assert len(texts[2]) == 3 and scores[2] < scores[0] < scores[1]  # E is less sure than blank


def test_merging_runs_of_sure_blank_columns_changes_no_reading(monkeypatch):
    """The column search merges runs of columns where the blank is sure into one column
    (fewer steps); on random plates it reads what the search over every column reads: text,
    family, pattern and probabilities."""
    from plate_ocr_pipeline.core import plate_formats

    rng = np.random.default_rng(3)
    cases = []
    for _ in range(60):
        pattern = ["LLLDDD", "LLDDDLL", "LLDDDD"][int(rng.integers(3))]
        text = "".join(rng.choice(list(LETTERS if k == "L" else DIGITS)) for k in pattern)
        spec = []
        for character in text:
            spec += ["_"] * int(rng.integers(1, 4))
            # Some characters unsure: dropped for the blank, or read as a look-alike.
            unsure = {"_": 0.5, character: 0.3, "0": 0.1, "O": 0.1}
            spec += [unsure if rng.random() < 0.2 else character] * int(rng.integers(1, 3))
        probs = column_probs(spec, columns=48) * rng.uniform(0.5, 1.0, (48, len(ALPHABET)))
        families = rng.dirichlet(np.ones(4))
        priors = dict(zip(["ar-old", "mercosur", "eu", "us"], families.tolist(), strict=True))
        cases.append((probs / probs.sum(-1, keepdims=True), priors))

    def readings():
        return [fit_columns(p, ALPHABET, BLANK, f) for p, f in cases]

    merged = readings()
    monkeypatch.setattr(
        plate_formats, "_merge_sure_blanks", lambda lp, blank, cost: (lp, np.arange(len(lp)))
    )
    for full, quick in zip(readings(), merged, strict=True):
        assert (quick.text, quick.family, quick.pattern, quick.fits) == (
            full.text,
            full.family,
            full.pattern,
            full.fits,
        )
        np.testing.assert_allclose(quick.char_probs, full.char_probs, rtol=1e-6)
    assert sum(r.changed for r in merged) > 5  # the search did change readings
