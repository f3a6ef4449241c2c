"""``plate-ocr`` (plate_ocr_pipeline.inference.cli), in process: read and benchmark."""

from __future__ import annotations

import csv
import json
import shutil
import sys
from pathlib import Path

import cv2
import pytest

from plate_ocr_pipeline.core.image_header import UNKNOWN_HEADER
from plate_ocr_pipeline.inference.cli import build_parser, main
from plate_ocr_pipeline.inference.recognizer import ONNXPlateRecognizer, PlateInputError
from tests.conftest import REPO_ROOT

ASSETS = REPO_ROOT / "src" / "plate_ocr_pipeline" / "assets"
SAMPLES = ASSETS / "samples"
MODEL = ASSETS / "models" / "default.onnx"
ARGS = ["--model", str(MODEL), "--threads", "1"]


@pytest.fixture(scope="module")
def reader() -> ONNXPlateRecognizer:
    return ONNXPlateRecognizer(MODEL, threads=1)


def _row(path, result) -> str:
    region = f"\t{result.region}\t{result.region_prob:.4f}" if result.region else ""
    return f"{path}\t{result.text}\t{result.confidence:.4f}{region}"


def expected_row(reader: ONNXPlateRecognizer, path) -> str:
    """The row of ``path`` read alone (a batch of one, as ``--batch-size 1`` reads it)."""
    return _row(path, reader.run_detailed(str(path))[0])


def expected_rows(reader: ONNXPlateRecognizer, paths) -> list[str]:
    """The rows of ``paths`` read in one batch, as the CLI's default batch size reads them
    (the INT8 model's last digits can differ with the batch's size)."""
    results = reader.run_detailed(list(map(str, paths)))
    return [_row(p, r) for p, r in zip(paths, results, strict=True)]


