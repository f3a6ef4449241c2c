"""``infer.engine: dask``: the same table as the local engine, from partitions read as tasks on a
``dask.distributed`` cluster; a bad scheduler fails fast and before any file is read.

Clusters here are small: one or two workers, threads of this process where the point is not
pickling to another process.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import cv2
import onnx
import pandas as pd
import pytest
from distributed import Client, LocalCluster
from pydantic import ValidationError

from plate_ocr_pipeline.datasets.atomic_csv_dataset import AtomicCSVDataset
from plate_ocr_pipeline.datasets.image_folder_dataset import ImageFolderDataset
from plate_ocr_pipeline.inference import distributed
from plate_ocr_pipeline.pipelines.infer import nodes
from plate_ocr_pipeline.pipelines.infer.params import InferParams
from tests.plate_model_helpers import (
    TEXTS,
    render_plate,
    save_memorising_onnx,
)


@pytest.fixture(scope="module")
def model_path(tmp_path_factory) -> Path:
    return save_memorising_onnx(tmp_path_factory.mktemp("model"))


@pytest.fixture(scope="module")
def model(model_path) -> onnx.ModelProto:
    return onnx.load(model_path)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """Nine plates, a corrupt JPEG, a text file named .png, an empty file and a non-image."""
    root = tmp_path_factory.mktemp("in")
    (root / "sub").mkdir()
    for i in range(9):
        cv2.imwrite(str(root / f"plate_{i}.png"), render_plate(TEXTS[i % len(TEXTS)]))
    jpeg = root / "sub" / "c.jpg"
    cv2.imwrite(str(jpeg), render_plate(TEXTS[2]))
    (root / "sub" / "corrupt.jpg").write_bytes(jpeg.read_bytes()[:150])
    (root / "text.png").write_text("not a picture")
    (root / "empty.png").write_bytes(b"")
    (root / "notes.txt").write_text("not an image")
    return root


def params(folder: Path, **overrides) -> dict:
    base = {
        "input_dir": str(folder),
        "output_path": "out.csv",
        "model_path": "model.onnx",
        "batch_size": 2,
        "num_workers": 2,
        "threads": 1,
        "progress": False,
    }
    return {**base, **overrides}


@pytest.fixture(scope="module")
def local_table(folder, model) -> pd.DataFrame:
    return nodes.recognize_images(
        ImageFolderDataset(path=str(folder)).load(), model, params(folder)
    )


@pytest.fixture(scope="module")
def threads_cluster():
    """A cluster of two single-thread workers inside this process, shared by the tests."""
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
    ) as cluster:
        yield cluster


class Recorder(dict):
    """``{name: loader}`` whose loaders note that they were called (none should be)."""

    def __init__(self, names):
        self.called: list[str] = []
        super().__init__({name: (lambda n=name: self.called.append(n) or b"") for name in names})


def test_local_table_has_the_expected_rows(local_table):
    assert len(local_table) == 14
    assert local_table["path"].tolist() == sorted(local_table["path"])
    errors = local_table.set_index("path")["error"]
    assert "not a decodable image" in errors["sub/corrupt.jpg"]
    assert "not an image extension: .txt" in errors["notes.txt"]
    assert "not a recognised image" in errors["text.png"]
    assert (local_table["status"] == "ok").sum() == 10


@pytest.mark.parametrize("partition_size", [1, 4, 2000])
def test_dask_engine_on_a_local_cluster_gives_the_local_table(
    folder, model, local_table, partition_size
):
    files = ImageFolderDataset(path=str(folder)).load()
    table = nodes.recognize_images(
        files,
        model,
        params(
            folder,
            engine="dask",
            partition_size=partition_size,
            dask_workers=2,
            dask_processes=False,
        ),
    )
    pd.testing.assert_frame_equal(table, local_table)


def test_worker_processes_give_the_same_csv_bytes(folder, model, local_table, tmp_path):
    """Workers in other processes: the loaders and the model are pickled to them."""
    files = ImageFolderDataset(path=str(folder)).load()
    table = nodes.recognize_images(
        files, model, params(folder, engine="dask", partition_size=5, dask_workers=1)
    )
    AtomicCSVDataset(filepath=str(tmp_path / "dask.csv")).save(table)
    AtomicCSVDataset(filepath=str(tmp_path / "local.csv")).save(local_table)
    assert (tmp_path / "dask.csv").read_bytes() == (tmp_path / "local.csv").read_bytes()


def test_an_existing_cluster_by_its_address(folder, model, local_table, threads_cluster):
    files = ImageFolderDataset(path=str(folder)).load()
    table = nodes.recognize_images(
        files,
        model,
        params(
            folder,
            engine="dask",
            partition_size=3,
            scheduler_address=threads_cluster.scheduler_address,
        ),
    )
    pd.testing.assert_frame_equal(table, local_table)


# Module level, so that the tasks pickle it by name (a lock in a closure does not pickle).
_PARTITIONS_READING = {"now": 0, "most": 0}
_PARTITIONS_LOCK = threading.Lock()
_read_partition = distributed.read_partition


def counting_read_partition(part, *args, **kwargs):
    """``read_partition`` counting how many partitions are being read at once."""
    with _PARTITIONS_LOCK:
        _PARTITIONS_READING["now"] += 1
        _PARTITIONS_READING["most"] = max(_PARTITIONS_READING["most"], _PARTITIONS_READING["now"])
    try:
        time.sleep(0.05)  # room for a second partition to start, were it allowed to
        return _read_partition(part, *args, **kwargs)
    finally:
        with _PARTITIONS_LOCK:
            _PARTITIONS_READING["now"] -= 1


def test_results_come_back_in_order_with_a_window_of_one_partition(
    folder, model, threads_cluster, monkeypatch
):
    files = ImageFolderDataset(path=str(folder)).load()
    _PARTITIONS_READING.update(now=0, most=0)
    monkeypatch.setattr(distributed, "read_partition", counting_read_partition)
    with Client(threads_cluster) as client:
        results = distributed.run_files_on_dask(
            client, files, model, partition_size=1, batch_size=1, max_in_flight=1
        )
        assert [r.source for r in results] == list(files)
        deadline = time.monotonic() + 10  # releases reach the scheduler asynchronously
        while client.who_has() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert client.who_has() == {}  # nothing left on the workers: every future released
    assert _PARTITIONS_READING["most"] == 1  # two workers, yet one partition at a time


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# The closed port is picked when the test runs: every pytest-xdist worker collects the same ids.
@pytest.mark.parametrize("address", ["tcp://127.0.0.1:{closed_port}", "nonsense://here"])
def test_a_bad_scheduler_address_fails_fast_naming_it_before_any_file_is_read(
    folder, model, address, monkeypatch
):
    import distributed

    address = address.format(closed_port=free_port())

    timeouts = []

    def client(*args, **kwargs):
        timeouts.append(kwargs.get("timeout"))
        return Client(*args, **kwargs)

    monkeypatch.setattr(distributed, "Client", client)
    files = Recorder(["a.png", "b.png"])
    with pytest.raises(ConnectionError, match=f"infer.scheduler_address='{address}'") as error:
        nodes.recognize_images(
            files,
            model,
            params(folder, engine="dask", scheduler_address=address, dask_connect_timeout=1),
        )
    assert files.called == []
    # Fast: the client gives up after the configured timeout, not Dask's default 30 s.
    assert timeouts == [1] and "within 1 s" in str(error.value)


def test_a_scheduler_without_workers_fails_fast(folder, model):
    files = Recorder(["a.png"])
    with (
        LocalCluster(n_workers=0, processes=False, dashboard_address=":0") as empty,
        pytest.raises(ConnectionError, match="has no worker after 1 s"),
    ):
        nodes.recognize_images(
            files,
            model,
            params(
                folder,
                engine="dask",
                scheduler_address=empty.scheduler_address,
                dask_connect_timeout=1,
            ),
        )
    assert files.called == []


def test_the_last_worker_leaving_mid_run_ends_the_job_with_a_row_per_file(model, monkeypatch):
    """The model is scattered to the workers; when the last one leaves, it is lost, and the
    scheduler cancels every task still to run, so the job ends rather than waiting for a
    worker. Each file not read gets its row naming the cause; the partition read before keeps
    its results."""
    import distributed as dask_distributed

    read_partition = distributed.read_partition

    def last_worker_leaves_during_partition_1(part, *args, **kwargs):
        if "c.png" in part:
            worker = dask_distributed.get_worker()
            worker.loop.add_callback(worker.close)
            time.sleep(0.5)
        return read_partition(part, *args, **kwargs)

    monkeypatch.setattr(distributed, "read_partition", last_worker_leaves_during_partition_1)
    files = {f"{name}.png": b"" for name in "abcdef"}
    with (
        LocalCluster(
            n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        results = list(
            distributed.run_files_on_dask(client, files, model, partition_size=2, max_in_flight=1)
        )
    assert [r.source for r in results] == list(files)
    assert [r.error for r in results[:2]] == ["file is empty (0 bytes)"] * 2
    assert all(r.error.startswith("dask task failed: partition ") for r in results[2:])
    assert "cancelled" in results[2].error and "cancelled" in results[4].error


def test_no_worker_to_send_the_model_to_gives_every_file_its_row(model):
    files = {"a.png": b"", "b.png": b""}
    with (
        LocalCluster(n_workers=0, processes=False, dashboard_address=":0") as empty,
        Client(empty, timeout=2) as client,  # scatter waits this long for a worker
    ):
        results = list(distributed.run_files_on_dask(client, files, model))
    assert [r.source for r in results] == ["a.png", "b.png"]
    assert all(
        r.error.startswith("not read: cannot send the model to a Dask worker") for r in results
    )


def test_a_relative_folder_is_refused_for_a_remote_cluster(model):
    with pytest.raises(ValueError, match="infer.input_dir='crops' is relative"):
        nodes.recognize_images(
            Recorder(["a.png"]),
            model,
            params(Path("crops"), engine="dask", scheduler_address="tcp://10.0.0.1:8786"),
        )


def explode() -> bytes:
    raise RuntimeError("the loader broke")


def test_a_failed_task_gives_its_files_error_rows_naming_it(model, threads_cluster, monkeypatch):
    """A task that fails (a worker lost, a bug) costs its files' readings, not the run: every
    file still gets its row. A loader that raises is that file's error alone."""
    read_partition = distributed.read_partition

    def lost_with_b(part, *args, **kwargs):
        if "b.png" in part:
            raise RuntimeError("worker lost")
        return read_partition(part, *args, **kwargs)

    monkeypatch.setattr(distributed, "read_partition", lost_with_b)
    files = {"a.png": b"", "b.png": b"", "c.png": explode}
    with Client(threads_cluster) as client:
        results = list(distributed.run_files_on_dask(client, files, model, partition_size=2))
    assert [r.source for r in results] == ["a.png", "b.png", "c.png"]
    failed = (
        "dask task failed: partition 0 (2 files, 'a.png' to 'b.png'): RuntimeError: worker lost"
    )
    assert [r.error for r in results[:2]] == [failed, failed]
    assert results[2].error == "unreadable file: RuntimeError: the loader broke"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"engine": "dask", "partition_size": 0}, "partition_size"),
        ({"engine": "spark"}, "engine"),
        ({"scheduler_address": "tcp://h:8786"}, "engine is 'local'"),
        ({"engine": "dask", "scheduler_address": "tcp://h:8786", "dask_workers": 2}, "one or"),
        ({"engine": "dask", "dask_connect_timeout": 0}, "dask_connect_timeout"),
    ],
)
def test_dask_parameters_are_validated(overrides, message):
    with pytest.raises(ValidationError, match=message):
        InferParams.model_validate(params(Path("in"), **overrides))


