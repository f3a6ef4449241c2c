"""Issue 20 against infer: every input under the folder is accounted for by exactly one row,
every bad one named, nothing hangs, and the output is a regular file written whole or not at
all. Hostile inputs are built in ``tmp_path``; infer itself runs in a subprocess under a memory
and time limit, so that a regression fails the test instead of hanging it or filling memory.
"""

from __future__ import annotations

import fcntl
import os
import shlex
import shutil
import signal
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from kedro.io.core import DatasetError

from plate_ocr_pipeline.datasets.atomic_csv_dataset import AtomicCSVDataset
from plate_ocr_pipeline.datasets.image_folder_dataset import (
    ImageFileError,
    ImageFolderDataset,
    check_image_header,
    image_size,
)
from tests.plate_model_helpers import (
    TEXTS,
    render_plate,
    save_memorising_onnx,
)

# Runs infer as `kedro run --pipeline=infer` does (the catalog's datasets, the node), in a
# process limited to 3 GB of address space.
INFER = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
from plate_ocr_pipeline.datasets import AtomicCSVDataset, ImageFolderDataset, ONNXModelDataset
from plate_ocr_pipeline.pipelines.infer import nodes
folder, model, output = sys.argv[1:4]
params = {"input_dir": folder, "output_path": output, "model_path": model, "batch_size": 8,
          "num_workers": 2, "threads": 1, "progress": False}