def test_read_files_prints_one_row_per_file_in_order(reader, capsys):
    files = [SAMPLES / "05_us.png", SAMPLES / "01_br.png"]
    assert main(["read", *map(str, files), *ARGS]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == expected_rows(reader, files)
    assert err == ""


def test_read_folder_reads_its_images_sorted_and_matches_the_labels(reader, capsys):
    assert main(["read", str(SAMPLES), *ARGS]) == 0
    rows = [row.split("\t") for row in capsys.readouterr().out.splitlines()]
    with open(SAMPLES.with_suffix(".csv"), newline="") as handle:
        labels = {Path(row["image_path"]).name: row["plate_text"] for row in csv.DictReader(handle)}
    names = sorted(labels)
    assert [row[0] for row in rows] == [str(SAMPLES / name) for name in names]
    assert ["\t".join(row) for row in rows] == expected_rows(reader, [SAMPLES / n for n in names])
    exact = sum(row[1] == labels[name] for name, row in zip(names, rows, strict=True))
    assert exact == len(names)  # the shipped model reads all 12; the dev sets measure it


def test_read_folder_is_recursive_and_skips_hidden_and_other_files(tmp_path, reader, capsys):
    (tmp_path / "sub").mkdir()
    (tmp_path / ".cache").mkdir()
    shutil.copy(SAMPLES / "00_us.png", tmp_path / "b.PNG")
    shutil.copy(SAMPLES / "01_br.png", tmp_path / "sub" / "a.png")
    shutil.copy(SAMPLES / "02_us.png", tmp_path / ".hidden.png")
    shutil.copy(SAMPLES / "02_us.png", tmp_path / ".cache" / "c.png")
    (tmp_path / "notes.txt").write_text("not an image")
    # A GIF is read, as infer reads it (OpenCV 5 decodes its first frame).
    cv2.imwrite(str(tmp_path / "c.gif"), cv2.imread(str(SAMPLES / "03_ar-old.png")))
    assert main(["read", str(tmp_path), *ARGS]) == 0
    assert capsys.readouterr().out.splitlines() == expected_rows(
        reader, [tmp_path / "b.PNG", tmp_path / "c.gif", tmp_path / "sub" / "a.png"]
    )


def test_read_folder_follows_symlinked_folders_once(tmp_path, reader, capsys):
    """As infer does: a symlinked subfolder is read, and a link back up is not walked again."""
    outside, folder = tmp_path / "outside", tmp_path / "crops"
    outside.mkdir()
    folder.mkdir()
    shutil.copy(SAMPLES / "00_us.png", folder / "a.png")
    shutil.copy(SAMPLES / "01_br.png", outside / "b.png")
    (folder / "linked").symlink_to(outside, target_is_directory=True)
    (folder / "loop").symlink_to(folder, target_is_directory=True)
    assert main(["read", str(folder), *ARGS]) == 0
    assert capsys.readouterr().out.splitlines() == expected_rows(
        reader, [folder / "a.png", folder / "linked" / "b.png"]
    )


def test_read_folder_gives_a_fifo_named_like_an_image_an_error_row(tmp_path, reader, capsys):
    """As infer does: every entry named like an image is a row; the FIFO is refused unread
    (reading it would hang)."""
    import os

    shutil.copy(SAMPLES / "00_us.png", tmp_path / "a.png")
    os.mkfifo(tmp_path / "b.png")
    assert main(["read", str(tmp_path), *ARGS]) == 1
    rows = capsys.readouterr().out.splitlines()
    assert rows[0] == expected_rows(reader, [tmp_path / "a.png"])[0]
    assert rows[1].startswith(f"{tmp_path / 'b.png'}\terror\t")
    assert "not a regular file" in rows[1]


def test_read_current_folder_prints_paths_as_given(tmp_path, reader, capsys, monkeypatch):
    (tmp_path / "sub").mkdir()
    shutil.copy(SAMPLES / "00_us.png", tmp_path / "a.png")
    shutil.copy(SAMPLES / "01_br.png", tmp_path / "sub" / "b.png")
    monkeypatch.chdir(tmp_path)
    assert main(["read", ".", *ARGS]) == 0
    paths = [row.split("\t")[0] for row in capsys.readouterr().out.splitlines()]
    assert paths == ["a.png", "sub/b.png"]


@pytest.mark.parametrize("workers", ["1", "3"])
def test_bad_inputs_get_an_error_row_and_exit_code_1(tmp_path, reader, capsys, workers):
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    missing = tmp_path / "missing.png"
    no_images = tmp_path / "no_images"
    no_images.mkdir()
    good = SAMPLES / "03_ar-old.png"
    paths = [corrupt, good, empty, missing, no_images]
    command = ["read", *map(str, paths), *ARGS, "--workers", workers, "--batch-size", "1"]
    assert main(command) == 1
    out, err = capsys.readouterr()

    def reason(path) -> str:
        with pytest.raises(PlateInputError) as failure:
            reader.preprocess(str(path), name=str(path))
        return failure.value.reason

    assert out.splitlines() == [
        f"{corrupt}\terror\t{reason(corrupt)}",
        expected_row(reader, good),
        f"{empty}\terror\t{reason(empty)}",
        f"{missing}\terror\t{reason(missing)}",
        f"{no_images}\terror\tfolder holds no image files",
    ]
    assert "not a recognised image" in out and "does not exist" in out
    assert "4 of 5 input(s) could not be read" in err


def test_read_json_lines(tmp_path, reader, capsys):
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"junk")
    good = SAMPLES / "10_us.png"
    assert main(["read", str(good), str(corrupt), "--json", *ARGS]) == 1
    first, second = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    result = reader.run_detailed(str(good))[0]
    assert first == {
        "path": str(good),
        "text": result.text,
        "confidence": round(result.confidence, 6),
        "char_confidences": [round(float(p), 4) for p in result.char_probs],
        "region": result.region,
        "region_confidence": round(result.region_prob, 6),
        "raw_text": result.raw_text,
        "status": "ok",
        "error": None,
    }
    assert second == {
        "path": str(corrupt),
        "text": "",
        "confidence": None,
        "char_confidences": [],
        "region": None,
        "region_confidence": None,
        "raw_text": None,
        "status": "error",
        "error": UNKNOWN_HEADER,
    }