@pytest.mark.parametrize("bad", [0, -1, True, 2.5])
def test_partition_size_is_checked_before_any_task(model, bad, threads_cluster):
    files = Recorder(["a.png"])
    with Client(threads_cluster) as client, pytest.raises(ValueError, match="partition_size"):
        distributed.run_files_on_dask(client, files, model, partition_size=bad)
    assert files.called == []


def test_partitions_keep_the_order():
    assert distributed.partitions(list("abcde"), 2) == [["a", "b"], ["c", "d"], ["e"]]
    assert distributed.partitions([], 3) == []


def test_kedro_run_with_the_dask_engine_writes_the_local_table(
    kedro_project, folder, model_path, local_table, tmp_path, monkeypatch
):
    monkeypatch.setenv("DISABLE_HOOKS_FOR_PLUGINS", "kedro_mlflow")
    output = tmp_path / "out" / "predictions.csv"
    kedro_project(
        "--pipeline=infer",
        "--env=quick",
        f"--params=infer.input_dir={folder},infer.output_path={output},"
        f"infer.model_path={model_path},infer.engine=dask,infer.dask_workers=1,"
        "infer.partition_size=4,infer.batch_size=2",
    )
    AtomicCSVDataset(filepath=str(tmp_path / "local.csv")).save(local_table)
    assert output.read_bytes() == (tmp_path / "local.csv").read_bytes()
    assert [p.name for p in output.parent.iterdir()] == ["predictions.csv"]


def test_an_unknown_region_hint_fails_before_any_cluster(model):
    with pytest.raises(ValueError, match=r"unknown region families \['ar-olld'\]"):
        distributed.serialized_model(model, True, ["ar-olld"])
    assert distributed.serialized_model(model, True, ["ar-old"]) == model.SerializeToString()
