"""Export: Keras -> ONNX parity, metadata round trip, INT8 copy, and the exported file read
back by the recognizer. One tiny Keras model (weights solved to read three texts)."""

from __future__ import annotations

import cv2
import numpy as np
import onnx
import onnxruntime
import pandas as pd
import pytest
from kedro.io.core import DatasetError

from plate_ocr_pipeline.core.onnx_metadata import (
    PLATE_CONFIG_KEY,
    plate_config_from_metadata,
    read_metadata,
)
from plate_ocr_pipeline.core.plate_config import PlateConfig
from plate_ocr_pipeline.datasets.onnx_model_dataset import ONNXModelDataset
from plate_ocr_pipeline.inference.recognizer import ONNXPlateRecognizer
from plate_ocr_pipeline.pipelines.export import nodes
from plate_ocr_pipeline.training import export
from tests.conftest import image_files, load_script
from tests.plate_model_helpers import (
    PLATE,
    TEXTS,
    build_memorising_keras,
    build_memorising_onnx,
    column_logits,
    render_plate,
)

pytest.importorskip("tf2onnx")


@pytest.fixture(scope="module")
def keras_model():
    return build_memorising_keras(PlateConfig.from_dict(PLATE))


@pytest.fixture(scope="module")
def exported(keras_model) -> onnx.ModelProto:
    return nodes.export_onnx_model(
        keras_model,
        {"temperature": 1.0, "region_families": []},  # a reader without a region head
        {"opset": 17, "model_name": "tiny", "model_version": "7"},
        PLATE,
    )


@pytest.fixture(scope="module")
def test_split(tmp_path_factory) -> pd.DataFrame:
    folder = tmp_path_factory.mktemp("plates")
    rows = []
    for i, text in enumerate(TEXTS * 2):
        path = folder / f"{i}.png"
        cv2.imwrite(str(path), cv2.resize(render_plate(text), (192, 96)))
        rows.append(
            {
                "image_path": str(path),
                "plate_text": text,
                "region": "x",
                "split": "test" if i < len(TEXTS) else "train",
            }
        )
    return pd.DataFrame(rows)


def test_onnx_input_is_uint8_nhwc_named_input_with_dynamic_batch(exported):
    graph_input = exported.graph.input[0]
    assert graph_input.name == "input"
    assert graph_input.type.tensor_type.elem_type == onnx.TensorProto.UINT8
    dims = graph_input.type.tensor_type.shape.dim
    assert not dims[0].HasField("dim_value")  # dynamic batch
    assert [d.dim_value for d in dims[1:]] == [64, 128, 1]


def test_onnx_output_equals_keras_output(keras_model, exported):
    rng = np.random.default_rng(1)
    images = np.concatenate(
        [
            np.stack([render_plate(t)[..., None] for t in TEXTS]),
            rng.integers(0, 256, (5, 64, 128, 1), dtype=np.uint8),
        ]
    )
    keras_out = keras_model.predict(images, verbose=0)
    onnx_out = export.onnx_predict(export.onnx_session(exported), images)
    np.testing.assert_allclose(onnx_out, keras_out, atol=1e-5)
    report = export.check_onnx_parity(keras_model, exported, images, 8, 1e-4)
    assert report["passed"] and report["images"] == 8 and report["max_abs_diff"] < 1e-4


def test_parity_check_fails_loudly_on_a_different_model(keras_model, exported):
    broken = onnx.ModelProto()
    broken.CopyFrom(exported)
    biggest = max(
        broken.graph.initializer, key=lambda t: len(onnx.numpy_helper.to_array(t).ravel())
    )
    weights = onnx.numpy_helper.to_array(biggest).copy()
    biggest.CopyFrom(onnx.numpy_helper.from_array(weights[::-1].copy() * 3, biggest.name))
    images = np.stack([render_plate(t)[..., None] for t in TEXTS])
    with pytest.raises(export.OnnxParityError, match="differs from Keras"):
        export.check_onnx_parity(keras_model, broken, images, 8, 1e-4)


def test_metadata_round_trip_through_the_dataset(exported, tmp_path):
    dataset = ONNXModelDataset(filepath=str(tmp_path / "models" / "model.onnx"))
    assert not dataset.exists()
    dataset.save(exported)
    loaded = dataset.load()
    metadata = read_metadata(loaded)
    assert metadata["plate_ocr.model_name"] == "tiny"
    assert metadata["plate_ocr.model_version"] == "7"
    assert plate_config_from_metadata(metadata) == PlateConfig.from_dict(PLATE)
    # onnxruntime sees the same mapping, which is what the recognizer reads.
    reader = ONNXPlateRecognizer(tmp_path / "models" / "model.onnx")
    assert PLATE_CONFIG_KEY in reader.metadata
    assert reader.config == PlateConfig.from_dict(PLATE)


def test_dataset_refuses_what_is_not_a_valid_model(tmp_path):
    dataset = ONNXModelDataset(filepath=str(tmp_path / "x.onnx"))
    with pytest.raises(DatasetError, match="ModelProto"):
        dataset.save(b"bytes")
    (tmp_path / "x.onnx").write_text("not protobuf")
    with pytest.raises(DatasetError, match="not a valid ONNX file"):
        dataset.load()


def test_exported_model_reads_the_crops_with_the_recognizer(exported, test_split, tmp_path):
    path = tmp_path / "model.onnx"
    ONNXModelDataset(filepath=str(path)).save(exported)
    reader = ONNXPlateRecognizer(path)
    assert reader.run(list(test_split["image_path"])) == list(TEXTS) * 2


