"""scripts/merge_readers.py: one ONNX file that reads with several readers and averages them."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest

from plate_ocr_pipeline import ONNXPlateRecognizer
from tests.conftest import REPO_ROOT, load_script

MODELS = REPO_ROOT / "src/plate_ocr_pipeline/assets/models"
SAMPLES = sorted((REPO_ROOT / "src/plate_ocr_pipeline/assets/samples").glob("*.png"))
OUTPUTS = ["plate", "region", "columns"]


@pytest.fixture(scope="module")
def merge():
    return load_script("merge_readers").merge_readers


def _outputs(reader: ONNXPlateRecognizer, batch: np.ndarray) -> list[np.ndarray]:
    return reader.session.run(OUTPUTS, {reader.session.get_inputs()[0].name: batch})


def test_a_model_merged_with_itself_reads_as_it_does(merge):
    path = MODELS / "default.onnx"
    single = ONNXPlateRecognizer(path)
    merged = ONNXPlateRecognizer(merge([onnx.load(path), onnx.load(path)], ["a", "b"]))
    batch = np.stack([single.preprocess(str(f)) for f in SAMPLES])
    for name, one, both in zip(
        OUTPUTS, _outputs(single, batch), _outputs(merged, batch), strict=True
    ):
        np.testing.assert_allclose(both, one, atol=1e-6, err_msg=name)
    assert merged.run([str(f) for f in SAMPLES]) == single.run([str(f) for f in SAMPLES])


def test_two_models_average_their_column_log_probabilities_and_regions(merge):
    from plate_ocr_pipeline.training.reader import greedy_ctc

    paths = [MODELS / "default.onnx", MODELS / "default_fp32.onnx"]
    members = [ONNXPlateRecognizer(p) for p in paths]
    merged = ONNXPlateRecognizer(merge([onnx.load(p) for p in paths], ["int8", "fp32"]))
    batch = np.stack([members[0].preprocess(str(f)) for f in SAMPLES])
    (_, region_a, columns_a), (_, region_b, columns_b) = (_outputs(m, batch) for m in members)
    plate, region, columns = _outputs(merged, batch)

    logits = (np.log(np.maximum(columns_a, 1e-12)) + np.log(np.maximum(columns_b, 1e-12))) / 2
    expected = np.exp(logits - logits.max(-1, keepdims=True))
    expected /= expected.sum(-1, keepdims=True)
    np.testing.assert_allclose(columns, expected, atol=1e-5)
    np.testing.assert_allclose(region, (region_a + region_b) / 2, atol=1e-6)
    # The slots hold the greedy CTC reading of the averaged columns, pads after it.
    texts, _ = greedy_ctc(logits, merged.config)
    decoded = [text for text, _ in merged.decode(plate)]
    assert decoded == texts
    assert np.allclose(plate.sum(-1), 1.0, atol=1e-5)


def test_members_that_do_not_match_are_refused_by_name(merge):
    model = onnx.load(MODELS / "default.onnx")
    other = onnx.load(MODELS / "default.onnx")
    for prop in other.metadata_props:
        if prop.key == "plate_ocr.region_families":
            prop.value = '["us"]'
    with pytest.raises(ValueError, match="other.onnx: plate_ocr.region_families"):
        merge([model, other], ["first.onnx", "other.onnx"])
    with pytest.raises(ValueError, match="at least two"):
        merge([model], ["first.onnx"])


def _greedy_slots(logits: np.ndarray, config) -> np.ndarray:
    """What training.models.ctc_greedy_slots gives, built from the project's numpy greedy CTC
    (training.reader.greedy_ctc): each emitting column's softmax in its slot, pads after."""
    from plate_ocr_pipeline.training.reader import greedy_ctc

    probs = np.exp(logits - logits.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    out = np.zeros((len(logits), config.max_plate_slots, logits.shape[-1]), np.float32)
    out[:, :, config.pad_index] = 1.0
    for row, positions in enumerate(greedy_ctc(logits, config)[1]):
        out[row, : len(positions)] = probs[row, positions[:, 0]]
    return out


def test_the_averaging_nodes_decode_ties_repeats_blanks_and_overflow_as_the_graph_does(merge):
    import onnxruntime as ort
    from onnx import TensorProto, helper

    from plate_ocr_pipeline.core.plate_config import PlateConfig

    module = load_script("merge_readers")
    slots, blank, vocab, columns = 3, 3, 4, 7
    # Two members' column probabilities: "A A _ B B C A" in the mean (a repeat, a blank
    # between, four emissions for three slots), and one column tied between A and the blank.
    rng = np.random.default_rng(0)
    first = rng.dirichlet(np.ones(vocab), size=(2, columns)).astype(np.float32)
    second = rng.dirichlet(np.ones(vocab), size=(2, columns)).astype(np.float32)
    reading = [0, 0, 3, 1, 1, 2, 0]
    for column, cls in enumerate(reading):
        first[0, column] = second[0, column] = 0.04
        first[0, column, cls] = second[0, column, cls] = 0.88
    first[1, 2] = second[1, 2] = [0.45, 0.05, 0.05, 0.45]  # A tied with the blank: A wins
    regions = [rng.dirichlet(np.ones(2), size=2).astype(np.float32) for _ in range(2)]

    def tensor(name: str, shape: list) -> onnx.ValueInfoProto:
        return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)

    graph = helper.make_graph(
        module.averaging_nodes(2, slots, blank, vocab),
        "tail",
        [
            tensor(f"m{i}_{kind}", [None, columns, vocab] if kind == "columns" else [None, 2])
            for i in range(2)
            for kind in ("columns", "region")
        ],
        [tensor("plate", None), tensor("columns", None), tensor("region", None)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    plate, merged_columns, region = session.run(
        ["plate", "columns", "region"],
        {
            "m0_columns": first,
            "m1_columns": second,
            "m0_region": regions[0],
            "m1_region": regions[1],
        },
    )
    logits = (np.log(first) + np.log(second)) / 2
    config = PlateConfig.from_dict(
        {
            "alphabet": "ABC_",
            "pad_char": "_",
            "max_plate_slots": slots,
            "img_height": 64,
            "img_width": 128,
        }
    )
    np.testing.assert_allclose(plate, _greedy_slots(logits, config), atol=1e-6)
    np.testing.assert_allclose(merged_columns.sum(-1), 1.0, atol=1e-6)
    np.testing.assert_allclose(region, (regions[0] + regions[1]) / 2, atol=1e-7)
    # Row 0 reads A, B, C (the repeat collapsed, the fourth emission dropped): each slot holds
    # its emitting column's averaged probabilities.
    assert plate[0].argmax(-1).tolist() == [0, 1, 2]
    np.testing.assert_allclose(plate[0, 1], merged_columns[0, 3], atol=1e-6)


def test_the_merged_file_says_what_it_is(merge):
    path = MODELS / "default.onnx"
    merged = merge([onnx.load(path), onnx.load(path)], ["a.onnx", "b.onnx"])
    meta = {p.key: p.value for p in merged.metadata_props}
    members = json.loads(meta["plate_ocr.members"])
    assert [m["name"] for m in members] == ["a.onnx", "b.onnx"]
    assert all(m["temperature"] > 1.0 for m in members)  # the shipped model's, kept
    assert meta["plate_ocr.temperature"] == "1.0"
    assert meta["plate_ocr.model_name"] == "average of 2 readers"