table = nodes.recognize_images(
    ImageFolderDataset(path=folder).load(), ONNXModelDataset(filepath=model).load(), params
)
AtomicCSVDataset(filepath=output).save(table)
"""


@pytest.fixture(scope="module")
def model_path(tmp_path_factory) -> Path:
    return save_memorising_onnx(tmp_path_factory.mktemp("model"))


def png(image: np.ndarray) -> bytes:
    return cv2.imencode(".png", image)[1].tobytes()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims ``width`` x ``height`` (gray, 8-bit), with one tiny IDAT: the
    1.1 MB decompression bomb of the issue, minus the megabytes."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def run_infer(
    folder: Path, model: Path, output: Path, wrap: list[str] | None = None
) -> pd.DataFrame:
    command = [sys.executable, "-c", INFER, str(folder), str(model), str(output)]
    if wrap:
        command = [*wrap, shlex.join(command)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return pd.read_csv(output, keep_default_na=False, dtype=str)


def build_hostile_folder(root: Path) -> dict[str, tuple[str, str]]:
    """Every kind of input of issue 20 (cases 2, 4, 5, 7, 8 as root sees them) under ``root``;
    returns the row expected for each: ``{path: (status, error fragment)}``."""
    root.mkdir()
    expected: dict[str, tuple[str, str]] = {}
    tiny = png(np.full((8, 16), 200, np.uint8))
    for i in range(50):  # case 2: many crops and one name that is not UTF-8
        (root / f"crop_{i:02d}.png").write_bytes(tiny)
        expected[f"crop_{i:02d}.png"] = ("ok", "")
    with open(os.fsencode(root) + b"/z_latin1_\xe9.png", "wb") as handle:
        handle.write(tiny)
    expected["z_latin1_\\xe9.png"] = ("ok", "")
    (root / "a_AB123.png").write_bytes(png(render_plate(TEXTS[0])))
    expected["a_AB123.png"] = ("ok", "AB123")
    os.mkfifo(root / "fifo.png")  # case 4: never opened
    expected["fifo.png"] = ("error", "a FIFO (named pipe), not a regular file")
    for name in ("zero.png", ".png"):
        (root / name).symlink_to("/dev/zero")
        expected[name] = ("error", "a character device, not a regular file")
    with open(root / "sparse_60MB.png", "wb") as handle:  # no disk used: a hole
        handle.truncate(60_000_000)
    expected["sparse_60MB.png"] = ("error", "60,000,000 bytes, over the cap of 50,000,000")
    for name in ("huge_1.png", "huge_2.png"):  # case 5: refused on the header
        (root / name).write_bytes(png_header_only(20000, 20000))
        expected[name] = ("error", "20000x20000 = 400,000,000 pixels, over the cap")
    plate = cv2.cvtColor(render_plate(TEXTS[2]), cv2.COLOR_GRAY2BGR)  # gray GIFs fail to encode
    cv2.imwrite(str(root / "plate.gif"), plate)  # case 7: OpenCV 5 reads GIF
    expected["plate.gif"] = ("ok", "K4M")
    (root / "notes.txt").write_text("a note")
    expected["notes.txt"] = ("error", "not an image extension: .txt")
    (root / "empty.png").write_bytes(b"")
    expected["empty.png"] = ("error", "0 bytes")
    (root / "text.png").write_text("not a picture")
    expected["text.png"] = ("error", "not a recognised image")
    (root / "truncated.png").write_bytes(png(render_plate(TEXTS[1]))[:200])
    expected["truncated.png"] = ("error", "not a decodable image")
    (root / "dangling.png").symlink_to(root / "missing.png")
    expected["dangling.png"] = ("error", "broken symlink")
    elsewhere = root.parent / "elsewhere"  # case 8: a symlinked folder is followed
    elsewhere.mkdir()
    for name in ("x.png", "y.png"):
        (elsewhere / name).write_bytes(tiny)
        expected[f"linked/{name}"] = ("ok", "")
    (root / "linked").symlink_to(elsewhere)
    (root / "sub").mkdir()
    (root / "sub" / "c.png").write_bytes(tiny)
    expected["sub/c.png"] = ("ok", "")
    (root / "sub" / "loop").symlink_to("..")  # cycles: one row each, the walk ends
    expected["sub/loop/"] = ("error", "same folder as '.'")
    (root / "sub" / "again").symlink_to(".")
    expected["sub/again/"] = ("error", "same folder as 'sub/'")
    return expected


def check_rows(table: pd.DataFrame, expected: dict[str, tuple[str, str]]) -> None:
    assert len(table) == len(expected)  # inputs tried == rows accounted for
    assert table["path"].tolist() == sorted(expected)
    for row in table.itertuples(index=False):
        status, fragment = expected[row.path]
        assert row.status == status, row
        assert fragment in (row.text if status == "ok" else row.error), row


def test_every_input_of_a_hostile_folder_gets_exactly_one_row(tmp_path, model_path):
    expected = build_hostile_folder(tmp_path / "in")
    output = tmp_path / "out" / "predictions.csv"
    check_rows(run_infer(tmp_path / "in", model_path, output), expected)
    assert output.read_bytes().decode("utf-8")  # the table is UTF-8 whatever the names
    assert [p.name for p in output.parent.iterdir()] == ["predictions.csv"]


def unprivileged() -> list[str]:
    """A command prefix that runs without the rights to read what its mode forbids."""
    if os.geteuid() != 0:
        return ["bash", "-c"]
    if shutil.which("capsh"):
        return ["capsh", "--drop=cap_dac_override,cap_dac_read_search", "--", "-c"]
    pytest.skip("running as root without capsh: cannot drop the right to read any folder")


def test_unreadable_folder_and_file_get_a_row_each(tmp_path, model_path):
    wrap = unprivileged()
    root = tmp_path / "in"
    (root / "locked").mkdir(parents=True)
    tiny = png(np.full((8, 16), 200, np.uint8))
    for name in ("a.png", "b.png", "locked/hidden_1.png", "locked/hidden_2.png", "secret.png"):
        (root / name).write_bytes(tiny)
    (root / "locked").chmod(0)
    (root / "secret.png").chmod(0)
    try:
        table = run_infer(root, model_path, tmp_path / "out.csv", wrap)
    finally:
        (root / "locked").chmod(0o755)
    check_rows(
        table,
        {
            "a.png": ("ok", ""),
            "b.png": ("ok", ""),
            "locked/": ("error", "folder not listed: PermissionError: Permission denied"),
            "secret.png": ("error", "unreadable: PermissionError: Permission denied"),
        },
    )


def test_an_escaped_name_and_the_same_name_written_with_a_backslash_get_two_rows(tmp_path):
    backslash, latin1 = png(np.zeros((4, 4), np.uint8)), png(np.zeros((5, 5), np.uint8))
    (tmp_path / "z_\\xe9.png").write_bytes(backslash)
    with open(os.fsencode(tmp_path) + b"/z_\xe9.png", "wb") as handle:
        handle.write(latin1)
    files = ImageFolderDataset(path=str(tmp_path)).load()
    assert list(files) == ["z_\\xe9.png", "z_\\xe9.png (2)"]
    assert files["z_\\xe9.png"]() == backslash
    assert files["z_\\xe9.png (2)"]() == latin1


def test_a_file_replaced_by_a_fifo_after_listing_is_not_opened(tmp_path):
    (tmp_path / "a.png").write_bytes(png(np.zeros((4, 4), np.uint8)))
    files = ImageFolderDataset(path=str(tmp_path)).load()
    (tmp_path / "a.png").unlink()
    os.mkfifo(tmp_path / "a.png")
    with pytest.raises(ImageFileError, match="a FIFO"):
        files["a.png"]()


def test_a_file_read_by_its_size_is_read_whole_even_if_it_grew_and_never_past_the_cap(tmp_path):
    import io

    dataset = ImageFolderDataset(path=str(tmp_path), max_file_bytes=100)
    assert dataset._read_capped(io.BytesIO(b"x" * 40), 40) == b"x" * 40
    # Measured at 10 bytes, 40 when read (written to meanwhile): all 40 are read.
    assert dataset._read_capped(io.BytesIO(b"x" * 40), 10) == b"x" * 40
    # Grown past the cap: the cap + 1 bytes, which the size check then refuses.
    assert len(dataset._read_capped(io.BytesIO(b"x" * 500), 10)) == 101
    assert len(dataset._read_capped(io.BytesIO(b"x" * 500), None)) == 101
    (tmp_path / "big.png").write_bytes(b"x" * 150)
    with pytest.raises(ImageFileError, match="over the cap of 100"):
        dataset.load()["big.png"]()


@pytest.mark.parametrize(
    ("extension", "flags"),
    [
        (".png", []),
        (".jpg", []),
        (".jpg", [cv2.IMWRITE_JPEG_PROGRESSIVE, 1]),
        (".bmp", []),
        (".gif", []),
        (".webp", []),
        (".webp", [cv2.IMWRITE_WEBP_QUALITY, 80]),
        (".tif", []),
        (".ppm", []),
        (".pgm", []),
    ],
)
def test_header_size_of_each_format_without_decoding(extension, flags):
    image = np.zeros((21, 43, 3), np.uint8)
    data = cv2.imencode(extension, image[..., 0] if extension == ".pgm" else image, flags)[1]
    assert image_size(data.tobytes()) == (43, 21)
    assert check_image_header(data.tobytes(), max_pixels=43 * 21) == (43, 21)
    with pytest.raises(ImageFileError, match=r"43x21 = 903 pixels, over the cap of 902"):
        check_image_header(data.tobytes(), max_pixels=902)


def test_header_check_refuses_unknown_cut_and_empty_sizes():
    assert image_size(png_header_only(20000, 20000)) == (20000, 20000)
    for data in (b"hello", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0", b"\xff\xd8\xff\xe0\0\x10", b""):
        with pytest.raises(ImageFileError, match="not a recognised image"):
            check_image_header(data)
    with pytest.raises(ImageFileError, match="zero size"):
        check_image_header(png_header_only(0, 5))
    a_bomb = cv2.imencode(".png", np.zeros((3000, 3000), np.uint8))[1].tobytes()
    with pytest.raises(ImageFileError, match="3000x3000"):
        check_image_header(a_bomb, max_pixels=1_000_000)


@pytest.mark.parametrize("kind", ["folder", "fifo", "parent_is_file", "device"])
def test_output_path_that_is_not_a_regular_file_fails_when_the_catalog_is_made(tmp_path, kind):
    path = {
        "folder": tmp_path,
        "fifo": tmp_path / "fifo.csv",
        "parent_is_file": tmp_path / "file.csv" / "out.csv",
        "device": Path("/dev/null"),  # never saved to: the constructor must refuse it
    }[kind]
    if kind == "fifo":
        os.mkfifo(path)
    if kind == "parent_is_file":
        path.parent.write_text("a file")
    with pytest.raises(DatasetError, match="is a folder|is a FIFO|above it is a file|device"):
        AtomicCSVDataset(filepath=str(path))


def test_save_refuses_a_target_that_became_a_folder_and_follows_symlinks(tmp_path):
    target = tmp_path / "out.csv"
    dataset = AtomicCSVDataset(filepath=str(target))
    target.mkdir()
    with pytest.raises(DatasetError, match="is a folder"):
        dataset.save(pd.DataFrame({"a": [1]}))
    target.rmdir()
    (tmp_path / "real.csv").write_text("old\n")
    target.symlink_to(tmp_path / "real.csv")
    dataset.save(pd.DataFrame({"a": [1]}))
    assert target.is_symlink() and (tmp_path / "real.csv").read_text() == "a\n1\n"


SAVE_SLOWLY = """
import sys, time
import pandas as pd
from plate_ocr_pipeline.datasets.atomic_csv_dataset import AtomicCSVDataset

