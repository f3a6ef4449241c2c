"""Model builders: documented shapes, one training step, save/reload, ONNX-friendly ops."""

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from plate_ocr_pipeline.core.plate_config import PlateConfig  # noqa: E402
from plate_ocr_pipeline.core.text_codec import one_hot_encode  # noqa: E402
from plate_ocr_pipeline.datasets import KerasModelDataset  # noqa: E402
from plate_ocr_pipeline.training.models import build_model  # noqa: E402

VARIANTS = [
    ("cnn", {"width_multiplier": 0.25}),
    ("cnn", {"width_multiplier": 0.25, "depth": 2}),
    (
        "cnn",
        {
            "width_multiplier": 0.25,
            "head": "ctc",
            "head_units": 64,
            "pool_sizes": [[2, 2], [2, 1], [2, 1]],
            "row_context": 7,
        },
    ),  # fmt: skip
    ("cnn", {"width_multiplier": 0.25, "row_context": 8}),
    ("cnn", {"width_multiplier": 0.25, "pool_sizes": [[2, 2], [2, 2], [2, 1]]}),
    ("cct", {"width_multiplier": 0.5, "depth": 1}),
]


@pytest.fixture
def config(plate_params):
    return PlateConfig.from_dict(plate_params)


@pytest.mark.parametrize(("model_type", "knobs"), VARIANTS)
def test_model_shape_and_one_training_step(config, model_type, knobs):
    keras.utils.set_random_seed(0)
    model = build_model(config, model_type, **knobs)
    assert model.input.dtype == "uint8"
    assert tuple(model.input_shape) == (None, 64, 128, 1)
    assert tuple(model.output_shape) == (None, 10, 37)
    images = np.random.default_rng(0).integers(0, 256, (4, 64, 128, 1), dtype=np.uint8)
    targets = one_hot_encode(["AB12", "XYZ987", "7", "ABCDEFGHIJ"], config)
    probs = model.predict(images, verbose=0)
    assert probs.shape == (4, 10, 37)
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-5)
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    before = [w.copy() for w in model.get_weights()]
    loss = model.train_on_batch(images, targets)
    assert np.isfinite(loss)
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights(), strict=True))


def test_rgb_and_other_sizes(plate_params):
    config = PlateConfig.from_dict(
        {
            **plate_params,
            "color_mode": "rgb",
            "img_height": 48,
            "img_width": 160,
            "max_plate_slots": 8,
        }
    )
    for model_type, knobs in VARIANTS:
        model = build_model(config, model_type, **knobs)
        assert tuple(model.input_shape) == (None, 48, 160, 3)
        assert tuple(model.output_shape) == (None, 8, 37)


def test_width_multiplier_is_the_size_knob(config):
    small = build_model(config, "cnn", width_multiplier=0.5).count_params()
    large = build_model(config, "cnn", width_multiplier=1.5, depth=2).count_params()
    assert large > 3 * small


def test_unknown_type_and_knob_fail(config):
    with pytest.raises(ValueError, match="model type"):
        build_model(config, "rnn")
    with pytest.raises(TypeError, match="widht_multiplier"):
        build_model(config, "cnn", widht_multiplier=2)
    with pytest.raises(ValueError, match="head 'mpl'"):
        build_model(config, "cnn", head="mpl")


def test_row_context_kernel_spans_the_requested_columns(config):
    model = build_model(config, "cnn", width_multiplier=0.25, row_context=8)
    assert model.get_layer("row_context_conv").kernel.shape[:2] == (1, 8)
    plain = build_model(config, "cnn", width_multiplier=0.25)
    assert "row_context_conv" not in [layer.name for layer in plain.layers]


def test_pool_sizes_keep_columns_in_the_last_stage(config):
    default = build_model(config, "cnn", width_multiplier=0.25)
    wide = build_model(config, "cnn", width_multiplier=0.25, pool_sizes=[[2, 2], [2, 2], [2, 1]])
    # 64x128 input, stride-2 stem: 4x8 after three 2x2 pools, 4x16 when the last keeps width.
    assert default.get_layer("stage3_0_act").output.shape[1:3] == (4, 8)
    assert wide.get_layer("stage3_0_act").output.shape[1:3] == (4, 16)
    with pytest.raises(ValueError, match="pool_sizes needs 3"):
        build_model(config, "cnn", pool_sizes=[[2, 2], [2, 1]])


def test_only_the_documented_heads_are_built(config):
    with pytest.raises(ValueError, match="head 'gru' is not one of"):
        build_model(config, "cnn", head="gru")


@pytest.mark.parametrize(("model_type", "knobs"), [VARIANTS[0], VARIANTS[2]])
def test_saved_model_reloads_and_predicts_the_same(tmp_path, config, model_type, knobs):
    model = build_model(config, model_type, **knobs)
    images = np.random.default_rng(1).integers(0, 256, (3, 64, 128, 1), dtype=np.uint8)
    expected = model.predict(images, verbose=0)
    dataset = KerasModelDataset(filepath=str(tmp_path / "sub" / "model.keras"))
    assert not dataset.exists()
    dataset.save(model)
    assert dataset.exists()
    assert "model.keras" in str(dataset._describe()["filepath"])
    reloaded = dataset.load()
    np.testing.assert_allclose(reloaded.predict(images, verbose=0), expected, atol=1e-6)


def test_cct_model_exports_to_onnx_with_the_same_outputs(config):
    """The transformer option (fast-plate-ocr's CCT family) trains above and exports here."""
    onnxruntime = pytest.importorskip("onnxruntime")
    pytest.importorskip("tf2onnx")
    from plate_ocr_pipeline.training.export import convert_keras_to_onnx

    keras.utils.set_random_seed(3)
    model = build_model(config, "cct", width_multiplier=0.5, depth=1)
    proto = convert_keras_to_onnx(model, config, opset=17)
    session = onnxruntime.InferenceSession(proto.SerializeToString())
    images = np.random.default_rng(3).integers(0, 256, (5, 64, 128, 1), dtype=np.uint8)
    np.testing.assert_allclose(
        session.run(None, {"input": images})[0], model.predict(images, verbose=0), atol=1e-5
    )


def test_transformer_uses_tanh_gelu_not_erf(config):
    """Exact GELU lowers to Erf/Erfc, which tf2onnx cannot export; the cct model must not."""
    import tensorflow as tf

    model = build_model(config, "cct", width_multiplier=0.5, depth=1)
    concrete = tf.function(model).get_concrete_function(tf.TensorSpec((1, 64, 128, 1), tf.uint8))
    op_types = {op.type for op in concrete.graph.get_operations()}
    assert not op_types & {"Erf", "Erfc"}
    assert "Tanh" in op_types
