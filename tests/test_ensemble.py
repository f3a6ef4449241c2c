"""Ensemble stage: members' mean logits, loud errors, and an ONNX export that matches Keras."""

from __future__ import annotations

import numpy as np
import pytest

from plate_ocr_pipeline.models import build_cnn_model
from plate_ocr_pipeline.pipelines.ensemble import create_pipeline
from plate_ocr_pipeline.pipelines.ensemble.nodes import build_ensemble_model, select_members
from plate_ocr_pipeline.plate_config import PlateConfig
from plate_ocr_pipeline.text_codec import decode_predictions
from tests.plate_model_helpers import PLATE, TEXTS, build_memorising_keras, render_plate


@pytest.fixture(scope="module")
def crops() -> np.ndarray:
    return np.stack([render_plate(text)[..., None] for text in TEXTS])


@pytest.fixture(scope="module")
def members() -> dict:
    import keras

    keras.utils.set_random_seed(3)
    config = PlateConfig.from_dict(PLATE)
    untrained = build_cnn_model(config, filters=(8, 8), stem_filters=8, head_channels=8)
    return {"memorised": build_memorising_keras(config), "untrained": untrained}


def _logits(model, crops: np.ndarray) -> np.ndarray:
    import keras

    return np.asarray(keras.Model(model.input, model.get_layer("slots").output)(crops))


def test_ensemble_is_the_softmax_of_the_members_mean_logits(members, crops):
    ensemble = build_ensemble_model(members, PLATE)
    probabilities = np.asarray(ensemble.predict(crops, verbose=0))

    mean_logits = np.mean([_logits(m, crops) for m in members.values()], axis=0)
    expected = np.exp(mean_logits - mean_logits.max(axis=-1, keepdims=True))
    expected /= expected.sum(axis=-1, keepdims=True)
    np.testing.assert_allclose(probabilities, expected, atol=1e-5)
    # The memorising member's logits dominate the untrained one's: the texts still read.
    assert decode_predictions(probabilities, PlateConfig.from_dict(PLATE)) == list(TEXTS)


def test_a_one_member_ensemble_equals_the_member(members, crops):
    ensemble = build_ensemble_model({"memorised": members["memorised"]}, PLATE)
    np.testing.assert_allclose(
        ensemble.predict(crops, verbose=0),
        members["memorised"].predict(crops, verbose=0),
        atol=1e-6,
    )


def test_member_selection_names_what_is_missing():
    loaders = {"base": lambda: "base model", "candidate": lambda: "candidate model"}
    assert select_members(loaders, None) == {"base": "base model", "candidate": "candidate model"}
    assert list(select_members(loaders, ["candidate", "base"])) == ["candidate", "base"]
    with pytest.raises(ValueError, match=r"\['v9'\] not found among the saved models"):
        select_members(loaders, ["base", "v9"])
    with pytest.raises(ValueError, match="not found"):
        select_members({}, None)
    with pytest.raises(ValueError, match="twice"):
        select_members(loaders, ["base", "base"])


def test_a_member_for_another_plate_config_is_refused(members):
    wider = {**PLATE, "img_width": 160}
    with pytest.raises(ValueError, match="ensemble member 'memorised'.*do not match"):
        build_ensemble_model({"memorised": members["memorised"]}, wider)


def test_ensemble_onnx_export_matches_keras(members, crops):
    pytest.importorskip("tf2onnx")
    import onnxruntime as ort

    from plate_ocr_pipeline.pipelines.export import nodes as export_nodes

    ensemble = build_ensemble_model(members, PLATE)
    exported = export_nodes.convert_keras_to_onnx(ensemble, PLATE, opset=17)
    session = ort.InferenceSession(exported.SerializeToString(), providers=["CPUExecutionProvider"])
    onnx_probabilities = session.run(None, {session.get_inputs()[0].name: crops})[0]
    np.testing.assert_allclose(onnx_probabilities, ensemble.predict(crops, verbose=0), atol=1e-4)


def test_pipeline_feeds_the_ensemble_to_the_train_chains_stages():
    ensemble_pipeline = create_pipeline()
    free_inputs = ensemble_pipeline.inputs()
    assert "ensemble_member_models" in free_inputs
    assert "trained_model" not in free_inputs
    assert {
        "onnx_model",
        "evaluation_metrics",
        "benchmark_results",
    } <= ensemble_pipeline.all_outputs()


def test_ensemble_round_trips_through_the_keras_dataset(members, crops, tmp_path):
    from plate_ocr_pipeline.datasets import KerasModelDataset

    ensemble = build_ensemble_model(members, PLATE)
    dataset = KerasModelDataset(filepath=str(tmp_path / "ensemble.keras"))
    dataset.save(ensemble)
    reloaded = dataset.load()
    np.testing.assert_allclose(
        reloaded.predict(crops, verbose=0), ensemble.predict(crops, verbose=0), atol=1e-6
    )
