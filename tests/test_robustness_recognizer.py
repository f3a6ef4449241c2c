"""Hostile inputs to the recognizer (issue 20): every input gives a result or a
``PlateInputError`` naming it and the reason; nothing comes back blank without a reason.

``CASES`` holds one input per entry: a readable one with the text it must read, an unreadable
one with a pattern for the reason. Each is tried alone (``run``), all together through
``run_files`` (one result per input, errors included), and the readable ones as a generator.
The training checkpoint's unreadable states are at the end.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from plate_ocr_pipeline.core.onnx_metadata import embed_metadata
from plate_ocr_pipeline.core.plate_config import PlateConfig
from plate_ocr_pipeline.inference.recognizer import ONNXPlateRecognizer, PlateInputError
from plate_ocr_pipeline.training.checkpoints import CheckpointError, CheckpointStore
from tests.plate_model_helpers import PLATE, TEXTS, build_memorising_onnx, render_plate

TEXT = TEXTS[2]  # neither a blank white nor a blank black crop reads as this
GRAY = render_plate(TEXT)  # uint8, 64 x 128, dark text on a light plate
BIG = cv2.resize(GRAY, (256, 128))


def _file(name: str, data: bytes | None = None, image: np.ndarray | None = None):
    """A factory writing ``data`` (or ``image``, encoded by extension) to ``tmp/name``."""

    def make(tmp: Path) -> Path:
        path = tmp / name
        if image is not None:
            assert cv2.imwrite(str(path), image)
        else:
            path.write_bytes(data or b"")
        return path

    return make


def _fifo(tmp: Path) -> Path:
    os.mkfifo(tmp / "fifo.png")
    return tmp / "fifo.png"


def _device_link(tmp: Path) -> Path:
    (tmp / "zero.png").symlink_to("/dev/zero")
    return tmp / "zero.png"


def _truncated_png(tmp: Path) -> Path:
    _, data = cv2.imencode(".png", BIG)
    (tmp / "truncated.png").write_bytes(data.tobytes()[: len(data) // 2])
    return tmp / "truncated.png"


def _sparse_file(tmp: Path) -> Path:
    with open(tmp / "sparse.png", "wb") as handle:  # a hole: no disk used
        handle.truncate(60_000_000)
    return tmp / "sparse.png"


def _const(value: Any) -> Callable[[Path], Any]:
    return lambda tmp: value


U16 = GRAY.astype(np.uint16) * 257
# run() says what it takes; run_files() (one image per entry) names the shape
NOT_AN_IMAGE_SHAPE = r"expected an image \(HxW or HxWxC\)|cannot use an array of shape \("

# (id, factory(tmp) -> input, TEXT or a regex for the reason)
CASES: list[tuple[str, Callable[[Path], Any], str]] = [
    # files
    ("png", _file("a.png", image=BIG), TEXT),
    ("png-16-bit", _file("deep.png", image=cv2.resize(U16, (256, 128))), TEXT),
    ("jpg", _file("a.jpg", image=cv2.cvtColor(BIG, cv2.COLOR_GRAY2BGR)), TEXT),
    ("bmp", _file("a.bmp", image=BIG), TEXT),
    ("tiff-16-bit", _file("deep.tiff", image=U16), TEXT),
    ("png-bytes", lambda tmp: cv2.imencode(".png", BIG)[1].tobytes(), TEXT),
    ("str-path", lambda tmp: str(_file("s.png", image=BIG)(tmp)), TEXT),
    ("missing", _const(Path("/nonexistent/plate.png")), "does not exist"),
    ("empty", _file("empty.png", b""), "0 bytes"),
    ("text-as-png", _file("text.png", b"not an image"), "not a recognised image"),
    ("truncated-png", _truncated_png, "not a decodable image"),
    ("directory", lambda tmp: tmp, "directory"),
    ("fifo", _fifo, "not a regular file"),
    ("symlink-to-dev-zero", _device_link, "not a regular file"),
    ("sparse-60-MB", _sparse_file, "60,000,000 bytes, over 50,000,000: not read"),
    ("empty-bytes", _const(b""), "0 bytes"),
    ("junk-bytes", _const(b"\x00\x01junk"), "not a recognised image"),
    # arrays, each dtype
    ("uint8-gray", _const(GRAY), TEXT),
    ("uint8-gray-1", _const(GRAY[..., None]), TEXT),
    ("uint8-rgb", _const(cv2.cvtColor(GRAY, cv2.COLOR_GRAY2RGB)), TEXT),
    ("uint8-rgba", _const(cv2.cvtColor(GRAY, cv2.COLOR_GRAY2RGBA)), TEXT),
    ("uint16", _const(U16), TEXT),
    ("int16-16-bit", _const((GRAY.astype(np.int32) * 128).astype(np.int16)), TEXT),
    ("int16-8-bit", _const(GRAY.astype(np.int16)), TEXT),
    ("int32-16-bit", _const(GRAY.astype(np.int32) * 257), TEXT),
    ("int64", _const(GRAY.astype(np.int64)), TEXT),
    ("uint32", _const(GRAY.astype(np.uint32)), TEXT),
    ("bool", _const(GRAY > 128), TEXT),
    ("float64-0-1", _const(GRAY / 255.0), TEXT),
    ("float32-0-255", _const(GRAY.astype(np.float32)), TEXT),
    ("float16-0-1", _const((GRAY / 255.0).astype(np.float16)), TEXT),
    ("uint16-as-int16", _const(U16.view(np.int16)), "int16 array has negative values"),
    ("int8", _const(GRAY.astype(np.int8)), "int8 array has negative values"),
    ("int64-beyond-16-bits", _const(GRAY.astype(np.int64) * 1000), "beyond 16 bits"),
    ("float-nan", _const(np.where(GRAY > 128, np.nan, 0.0)), "float64 array holds NaN"),
    ("float-inf", _const(np.where(GRAY > 128, np.inf, 0.0)), "float64 array holds inf"),
    ("float-0-65535", _const(U16.astype(np.float32)), "are not pixels"),
    ("float-normalised", _const(GRAY / 127.5 - 1.0), "are not pixels"),
    ("complex", _const(GRAY.astype(np.complex64)), "unsupported array dtype complex64"),
    ("object", _const(GRAY.astype(object)), "unsupported array dtype object"),
    ("2-channels", _const(np.dstack([GRAY, GRAY])), "2 channels"),
    ("zero-size", _const(np.zeros((0, 128), np.uint8)), "zero size"),
    ("1-d", _const(GRAY.ravel()), NOT_AN_IMAGE_SHAPE),
    ("5-d", _const(GRAY[None, None, ..., None]), NOT_AN_IMAGE_SHAPE),
    # not images at all
    ("int", _const(7), "unsupported input type"),
    ("none", _const(None), "unsupported input type"),
    ("dict", _const({"image": GRAY}), "unsupported input type"),
]
IDS = [case[0] for case in CASES]


@pytest.fixture(scope="module")
def reader() -> ONNXPlateRecognizer:
    model = embed_metadata(build_memorising_onnx(), PlateConfig.from_dict(PLATE))
    return ONNXPlateRecognizer(model.SerializeToString(), threads=1)


def _label(source: Any) -> str:
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    if isinstance(source, bytes):
        return "<bytes>"
    if isinstance(source, np.ndarray):
        return f"<array {source.shape} {source.dtype}>"
    return f"<{type(source).__name__}>"


@pytest.mark.parametrize(("make", "expected"), [case[1:] for case in CASES], ids=IDS)
def test_each_input_is_read_or_refused_naming_it(reader, tmp_path, make, expected):
    source = make(tmp_path)
    if expected == TEXT:
        assert reader.run(source) == [TEXT]
        return
    with pytest.raises(PlateInputError, match=expected) as caught:
        reader.run(source)
    assert caught.value.source == _label(source)
    assert str(caught.value).startswith(f"{_label(source)}: ")


def test_all_inputs_together_are_accounted_for(reader, tmp_path):
    """``run_files`` over every input: as many results as inputs, each read or with its reason."""
    files = {}
    for name, make, _ in CASES:
        (tmp_path / name).mkdir()
        files[name] = make(tmp_path / name)  # not callable: used as the input itself
    results = list(reader.run_files(files, batch_size=8))
    assert [r.source for r in results] == IDS  # one result per input, in order
    for (name, _, expected), result in zip(CASES, results, strict=True):
        if expected == TEXT:
            assert (result.ok, result.text, result.error) == (True, TEXT, None), name
        else:
            assert (result.ok, result.text) == (False, ""), name
            assert re.search(expected, result.error), (name, result.error)
    read = sum(r.ok for r in results)
    refused = sum(bool(r.error) for r in results)
    assert read + refused == len(CASES) == 47
    assert (read, refused) == (21, 26)


def test_a_generator_of_all_readable_inputs_gives_one_result_each_in_order(reader, tmp_path):
    readable = [(name, make) for name, make, expected in CASES if expected == TEXT]
    taken: list[str] = []

    def sources():
        for name, make in readable:
            folder = tmp_path / name
            folder.mkdir()
            taken.append(name)
            yield make(folder)

    results = list(reader.run_iter(sources(), batch_size=5))
    assert taken == [name for name, _ in readable]
    assert [r.text for r in results] == [TEXT] * len(readable)


def test_a_list_with_a_bad_input_is_refused_naming_its_position(reader):
    with pytest.raises(PlateInputError, match=r"^<array\[2\]>: float64 array holds NaN"):
        reader.run([GRAY, GRAY / 255.0, np.full((8, 8), np.nan)])
    with pytest.raises(PlateInputError, match=r"^<item 1>: unsupported input type NoneType"):
        reader.run([GRAY, None])


def test_a_batch_array_gives_one_result_per_image(reader):
    batch = np.stack([GRAY[..., None]] * 3).astype(np.int16)  # not model-ready: each preprocessed
    assert reader.run(batch, batch_size=2) == [TEXT] * 3
    assert reader.run(batch[:0]) == []


def test_benchmark_and_run_refuse_non_positive_counts(reader):
    for call, argument in [
        (lambda: reader.benchmark(batch_size=0, verbose=False), "batch_size"),
        (lambda: reader.benchmark(n_iter=0, verbose=False), "n_iter"),
        (lambda: reader.run(GRAY, batch_size=0), "batch_size"),
        (lambda: reader.run_files({}, batch_size=-1), "batch_size"),
    ]:
        with pytest.raises(ValueError, match=f"^{argument} must be at least 1"):
            call()


# ------------------------------------------------- training checkpoint (issue 20, case 13)
@pytest.mark.parametrize(
    ("state", "reason"),
    [
        (b'{"epochs_done": 3, "hist', "JSONDecodeError"),  # cut short
        (b"", "JSONDecodeError"),  # empty
        (b"\xff\xfe\x00garbage", "UnicodeDecodeError"),  # not text
        (b"[1, 2]", "holds a list, not an object"),
        (b'{"history": {}}', "'epochs_done' is None, not a count"),
        (b'{"epochs_done": -1, "history": {}}', "'epochs_done' is -1, not a count"),
        (b'{"epochs_done": 2}', "'history' is missing"),
    ],
    ids=["truncated", "empty", "binary", "list", "no-epochs", "negative-epochs", "no-history"],
)
def test_an_unusable_checkpoint_state_names_the_file_and_the_way_out(tmp_path, state, reason):
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    (folder / "last.keras").write_bytes(b"dummy model")
    (folder / "state.json").write_bytes(state)
    with pytest.raises(CheckpointError, match=re.escape(reason)) as caught:
        CheckpointStore(folder).state()
    message = str(caught.value)
    assert message.startswith(f"{folder / 'state.json'}: ")
    assert f"Delete the checkpoint folder {folder}" in message
    assert "train.resume=false" in message
    assert isinstance(caught.value, ValueError)


def test_a_usable_or_incomplete_checkpoint_is_read_or_ignored(tmp_path):
    store = CheckpointStore(tmp_path)
    assert store.state() is None  # nothing there
    state = {"epochs_done": 2, "history": {"loss": [1.0, 0.5]}}
    (tmp_path / "state.json").write_text(json.dumps(state))
    assert store.state() is None  # no model beside it: no checkpoint
    (tmp_path / "last.keras").write_bytes(b"dummy model")
    assert store.state() == state


def test_early_stoppings_best_weights_are_kept_once_per_best_epoch(tmp_path):
    class Model:  # what CheckpointStore.save needs of a Keras model
        def save(self, path):
            Path(path).write_bytes(b"dummy model")

    store = CheckpointStore(tmp_path)
    weights = [np.arange(3, dtype=np.float32), np.ones((2, 2), np.float32)]
    store.save(Model(), {"epochs_done": 1, "history": {}}, (0, weights))
    state = store.state()
    assert state["best_weights_epoch"] == 0
    for got, saved in zip(store.best_weights(state), weights, strict=True):
        np.testing.assert_array_equal(got, saved)
    # A new best epoch replaces the file; without best weights the state names none.
    store.save(Model(), {"epochs_done": 2, "history": {}}, (1, [w + 1 for w in weights]))
    assert [p.name for p in tmp_path.glob("best-*.npz")] == ["best-1.npz"]
    assert store.best_weights(store.state())[0][0] == 1
    (tmp_path / "best-1.npz").unlink()
    with pytest.raises(CheckpointError, match="best-1.npz is missing"):
        store.best_weights(store.state())
    store.save(Model(), {"epochs_done": 3, "history": {}})
    assert store.best_weights(store.state()) is None
    # Another run in the same folder writes its own best-0.npz over the one left there.
    np.savez(tmp_path / "best-0.npz", np.zeros(5))
    CheckpointStore(tmp_path).save(Model(), {"epochs_done": 1, "history": {}}, (0, weights))
    np.testing.assert_array_equal(store.best_weights(store.state())[0], weights[0])


def test_a_save_cut_off_before_its_state_is_written_leaves_the_previous_epoch(
    tmp_path, monkeypatch
):
    class Model:  # writes which epoch it is, as the .keras file stands for the weights
        epoch = 1

        def save(self, path):
            Path(path).write_bytes(f"epoch {self.epoch}".encode())

    store = CheckpointStore(tmp_path)
    model = Model()
    store.save(model, {"epochs_done": 1, "history": {}})
    model.epoch = 2

    def killed(*args, **kwargs):
        raise KeyboardInterrupt("killed while writing the state")

    monkeypatch.setattr(Path, "write_text", killed)  # the state's write, not the model's
    with pytest.raises(KeyboardInterrupt):
        store.save(model, {"epochs_done": 2, "history": {}})
    monkeypatch.undo()
    # The model file and the state still agree: both are epoch 1's.
    assert store.state()["epochs_done"] == 1
    assert store.model_path.read_text() == "epoch 1"
