"""An ensemble in one graph (``train.model.members``): towers on one input, read as the
average of their column probabilities; each has its own CTC loss and the average one more."""

from __future__ import annotations

import logging

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from plate_ocr_pipeline.core.plate_config import PlateConfig  # noqa: E402
from plate_ocr_pipeline.core.text_codec import decode_with_confidence, one_hot_encode  # noqa: E402
from plate_ocr_pipeline.training.losses import CTCSlotLoss, CTCSlotMetric  # noqa: E402
from plate_ocr_pipeline.training.models import (  # noqa: E402
    COLUMN_LOGITS_LAYER,
    MEMBER_LOGITS_LAYER,
    build_model,
    column_logits_view,
    training_view,
)
from plate_ocr_pipeline.training.params import TrainParams  # noqa: E402
from plate_ocr_pipeline.training.reader import greedy_ctc  # noqa: E402
from plate_ocr_pipeline.training.trainer import transfer_weights  # noqa: E402
from tests.test_ctc_head import CTC_KNOBS, column_logits, resume_for_a_second_epoch  # noqa: E402
from tests.test_train_pipeline import fit, quick_train_params  # noqa: E402

# The recipe's shape (two text lines, a row-context conv), small.
PAIR_KNOBS = {**CTC_KNOBS, "members": 2, "text_lines": 2, "row_context": 3}


@pytest.fixture
def config(plate_params) -> PlateConfig:
    return PlateConfig.from_dict(plate_params)


def softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def member_logits(model, images: np.ndarray, member: int) -> np.ndarray:
    return training_view(model).predict(images, verbose=0)[:, member]


def test_an_ensemble_reads_the_greedy_decoding_of_its_members_mean_probabilities(config):
    keras.utils.set_random_seed(11)
    model = build_model(config, "cnn", **PAIR_KNOBS)
    # Two lines of 16 columns per member, top line first.
    assert tuple(training_view(model).output_shape) == (None, 2, 32, 37)
    assert tuple(column_logits_view(model).output_shape) == (None, 32, 37)
    assert tuple(column_logits_view(training_view(model)).output_shape) == (None, 32, 37)
    assert tuple(model.output_shape) == (None, 10, 37)
    # Two conv towers, one column head that reads both.
    weighted = {layer.name for layer in model.layers if layer.weights}
    towers = {name for name in weighted if name.startswith(("member0_", "member1_"))}
    assert weighted - towers == {"line0_hidden", "line0_logits", "line1_hidden", "line1_logits"}
    assert {name.replace("member1_", "member0_") for name in towers if "member1_" in name} == {
        name for name in towers if "member0_" in name
    }
    assert model.get_layer("member0_stem_conv").kernel.shape == (3, 3, 1, 8)
    assert not np.allclose(model.get_layer("member0_stem_conv").kernel.numpy(),
                           model.get_layer("member1_stem_conv").kernel.numpy())  # fmt: skip

    images = np.random.default_rng(11).integers(0, 256, (4, 64, 128, 1), dtype=np.uint8)
    mean = (softmax(member_logits(model, images, 0)) + softmax(member_logits(model, images, 1))) / 2
    averaged = column_logits_view(model).predict(images, verbose=0)
    np.testing.assert_allclose(softmax(averaged), mean, atol=1e-5)
    expected, _ = greedy_ctc(np.log(mean), config)
    texts = [text for text, _ in decode_with_confidence(model.predict(images, verbose=0), config)]
    assert texts == expected


