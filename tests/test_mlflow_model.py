"""The whole reader as an MLflow Model: the shipped ONNX model logged with a signature and an
input example, registered in a temporary sqlite registry, loaded back with
``mlflow.pyfunc.load_model``, and served by ``mlflow models serve`` on 127.0.0.1, which answers
a posted crop with the plate text. Every answer is compared with what ``ONNXPlateRecognizer``
reads from the same crops."""

from __future__ import annotations

import base64
import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pytest

mlflow = pytest.importorskip("mlflow")
pytest.importorskip("pandas")

from plate_ocr_pipeline.inference import mlflow_model  # noqa: E402
from plate_ocr_pipeline.inference.recognizer import (  # noqa: E402
    DEFAULT_MODEL_PATH,
    ONNXPlateRecognizer,
)
from tests.conftest import REPO_ROOT  # noqa: E402

SAMPLES = mlflow_model.SAMPLES_DIR
NAME = "plate_ocr_test"
OUTPUT_COLUMNS = ["text", "confidence", "char_probs", "region", "region_confidence", "error"]
SERVER_START_TIMEOUT_S = 120


@pytest.fixture(autouse=True, scope="module")
def _restore_sys_path():
    """Loading a pyfunc model puts its code folder (a partial copy of the package) first on
    sys.path; processes started later in this session (Dask's workers) would import the
    package from there and miss its other modules."""
    saved = list(sys.path)
    yield
    sys.path[:] = saved


def sample_paths() -> list[Path]:
    with open(SAMPLES.with_suffix(".csv"), newline="") as handle:
        return [SAMPLES.parent / row["image_path"] for row in csv.DictReader(handle)]


@pytest.fixture(scope="module")
def recognizer_reads() -> dict[str, tuple[str, float, list[float]]]:
    """What the recognizer reads from each sample: ``{file name: (text, confidence, probs)}``."""
    paths = sample_paths()
    results = ONNXPlateRecognizer(DEFAULT_MODEL_PATH, threads=1).run_detailed(paths)
    return {
        path.name: (r.text, r.confidence, [float(p) for p in r.char_probs])
        for path, r in zip(paths, results, strict=True)
    }


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    """The shipped model logged in a run of a temporary sqlite store and registered as
    version 1 of ``NAME``; artifacts under the same temporary folder."""
    folder = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    patch = pytest.MonkeyPatch()
    patch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    try:
        experiment = mlflow.create_experiment(
            "plate_reader_test", artifact_location=(folder / "artifacts").as_uri()
        )
        with mlflow.start_run(experiment_id=experiment) as run:
            info = mlflow_model.log_plate_reader(DEFAULT_MODEL_PATH, registered_model_name=NAME)
        yield SimpleNamespace(
            uri=uri, folder=folder, info=info, run_id=run.info.run_id, experiment=experiment
        )
    finally:
        mlflow.set_tracking_uri(None)
        patch.undo()


def test_logged_model_is_registered_with_signature_input_example_and_light_code(registry):
    version = mlflow.MlflowClient().get_model_version(NAME, "1")
    assert version.run_id == registry.run_id
    assert registry.info.registered_model_version == 1

    info = mlflow.models.get_model_info(f"models:/{NAME}/1")
    assert info.signature.inputs.input_names() == ["image_b64"]
    assert info.signature.outputs.input_names() == OUTPUT_COLUMNS
    assert info.saved_input_example_info["type"] == "dataframe"

    local = Path(mlflow.artifacts.download_artifacts(f"models:/{NAME}/1"))
    example = json.loads((local / info.saved_input_example_info["artifact_path"]).read_text())
    assert example["columns"] == ["image_b64"]
    assert base64.b64decode(example["data"][0][0]) == (SAMPLES / "00_us.png").read_bytes()
    # The served model carries the recognizer's code only, and asks for light packages only.
    code = local / "code" / "plate_ocr_pipeline"
    assert (code / "inference" / "mlflow_model.py").is_file()
    assert (code / "core" / "preprocessing.py").is_file()
    assert not (code / "pipelines").exists() and not (code / "training").exists()
    requirements = (local / "requirements.txt").read_text().lower()
    assert "onnxruntime==" in requirements and "mlflow==" in requirements
    for heavy in ("kedro", "tensorflow", "keras"):
        assert heavy not in requirements


