"""The reader (``training.reader``): numpy greedy CTC decoding and plate confidences on
hand-made logits, the temperature fit, the region-family head on a tiny two-line CTC model,
and the reader's ONNX export read back by the recognizer."""

from __future__ import annotations

import re

import numpy as np
import pytest
import yaml

keras = pytest.importorskip("keras")

from plate_ocr_pipeline.core.onnx_metadata import (  # noqa: E402
    REGION_FAMILIES_KEY,
    TEMPERATURE_KEY,
)
from plate_ocr_pipeline.core.plate_config import PlateConfig  # noqa: E402
from plate_ocr_pipeline.core.text_codec import (  # noqa: E402
    decode_predictions,
    decode_with_confidence,
)
from plate_ocr_pipeline.training.models import build_model  # noqa: E402
from plate_ocr_pipeline.training.params import ReaderParams  # noqa: E402
from plate_ocr_pipeline.training.reader import (  # noqa: E402
    COLUMNS_OUTPUT,
    PLATE_OUTPUT,
    REGION_OUTPUT,
    TEMPERATURES,
    _column_logits,
    build_reader,
    families_of,
    feature_model,
    fit_reader,
    fit_region_head,
    fit_temperature,
    greedy_ctc,
    plate_confidences,
    region_family,
    with_columns_output,
)
from tests.conftest import REPO_ROOT  # noqa: E402

REGIONS = np.array(["us-ca", "ar-old", "eu-de", "br"] * 3)
FAMILIES = ["ar-old", "eu", "mercosur", "us"]


@pytest.fixture(scope="module")
def config() -> PlateConfig:
    with open(REPO_ROOT / "conf/base/parameters_plate.yml", encoding="utf-8") as handle:
        return PlateConfig.from_dict(yaml.safe_load(handle)["plate"])


@pytest.fixture(scope="module")
def model(config) -> keras.Model:
    """A tiny untrained two-line CTC model; its logits scaled up so that its readings vary
    and their characters are well above uniform probability."""
    keras.utils.set_random_seed(0)
    model = build_model(
        config,
        "cnn",
        head="ctc",
        head_units=16,
        text_lines=2,
        row_context=7,
        pool_sizes=[[2, 2], [2, 1], [2, 1]],
        width_multiplier=0.25,
    )
    for line in range(2):
        layer = model.get_layer(f"line{line}_logits")
        kernel, bias = layer.get_weights()
        layer.set_weights([kernel * 8.0, bias])
    return model


@pytest.fixture(scope="module")
def images(config) -> np.ndarray:
    shape = (len(REGIONS), *config.input_shape)
    return np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)


@pytest.fixture(scope="module")
def region_fit(model, images):
    """``fit_region_head`` on the random crops labelled with four regions of four families."""
    return fit_region_head(model, (images, REGIONS), (images[:4], REGIONS[:4]), epochs=2)


def column_logits(config: PlateConfig, rows: list[str], sure: float = 6.0) -> np.ndarray:
    """Logits ``(len(rows), columns, vocab)`` whose best class per column is the row's
    character there (``_`` the pad, CTC's blank); every other class at 0."""
    logits = np.zeros((len(rows), len(rows[0]), config.vocabulary_size), np.float32)
    for row, columns in enumerate(rows):
        for t, character in enumerate(columns):
            logits[row, t, config.alphabet.index(character)] = sure
    return logits


# ----------------------------------------------------------------------------- greedy_ctc


def test_greedy_ctc_collapses_runs_and_keeps_blank_separated_repeats(config):
    logits = column_logits(config, ["AA_A", "_BB_", "____", "C__C"])
    texts, positions = greedy_ctc(logits, config)
    assert texts == ["AA", "B", "", "CC"]
    a, c = config.alphabet.index("A"), config.alphabet.index("C")
    assert positions[0].tolist() == [[0, a], [3, a]]
    assert positions[1].tolist() == [[1, config.alphabet.index("B")]]
    assert positions[2].shape == (0, 2)
    assert positions[3].tolist() == [[0, c], [3, c]]