def test_each_member_and_their_average_have_a_ctc_loss_and_the_metrics_read_the_average(config):
    # Three crops, two members: a loss reshaped the wrong way round cannot pass.
    targets = one_hot_encode(["44MWK", "AB", "7Q"], config)
    right = np.concatenate([column_logits(config, "_44_4MM__WWK____", sure=12.0),
                            column_logits(config, "AAA__B__________", sure=12.0),
                            column_logits(config, "_7___QQ_________", sure=12.0)])  # fmt: skip
    wrong = np.concatenate([column_logits(config, "_444_MM__WWK____", sure=3.0),
                            column_logits(config, "AAA__8__________", sure=3.0),
                            column_logits(config, "_1___QQ_________", sure=3.0)])  # fmt: skip
    loss = CTCSlotLoss(config.pad_index)
    stacked = np.stack([right, wrong], axis=1)
    average = np.log((softmax(right) + softmax(wrong)) / 2)
    np.testing.assert_allclose(
        np.asarray(loss.call(targets, stacked)),
        sum(np.asarray(loss.call(targets, logits)) for logits in (right, wrong, average)),
        rtol=1e-5,
    )
    # The sure member outweighs the unsure one in the average: the average reads right,
    # though one member alone reads every plate wrong.
    metric = CTCSlotMetric("plate_acc", config.max_plate_slots, config.pad_index)
    metric.update_state(targets, np.stack([right, wrong], axis=1))
    assert float(metric.result()) == pytest.approx(1.0)
    metric.reset_state()
    metric.update_state(targets, wrong)
    assert float(metric.result()) == pytest.approx(0.0)


def test_an_ensemble_trains_resumes_and_returns_a_slot_model(
    tmp_path, model_input, augmentation, plate_params
):
    checkpoints = tmp_path / "ckpt"
    params = quick_train_params(model=PAIR_KNOBS, checkpoints=checkpoints)
    model, first = fit(model_input, augmentation, plate_params, **params)
    assert tuple(model.output_shape) == (None, 10, 37)
    model.get_layer(COLUMN_LOGITS_LAYER)  # raises where the layer is missing
    assert np.isfinite(first["loss"]).all() and "val_plate_acc" in first
    # What was trained is the members' stacked logits, each with its own CTC loss and
    # their average with one more: the checkpoint ends there, and its loss is their sum.
    trained = keras.saving.load_model(checkpoints / "last.keras")
    assert trained.layers[-1].name == MEMBER_LOGITS_LAYER
    images, texts = model_input["images"][:6], model_input["plate_text"][:6]
    stacked = trained.predict(images, verbose=0)
    loss = CTCSlotLoss(PlateConfig.from_dict(plate_params).pad_index)
    targets = one_hot_encode(list(texts), PlateConfig.from_dict(plate_params))
    average = np.log((softmax(stacked[:, 0]) + softmax(stacked[:, 1])) / 2)
    np.testing.assert_allclose(
        np.asarray(loss.call(targets, stacked)),
        sum(
            np.asarray(loss.call(targets, logits))
            for logits in (*stacked.transpose(1, 0, 2, 3), average)
        ),
        rtol=1e-4,
    )
    # The checkpoint holds the members' stacked logits; a cut-off run resumes from it.
    resumed_model = resume_for_a_second_epoch(
        model_input, augmentation, plate_params, params, checkpoints, first
    )
    resumed_model.get_layer(MEMBER_LOGITS_LAYER)  # raises where the layer is missing
    probabilities = resumed_model.predict(model_input["images"][:3], verbose=0)
    np.testing.assert_allclose(probabilities.sum(-1), 1.0, rtol=1e-5)


def test_an_ensemble_reader_exports_to_onnx_with_both_members_features(config):
    onnxruntime = pytest.importorskip("onnxruntime")
    pytest.importorskip("tf2onnx")
    from plate_ocr_pipeline.training.export import export_onnx
    from plate_ocr_pipeline.training.reader import build_reader, feature_model, region_head

    keras.utils.set_random_seed(12)
    model = build_model(config, "cnn", **PAIR_KNOBS)
    features = feature_model(model)
    # Mean and max of each member's last map (32 channels at this width) and of its two
    # lines' hidden layers (16 units each); the shared input is not a member's map.
    assert features.output.shape[-1] == 2 * (2 * 32 + 2 * 2 * 16)
    # A call of a shared layer outside the model is not one of its members.
    model.get_layer("line0_hidden_act")(keras.Input((32, 16)))
    assert feature_model(model).output.shape[-1] == 2 * (2 * 32 + 2 * 2 * 16)
    reader = build_reader(model, config, 2.0, region_head(features.output.shape[-1], 3, 8))
    session = onnxruntime.InferenceSession(export_onnx(reader, config).SerializeToString())
    images = np.random.default_rng(12).integers(0, 256, (5, 64, 128, 1), dtype=np.uint8)
    names = [output.name for output in session.get_outputs()]
    for name, onnx_out, keras_out in zip(
        names, session.run(None, {"input": images}), reader.predict(images, verbose=0), strict=True
    ):
        np.testing.assert_allclose(onnx_out, keras_out, atol=1e-5, err_msg=name)


