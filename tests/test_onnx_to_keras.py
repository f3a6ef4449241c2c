"""Rebuilding a trainable Keras model from an exported ONNX file (batch norms folded away)."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")
onnxruntime = pytest.importorskip("onnxruntime")
pytest.importorskip("tf2onnx")

from plate_ocr_pipeline.models import build_model  # noqa: E402
from plate_ocr_pipeline.onnx_to_keras import keras_from_onnx  # noqa: E402
from plate_ocr_pipeline.pipelines.export.nodes import convert_keras_to_onnx  # noqa: E402
from plate_ocr_pipeline.plate_config import PlateConfig  # noqa: E402
from tests.test_ctc_head import CTC_KNOBS  # noqa: E402

DENSE_KNOBS = {"width_multiplier": 0.25, "row_context": 3}


def _with_trained_looking_norms(model, seed: int):
    """Batch norms with statistics and scales far from the identity, as after training, so
    that folding them into the convs changes the kernels."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            size = layer.gamma.shape[0]
            layer.set_weights([rng.uniform(0.5, 2.0, size), rng.normal(0, 0.5, size),
                               rng.normal(0, 0.5, size), rng.uniform(0.2, 3.0, size)])  # fmt: skip
    return model


@pytest.mark.parametrize("knobs", [CTC_KNOBS, DENSE_KNOBS], ids=["ctc", "dense"])
def test_the_rebuilt_model_gives_the_onnx_files_outputs(tmp_path, plate_params, knobs):
    config = PlateConfig.from_dict(plate_params)
    keras.utils.set_random_seed(11)
    original = _with_trained_looking_norms(build_model(config, "cnn", **knobs), seed=11)
    path = tmp_path / "model.onnx"
    path.write_bytes(
        convert_keras_to_onnx(original, config.to_dict(), opset=17).SerializeToString()
    )
    images = np.random.default_rng(11).integers(0, 256, (48, 64, 128, 1), dtype=np.uint8)

    rebuilt = keras_from_onnx(build_model(config, "cnn", **knobs), str(path), images[:32])

    # Crops it was not calibrated on: the same slots as the original Keras model.
    held_out = images[32:]
    np.testing.assert_allclose(
        rebuilt.predict(held_out, verbose=0), original.predict(held_out, verbose=0), atol=1e-4
    )
    # Its batch norms hold the calibration crops' statistics of each conv's output.
    stem_out = keras.Model(rebuilt.input, rebuilt.get_layer("stem_conv").output)
    outputs = stem_out.predict(images[:32], verbose=0).reshape(
        -1, rebuilt.get_layer("stem_conv").filters
    )
    np.testing.assert_allclose(rebuilt.get_layer("stem_bn").moving_mean.numpy(), outputs.mean(0),
                               rtol=1e-3, atol=1e-4)  # fmt: skip
    # It saves and loads as any trained model (what init_from / transfer_from read).
    rebuilt.save(tmp_path / "rebuilt.keras")
    assert keras.saving.load_model(tmp_path / "rebuilt.keras", compile=False).count_params() == (
        original.count_params()
    )


def test_another_architecture_is_refused(tmp_path, plate_params):
    config = PlateConfig.from_dict(plate_params)
    model = build_model(config, "cnn", **CTC_KNOBS)
    path = tmp_path / "model.onnx"
    path.write_bytes(convert_keras_to_onnx(model, config.to_dict(), opset=17).SerializeToString())
    images = np.zeros((4, 64, 128, 1), np.uint8)
    wider = {**CTC_KNOBS, "width_multiplier": 0.5}
    with pytest.raises(ValueError, match=r"layer stage1_0_conv needs a \(3, 3, 8, 24\) kernel"):
        keras_from_onnx(build_model(config, "cnn", **wider), str(path), images)
    with pytest.raises(ValueError, match="not its architecture"):
        keras_from_onnx(build_model(config, "cnn", **DENSE_KNOBS), str(path), images)


def test_the_shipped_model_rebuilds_from_its_recipe():
    """`make keras-member NAME=shipped` with no ARCH_ENV: the script's default environment
    must describe the shipped model, or fine-tuning it starts from nothing."""
    import csv

    from plate_ocr_pipeline import ONNXPlateRecognizer
    from plate_ocr_pipeline.image_preprocessing import load_and_preprocess
    from plate_ocr_pipeline.text_codec import decode_with_confidence
    from tests.conftest import REPO_ROOT, load_script

    script = load_script("keras_from_onnx")
    model = script.rebuild(str(script.SHIPPED), script.SHIPPED_ARCHITECTURE, calibration_plates=32)

    samples = REPO_ROOT / "src" / "plate_ocr_pipeline" / "assets" / "samples"
    with open(samples / "labels.csv", newline="") as handle:
        paths = [samples / row["image_path"] for row in csv.DictReader(handle)]
    reader = ONNXPlateRecognizer(threads=1)
    images = np.stack([load_and_preprocess(path, reader.config) for path in paths])
    texts = [
        text for text, _ in decode_with_confidence(model.predict(images, verbose=0), reader.config)
    ]
    assert texts == reader.run(paths)