def test_greedy_ctc_drops_emissions_past_the_last_slot(config):
    logits = column_logits(config, ["0_1_2_3_4_5_6_7_8_9_A_B_C"])
    texts, positions = greedy_ctc(logits, config)
    assert texts == ["0123456789"]
    assert len(positions[0]) == config.max_plate_slots
    assert positions[0][:, 0].tolist() == list(range(0, 20, 2))


def test_greedy_ctc_reads_what_the_models_graph_decoding_reads(config, model, images):
    logits = _column_logits(model, images)
    texts, positions = greedy_ctc(logits, config)
    slots = model.predict(images, verbose=0)
    assert texts == decode_predictions(slots, config)
    assert len(set(texts)) > 1 and all(texts)
    # The per-character probabilities are those of the emitting columns.
    graph = [probs.mean() for _, probs in decode_with_confidence(slots, config)]
    np.testing.assert_allclose(plate_confidences(logits, positions, 1.0), graph, rtol=1e-5)


# ---------------------------------------------------------------------- plate_confidences


def test_plate_confidence_is_the_mean_probability_of_the_characters_read(config):
    logits = column_logits(config, ["A_B_", "CC__"])
    logits[0, 2, config.alphabet.index("8")] = 5.0  # B's column less sure
    _, positions = greedy_ctc(logits, config)
    vocab = config.vocabulary_size
    sure = np.exp(6.0) / (np.exp(6.0) + vocab - 1)
    shared = np.exp(6.0) / (np.exp(6.0) + np.exp(5.0) + vocab - 2)
    confidences = plate_confidences(logits, positions, 1.0)
    np.testing.assert_allclose(confidences, [(sure + shared) / 2, sure], rtol=1e-6)


def test_a_higher_temperature_lowers_a_confident_plates_confidence(config):
    logits = column_logits(config, ["A_B_"], sure=8.0)
    _, positions = greedy_ctc(logits, config)
    cold, warm, hot = (plate_confidences(logits, positions, t)[0] for t in (0.5, 1.0, 2.0))
    assert cold > warm > hot > 1.0 / config.vocabulary_size
    vocab = config.vocabulary_size
    assert hot == pytest.approx(np.exp(4.0) / (np.exp(4.0) + vocab - 1), rel=1e-6)


def test_a_plate_with_no_character_has_confidence_zero(config):
    logits = column_logits(config, ["____", "_A__"])
    _, positions = greedy_ctc(logits, config)
    confidences = plate_confidences(logits, positions, 1.0)
    assert confidences[0] == 0.0
    assert confidences[1] > 0.9


# ---------------------------------------------------------------------------- temperature


def test_fit_temperature_returns_a_grid_temperature_and_the_ece_report(config, model, images):
    read, _ = greedy_ctc(_column_logits(model, images), config)
    padded = [text.ljust(config.max_plate_slots, config.pad_char) for text in read]
    temperature, report = fit_temperature(model, images, padded, config)
    assert temperature in TEMPERATURES
    assert report["temperature"] == temperature
    assert report["calibration_plates"] == len(images)
    # Every reading right (pads stripped before comparing): the surest temperature wins.
    assert report["calibration_plate_acc"] == 1.0
    assert temperature == TEMPERATURES[0]
    assert report["val_ece_after"] <= report["val_ece_before"]


def test_fit_temperature_softens_a_model_that_is_always_wrong(config, model, images):
    temperature, report = fit_temperature(model, images, ["ZZZZ"] * len(images), config)
    assert report["calibration_plate_acc"] == 0.0
    assert temperature == TEMPERATURES[-1]
    assert report["val_ece_after"] < report["val_ece_before"]


# ------------------------------------------------------------------------------- families


@pytest.mark.parametrize(
    ("region", "family"),
    [("us-ca", "us"), ("us", "us"), ("eu-de", "eu"), ("ar-old", "ar-old"), ("ar", "mercosur"),
     ("eu-no-2row", "eu-2row"), (" br ", "mercosur"), ("xx", "xx"), ("", "")],
)  # fmt: skip
def test_region_family(region, family):
    assert region_family(region) == family


def test_families_of_are_sorted_and_skip_empty_regions():
    assert families_of(["us-ny", "", "br", "ar", "uk", "us-ca"]) == ["mercosur", "uk", "us"]


# ---------------------------------------------------------------------------- region head


