"""Metric functions on hand-made arrays whose answers are worked out by hand."""

import numpy as np
import pytest

from plate_ocr_pipeline.core import metrics as m

ALPHABET = "0ABO_"  # indices: 0->'0', 1->A, 2->B, 3->O, 4->pad
PAD = 4


def one_hot(indices):
    return np.eye(len(ALPHABET), dtype=np.float32)[np.asarray(indices)]


def probs_for(indices, second=None):
    """Probabilities with ``indices`` most likely (0.6) and ``second`` next (0.3)."""
    indices = np.asarray(indices)
    out = np.full((*indices.shape, len(ALPHABET)), 0.1 / (len(ALPHABET) - 2), np.float32)
    second = np.asarray(second if second is not None else (indices + 1) % len(ALPHABET))
    np.put_along_axis(out, second[..., None], 0.3, axis=-1)
    np.put_along_axis(out, indices[..., None], 0.6, axis=-1)
    return out


# Truth: "AB__" and "O0A_"; predictions: "AB__" (all right) and "00B_" (2 of 4 slots wrong).
TRUE = np.array([[1, 2, 4, 4], [3, 0, 1, 4]])
PRED = np.array([[1, 2, 4, 4], [0, 0, 2, 4]])


def test_plate_and_cat_acc_count_every_slot_pads_included():
    y_true, y_pred = one_hot(TRUE), probs_for(PRED)
    assert m.plate_acc(y_true, y_pred) == pytest.approx(0.5)
    assert m.cat_acc(y_true, y_pred) == pytest.approx(6 / 8)


def test_indices_and_one_hot_give_the_same_answer():
    assert m.plate_acc(TRUE, PRED) == m.plate_acc(one_hot(TRUE), one_hot(PRED))
    assert m.cat_acc(TRUE, PRED) == pytest.approx(0.75)


def test_top_3_k_counts_truth_among_three_most_probable():
    # Second plate: slot 0 truth O(3), top3 = {0, pred+1=A, ...}. Build explicit ranks instead.
    y_pred = probs_for([[1, 2, 4, 4], [0, 0, 2, 4]], second=[[0, 0, 0, 0], [3, 1, 1, 0]])
    # Third choice of every slot is the lowest-index class among the 0.025 ties ("0", or
    # "A" where "0" is already ranked): slot (1,2) truth A is second -> hit.
    # Slot (1,0): truth O is second -> hit. All other slots are right at rank 1.
    assert m.top_3_k(TRUE, y_pred) == pytest.approx(1.0)
    # With k=1 it is cat_acc.
    assert m.top_k_acc(TRUE, y_pred, k=1) == pytest.approx(m.cat_acc(TRUE, y_pred))


def test_top_3_k_miss():
    probs = np.zeros((1, 1, 5), np.float32)
    probs[0, 0] = [0.4, 0.3, 0.2, 0.0, 0.1]  # top3 = 0, A, B
    assert m.top_3_k([[3]], probs) == 0.0  # truth O is 5th
    assert m.top_3_k([[2]], probs) == 1.0


def test_pad_aware_metrics_only_count_true_characters():
    # True characters: plate 1 has A,B (both right); plate 2 has O,0,A (only 0 right).
    assert m.char_acc(TRUE, PRED, PAD) == pytest.approx(3 / 5)
    # Plate 2's second choices: O where 0 was read for O (a hit at rank 2), O again where B
    # was read for A, whose third choice is then 0 (the lowest index among the ties): a miss.
    y_pred = probs_for(PRED, second=[[0, 0, 0, 0], [3, 1, 3, 0]])
    assert m.top_3_k_chars(TRUE, y_pred, PAD) == pytest.approx(4 / 5)
    assert m.char_acc(TRUE, y_pred, PAD) == pytest.approx(3 / 5)


def test_plate_len_acc_compares_lengths_after_stripping_pads():
    pred = np.array([[1, 1, 4, 4], [0, 4, 4, 4]])  # "AA" (len 2 = 2), "0" (len 1 != 3)
    assert m.plate_len_acc(TRUE, pred, PAD) == pytest.approx(0.5)


def test_equivalence_counts_o_and_zero_as_one():
    assert m.plate_acc(TRUE, PRED) == pytest.approx(0.5)
    pred = np.array([[1, 2, 4, 4], [0, 0, 1, 4]])  # "00A" for truth "O0A"
    assert m.plate_acc(TRUE, pred) == pytest.approx(0.5)
    assert m.plate_acc(TRUE, pred, ALPHABET, ["O0"]) == pytest.approx(1.0)
    assert m.cat_acc(TRUE, pred, ALPHABET, ["O0"]) == pytest.approx(1.0)
    assert m.char_acc(TRUE, pred, PAD, ALPHABET, ["O0"]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="alphabet"):
        m.plate_acc(TRUE, pred, None, ["O0"])


