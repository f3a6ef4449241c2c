"""What a `kedro run` leaves in MLflow: runs named `<pipeline> (<env>)` and tagged with the env,
an experiment that opens in the model-training view, metric names with the stage once, the
files score and infer used, and the INT8 copy logged beside the fp32 model."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3

import mlflow
import onnx
import pytest
from kedro.config import OmegaConfigLoader
from kedro.framework.hooks.manager import _create_hook_manager
from kedro.io import DataCatalog
from kedro.pipeline import node, pipeline
from kedro.runner import SequentialRunner

from plate_ocr_pipeline.core.onnx_metadata import embed_metadata
from plate_ocr_pipeline.core.plate_config import PlateConfig
from plate_ocr_pipeline.tracking_hooks import MlflowRunDescriptionHook, git_commit
from tests.conftest import REPO_ROOT
from tests.plate_model_helpers import PLATE, TEXTS, build_memorising_onnx, render_plate
from tests.test_score import write_set


@pytest.fixture
def model_path(tmp_path):
    path = tmp_path / "model" / "model.onnx"
    path.parent.mkdir()
    onnx.save(embed_metadata(build_memorising_onnx(), PlateConfig.from_dict(PLATE)), path)
    return path


def logged_runs(tracking) -> list[dict]:
    """Every run of the store: name, status, tags, metrics, and its experiment's tags."""
    with sqlite3.connect(tracking) as db:
        rows = db.execute("SELECT run_uuid, name, status, experiment_id FROM runs").fetchall()
        runs = []
        for run_id, name, status, experiment_id in rows:
            query = "SELECT key, value FROM {} WHERE {} = ?"
            runs.append(
                {
                    "name": name,
                    "status": status,
                    "tags": dict(db.execute(query.format("tags", "run_uuid"), (run_id,))),
                    "metrics": dict(db.execute(query.format("metrics", "run_uuid"), (run_id,))),
                    "experiment_tags": dict(
                        db.execute(
                            query.format("experiment_tags", "experiment_id"), (experiment_id,)
                        )
                    ),
                }
            )
    return runs


def test_score_run_is_named_tagged_and_records_the_model_it_scored(
    kedro_project, model_path, tmp_path
):
    csv = write_set(tmp_path / "tiny-set")
    result = kedro_project(
        "--pipelines=score", f"--params=score.model_path={model_path},score.annotations=[{csv}]"
    )
    [run] = logged_runs(kedro_project.tracking)
    assert run["status"] == "FINISHED"
    # No --env: the default run environment, `local`.
    assert run["name"] == "score (local)"
    assert run["tags"]["mlflow.runName"] == "score (local)"
    assert run["tags"]["env"] == "local"
    assert run["tags"]["model_path"] == str(model_path)
    assert run["tags"]["model_sha256"] == hashlib.sha256(model_path.read_bytes()).hexdigest()
    # The temporary project is no git repository: no commit tag, and no failure.
    assert "mlflow.source.git.commit" not in run["tags"]
    assert run["experiment_tags"]["mlflow.experimentKind"] == "custom_model_development"
    # The UI ignores that tag; the run's link names the model-training view instead.
    with sqlite3.connect(kedro_project.tracking) as db:
        [(run_id, experiment_id)] = db.execute("SELECT run_uuid, experiment_id FROM runs")
    link = f"/#/experiments/{experiment_id}/runs/{run_id}?workflowType=machine_learning"
    assert link in "".join((result.stdout + result.stderr).split())  # rich wraps lines
    # `<set>.<metric>`, as the report names them, without the dataset's name in front.
    assert run["metrics"]["tiny-set.plate_acc"] == pytest.approx(2 / 3)
    assert not [key for key in run["metrics"] if "mlflow_metrics" in key]


def test_benchmark_metrics_carry_the_stage_once(kedro_project, model_path):
    models = kedro_project.path / "data" / "quick" / "06_models"  # conf/quick/globals.yml
    models.mkdir(parents=True)
    shutil.copy(model_path, models / "model.onnx")
    kedro_project(
        "--pipelines=benchmark",
        "--env=quick",
        "--params=benchmark.providers=[CPUExecutionProvider],benchmark.batch_sizes=[1],"
        "benchmark.warmup_runs=1,benchmark.timed_runs=2",
    )
    [run] = logged_runs(kedro_project.tracking)
    assert run["name"] == "benchmark (quick)"
    assert run["tags"]["env"] == "quick"
    assert "benchmark.cpu.t1.latency_p50_ms" in run["metrics"]
    assert run["metrics"]  # every name is `benchmark.<rest>`, the stage once
    for key in run["metrics"]:
        assert key.startswith("benchmark.") and "benchmark" not in key.removeprefix("benchmark.")


def run_infer(kedro_project, model_path, tmp_path) -> tuple:
    import cv2

    folder = tmp_path / "crops"
    folder.mkdir(exist_ok=True)
    cv2.imwrite(str(folder / "a.png"), render_plate(TEXTS[0]))
    output = tmp_path / "out" / "predictions.csv"
    result = kedro_project(
        "--pipelines=infer",
        "--env=quick",
        f"--params=infer.input_dir={folder},infer.output_path={output},"
        f"infer.model_path={model_path},infer.progress=false",
    )
    assert output.exists()
    return folder, output, result


def test_infer_is_untracked_by_default_and_opens_no_mlflow_store(
    kedro_project, model_path, tmp_path
):
    _, _, result = run_infer(kedro_project, model_path, tmp_path)
    assert "MLflow store not opened" in result.stdout + result.stderr
    assert not kedro_project.tracking.exists()  # MLflow would create its sqlite store


