"""Infer over a folder: one row per file, unreadable files as error rows, atomic CSV."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import cv2
import onnx
import pandas as pd
import pytest

from plate_ocr_pipeline.datasets.atomic_csv_dataset import AtomicCSVDataset
from plate_ocr_pipeline.datasets.image_folder_dataset import ImageFolderDataset
from plate_ocr_pipeline.datasets.onnx_model_dataset import ONNXModelDataset
from plate_ocr_pipeline.pipelines.infer import nodes
from tests.plate_model_helpers import (
    TEXTS,
    render_plate,
    save_memorising_onnx,
)

EXPECTED = {
    # relative path: (status, text or error fragment)
    "a_AB123.png": ("ok", "AB123"),
    "b_XY9876Z.PNG": ("ok", "XY9876Z"),
    "empty.png": ("error", "0 bytes"),
    "notes.txt": ("error", "not an image extension: .txt"),
    "sub/deeper/c_K4M.jpg": ("ok", "K4M"),
    "text_file.png": ("error", "not a recognised image"),
    "truncated.jpg": ("error", "not a decodable image"),
}


@pytest.fixture(scope="module")
def model_path(tmp_path_factory) -> Path:
    return save_memorising_onnx(tmp_path_factory.mktemp("model"))


@pytest.fixture(scope="module")
def model(model_path) -> onnx.ModelProto:
    """The model as the ``infer_model`` catalog entry loads it."""
    return ONNXModelDataset(filepath=str(model_path)).load()


def infer_params(**overrides) -> dict:
    """An ``infer`` parameter section (the paths are read by the catalog, not the nodes)."""
    params = {
        "input_dir": "in",
        "output_path": "out.csv",
        "model_path": "model.onnx",
        "batch_size": 64,
        "num_workers": 2,
        "providers": ["CPUExecutionProvider"],
        "threads": 1,
        "progress": False,
    }
    return {**params, **overrides}


@pytest.fixture
def messy_folder(tmp_path) -> Path:
    folder = tmp_path / "in"
    (folder / "sub" / "deeper").mkdir(parents=True)
    cv2.imwrite(str(folder / "a_AB123.png"), render_plate(TEXTS[0]))
    cv2.imwrite(str(folder / "b_XY9876Z.PNG"), cv2.resize(render_plate(TEXTS[1]), (200, 100)))
    jpeg = folder / "sub" / "deeper" / "c_K4M.jpg"
    cv2.imwrite(str(jpeg), render_plate(TEXTS[2]), [cv2.IMWRITE_JPEG_QUALITY, 98])
    data = jpeg.read_bytes()
    (folder / "truncated.jpg").write_bytes(data[: len(data) // 2])
    (folder / "text_file.png").write_text("this is not a picture\n")
    (folder / "empty.png").write_bytes(b"")
    (folder / "notes.txt").write_text("listed, not read: not an image extension")
    (folder / "sub" / "empty_dir").mkdir()
    return folder


def _check(table: pd.DataFrame) -> None:
    assert list(table.columns) == nodes.PREDICTION_COLUMNS
    assert table["path"].tolist() == sorted(EXPECTED)
    for row in table.itertuples(index=False):
        status, expected = EXPECTED[row.path]
        assert row.status == status, row
        if status == "ok":
            assert row.text == expected
            assert 0.9 < row.confidence <= 1.0
            assert len(json.loads(row.char_confidences)) == len(expected)
        else:
            assert expected in row.error


def test_folder_dataset_lists_every_file_recursively_and_lazily(messy_folder):
    dataset = ImageFolderDataset(path=str(messy_folder))
    assert dataset.exists()
    files = dataset.load()
    assert list(files) == sorted(EXPECTED)
    assert files["empty.png"]() == b""
    with pytest.raises(Exception, match="not found"):
        ImageFolderDataset(path=str(messy_folder / "nope")).load()


@pytest.mark.parametrize("batch_size, lanes", [(2, False), (64, False), (2, True)])
def test_one_row_per_file_with_statuses(messy_folder, model, batch_size, lanes):
    files = ImageFolderDataset(path=str(messy_folder)).load()
    params = infer_params(batch_size=batch_size, lanes=lanes, threads=None)
    table = nodes.recognize_images(files, model, params)
    _check(table)
    summary = nodes.summarise_predictions(table)
    assert summary["ok"] == 3 and summary["errors"] == 4


def test_empty_folder_gives_header_only_table_and_a_warning(tmp_path, model, caplog):
    (tmp_path / "in").mkdir()
    files = ImageFolderDataset(path=str(tmp_path / "in")).load()
    with caplog.at_level(logging.WARNING):
        table = nodes.recognize_images(
            files, model, infer_params(batch_size=8, num_workers=1, threads=None)
        )
    assert "holds no files" in caplog.text
    output = AtomicCSVDataset(filepath=str(tmp_path / "out.csv"))
    output.save(table)
    assert (tmp_path / "out.csv").read_text().strip() == ",".join(nodes.PREDICTION_COLUMNS)
    assert nodes.summarise_predictions(output.load())["files"] == 0


def test_atomic_csv_keeps_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "deep" / "out.csv"
    dataset = AtomicCSVDataset(filepath=str(path))
    dataset.save(pd.DataFrame({"a": [1, 2]}))
    assert dataset.load()["a"].tolist() == [1, 2]

    class Exploding(pd.DataFrame):
        def to_csv(self, *args, **kwargs):
            raise RuntimeError("disk full")

    with pytest.raises(Exception, match="disk full"):
        dataset.save(Exploding({"a": [3]}))
    assert dataset.load()["a"].tolist() == [1, 2]
    assert [p.name for p in path.parent.iterdir()] == ["out.csv"]  # no temp file left


def test_kedro_run_infer_with_folder_and_output_on_the_command_line(
    kedro_project, messy_folder, model_path, tmp_path, monkeypatch
):
    monkeypatch.setenv("DISABLE_HOOKS_FOR_PLUGINS", "kedro_mlflow")
    output = tmp_path / "results" / "predictions.csv"
    kedro_project(
        "--pipeline=infer",
        "--env=quick",
        f"--params=infer.input_dir={messy_folder},infer.output_path={output},"
        f"infer.model_path={model_path},infer.max_file_bytes=1000000,infer.max_pixels=100000",
    )
    _check(
        pd.read_csv(output, keep_default_na=False, dtype={"error": str}).assign(
            confidence=lambda t: pd.to_numeric(t["confidence"], errors="coerce")
        )
    )
    # The quick environment keeps its data under data/quick (conf/quick/globals.yml).
    summary = (
        kedro_project.path / "data" / "quick" / "08_reporting" / "infer" / "infer_summary.json"
    )
    assert json.loads(summary.read_text())["errors"] == 4


def test_node_refuses_limits_that_the_catalog_does_not_apply(messy_folder, model):
    files = ImageFolderDataset(path=str(messy_folder), max_pixels=1_000).load()
    assert files.limits == {"max_file_bytes": 50_000_000, "max_pixels": 1_000}
    with pytest.raises(ValueError, match=r"infer.max_pixels=40000000 in the parameters, 1000"):
        nodes.recognize_images(files, model, infer_params())
    table = nodes.recognize_images(files, model, infer_params(max_pixels=1_000))
    assert set(table["status"]) == {"error"}  # the crops are larger than 1,000 pixels


def test_folder_on_an_fsspec_filesystem_gets_a_key_per_file():
    import fsspec

    fs = fsspec.filesystem("memory")
    ok, png = cv2.imencode(".png", render_plate(TEXTS[0]))
    fs.pipe({"/plates/a.png": png.tobytes(), "/plates/sub/b.txt": b"text"})
    files = ImageFolderDataset(path="memory:///plates", max_file_bytes=100_000).load()
    assert list(files) == ["a.png", "sub/b.txt"]
    assert files["a.png"]() == png.tobytes()
    with pytest.raises(OSError, match="not an image extension"):
        files["sub/b.txt"]()
    fs.rm("/plates", recursive=True)


def test_kedro_run_infer_fails_on_a_folder_as_output_before_reading_any_image(
    kedro_project, messy_folder, model_path, tmp_path, monkeypatch
):
    monkeypatch.setenv("DISABLE_HOOKS_FOR_PLUGINS", "kedro_mlflow")
    output = tmp_path / "a_folder"
    output.mkdir()
    result = kedro_project(
        "--pipeline=infer",
        "--env=quick",
        f"--params=infer.input_dir={messy_folder},infer.output_path={output},"
        f"infer.model_path={model_path}",
        check=False,
    )
    log = " ".join((result.stdout + result.stderr).split())  # rich wraps long lines
    assert result.returncode != 0
    # rich may break the long path itself across lines: compared without any whitespace
    wanted = f"{output} is a folder: only a regular file is written there"
    assert "".join(wanted.split()) in "".join(log.split())
    assert "Loading data from" not in log and "recognize_images" not in log  # no work
    assert list(output.iterdir()) == []
