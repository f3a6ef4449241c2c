import numpy as np
import pytest

from plate_ocr_pipeline.core.plate_config import PlateConfig
from plate_ocr_pipeline.core.text_codec import (
    decode_predictions,
    decode_with_confidence,
    describe_characters,
    encode_text,
    invalid_characters,
    normalise_text,
    one_hot_encode,
    texts_equal,
    texts_match,
)


@pytest.fixture
def config(plate_params):
    return PlateConfig.from_dict(plate_params)


def test_encode_pads_to_slots(config):
    encoded = encode_text("AB1", config)
    assert encoded.shape == (10,)
    assert list(encoded[:3]) == [10, 11, 1]
    assert (encoded[3:] == config.pad_index).all()


def test_one_hot_shape_and_round_trip(config):
    texts = ["ABC1234", "7", "ZZZZZZZZZZ"]
    targets = one_hot_encode(texts, config)
    assert targets.shape == (3, 10, 37)
    assert targets.dtype == np.float32
    assert (targets.sum(axis=-1) == 1).all()
    assert decode_predictions(targets, config) == texts


def test_decode_strips_pad_and_reports_confidence(config):
    probabilities = np.full((1, 10, 37), 0.001, np.float32)
    for slot, index in enumerate([10, 36, 11] + [36] * 7):
        probabilities[0, slot, index] = 0.9 - slot * 0.01
    # A pad in the middle is stripped too: what is left is the plate text.
    [(text, confidence)] = decode_with_confidence(probabilities, config)
    assert text == "AB"
    np.testing.assert_allclose(confidence, [0.9, 0.88], rtol=1e-6)
    assert decode_predictions(probabilities[0], config) == ["AB"]


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", "empty"),
        ("AB-1", "outside the alphabet"),
        ("A_B", "outside"),
        ("A" * 11, "longer than"),
    ],
)
def test_encode_rejects_bad_text(config, text, error):
    with pytest.raises(ValueError, match=error):
        encode_text(text, config)


def test_decode_checks_output_shape(config):
    with pytest.raises(ValueError, match="does not match"):
        decode_predictions(np.zeros((1, 9, 37)), config)


def test_normalise_and_equivalence():
    assert normalise_text(" ab-12 3 ") == "AB123"
    assert normalise_text("ab 1", uppercase=False, drop_characters="") == "ab 1"
    assert texts_equal("OO1", "001", equivalences=["O0"])
    assert not texts_equal("OO1", "001")


def test_texts_match_pairs_texts_with_their_truths():
    texts, truths = ["OO1", "AB12", 123], ["001", "AB12", "123"]
    assert texts_match(texts, truths) == [False, True, True]
    assert texts_match(texts, truths, ["O0"]) == [True, True, True]
    with pytest.raises(ValueError):
        texts_match(["A"], ["A", "B"])


@pytest.mark.parametrize(
    ("text", "kept", "described"),
    [
        ("straße", "STRAßE", "'ß' (U+00DF LATIN SMALL LETTER SHARP S; upper case 'SS', not one"),
        ("ﬁ12", "ﬁ12", "'ﬁ' (U+FB01 LATIN SMALL LIGATURE FI; upper case 'FI', not one letter)"),
        ("ıst1", "ıST1", "'ı' (U+0131 LATIN SMALL LETTER DOTLESS I; upper case 'I', a different"),
        ("ſ7", "ſ7", "'ſ' (U+017F LATIN SMALL LETTER LONG S; upper case 'S', a different"),
    ],
)
def test_upper_casing_never_changes_length_or_letters(config, text, kept, described):
    """Unicode upper-cases ß to SS and ﬁ to FI: normalising keeps such characters as written,
    so the text keeps its length and the alphabet check refuses it, naming the character."""
    assert normalise_text(text) == kept and len(normalise_text(text)) == len(text)
    bad = invalid_characters(normalise_text(text), config)
    assert describe_characters(bad).startswith(described)
    # Letters with a one-to-one upper case are still upper-cased; ASCII is named as before.
    assert normalise_text("äb-1") == "ÄB1" and describe_characters("#!") == "'#!'"