def test_members_need_the_ctc_head_of_the_cnn(config):
    with pytest.raises(ValueError, match="members"):
        build_model(config, "cnn", width_multiplier=0.25, head="dense", members=2)
    with pytest.raises(ValueError, match="members"):
        TrainParams(model={"type": "cct", "members": 2})
    with pytest.raises(ValueError, match="members"):
        TrainParams(model={"head": "dense", "members": 2})
    with pytest.raises(ValueError, match="members"):
        TrainParams(model={"head": "ctc", "members": 0})
    assert TrainParams(model={"head": "ctc", "members": 2}).model.builder_kwargs()["members"] == 2


def test_an_ensemble_quantises_to_int8_with_its_averaging_kept_float(config):
    onnxruntime = pytest.importorskip("onnxruntime")
    pytest.importorskip("tf2onnx")
    from plate_ocr_pipeline.training.export import export_onnx, quantize_static_int8

    keras.utils.set_random_seed(13)
    model = build_model(config, "cnn", **PAIR_KNOBS)
    fp32 = export_onnx(model, config)
    images = np.random.default_rng(13).integers(0, 256, (40, 64, 128, 1), dtype=np.uint8)
    int8 = quantize_static_int8(fp32, images[:32], batch_size=8)
    ops = [node.op_type for node in int8.graph.node]
    assert "QLinearConv" in ops and "Conv" not in ops
    tail = [node for node in int8.graph.node if "logits" in node.name]
    assert tail and not any(node.op_type.startswith("QLinear") for node in tail)
    slots = onnxruntime.InferenceSession(int8.SerializeToString()).run(None, {"input": images})
    np.testing.assert_allclose(slots[0].sum(-1), 1.0, rtol=1e-5)


def test_one_member_is_the_plain_model(config):
    keras.utils.set_random_seed(14)
    plain = build_model(config, "cnn", **CTC_KNOBS)
    keras.utils.set_random_seed(14)
    one = build_model(config, "cnn", **CTC_KNOBS, members=1)
    assert [layer.name for layer in one.layers] == [layer.name for layer in plain.layers]
    assert MEMBER_LOGITS_LAYER not in {layer.name for layer in one.layers}
    for a, b in zip(one.get_weights(), plain.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert "members" not in TrainParams(model={"head": "ctc", "members": 1}).model.builder_kwargs()


def test_transfer_between_one_member_and_two_warns_of_the_towers_left_random(config, caplog):
    """The towers are renamed per member, so only the shared head finds its namesake."""
    keras.utils.set_random_seed(15)
    donor = build_model(config, "cnn", **CTC_KNOBS)
    ensemble = build_model(config, "cnn", **CTC_KNOBS, members=2)
    with caplog.at_level(logging.WARNING, logger="plate_ocr_pipeline.training.trainer"):
        copied = transfer_weights(ensemble, donor)
    assert copied and not any(name.startswith("member") for name in copied)
    warning = next(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert "start from random weights" in warning
    assert "member0_stem_conv" in warning and "member1_stem_conv" in warning
    assert not any(name in warning.split(": ")[-1].split(", ") for name in copied)
    caplog.clear()
    keras.utils.set_random_seed(15)
    twin = build_model(config, "cnn", **CTC_KNOBS, members=2)
    transfer_weights(twin, ensemble)
    assert not [r for r in caplog.records if r.levelno == logging.WARNING]