def test_region_head_is_fitted_over_the_sorted_families(region_fit, model, images):
    model_of_fit = model
    head, families, report = region_fit
    assert isinstance(head, keras.Model)
    assert families == FAMILIES
    assert head.output_shape == (None, len(FAMILIES))
    assert report["region_families"] == len(FAMILIES)
    assert report["region_train_crops"] == len(REGIONS)
    # The report's accuracies are the fitted head's own, on the crops it was given.
    index = [families.index(region_family(r)) for r in REGIONS]
    predicted = head.predict(feature_model(model_of_fit).predict(images, verbose=0), verbose=0)
    right = predicted.argmax(axis=1) == np.array(index)
    assert report["region_train_acc"] == pytest.approx(right.mean())
    assert report["region_val_acc"] == pytest.approx(right[:4].mean())


def test_no_region_head_for_a_single_family(model, images):
    regions = np.array(["us-ca", "us-ny", "us", ""] * 3)
    head, families, report = fit_region_head(model, (images, regions), (images, regions))
    assert head is None
    assert families == ["us"]
    assert report == {"region_families": 1}


def test_rows_without_a_region_are_left_out_of_the_head_fit(model, images):
    regions = REGIONS.copy()
    regions[::3] = ""
    head, families, report = fit_region_head(
        model, (images, regions), (images[:4], regions[:4]), epochs=1
    )
    assert head is not None
    assert families == families_of(regions)
    assert report["region_train_crops"] == int((regions != "").sum())


@pytest.mark.parametrize(("balanced", "expected_us"), [(False, 0.75), (True, 0.5)])
def test_a_balanced_region_head_carries_no_prior_from_the_mix(model, images, balanced, expected_us):
    """One crop 16 times, 12 labelled us and 4 eu: the features cannot tell them apart, so
    the head learns only the prior, the mix's 3:1 or, balanced, even odds."""
    same = np.repeat(images[:1], 16, axis=0)
    regions = np.array(["us-ca"] * 12 + ["eu-de"] * 4)
    head, families, _ = fit_region_head(
        model, (same, regions), (same, regions), epochs=60, balanced=balanced
    )
    probs = head.predict(feature_model(model).predict(same[:1], verbose=0), verbose=0)[0]
    assert families == ["eu", "us"]
    assert probs[1] == pytest.approx(expected_us, abs=0.05)


# ------------------------------------------------------------------------------- reader


def test_a_temperature_keeps_the_texts_and_lowers_the_character_probabilities(
    config, model, images
):
    reader = build_reader(model, config, temperature=2.0, head=None)
    assert reader.output_names == [PLATE_OUTPUT, COLUMNS_OUTPUT]
    plate, columns = reader.predict(images, verbose=0)
    plain = decode_with_confidence(model.predict(images, verbose=0), config)
    warm = decode_with_confidence(plate, config)
    assert [t for t, _ in warm] == [t for t, _ in plain]
    for (_, before), (_, after) in zip(plain, warm, strict=True):
        assert (after < before).all()
    # Exactly the softmax of the logits divided by the temperature.
    logits = _column_logits(model, images)
    _, positions = greedy_ctc(logits, config)
    np.testing.assert_allclose(
        [p.mean() for _, p in warm], plate_confidences(logits, positions, 2.0), rtol=1e-5
    )
    # The columns output: the softmax of the same logits over the temperature.
    scaled = np.exp(logits / 2.0 - (logits / 2.0).max(-1, keepdims=True))
    np.testing.assert_allclose(columns, scaled / scaled.sum(-1, keepdims=True), atol=1e-5)


def test_a_reader_saved_without_columns_gets_them_once(config, model):
    reader = build_reader(model, config, temperature=2.0, head=None)
    old = keras.Model(reader.input, reader.outputs[0], name=reader.name)  # as saved before
    added = with_columns_output(old)
    assert added.output_names == [PLATE_OUTPUT, COLUMNS_OUTPUT]
    assert with_columns_output(added) is added