class Slow(pd.DataFrame):
    def to_csv(self, handle, **kwargs):
        handle.write("half a row")
        handle.flush()
        time.sleep(120)

AtomicCSVDataset(filepath=sys.argv[1]).save(Slow({"a": [1]}))
"""


def kill_while_saving(target: Path, signum: int) -> int:
    """Start a save to ``target`` that stalls while writing, send ``signum`` once the temporary
    file exists; the process's return code."""
    process = subprocess.Popen(
        [sys.executable, "-c", SAVE_SLOWLY, str(target)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not list(target.parent.glob(f".{target.name}.*.tmp")):
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(0.2)  # into the sleep inside to_csv
        process.send_signal(signum)
        return process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()


def test_sigterm_during_save_removes_the_temporary_file(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old\n")
    assert kill_while_saving(target, signal.SIGTERM) == -signal.SIGTERM
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]
    assert target.read_text() == "old\n"


def test_next_save_removes_what_a_sigkill_left_but_not_a_live_writers_file(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old\n")
    assert kill_while_saving(target, signal.SIGKILL) == -signal.SIGKILL
    (left,) = tmp_path.glob(".out.csv.*.tmp")
    live = tmp_path / ".out.csv.0123456789ab.tmp"  # another writer, alive, holding its lock
    live.write_text("writing")
    past = time.time() - 60
    for path in (left, live):
        os.utime(path, (past, past))
    with open(live, "rb") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        AtomicCSVDataset(filepath=str(target)).save(pd.DataFrame({"a": [2]}))
    assert sorted(p.name for p in tmp_path.iterdir()) == [live.name, "out.csv"]
    assert target.read_text() == "a\n2\n"


@pytest.mark.parametrize("kind", ["fifo", "device", "folder"])
def test_a_model_path_that_is_not_a_regular_file_fails_naming_it(tmp_path, kind):
    """infer.model_path / score.model_path at a FIFO used to hang the run (and its sha256 tag)."""
    from plate_ocr_pipeline.datasets import ONNXModelDataset
    from plate_ocr_pipeline.tracking_hooks import file_sha256

    path = tmp_path / "model.onnx"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "device":
        path.symlink_to("/dev/zero")
    else:
        path.mkdir()
    with pytest.raises(DatasetError, match=r"model\.onnx: not a regular file"):
        ONNXModelDataset(filepath=str(path)).load()
    assert file_sha256(str(path)) is None


def test_a_regular_file_is_read_whole_as_it_is_when_read_and_never_past_the_cap(tmp_path):
    import fsspec

    from plate_ocr_pipeline.datasets.regular_file import read_regular_file

    fs = fsspec.filesystem("file")
    path = tmp_path / "data.bin"
    path.write_bytes(b"x" * 40)
    assert read_regular_file(fs, str(path), 100) == (b"x" * 40, None)
    assert read_regular_file(fs, str(path), 39) == (None, "file over 39 bytes: not read")

    class GrowsAfterStat:  # measured at 10 bytes, 60 by the time it is read
        def info(self, name):
            return {"type": "file", "size": 10}

        def open(self, name, mode):
            return open(name, mode)

    path.write_bytes(b"y" * 60)
    assert read_regular_file(GrowsAfterStat(), str(path), 100) == (b"y" * 60, None)
    assert read_regular_file(GrowsAfterStat(), str(path), 50)[1] == "file over 50 bytes: not read"