def test_loaded_model_reads_the_samples_like_the_recognizer(registry, recognizer_reads):
    model = mlflow.pyfunc.load_model(f"models:/{NAME}/1")
    paths = sample_paths()
    frame = mlflow_model.example_frame(paths)
    # Rows that cannot be read get their error; the others are still read.
    not_an_image = base64.b64encode(b"not an image").decode()
    frame.loc[len(frame)] = ["%%% not base64 %%%"]
    frame.loc[len(frame)] = [not_an_image]
    out = model.predict(frame)

    assert list(out.columns) == OUTPUT_COLUMNS
    assert len(out) == len(paths) + 2
    for path, row in zip(paths, out.head(len(paths)).itertuples(), strict=True):
        text, confidence, probs = recognizer_reads[path.name]
        assert (row.text, row.error) == (text, ""), path.name
        assert row.confidence == pytest.approx(confidence, abs=1e-6)
        assert list(row.char_probs) == pytest.approx(probs, abs=1e-6)
    for row in out.tail(2).itertuples():
        assert row.text == "" and row.confidence == 0.0 and len(row.char_probs) == 0
        assert row.error
    assert "base64" in out.iloc[-2]["error"]
    assert "not a recognised image" in out.iloc[-1]["error"]


def reader_dataset(**save_args):
    """The catalog's ``export.registered_reader`` entry, as conf/base writes it, with
    ``save_args`` overridden."""
    import yaml
    from kedro.io import AbstractDataset

    catalog = yaml.safe_load((REPO_ROOT / "conf" / "base" / "catalog_export.yml").read_text())
    entry = dict(catalog["export.registered_reader"])
    entry["save_args"] = {**entry["save_args"], **save_args}
    return AbstractDataset.from_config("export.registered_reader", entry)


def test_catalog_entry_logs_and_registers_the_reader_in_the_active_run(registry, recognizer_reads):
    onnx = pytest.importorskip("onnx")
    client = mlflow.MlflowClient()
    dataset = reader_dataset(registered_model_name=NAME)
    with mlflow.start_run(experiment_id=registry.experiment) as run:
        dataset.save(onnx.load(str(DEFAULT_MODEL_PATH)))
    version = dataset.model_info.registered_model_version
    assert version >= 2
    assert client.get_model_version(NAME, str(version)).run_id == run.info.run_id
    assert dataset.model_info.name == NAME  # the run page names it as the registry does
    # Loading gives back the model just logged, which reads as the recognizer does.
    answer = dataset.load().predict(mlflow_model.example_frame())
    assert answer.loc[0, "text"] == recognizer_reads[mlflow_model.EXAMPLE_SAMPLE][0]


def test_catalog_entry_logs_nothing_where_kedro_mlflow_turned_tracking_off(registry):
    onnx = pytest.importorskip("onnx")
    from kedro_mlflow.io.catalog.switch_catalog_logging import switch_catalog_logging

    client = mlflow.MlflowClient()
    before = len(client.search_model_versions(f"name='{NAME}'"))
    catalog = {"export.registered_reader": reader_dataset(registered_model_name=NAME)}
    switch_catalog_logging(catalog, False)  # what kedro-mlflow's hook does for such a pipeline
    with mlflow.start_run(experiment_id=registry.experiment) as run:
        catalog["export.registered_reader"].save(onnx.load(str(DEFAULT_MODEL_PATH)))
    assert len(client.search_model_versions(f"name='{NAME}'")) == before
    assert (
        client.search_logged_models(
            experiment_ids=[registry.experiment],
            filter_string=f"source_run_id = '{run.info.run_id}'",
        )
        == []
    )