def test_a_reader_with_a_head_gives_plate_and_region_outputs(config, model, images, region_fit):
    head, families, _ = region_fit
    reader = build_reader(model, config, head=head)
    assert reader.output_names == [PLATE_OUTPUT, REGION_OUTPUT, COLUMNS_OUTPUT]
    plate, region, _ = reader.predict(images, verbose=0)
    assert plate.shape == (len(images), config.max_plate_slots, config.vocabulary_size)
    assert region.shape == (len(images), len(families))
    np.testing.assert_allclose(region.sum(-1), 1.0, rtol=1e-5)
    # Temperature 1: the plate output is the model's own.
    np.testing.assert_allclose(plate, model.predict(images, verbose=0), atol=1e-6)


def test_fit_reader_joins_a_region_head_and_the_temperature_fitted_on_the_splits(
    config, model, images
):
    """Every val reading labelled right: the surest temperature; four families: a head."""
    read, _ = greedy_ctc(_column_logits(model, images), config)
    split = {"images": images, "region": REGIONS, "plate_text": np.array(read)}
    reader, report = fit_reader(model, split, split, config, ReaderParams(region_epochs=1), seed=0)
    assert reader.output_names == [PLATE_OUTPUT, REGION_OUTPUT, COLUMNS_OUTPUT]
    assert report["region_families"] == FAMILIES
    assert report["temperature"] == TEMPERATURES[0]
    plate, region, _ = reader.predict(images, verbose=0)
    assert region.shape == (len(images), len(FAMILIES))
    assert [t for t, _ in decode_with_confidence(plate, config)] == read


def test_fit_reader_without_head_or_calibration_is_the_model_itself(config, model, images):
    split = {"images": images, "region": REGIONS, "plate_text": np.array(["ZZZZ"] * len(images))}
    params = ReaderParams(region_head=False, calibrate=False)
    reader, report = fit_reader(model, split, split, config, params)
    assert report == {"region_families": [], "temperature": 1.0}
    assert reader.output_names == [PLATE_OUTPUT, COLUMNS_OUTPUT]
    np.testing.assert_allclose(
        reader.predict(images, verbose=0)[0], model.predict(images, verbose=0), atol=1e-6
    )


# ------------------------------------------------------------------------------- export


def test_the_exported_reader_matches_keras_and_the_recognizer_reads_its_regions(
    config, model, images, region_fit
):
    from plate_ocr_pipeline.inference.recognizer import ONNXPlateRecognizer
    from plate_ocr_pipeline.training.export import check_onnx_parity, export_onnx, onnx_session

    head, families, _ = region_fit
    reader = build_reader(model, config, temperature=2.0, head=head)
    onnx_model = export_onnx(
        reader, config, extra_metadata={REGION_FAMILIES_KEY: families, TEMPERATURE_KEY: 2.0}
    )
    report = check_onnx_parity(reader, onnx_model, images, 16, 1e-4)
    assert report["passed"] and report["images"] == len(images)
    outputs = ["plate", "region", "columns"]
    assert [o.name for o in onnx_session(onnx_model).get_outputs()] == outputs

    recognizer = ONNXPlateRecognizer(onnx_model.SerializeToString())
    assert recognizer.region_families == families
    results = recognizer.run_detailed(images)
    plate, region, _ = reader.predict(images, verbose=0)
    # The model's own readings (this untrained model is unsure enough that format-aware
    # decoding rewrites its texts).
    assert [r.raw_text for r in results] == decode_predictions(plate, config)
    for result, probs in zip(results, region, strict=True):
        assert result.region in families
        assert result.region == families[int(probs.argmax())]
        assert 0.0 <= result.region_prob <= 1.0
        assert result.region_prob == pytest.approx(float(probs.max()), abs=1e-5)
    # With an old Argentine hint, each plate whose columns fit a format reads as one, at
    # whatever length the model's own (10-character) readings had: the columns decide.
    hinted = ONNXPlateRecognizer(onnx_model.SerializeToString(), region_hint=["ar-old"])
    fitted = [r for r in hinted.run_detailed(images) if r.format_fit]
    assert fitted and all(re.fullmatch("[A-Z]{3}[0-9]{3}", r.text) for r in fitted)
    assert any(len(r.text) != len(r.raw_text) for r in fitted)


def test_unknown_regions_are_unlabelled():
    """ingest fills a missing region with "unknown": no family to learn."""
    assert region_family("unknown") == region_family("") == ""