def test_odd_file_names_keep_every_output_format_one_valid_record_per_file(
    tmp_path, reader, capsys
):
    """A line break in a name stays inside its CSV field; a name that is not UTF-8 is
    written with \\xNN escapes, so the JSON and CSV outputs decode as UTF-8."""
    import os

    sample = (SAMPLES / "10_us.png").read_bytes()
    (tmp_path / "new\nline.png").write_bytes(sample)
    (tmp_path / os.fsdecode(b"lat\xe9in.png")).write_bytes(sample)
    text = reader.run(str(SAMPLES / "10_us.png"))[0]
    assert main(["read", str(tmp_path), "--csv", *ARGS]) == 0
    out = capsys.readouterr().out
    out.encode("utf-8")  # strict: no lone surrogate reaches the output
    rows = list(csv.DictReader(out.splitlines(keepends=True)))
    assert [(row["path"], row["text"]) for row in rows] == [
        (str(tmp_path / "lat\\xe9in.png"), text),
        (str(tmp_path / "new\nline.png"), text),
    ]
    assert main(["read", str(tmp_path), "--json", *ARGS]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["path"] for line in lines] == [row["path"] for row in rows]


def test_an_empty_path_is_an_error_row_not_the_current_folder(reader, capsys):
    assert main(["read", "", *ARGS]) == 1
    assert capsys.readouterr().out.splitlines() == ["\terror\tempty path"]


def test_a_folder_that_cannot_be_entered_gives_the_file_its_row(
    tmp_path, reader, capsys, monkeypatch
):
    locked = tmp_path / "locked" / "x.png"
    real_stat = Path.stat

    def stat(self, *args, **kwargs):  # as for a user without the folder's x permission
        if self.parent.name == "locked":
            raise PermissionError(13, "Permission denied", str(self))
        return real_stat(self, *args, **kwargs)

    monkeypatch.setattr(Path, "stat", stat)
    assert main(["read", str(locked), *ARGS]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"{locked}\terror\tcannot be opened: Permission denied"
    ]


def test_results_that_cannot_be_written_end_with_one_message(reader, capsys, monkeypatch):
    class FullDisk:
        def write(self, text: str) -> int:
            raise OSError(28, "No space left on device")

        def flush(self) -> None:
            pass

    monkeypatch.setattr(sys, "stdout", FullDisk())
    assert main(["read", str(SAMPLES / "10_us.png"), *ARGS]) == 2
    err = capsys.readouterr().err
    assert err.strip() == (
        "plate-ocr: error: cannot write the results: [Errno 28] No space left on device"
    )


def test_read_small_batches_give_the_same_rows(capsys):
    assert main(["read", str(SAMPLES), *ARGS]) == 0
    whole = capsys.readouterr().out
    assert main(["read", str(SAMPLES), "--batch-size", "5", *ARGS]) == 0
    assert capsys.readouterr().out == whole


def test_read_uses_the_shipped_model_by_default(reader, capsys):
    sample = SAMPLES / "09_uk.png"
    assert main(["read", str(sample), "--threads", "1"]) == 0
    assert capsys.readouterr().out.splitlines() == [expected_row(reader, sample)]


def test_a_model_that_cannot_load_exits_2(tmp_path, capsys):
    assert main(["read", str(SAMPLES / "00_us.png"), "--model", str(tmp_path / "no.onnx")]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "cannot load the model" in err and "no.onnx" in err


def test_bad_arguments_exit_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["read", "x.png", "--threads", "0"])
    assert exit_info.value.code == 2
    with pytest.raises(SystemExit) as exit_info:
        main(["read"])
    assert exit_info.value.code == 2
    assert "PATH" in capsys.readouterr().err