def test_infer_run_tracked_on_request_records_its_folder_output_and_model(
    kedro_project, model_path, tmp_path
):
    # An environment's mlflow.yml overrides single keys of conf/base's (soft merge).
    (kedro_project.path / "conf" / "quick" / "mlflow.yml").write_text(
        "tracking:\n  disable_tracking:\n    pipelines: []\n"
    )
    folder, output, _ = run_infer(kedro_project, model_path, tmp_path)
    [run] = logged_runs(kedro_project.tracking)
    assert run["name"] == "infer (quick)"
    assert run["status"] == "FINISHED"
    assert run["tags"]["input_dir"] == str(folder)
    assert run["tags"]["output_path"] == str(output)
    assert run["tags"]["model_path"] == str(model_path)
    assert run["tags"]["model_sha256"] == hashlib.sha256(model_path.read_bytes()).hexdigest()
    assert run["experiment_tags"]["mlflow.experimentKind"] == "custom_model_development"


def test_a_context_outside_kedro_run_is_set_up_by_kedro_mlflow(kedro_project):
    # `kedro mlflow ui`, `kedro ipython` and notebooks read context.mlflow and expect MLflow
    # pointed at the project's store: the hook is set up as soon as the context exists.
    import os
    import subprocess
    import sys

    script = """
import mlflow
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
bootstrap_project(".")
with KedroSession.create(project_path=".") as session:
    context = session.load_context()
    print(type(context.mlflow).__name__, mlflow.get_tracking_uri())
"""
    env = dict(os.environ, PLATE_OCR_MLFLOW_URI=f"sqlite:///{kedro_project.tracking}")
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=kedro_project.path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    config_class, uri = result.stdout.split()[-2:]
    assert config_class == "KedroMlflowConfig"
    assert uri == f"sqlite:///{kedro_project.tracking}"


def test_int8_copy_is_logged_beside_the_fp32_model_and_an_empty_one_is_not(
    kedro_project, model_path, monkeypatch
):
    """The catalog's own `export.onnx_quantized_models` entry, saved by a node through Kedro's
    runner with the project's hook, in an MLflow run as kedro-mlflow opens one."""
    monkeypatch.chdir(kedro_project.path)
    previous_uri = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(f"sqlite:///{kedro_project.tracking}")
    try:
        run_ids = _run_quantize_twice(kedro_project, model_path)
    finally:
        mlflow.set_tracking_uri(previous_uri)
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{kedro_project.tracking}")
    logged = [a.path for a in client.list_artifacts(run_ids[0], "onnx/quantized")]
    assert logged == ["onnx/quantized/model_int8.onnx"]
    assert client.list_artifacts(run_ids[1]) == []
    # The second save replaced the folder: no INT8 copy of the earlier run is left.
    assert not (kedro_project.path / "data" / "06_models" / "quantized").exists()


def _run_quantize_twice(kedro_project, model_path) -> list[str]:
    from plate_ocr_pipeline.settings import CONFIG_LOADER_ARGS

    loader = OmegaConfigLoader(conf_source=str(kedro_project.path / "conf"), **CONFIG_LOADER_ARGS)
    hook = MlflowRunDescriptionHook()
    hook_manager = _create_hook_manager()
    hook_manager.register(hook)
    int8 = onnx.load(model_path)
    run_ids = []
    for partitions in ({"model_int8": int8}, {}):  # export.quantize true, then false
        catalog = DataCatalog.from_config(loader["catalog"])
        # As in the export stage: its node's output, namespaced `export.`.
        quantize = node(lambda p=partitions: p, None, "onnx_quantized_models", name="quantize")
        export = pipeline([quantize], namespace="export")
        with mlflow.start_run() as run:
            run_params = {"env": "base", "pipeline_names": ["export"]}
            hook.before_pipeline_run(run_params=run_params, pipeline=export, catalog=catalog)
            SequentialRunner().run(export, catalog, hook_manager)
            run_ids.append(run.info.run_id)
    return run_ids


def test_git_commit_is_read_where_there_is_one_and_never_fails(tmp_path, monkeypatch):
    if shutil.which("git") and (REPO_ROOT / ".git").exists():
        commit = git_commit(REPO_ROOT)
        assert commit and len(commit) == 40
    assert git_commit(tmp_path) is None  # not a repository
    monkeypatch.setenv("PATH", str(tmp_path))  # no git at all
    assert git_commit(REPO_ROOT) is None


def test_an_untracked_run_still_loads_kedro_mlflow_for_any_mlflow_dataset_it_saves():
    """kedro-mlflow's hook switches logging off on datasets whose class name starts with
    "Mlflow", its own and the project's; a run that saves one needs the hook even untracked."""
    from types import SimpleNamespace

    from plate_ocr_pipeline.tracking_hooks import OnDemandMlflowHook

    types = {
        "plain": "pandas.CSVDataset",
        "metrics": "kedro_mlflow.io.metrics.MlflowMetricsHistoryDataset",
        "reader": "plate_ocr_pipeline.datasets.mlflow_plate_reader_dataset."
        "MlflowPlateReaderDataset",
    }
    catalog = SimpleNamespace(get_type=types.get)
    hook = OnDemandMlflowHook()
    hook._untracked = ["infer"]
    for names, needs_hook in ((["plain"], False), (["plain", "reader"], True),
                              (["metrics"], True)):  # fmt: skip
        pipe = SimpleNamespace(datasets=lambda names=names: set(names))
        assert hook.runs_untracked(["infer"], pipe, catalog) is not needs_hook, names
    assert hook.runs_untracked(["train"], SimpleNamespace(datasets=set), catalog) is False