def test_the_quantization_report_compares_two_copies_plate_by_plate():
    """A hand-made pair: the second copy never learnt XY9876Z, so it misreads that plate
    only; sizes are the files'."""
    config = PlateConfig.from_dict(PLATE)
    whole = build_memorising_onnx(config)
    partial = build_memorising_onnx(config, ("AB123", "K4M"))
    images = np.stack([render_plate(text)[..., None] for text in TEXTS])
    report = export.quantization_report(whole, partial, images, list(TEXTS), config)
    assert report["test_images"] == 3
    assert report["fp32_plate_acc"] == 1.0
    assert report["int8_plate_acc"] == pytest.approx(2 / 3)
    assert report["plate_acc_change"] == pytest.approx(-1 / 3)
    assert report["same_reading_share"] == pytest.approx(2 / 3)
    assert report["fp32_size_kb"] == round(whole.ByteSize() / 1024, 1)
    empty = export.quantization_report(whole, partial, images[:0], [], config)
    assert "fp32_plate_acc" not in empty and empty["test_images"] == 0


def test_test_images_int8_copy_and_its_accuracy_change(exported, test_split):
    from plate_ocr_pipeline.pipelines.train.nodes import prepare_model_input

    model_input = prepare_model_input(test_split, image_files(test_split), {}, PLATE)
    images, texts = nodes.held_out_crops(model_input, limit=None)
    assert images.shape == (len(TEXTS), 64, 128, 1) and texts == list(TEXTS)
    quantized, report = nodes.quantize_onnx_model(exported, model_input, {"quantize": True}, PLATE)
    int8 = quantized[nodes.INT8_PARTITION]
    assert plate_config_from_metadata(read_metadata(int8)) == PlateConfig.from_dict(PLATE)
    assert report["fp32_plate_acc"] == 1.0
    assert report["plate_acc_change"] == report["int8_plate_acc"] - 1.0
    assert report["test_images"] == len(TEXTS)
    assert report["int8_size_kb"] > 0 and report["fp32_size_kb"] > 0
    assert report["calibration_images"] == len(TEXTS)  # no train rows: the test split
    # fp32 reads every crop right, so the INT8 copy reads as fp32 exactly where it is right.
    int8_texts = ONNXPlateRecognizer(int8, format_decoding=False).run(list(images))
    right = sum(text == truth for text, truth in zip(int8_texts, TEXTS, strict=True))
    assert report["int8_plate_acc"] == right / len(TEXTS)
    assert report["same_reading_share"] == report["int8_plate_acc"]
    metrics = nodes.collect_export_metrics(
        {"max_abs_diff": 0.0, "argmax_mismatched_slots": 0}, report
    )
    assert metrics["export.int8_plate_acc"] == {"value": report["int8_plate_acc"], "step": 0}
    assert nodes.quantize_onnx_model(exported, model_input, {"quantize": False}, PLATE) == (
        {},
        {"quantized": False},
    )


def test_a_training_checkpoint_exports_to_an_onnx_file_that_reads_plates(tmp_path, keras_model):
    script = load_script("export_checkpoint")
    checkpoints = tmp_path / "checkpoints"
    checkpoints.mkdir()
    keras_model.save(checkpoints / "last.keras")
    (checkpoints / "state.json").write_text('{"epochs_done": 3, "history": {}}')
    path = script.export_checkpoint(checkpoints / "last.keras", tmp_path / "ckpt.onnx", PLATE)
    reader = ONNXPlateRecognizer(path)
    assert reader.config == PlateConfig.from_dict(PLATE)
    assert read_metadata(onnx.load(str(path)))["plate_ocr.model_version"] == (
        "checkpoint after epoch 3"
    )
    assert reader.run([render_plate(text) for text in TEXTS]) == list(TEXTS)
    with pytest.raises(ValueError, match=r"do not match the plate config.*\(--plate\)"):
        script.export_checkpoint(
            checkpoints / "last.keras", tmp_path / "other.onnx", {**PLATE, "max_plate_slots": 8}
        )


def test_static_int8_quantises_the_convolutions_and_keeps_the_ctc_tail_float():
    import keras

    from plate_ocr_pipeline.training.export import export_onnx, quantize_static_int8
    from plate_ocr_pipeline.training.models import build_model

    config = PlateConfig.from_dict(PLATE)
    keras.utils.set_random_seed(11)
    model = build_model(config, "cnn", width_multiplier=0.25, head="ctc", head_units=16,
                        pool_sizes=[[2, 2], [2, 2], [2, 1]], text_lines=2)  # fmt: skip
    fp32 = export_onnx(model, config, model_name="tiny", model_version="3")
    images = np.random.default_rng(11).integers(0, 256, (40, 64, 128, 1), dtype=np.uint8)
    int8 = quantize_static_int8(fp32, images[:32], batch_size=8)
    assert read_metadata(fp32).items() <= read_metadata(int8).items()
    ops = [node.op_type for node in int8.graph.node]
    assert "QLinearConv" in ops and "Conv" not in ops
    logits = [node for node in int8.graph.node if "logits" in node.name]
    assert logits and not any(node.op_type.startswith("QLinear") for node in logits)
    run = {name: onnxruntime.InferenceSession(m.SerializeToString()).run(None, {"input": images})[0]
           for name, m in (("fp32", fp32), ("int8", int8))}  # fmt: skip
    np.testing.assert_allclose(run["int8"].sum(-1), 1.0, rtol=1e-5)
    # Close column logits (an untrained model's decoded slots move with any small change).
    reference = column_logits(fp32, images)
    assert np.abs(column_logits(int8, images) - reference).max() < 0.15 * np.abs(reference).max()
    with pytest.raises(ValueError, match="calibration image"):
        quantize_static_int8(fp32, images[:0])