def test_benchmark_prints_the_figures(capsys):
    assert main(["benchmark", *ARGS, "--iterations", "3", "--warmup", "1", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["model"] == str(MODEL) and stats["provider"] == "CPUExecutionProvider"
    assert stats["runs"] == 3 and stats["batch_size"] == 1
    assert stats["latency_p95_ms"] >= stats["latency_p50_ms"] > 0 and stats["throughput"] > 0

    assert main(["benchmark", *ARGS, "--iterations", "3", "--warmup", "0"]) == 0
    rows = dict(line.split("\t") for line in capsys.readouterr().out.splitlines())
    assert rows["runs"] == "3" and float(rows["latency_mean_ms"]) > 0
    assert set(rows) >= {"model", "provider", "latency_p50_ms", "latency_p95_ms", "throughput"}


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--batch-size", "0"], "argument --batch-size: must be at least 1, got 0"),
        (["--iterations", "0"], "argument --iterations: must be at least 1, got 0"),
        (["--warmup", "-1"], "argument --warmup: must be at least 0, got -1"),
    ],
)
def test_benchmark_refuses_non_positive_counts_with_exit_2(capsys, option, message):
    with pytest.raises(SystemExit) as exit_info:
        main(["benchmark", *ARGS, *option])
    assert exit_info.value.code == 2
    out, err = capsys.readouterr()
    assert out == "" and message in err


def test_benchmark_command_turns_a_refused_count_into_exit_2(capsys):
    args = build_parser().parse_args(["benchmark", *ARGS])
    args.batch_size = 0  # as if argparse had let it through
    assert args.handler(args, sys.stdout, sys.stderr) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.strip() == "plate-ocr benchmark: error: batch_size must be at least 1, got 0"


def test_the_cli_imports_neither_kedro_nor_tensorflow():
    import subprocess

    code = (
        "import sys; from plate_ocr_pipeline.inference import cli; "
        "print(sorted(m for m in ('kedro', 'tensorflow', 'keras') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO_ROOT
    )
    assert result.stdout.strip() == "[]"


def test_read_csv_has_a_header_and_the_json_fields(tmp_path, reader, capsys):
    import io

    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"junk")
    good = SAMPLES / "10_us.png"
    assert main(["read", str(good), str(corrupt), "--csv", *ARGS]) == 1
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    result = reader.run_detailed(str(good))[0]
    assert [row["path"] for row in rows] == [str(good), str(corrupt)]
    assert rows[0]["text"] == result.text and rows[0]["status"] == "ok"
    assert float(rows[0]["confidence"]) == pytest.approx(result.confidence, abs=1e-6)
    assert json.loads(rows[0]["char_confidences"]) == [
        round(float(p), 4) for p in result.char_probs
    ]
    assert rows[1]["status"] == "error" and rows[1]["error"] == UNKNOWN_HEADER
    with pytest.raises(SystemExit) as exit_info:
        main(["read", str(good), "--csv", "--json"])
    assert exit_info.value.code == 2


def test_read_progress_counts_files_on_stderr_when_asked(capsys):
    assert main(["read", str(SAMPLES), "--progress", *ARGS]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 12
    last = captured.err.strip().split("\r")[-1]
    assert last.startswith("read 12/12 files (100%)") and "s left" in last
    assert main(["read", str(SAMPLES), *ARGS]) == 0  # not a terminal: no progress line
    assert capsys.readouterr().err == ""


def test_workers_read_the_same_rows_in_order_a_file_given_twice_twice(reader, capsys):
    files = [SAMPLES / n for n in ("05_us.png", "01_br.png", "05_us.png", "02_us.png")]
    assert main(["read", *map(str, files), *ARGS, "--workers", "2", "--batch-size", "1"]) == 0
    assert capsys.readouterr().out.splitlines() == [expected_row(reader, f) for f in files]
