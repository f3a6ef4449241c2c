"""ONNXPlateRecognizer on a tiny model that reads three rendered texts exactly (no TF)."""

from __future__ import annotations

import subprocess
import sys
import tracemalloc
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
import yaml

from plate_ocr_pipeline.core.plate_config import PlateConfig
from plate_ocr_pipeline.core.preprocessing import ImageReadError
from plate_ocr_pipeline.inference import recognizer as recognizer_module
from plate_ocr_pipeline.inference.recognizer import (
    ONNXPlateRecognizer,
    PlateInputError,
    PlateResult,
)
from tests.plate_model_helpers import (
    PLATE,
    TEXTS,
    build_memorising_onnx,
    render_plate,
    save_memorising_onnx,
)


@pytest.fixture(scope="module")
def model_path(tmp_path_factory) -> Path:
    return save_memorising_onnx(tmp_path_factory.mktemp("model"))


@pytest.fixture(scope="module")
def reader(model_path) -> ONNXPlateRecognizer:
    return ONNXPlateRecognizer(model_path, threads=1)


@pytest.fixture(scope="module")
def crop_files(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("crops")
    paths = []
    for i, text in enumerate(TEXTS):
        # Larger than the model input and in colour: exercises read, grey and resize.
        crop = cv2.cvtColor(cv2.resize(render_plate(text), (256, 128)), cv2.COLOR_GRAY2BGR)
        path = folder / f"{i}_{text}.{'png' if i % 2 else 'jpg'}"
        cv2.imwrite(str(path), crop, [cv2.IMWRITE_JPEG_QUALITY, 98])
        paths.append(path)
    return paths


def test_reads_paths_one_by_one_and_as_a_list(reader, crop_files):
    assert reader.run(str(crop_files[0])) == [TEXTS[0]]
    assert reader.run(crop_files[1]) == [TEXTS[1]]
    assert reader.run(crop_files) == list(TEXTS)
    assert reader.run(crop_files[0].read_bytes()) == [TEXTS[0]]


def test_reads_arrays_and_batches(reader):
    gray = [render_plate(t) for t in TEXTS]
    assert reader.run(gray[2]) == [TEXTS[2]]  # H x W
    assert reader.run(gray[0][..., None]) == [TEXTS[0]]  # H x W x 1
    assert reader.run(cv2.cvtColor(gray[1], cv2.COLOR_GRAY2RGB)) == [TEXTS[1]]  # H x W x 3
    assert reader.run(gray) == list(TEXTS)  # list of arrays
    batch = np.stack([g[..., None] for g in gray])  # N x H x W x C, model-sized
    assert reader.run(batch) == list(TEXTS)
    sixteen_bit = gray[0].astype(np.uint16) * 257
    assert reader.run(sixteen_bit) == [TEXTS[0]]
    assert reader.run(np.concatenate([batch] * 3), batch_size=2) == list(TEXTS) * 3


def test_confidence_and_detailed_results(reader, crop_files):
    texts, probs = reader.run(crop_files, return_confidence=True)
    assert texts == list(TEXTS)
    assert [len(p) for p in probs] == [len(t) for t in TEXTS]
    assert all(((p > 0.9) & (p <= 1.0)).all() for p in probs)
    results = reader.run_detailed(crop_files)
    assert all(isinstance(r, PlateResult) for r in results)
    assert [r.source for r in results] == [str(p) for p in crop_files]
    assert [r.text for r in results] == list(TEXTS)
    for result, p in zip(results, probs, strict=True):
        np.testing.assert_allclose(result.char_probs, p, rtol=1e-6)
    for result in results:
        assert result.confidence == pytest.approx(float(np.mean(result.char_probs)))


@pytest.mark.parametrize(
    ("make_input", "reason"),
    [
        (lambda d: d / "missing.png", "does not exist"),
        (lambda d: _write(d / "text.png", b"not an image at all"), "not a recognised image"),
        (lambda d: _write(d / "empty.png", b""), "0 bytes"),
        (lambda d: d, "directory"),
        (lambda d: np.zeros((0, 10), np.uint8), "shape"),
        (lambda d: np.zeros((10, 0, 3), np.uint8), "shape"),
    ],
)
def test_bad_inputs_raise_one_error_type_naming_the_input(reader, tmp_path, make_input, reason):
    source = make_input(tmp_path)
    with pytest.raises(PlateInputError, match=reason) as caught:
        reader.run(source)
    assert isinstance(caught.value, ImageReadError)
    if isinstance(source, Path):
        assert str(source) in str(caught.value)


def test_bad_item_in_a_list_is_named(reader, tmp_path, crop_files):
    bad = tmp_path / "nope.png"
    with pytest.raises(PlateInputError, match="nope.png"):
        reader.run([crop_files[0], bad])
    with pytest.raises(PlateInputError, match="unsupported input type"):
        reader.run([42])


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_plate_config_from_yaml_beside_the_model(tmp_path):
    bare = build_memorising_onnx()  # no metadata
    path = tmp_path / "bare.onnx"
    onnx.save(bare, path)
    with pytest.raises(FileNotFoundError, match="no plate config"):
        ONNXPlateRecognizer(path)
    (tmp_path / "plate_config.yaml").write_text(yaml.safe_dump({"plate": PLATE}))
    assert ONNXPlateRecognizer(path).run(render_plate(TEXTS[0])) == [TEXTS[0]]
    (tmp_path / "bare.yml").write_text(yaml.safe_dump(PLATE))
    (tmp_path / "plate_config.yaml").unlink()
    assert ONNXPlateRecognizer(path).config == PlateConfig.from_dict(PLATE)


def test_plate_config_must_match_the_model_input(model_path):
    wrong = dict(PLATE, img_height=32)
    with pytest.raises(ValueError, match="does not match the plate config"):
        ONNXPlateRecognizer(model_path, plate_config=wrong)


def test_missing_default_model_says_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setattr(recognizer_module, "DEFAULT_MODEL_PATH", tmp_path / "default.onnx")
    with pytest.raises(FileNotFoundError, match="export"):
        ONNXPlateRecognizer()
    with pytest.raises(FileNotFoundError, match="not found"):
        ONNXPlateRecognizer(tmp_path / "other.onnx")


def test_model_from_bytes_or_model_proto(model_path, crop_files):
    proto = onnx.load(model_path)
    for model in (model_path.read_bytes(), proto):
        reader = ONNXPlateRecognizer(model, threads=1)
        assert reader.model_path is None
        assert reader.config == PlateConfig.from_dict(PLATE)  # from the model's metadata
        assert reader.run(crop_files) == list(TEXTS)
        assert "in-memory" in repr(reader)
    with pytest.raises(TypeError, match="ModelProto"):
        ONNXPlateRecognizer(12)


def test_model_bytes_without_metadata_need_a_plate_config():
    bare = build_memorising_onnx().SerializeToString()
    with pytest.raises(FileNotFoundError, match="no plate config"):
        ONNXPlateRecognizer(bare)
    reader = ONNXPlateRecognizer(bare, plate_config=PLATE)
    assert reader.run(render_plate(TEXTS[2])) == [TEXTS[2]]


def test_run_files_gives_one_result_per_file_errors_included(reader, crop_files):
    def refuse() -> bytes:
        raise PermissionError("no access")

    files = {
        "a.jpg": crop_files[0].read_bytes,
        "broken.png": lambda: b"not an image",
        "locked.png": refuse,
        "b.png": str(crop_files[1]),  # not callable: the input itself
        "c.jpg": crop_files[2].read_bytes,
    }
    for batch_size, lanes in ((1, False), (2, False), (64, False), (1, True), (2, True)):
        results = list(reader.run_files(files, batch_size, num_workers=2, lanes=lanes))
        assert [r.source for r in results] == list(files)
        assert [r.text for r in results] == [TEXTS[0], "", "", TEXTS[1], TEXTS[2]]
        assert [r.ok for r in results] == [True, False, False, True, True]
        assert "not a recognised image" in results[1].error
        assert results[2].error == "unreadable file: PermissionError: no access"
        assert np.isnan(results[1].confidence) and len(results[1].char_probs) == 0
        assert results[0].error is None and results[0].confidence > 0.9
    assert list(reader.run_files({})) == []
    assert list(reader.run_files({}, lanes=True)) == []


def test_lanes_keep_the_order_of_many_batches(reader, crop_files):
    files = {f"{i:03d}.png": crop_files[i % 3].read_bytes for i in range(41)}
    for workers in (1, 3):
        results = list(reader.run_files(files, batch_size=4, num_workers=workers, lanes=True))
        assert [r.source for r in results] == list(files)
        assert [r.text for r in results] == [TEXTS[i % 3] for i in range(41)]


def test_run_files_refuses_non_positive_sizes(reader):
    with pytest.raises(ValueError, match="batch_size must be at least 1, got 0"):
        reader.run_files({"a": b""}, batch_size=0)
    with pytest.raises(ValueError, match="num_workers must be at least 1, got 0"):
        reader.run_files({"a": b""}, num_workers=0)


# --------------------------------------------- streaming (issue 20, case 6)
def _big_crops(count: int, taken: list[int] | None = None):
    """``count`` 1 MiB grey crops (512 x 2048) of TEXTS in turn, made one at a time."""
    for i in range(count):
        if taken is not None:
            taken.append(i)
        yield cv2.resize(render_plate(TEXTS[i % 3]), (2048, 512), interpolation=cv2.INTER_NEAREST)


def test_a_generator_streams_batch_by_batch_in_bounded_memory(reader):
    count = 60  # 60 MiB of input in all
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        texts = reader.run(_big_crops(count), batch_size=4)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert texts == [TEXTS[i % 3] for i in range(count)]
    assert peak < 12 * 2**20, f"peak {peak / 2**20:.1f} MiB for 60 MiB of input"


def test_run_iter_consumes_the_iterator_only_as_far_as_needed(reader):
    taken: list[int] = []
    results = reader.run_iter(_big_crops(10, taken), batch_size=4)
    assert taken == []  # nothing read before the first result is asked for
    first = next(results)
    assert len(taken) == 4 and first.source == "<array[0]>" and first.text == TEXTS[0]
    rest = list(results)
    assert len(taken) == 10
    assert [r.source for r in [first, *rest]] == [f"<array[{i}]>" for i in range(10)]
    assert [r.text for r in [first, *rest]] == [TEXTS[i % 3] for i in range(10)]


def test_a_bad_item_in_a_generator_is_named_by_position(reader):
    def crops():
        yield render_plate(TEXTS[0])
        yield render_plate(TEXTS[1])
        yield np.full((20, 40), np.nan)

    with pytest.raises(PlateInputError, match=r"<array\[2\]>: float64 array holds NaN"):
        reader.run(crops(), batch_size=2)
    with pytest.raises(PlateInputError, match=r"<item 1>: unsupported input type int"):
        reader.run(iter([render_plate(TEXTS[0]), 7]))


@pytest.mark.parametrize("batch_size", [0, -1, 1.5, True, "8"])
def test_run_refuses_a_batch_size_that_is_not_a_positive_integer(reader, batch_size):
    with pytest.raises(ValueError, match="batch_size must be"):
        reader.run(render_plate(TEXTS[0]), batch_size=batch_size)


# ------------------------------------------------ dtypes (issue 20, case 9)
def test_integer_arrays_holding_16_bit_values_are_read_not_blank(reader):
    gray = render_plate(TEXTS[2])  # a blank crop reads as TEXTS[0] or TEXTS[1]
    assert reader.run((gray.astype(np.int32) * 128).astype(np.int16)) == [TEXTS[2]]
    assert reader.run(gray.astype(np.int64) * 257) == [TEXTS[2]]
    assert reader.run(gray.astype(np.int64)) == [TEXTS[2]]
    with pytest.raises(PlateInputError, match=r"int16 array has negative values.*view\(np"):
        reader.run((gray.astype(np.uint16) * 257).view(np.int16))
    assert reader.run((gray.astype(np.uint16) * 257).view(np.int16).view(np.uint16)) == [TEXTS[2]]


def test_unavailable_provider_falls_back_to_cpu(model_path):
    reader = ONNXPlateRecognizer(
        model_path,
        providers=["CoreMLExecutionProvider"]
        if "CoreMLExecutionProvider" not in recognizer_module.ort.get_available_providers()
        else ["NoSuchExecutionProvider"],
    )
    assert reader.session.get_providers() == ["CPUExecutionProvider"]
    assert reader.run(render_plate(TEXTS[1])) == [TEXTS[1]]


def test_benchmark_reports_latency_and_throughput(reader, capsys):
    stats = reader.benchmark(n_iter=5, batch_size=4, warmup=1)
    assert stats["batch_size"] == 4 and stats["runs"] == 5
    assert 0 < stats["latency_p50_ms"] <= stats["latency_p95_ms"] + 1e-9
    assert stats["throughput"] > 0
    assert "plates/s" in capsys.readouterr().out
    with_processing = reader.benchmark(n_iter=2, warmup=0, include_processing=True, verbose=False)
    assert with_processing["runs"] == 2 and with_processing["batch_size"] == 1
    assert with_processing["latency_p50_ms"] > 0
    assert capsys.readouterr().out == ""  # verbose=False prints nothing


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"batch_size": 0}, "batch_size must be at least 1, got 0"),
        ({"batch_size": -4}, "batch_size must be at least 1, got -4"),
        ({"n_iter": 0}, "n_iter must be at least 1, got 0"),
        ({"warmup": -1}, "warmup must be at least 0, got -1"),
        ({"batch_size": 2.5}, "batch_size must be an integer of at least 1, got 2.5"),
    ],
)
def test_benchmark_refuses_counts_that_make_no_sense(reader, capsys, arguments, message):
    with pytest.raises(ValueError, match=message):
        reader.benchmark(**{"n_iter": 1, "warmup": 0, **arguments})
    assert capsys.readouterr().out == ""


def test_import_needs_neither_kedro_nor_tensorflow():
    code = (
        "import sys; from plate_ocr_pipeline import ONNXPlateRecognizer; "
        "heavy = [m for m in ('kedro', 'tensorflow', 'keras', 'onnx') if m in sys.modules]; "
        "print(heavy); assert not heavy"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_error_type_the_readme_names_imports_from_the_package():
    import plate_ocr_pipeline

    assert plate_ocr_pipeline.PlateInputError is PlateInputError
    assert "PlateInputError" in plate_ocr_pipeline.__all__
