"""The CTC head: greedy decoding into slots on hand-made logits, the CTC loss and metrics,
training, resuming and transferring a backbone, and the ONNX export."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from plate_ocr_pipeline.core.plate_config import PlateConfig  # noqa: E402
from plate_ocr_pipeline.core.text_codec import decode_with_confidence, one_hot_encode  # noqa: E402
from plate_ocr_pipeline.training.export import convert_keras_to_onnx  # noqa: E402
from plate_ocr_pipeline.training.losses import CTCSlotLoss, CTCSlotMetric  # noqa: E402
from plate_ocr_pipeline.training.models import (  # noqa: E402
    COLUMN_LOGITS_LAYER,
    CTCGreedySlots,
    build_model,
    column_logits_view,
)
from plate_ocr_pipeline.training.params import TrainParams  # noqa: E402
from tests.test_train_pipeline import fit, pretend_cut_off, quick_train_params  # noqa: E402

CTC_KNOBS = {"width_multiplier": 0.25, "head": "ctc", "head_units": 16,
             "pool_sizes": [[2, 2], [2, 2], [2, 1]]}  # fmt: skip


@pytest.fixture
def config(plate_params) -> PlateConfig:
    return PlateConfig.from_dict(plate_params)


def column_logits(config: PlateConfig, columns: str, sure: float = 8.0) -> np.ndarray:
    """Logits ``(1, len(columns), vocab)`` whose best class per column is the given
    character (``_`` is the pad, CTC's blank)."""
    logits = np.zeros((1, len(columns), config.vocabulary_size), np.float32)
    for t, character in enumerate(columns):
        logits[0, t, config.alphabet.index(character)] = sure
    return logits


def decode(config: PlateConfig, logits: np.ndarray) -> list[tuple[str, np.ndarray]]:
    slots = np.asarray(CTCGreedySlots(config.max_plate_slots, config.pad_index)(logits))
    return decode_with_confidence(slots, config)


def test_greedy_decoding_merges_repeats_and_keeps_blank_separated_doubles(config):
    # "44" needs a blank between the fours; runs of one class are one character.
    (text, _), = decode(config, column_logits(config, "_44_4MM__WWK____"))  # fmt: skip
    assert text == "44MWK"
    (text, _), = decode(config, column_logits(config, "________________"))  # fmt: skip
    assert text == ""
    (text, _), = decode(config, column_logits(config, "A_B"))  # fmt: skip
    assert text == "AB"


def test_greedy_decoding_drops_emissions_past_the_last_slot(config):
    (text, _), = decode(config, column_logits(config, "0123456789ABCDEF"))  # fmt: skip
    assert text == "0123456789"


def test_slot_probabilities_are_the_emitting_columns_and_sum_to_one(config):
    logits = column_logits(config, "_AA_B___", sure=3.0)
    slots = np.asarray(CTCGreedySlots(config.max_plate_slots, config.pad_index)(logits))
    np.testing.assert_allclose(slots.sum(-1), 1.0, rtol=1e-6)
    softmax = np.exp(logits[0]) / np.exp(logits[0]).sum(-1, keepdims=True)
    # Slot 0 holds the first A column (1), slot 1 the B column (4); the rest a sure pad.
    np.testing.assert_allclose(slots[0, 0], softmax[1], rtol=1e-6)
    np.testing.assert_allclose(slots[0, 1], softmax[4], rtol=1e-6)
    assert slots[0, 2:, config.pad_index].tolist() == [1.0] * (config.max_plate_slots - 2)
    (text, confidence), = decode_with_confidence(slots, config)  # fmt: skip
    assert text == "AB"
    np.testing.assert_allclose(confidence, [softmax[1].max(), softmax[4].max()], rtol=1e-6)


def test_ctc_model_gives_slots_and_its_column_view_gives_logits(config):
    model = build_model(config, "cnn", **CTC_KNOBS)
    assert tuple(model.output_shape) == (None, 10, 37)
    view = column_logits_view(model)
    assert view.layers[-1].name == COLUMN_LOGITS_LAYER
    assert tuple(view.output_shape) == (None, 16, 37)  # 128 px, stride-2 stem, 2 width pools
    assert column_logits_view(build_model(config, "cnn", width_multiplier=0.25)) is None


def test_ctc_loss_and_metrics_on_hand_made_logits(config):
    targets = one_hot_encode(["44MWK", "AB"], config)
    right = np.concatenate([column_logits(config, "_44_4MM__WWK____", sure=12.0),
                            column_logits(config, "AAA__B__________", sure=12.0)])  # fmt: skip
    # "4MWK" (the fours run together) and "A8".
    wrong = np.concatenate([column_logits(config, "_444_MM__WWK____", sure=12.0),
                            column_logits(config, "AAA__8__________", sure=12.0)])  # fmt: skip
    loss = CTCSlotLoss(config.pad_index)
    assert float(loss(targets, right)) < 0.01
    assert float(loss(targets, wrong)) > 5.0
    # Slots of "4MWK" against "44MWK": the first four and the last five pads agree (6 of 10);
    # "A8" against "AB": 9 of 10.
    for name, on_right, on_wrong in [("plate_acc", 1.0, 0.0), ("cat_acc", 1.0, 0.75)]:
        metric = CTCSlotMetric(name, config.max_plate_slots, config.pad_index)
        metric.update_state(targets, right)
        assert float(metric.result()) == pytest.approx(on_right)
        metric.reset_state()
        metric.update_state(targets, wrong)
        assert float(metric.result()) == pytest.approx(on_wrong)


def resume_for_a_second_epoch(model_input, augmentation, plate_params, params, checkpoints, first):
    """Cut off a finished one-epoch run, resume it for two epochs: the first epoch's figures
    come back as they were. Returns the resumed model."""
    pretend_cut_off(checkpoints)
    params.update(resume=True, epochs=2)
    resumed_model, resumed = fit(model_input, augmentation, plate_params, **params)
    assert list(resumed["epoch"]) == [1, 2]
    assert resumed.loc[0, "loss"] == pytest.approx(first.loc[0, "loss"])
    return resumed_model


def test_ctc_training_resumes_and_returns_a_slot_model(
    tmp_path, model_input, augmentation, plate_params
):
    checkpoints = tmp_path / "ckpt"
    params = quick_train_params(model=CTC_KNOBS, checkpoints=checkpoints)
    model, first = fit(model_input, augmentation, plate_params, **params)
    assert tuple(model.output_shape) == (None, 10, 37)
    assert np.isfinite(first["loss"]).all() and "val_plate_acc" in first
    # The checkpoint holds the trained column view; a cut-off run resumes from it.
    resumed_model = resume_for_a_second_epoch(
        model_input, augmentation, plate_params, params, checkpoints, first
    )
    assert tuple(resumed_model.output_shape) == (None, 10, 37)
    probabilities = resumed_model.predict(model_input["images"][:3], verbose=0)
    np.testing.assert_allclose(probabilities.sum(-1), 1.0, rtol=1e-5)


def test_transfer_from_seeds_the_backbone_of_a_new_head(
    tmp_path, model_input, augmentation, plate_params, config
):
    keras.utils.set_random_seed(5)
    donor = build_model(config, "cnn", width_multiplier=0.25,
                        pool_sizes=[[2, 2], [2, 2], [2, 1]])  # fmt: skip
    params = quick_train_params(model=CTC_KNOBS, start="transfer", epochs=1,
                                learning_rate=1e-9, warmup_epochs=0)  # fmt: skip
    model, _ = fit(model_input, augmentation, plate_params, starting_model=donor, **params)
    # A learning rate of 1e-9: the stem is still the donor's (BatchNorm statistics move).
    np.testing.assert_allclose(
        model.get_layer("stem_conv").kernel.numpy(),
        donor.get_layer("stem_conv").kernel.numpy(),
        atol=1e-6,
    )
    unrelated = build_model(config, "cct", width_multiplier=0.5, depth=1)
    with pytest.raises(ValueError, match="no layer of the starting model .* matches"):
        fit(model_input, augmentation, plate_params, starting_model=unrelated,
            **quick_train_params(model=CTC_KNOBS, start="transfer"))  # fmt: skip


def test_a_typo_in_the_start_mode_fails_at_validation():
    with pytest.raises(ValueError, match="start"):
        TrainParams(start="finetune")


def test_model_knobs_the_builder_would_refuse_fail_at_validation():
    """What build_model refuses only after rendering and preprocessing fails at start."""
    cases = {
        "type cct takes no head, head_units": {"type": "cct", "head": "ctc", "head_units": 64},
        "type cnn takes no embed_dim": {"embed_dim": 32},
        "stem_filters for type cct is a list": {"type": "cct", "stem_filters": 16},
        "stem_filters for type cnn is one channel count": {"stem_filters": [16, 32]},
        "depth for type cnn must be at least 1": {"depth": 0},
        "filters must be positive": {"filters": [16, 0]},
        "pool_sizes needs 3 .* got \\[\\[2, 2\\]\\]": {"pool_sizes": [[2, 2]]},
        "pool_sizes needs 1 ": {"filters": [16, 32], "pool_sizes": [[2, 0]]},
    }
    for message, model in cases.items():
        with pytest.raises(ValueError, match=message):
            TrainParams(model=model)
    TrainParams(model={"type": "cct", "stem_filters": [16, 32], "depth": 0, "embed_dim": 32})
    TrainParams(model={"filters": [16, 32], "pool_sizes": [[2, 1]], "head": "ctc"})


def test_a_warmup_as_long_as_the_run_fails_at_validation():
    with pytest.raises(
        ValueError, match=r"warmup_epochs \(2\S*\) must be under train.epochs \(2\)"
    ):
        TrainParams(epochs=2)
    assert TrainParams(epochs=1, warmup_epochs=0).epochs == 1
    assert TrainParams(epochs=3, warmup_epochs=2.5).warmup_epochs == 2.5


def test_a_misspelt_monitor_fails_at_validation():
    """Keras would only warn, leaving early stopping and the best-epoch restore off."""
    assert TrainParams(monitor="val_loss").monitor == "val_loss"
    with pytest.raises(ValueError, match="monitor"):
        TrainParams(monitor="val_plate_ac")


@pytest.mark.parametrize(
    ("monitor", "mode"),
    [("val_plate_acc", "max"), ("val_top_3_k", "max"), ("top_3_k", "max"), ("val_loss", "min")],
)
def test_early_stopping_and_the_plateau_follow_the_monitor_the_right_way(monitor, mode):
    """Accuracies (top_3_k, whose name has no "acc", too) are maximised, losses minimised."""
    from plate_ocr_pipeline.training import trainer

    params = TrainParams(monitor=monitor, lr_schedule="plateau")
    callbacks = trainer._callbacks(params, monitor, 10, None, {}, {})
    watching = [c for c in callbacks if getattr(c, "monitor", None) == monitor]
    assert len(watching) == 2  # early stopping and the plateau schedule
    assert [callback.mode for callback in watching] == [mode, mode]


def test_ctc_model_exports_to_onnx_with_the_same_slots(config):
    onnxruntime = pytest.importorskip("onnxruntime")
    pytest.importorskip("tf2onnx")
    keras.utils.set_random_seed(4)
    model = build_model(config, "cnn", **CTC_KNOBS)
    proto = convert_keras_to_onnx(model, config, opset=17)
    assert "Bitcast" not in {node.op_type for node in proto.graph.node}
    session = onnxruntime.InferenceSession(proto.SerializeToString())
    images = np.random.default_rng(4).integers(0, 256, (6, 64, 128, 1), dtype=np.uint8)
    onnx_slots = session.run(None, {"input": images})[0]
    keras_slots = model.predict(images, verbose=0)
    np.testing.assert_allclose(onnx_slots, keras_slots, atol=1e-5)
    assert (onnx_slots.argmax(-1) == keras_slots.argmax(-1)).all()


def test_a_ctc_checkpoint_exports_with_its_slot_decoding(tmp_path, config, plate_params):
    onnxruntime = pytest.importorskip("onnxruntime")
    from tests.conftest import load_script

    keras.utils.set_random_seed(7)
    model = build_model(config, "cnn", **CTC_KNOBS)
    column_logits_view(model).save(tmp_path / "last.keras")  # what a CTC run checkpoints
    path = load_script("export_checkpoint").export_checkpoint(
        tmp_path / "last.keras", tmp_path / "ckpt.onnx", plate_params
    )
    session = onnxruntime.InferenceSession(str(path))
    images = np.random.default_rng(7).integers(0, 256, (3, 64, 128, 1), dtype=np.uint8)
    np.testing.assert_allclose(
        session.run(None, {"input": images})[0], model.predict(images, verbose=0), atol=1e-5
    )
    # As a .keras file: the slot model the train stage saves, with the checkpoint's weights.
    from plate_ocr_pipeline.datasets.keras_model_dataset import KerasModelDataset

    kept = load_script("export_checkpoint").export_checkpoint(
        tmp_path / "last.keras", tmp_path / "trained" / "plate_ocr.keras", plate_params
    )
    trained = KerasModelDataset(filepath=str(kept)).load()
    assert trained.name == model.name
    np.testing.assert_allclose(
        trained.predict(images, verbose=0), model.predict(images, verbose=0), atol=1e-6
    )


TWO_LINE_KNOBS = {**CTC_KNOBS, "text_lines": 2}


def test_a_two_line_head_reads_the_top_line_then_the_bottom_line(config):
    model = build_model(config, "cnn", **TWO_LINE_KNOBS)
    view = column_logits_view(model)
    assert tuple(view.output_shape) == (None, 32, 37)  # 16 columns per line, top line first
    # Logits that ignore the image: every top-line column says A, every bottom-line one B.
    for line, character in [(0, "A"), (1, "B")]:
        dense = model.get_layer(f"line{line}_logits")
        kernel, bias = dense.get_weights()
        bias = np.zeros_like(bias)
        bias[config.alphabet.index(character)] = 10.0
        dense.set_weights([np.zeros_like(kernel), bias])
    images = np.zeros((2, 64, 128, 1), np.uint8)
    texts = [text for text, _ in decode_with_confidence(model.predict(images, verbose=0), config)]
    assert texts == ["AB", "AB"]


def test_two_lines_need_the_ctc_head_and_at_most_two_lines(config):
    with pytest.raises(ValueError, match="ctc head"):
        build_model(config, "cnn", width_multiplier=0.25, head="dense", text_lines=2)
    with pytest.raises(ValueError, match="text_lines"):
        build_model(config, "cnn", **{**CTC_KNOBS, "text_lines": 3})
    with pytest.raises(ValueError, match="text_lines"):
        TrainParams(model={"text_lines": 3})


def test_a_two_line_model_exports_to_onnx_with_the_same_slots(config):
    onnxruntime = pytest.importorskip("onnxruntime")
    pytest.importorskip("tf2onnx")
    keras.utils.set_random_seed(5)
    model = build_model(config, "cnn", **TWO_LINE_KNOBS)
    session = onnxruntime.InferenceSession(
        convert_keras_to_onnx(model, config, opset=17).SerializeToString()
    )
    images = np.random.default_rng(5).integers(0, 256, (6, 64, 128, 1), dtype=np.uint8)
    np.testing.assert_allclose(
        session.run(None, {"input": images})[0], model.predict(images, verbose=0), atol=1e-5
    )


def test_a_two_line_model_trains_with_ctc(model_input, plate_params):
    keras.utils.set_random_seed(3)
    params = quick_train_params(model=TWO_LINE_KNOBS, epochs=1, augmentation=False)
    model, history = fit(model_input, None, plate_params, **params)  # built from train.model
    # The same fit from a model whose start is known moves the second line's logits.
    start = build_model(PlateConfig.from_dict(plate_params), "cnn", **TWO_LINE_KNOBS)
    before = keras.ops.convert_to_numpy(start.get_layer("line1_logits").kernel).copy()
    tuned, _ = fit(model_input, None, plate_params, starting_model=start,
                   **{**params, "start": "fine_tune"})  # fmt: skip
    assert not np.array_equal(
        before, keras.ops.convert_to_numpy(tuned.get_layer("line1_logits").kernel)
    )
    assert model.get_layer("line1_logits").kernel.shape[-1] == 37
    assert tuple(model.output_shape) == (None, 10, 37)
    assert np.isfinite(history["loss"]).all()


def test_bf16_training_keeps_float32_logits_and_returns_a_float32_model(model_input, plate_params):
    from plate_ocr_pipeline.training.trainer import dtype_policy, float32_copy

    config = PlateConfig.from_dict(plate_params)
    with dtype_policy("mixed_bfloat16"):
        mixed = build_model(config, "cnn", **TWO_LINE_KNOBS)
    assert keras.config.dtype_policy().name == "float32"  # restored after the block
    assert mixed.get_layer("line0_hidden").compute_dtype == "bfloat16"
    for name in ("line0_logits", "line1_logits", COLUMN_LOGITS_LAYER, "plate"):
        assert mixed.get_layer(name).compute_dtype == "float32"
    images = model_input["images"][:4]
    copy = float32_copy(mixed)
    assert {layer.compute_dtype for layer in copy.layers if layer.weights} == {"float32"}
    for a, b in zip(mixed.get_weights(), copy.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)

    # bf16 keeps 8 bits of mantissa: the two agree on the column probabilities to about
    # 1e-2. (The slots are greedy CTC decodings of them: an untrained model's near-even
    # columns may decode to another character on a rounding.)
    def columns(model: keras.Model) -> np.ndarray:
        logits = column_logits_view(model).predict(images, verbose=0)
        return keras.ops.convert_to_numpy(keras.ops.softmax(logits))

    np.testing.assert_allclose(columns(copy), columns(mixed), atol=0.05)

    with dtype_policy("mixed_bfloat16"):
        dense = build_model(config, "cnn", **{**CTC_KNOBS, "head": "dense"})
    assert dense.get_layer("head_dense").compute_dtype == "float32"
    assert dense.get_layer("slots").compute_dtype == "float32"  # no bf16 rounding of logits
    with pytest.raises(ValueError, match="fine_tune"):
        TrainParams(start="fine_tune", precision="mixed_bfloat16")

    params = quick_train_params(
        model=TWO_LINE_KNOBS, epochs=1, augmentation=False, precision="mixed_bfloat16"
    )
    model, history = fit(model_input, None, plate_params, **params)
    assert np.isfinite(history["loss"]).all()
    assert {layer.compute_dtype for layer in model.layers if layer.weights} == {"float32"}
    probabilities = model.predict(images, verbose=0)
    assert probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(-1), 1.0, rtol=1e-5)
    onnxruntime = pytest.importorskip("onnxruntime")
    pytest.importorskip("tf2onnx")
    proto = convert_keras_to_onnx(model, config, opset=17)
    assert "bfloat16" not in str(proto.graph)  # a plain float32 graph
    session = onnxruntime.InferenceSession(proto.SerializeToString())
    np.testing.assert_allclose(session.run(None, {"input": images})[0], probabilities, atol=1e-5)


def test_the_schemas_per_type_knobs_are_the_builders():
    """training.params lists which knobs only one model type takes without importing the
    builders (they load Keras): the lists must stay what the builders' signatures say."""
    import inspect

    from plate_ocr_pipeline.training import models, params

    cnn = set(inspect.signature(models.build_cnn_model).parameters) - {"config", "name"}
    cct = set(inspect.signature(models.build_cct_model).parameters) - {"config", "name"}
    assert set(params.CNN_ONLY) == cnn - cct
    assert set(params.CCT_ONLY) == cct - cnn
    default_filters = inspect.signature(models.build_cnn_model).parameters["filters"].default
    assert len(default_filters) == params.DEFAULT_CNN_STAGES
