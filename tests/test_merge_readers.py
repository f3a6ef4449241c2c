"""scripts/merge_readers.py: one ONNX file that reads with several readers and averages them."""

from __future__ import annotations

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