def test_catalog_entry_logs_nothing_without_an_active_run(registry):
    onnx = pytest.importorskip("onnx")
    client = mlflow.MlflowClient()
    before = len(client.search_model_versions(f"name='{NAME}'"))
    dataset = reader_dataset(registered_model_name=NAME)
    assert mlflow.active_run() is None
    dataset.save(onnx.load(str(DEFAULT_MODEL_PATH)))
    assert len(client.search_model_versions(f"name='{NAME}'")) == before
    assert dataset.model_info is None


def test_catalog_entry_with_an_unknown_save_arg_fails_when_the_dataset_is_made():
    from kedro.io.core import DatasetError

    with pytest.raises(DatasetError, match="registred_model_name"):
        reader_dataset(registred_model_name=NAME)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http(url: str, body: bytes | None = None, timeout: float = 30) -> tuple[int, bytes]:
    """GET (or POST ``body`` as JSON) without any proxy; ``(status, body)``."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(url, data=body)
    if body is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with opener.open(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def stop(process: subprocess.Popen) -> None:
    """Stop the server and the workers it started (its own process group)."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)


def test_served_model_answers_a_posted_crop_with_the_plate_text(
    registry, recognizer_reads, tmp_path
):
    bin_dir = Path(sys.executable).parent
    mlflow_cli = bin_dir / "mlflow"
    if not mlflow_cli.exists():
        pytest.skip("no mlflow command beside the Python running the tests")
    port = free_port()
    # `mlflow models serve` runs `uvicorn` from PATH: the venv's bin first.
    env = dict(
        os.environ,
        MLFLOW_TRACKING_URI=registry.uri,
        PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    command = [str(mlflow_cli), "models", "serve", "-m", f"models:/{NAME}/1",
               "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port)]  # fmt: skip
    log = tmp_path / "serve.log"
    with open(log, "wb") as output:
        server = subprocess.Popen(
            command, env=env, cwd=tmp_path, stdout=output, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while True:
            if server.poll() is not None:
                pytest.fail(f"the server exited ({server.returncode}):\n{log.read_text()}")
            try:
                if http(f"{base}/ping", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"no /ping after {SERVER_START_TIMEOUT_S}s:\n{log.read_text()}")
            time.sleep(0.5)

        names = ["01_br.png", "05_us.png"]
        frame = mlflow_model.example_frame([SAMPLES / name for name in names])
        body = {"dataframe_split": frame.to_dict(orient="split", index=False)}
        status, answer = http(f"{base}/invocations", json.dumps(body).encode())
        assert status == 200, answer
        predictions = json.loads(answer)["predictions"]
        assert [p["text"] for p in predictions] == [recognizer_reads[n][0] for n in names]
        for name, prediction in zip(names, predictions, strict=True):
            assert prediction["error"] == ""
            assert prediction["confidence"] == pytest.approx(recognizer_reads[name][1], abs=1e-6)

        # The signature is enforced: a request without the image column is refused.
        status, answer = http(
            f"{base}/invocations",
            json.dumps({"dataframe_split": {"columns": ["image"], "data": [["x"]]}}).encode(),
        )
        assert status == 400 and b"image_b64" in answer
    finally:
        stop(server)


def test_a_base64_cell_too_long_for_an_image_is_refused_undecoded(monkeypatch):
    from plate_ocr_pipeline.inference import mlflow_model

    monkeypatch.setattr(mlflow_model, "MAX_BASE64_CHARACTERS", 8)
    assert mlflow_model._decode_cell("QUJDREVG") == b"ABCDEF"
    with pytest.raises(ValueError, match="base64 value of 12 characters, over 8: not decoded"):
        mlflow_model._decode_cell("QUJDREVGR0hJ")