def test_plate_text_acc_strips_pads_wherever_predicted():
    pred = np.array([[1, 4, 2, 4], [3, 0, 1, 4]])  # "A_B_" decodes to "AB": text right
    assert m.plate_acc(TRUE, pred) == pytest.approx(0.5)
    assert m.plate_text_acc(TRUE, pred, PAD) == pytest.approx(1.0)


def test_compute_metrics_reports_exact_and_equivalent():
    values = m.compute_metrics(one_hot(TRUE), probs_for(PRED), ALPHABET, "_", ["O0"])
    assert values["plate_acc"] == pytest.approx(0.5)
    assert values["cat_acc"] == pytest.approx(0.75)
    assert values["plate_acc_eq"] == pytest.approx(0.5)  # plate 2 also has B for A
    assert values["num_plates"] == 2
    assert set(values) >= {"top_3_k", "char_acc", "plate_len_acc", "plate_text_acc_eq"}


def test_confusion_counts_rows_truth_columns_prediction():
    counts = m.confusion_counts(TRUE, PRED, len(ALPHABET))
    assert counts.sum() == 8
    assert counts[3, 0] == 1  # O read as 0
    assert counts[1, 2] == 1  # A read as B
    assert counts[4, 4] == 3
    assert np.trace(counts) == 6


def test_shape_mismatch_and_empty_input():
    with pytest.raises(ValueError, match="differ"):
        m.plate_acc(TRUE, PRED[:, :3])
    assert np.isnan(m.plate_acc(np.zeros((0, 4), int), np.zeros((0, 4), int)))


@pytest.mark.parametrize(
    ("truth", "prediction", "kind"),
    [
        ("267WJE", "267WJE", None),
        ("267WJE", "267JJE", "alignment"),  # J doubled into W's slot
        ("444MWK", "444KKK", "alignment"),  # K smeared over the two slots to its left
        ("ABCDEF", "ABCDEA", "character"),  # A is in the plate, but five slots away
        ("FGJ235", "FGGJ35", "alignment"),  # a shift: each wrong slot holds its left neighbour
        ("ABC123", "A8C123", "character"),
        ("ABC123", "BBC124", "character"),  # one neighbour copy, one misread: a character error
        ("AAA0000", "AAA000", "length"),
        ("548", "5480", "length"),
    ],
)
def test_error_kind_tells_counting_from_reading(truth, prediction, kind):
    assert m.error_kind(truth, prediction) == kind


def test_error_kind_shares_sum_with_text_accuracy_to_one():
    # Truth "AB__", "O0A_", "AB__", "BA__"; read as "AB__" (right), "00B_" (O and A misread:
    # character), "A___" (length), "AA__" (A doubled into B's slot: alignment).
    truth = np.array([[1, 2, 4, 4], [3, 0, 1, 4], [1, 2, 4, 4], [2, 1, 4, 4]])
    pred = np.array([[1, 2, 4, 4], [0, 0, 2, 4], [1, 4, 4, 4], [1, 1, 4, 4]])
    shares = m.error_kind_shares(truth, pred, PAD)
    assert shares == {"error_length": 0.25, "error_alignment": 0.25, "error_character": 0.25}
    values = m.compute_metrics(one_hot(truth), one_hot(pred), ALPHABET, "_")
    assert values["plate_text_acc"] + sum(shares.values()) == pytest.approx(1.0)
    assert values["error_alignment"] == 0.25


def test_plate_confidence_is_the_mean_of_the_read_characters_only():
    # "AB__" read at 0.6 and 0.9: 0.75 (the pads do not count); "00B_" at 0.6 each: 0.6.
    probs = probs_for(PRED)
    probs[0, 1] = 0.1 / (len(ALPHABET) - 1)
    probs[0, 1, 2] = 0.9
    np.testing.assert_allclose(m.plate_confidence(probs, PAD), [0.75, 0.6], rtol=1e-6)
    assert m.plate_confidence(one_hot([[4, 4, 4, 4]]), PAD).tolist() == [0.0]


def test_expected_calibration_error_by_hand():
    # Two bins: 0.36 right (gap 0.64) and 0.216 wrong (gap 0.216), half the plates each.
    assert m.expected_calibration_error([0.36, 0.216], [True, False]) == pytest.approx(0.428)
    # One bin: both plates at 0.6, one right: gap 0.1.
    # Reported at 0.75 and right 3 times in 4: calibrated.
    assert m.expected_calibration_error([0.75] * 4, [1, 1, 1, 0]) == pytest.approx(0.0)
    assert np.isnan(m.expected_calibration_error([], []))
    values = m.compute_metrics(one_hot(TRUE), probs_for(PRED), ALPHABET, "_", ["O0"])
    assert values["plate_ece"] == pytest.approx(0.1)
