"""MLflow runs that read well: named ``<pipeline> (<env>)``, tagged with the environment and the
git commit, in an experiment that opens in MLflow's model-training view; the files a run reads
or writes (the model scored, infer's folder and output) recorded as tags, and folders such as
the INT8 copy logged as artifacts.

kedro-mlflow's hook is set up on demand (``OnDemandMlflowHook``): a run of a pipeline listed
under ``tracking.disable_tracking.pipelines`` in ``mlflow.yml`` (``infer``) starts without it,
without opening MLflow's store or setting up an experiment: seconds of start-up that a batch
OCR run does not need.

kedro-mlflow opens the run in its ``before_pipeline_run``; these hooks run after it
(``trylast``) and do nothing when no run is active (tracking disabled for the pipeline, or
kedro-mlflow not loaded), so they never open a run of their own.

What a dataset contributes is declared in its catalog entry, under ``metadata.tracking``:

- ``path_tag: NAME``: tag NAME = the dataset's file or folder (absolute when local);
- ``sha256_tag: NAME``: tag NAME = the sha256 of that file (local files only);
- ``artifact_path: DIR``: once saved, the dataset's folder is logged to the run under DIR
  (for folder datasets such as a ``PartitionedDataset``; nothing when the folder is absent).
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kedro.config import MissingConfigException
from kedro.framework.hooks import hook_impl

if TYPE_CHECKING:
    from kedro.framework.context import KedroContext
    from kedro.io import CatalogProtocol
    from kedro.pipeline import Pipeline
    from kedro.pipeline.node import Node

logger = logging.getLogger(__name__)

# The experiment tag by which MLflow 3 names an experiment's kind: "custom_model_development"
# is the model-training view (runs, metrics, artifacts), "genai_development" the GenAI one
# (traces, evaluations).
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
EXPERIMENT_KIND = "custom_model_development"
GIT_COMMIT_TAG = "mlflow.source.git.commit"  # shown by the UI as the run's git commit
LOCAL_PROTOCOLS = (None, "", "file")
# MLflow 3.17's UI ignores EXPERIMENT_KIND_TAG and opens an experiment in the view the browser
# last picked (GenAI by default); this URL parameter opens the model-training view.
TRAINING_VIEW_QUERY = "workflowType=machine_learning"
UI_ADDRESS = "http://127.0.0.1:5000"  # `mlflow ui`'s (and `make mlflow-ui`'s) default


def active_run() -> Any:
    """MLflow's active run; None without importing MLflow when nothing has imported it yet
    (no run can be open then)."""
    if "mlflow" not in sys.modules:
        return None
    return sys.modules["mlflow"].active_run()


def run_name(pipeline_names: Any, env: str) -> str:
    """``train (base)``; several pipelines joined with ``+`` as kedro-mlflow does."""
    if not pipeline_names:
        pipeline_names = ["__default__"]
    elif isinstance(pipeline_names, str):
        pipeline_names = [pipeline_names]
    return f"{'+'.join(pipeline_names)} ({env})"


def run_page_url(experiment_id: str, run_id: str, ui_address: str = UI_ADDRESS) -> str:
    """The run's page in `mlflow ui`, in the model-training view."""
    return f"{ui_address}/#/experiments/{experiment_id}/runs/{run_id}?{TRAINING_VIEW_QUERY}"


def git_commit(folder: str | Path) -> str | None:
    """HEAD's commit of the repository holding ``folder``; None without git or outside one."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = result.stdout.strip()
    return commit if result.returncode == 0 and commit else None


def dataset_location(dataset: Any) -> tuple[str, bool] | None:
    """The file or folder a dataset reads or writes and whether it is local, from the
    attributes Kedro's file datasets keep (the ones kedro-mlflow's artifact dataset reads)."""
    for attribute in ("_filepath", "_path"):
        location = getattr(dataset, attribute, None)
        if location is not None:
            break
    else:
        return None
    protocol = getattr(dataset, "_protocol", None)
    text = str(location)
    if protocol in LOCAL_PROTOCOLS and "://" not in text:
        return os.path.abspath(text.removeprefix("file://")), True
    if protocol and "://" not in text:
        text = f"{protocol}://{text}"
    return text, False


def file_sha256(path: str) -> str | None:
    """The file's sha256, or ``None`` where it is not a regular file (a FIFO would hang)."""
    digest = hashlib.sha256()
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return None
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()


def tracking_spec(dataset: Any) -> dict[str, Any]:
    metadata = getattr(dataset, "metadata", None) or {}
    spec = metadata.get("tracking") if isinstance(metadata, dict) else None
    return spec if isinstance(spec, dict) else {}


class MlflowRunDescriptionHook:
    """Names and tags kedro-mlflow's run, and records the files the run's datasets declare."""

    def __init__(self) -> None:
        self._env = "local"
        self._project_path: str | Path = "."
        self._artifact_folders: dict[str, tuple[str, str]] = {}
        self._run_page: str | None = None

    @hook_impl
    def after_context_created(self, context: KedroContext) -> None:
        loader = context.config_loader
        self._env = context.env or getattr(loader, "default_run_env", "") or "local"
        self._project_path = context.project_path

    @hook_impl(trylast=True)
    def before_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Pipeline, catalog: CatalogProtocol
    ) -> None:
        self._artifact_folders = {}
        self._run_page = None
        run = active_run()
        if run is None:
            return
        import mlflow

        self._run_page = run_page_url(run.info.experiment_id, run.info.run_id)
        env = run_params.get("env") or self._env
        tags = {"mlflow.runName": run_name(run_params.get("pipeline_names"), env), "env": env}
        commit = git_commit(run_params.get("project_path") or self._project_path)
        if commit:
            tags[GIT_COMMIT_TAG] = commit
        tags.update(self._dataset_tags(pipeline, catalog))
        mlflow.set_tags(tags)
        mlflow.MlflowClient().set_experiment_tag(
            run.info.experiment_id, EXPERIMENT_KIND_TAG, EXPERIMENT_KIND
        )

    def _dataset_tags(self, pipeline: Pipeline, catalog: CatalogProtocol) -> dict[str, str]:
        tags = {}
        for name in sorted(pipeline.datasets()):
            if name.startswith("params:") or name == "parameters":
                continue
            dataset = catalog.get(name)
            spec = tracking_spec(dataset)
            location = dataset_location(dataset) if spec else None
            if location is None:
                continue
            path, local = location
            if "path_tag" in spec:
                tags[spec["path_tag"]] = path
            if "sha256_tag" in spec and local:
                digest = file_sha256(path)
                if digest:
                    tags[spec["sha256_tag"]] = digest
            if "artifact_path" in spec and local:
                self._artifact_folders[name] = (path, spec["artifact_path"])
        return tags

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, data: Any, node: Node) -> None:
        target = self._artifact_folders.get(dataset_name)
        if target is None or active_run() is None:
            return
        import mlflow

        folder, artifact_path = target
        if not Path(folder).is_dir() or not any(Path(folder).iterdir()):
            logger.info("%s saved nothing to log to MLflow", dataset_name)
            return
        mlflow.log_artifacts(folder, f"{artifact_path}/{Path(folder).name}")

    @hook_impl
    def after_pipeline_run(self) -> None:
        if self._run_page:
            logger.info("MLflow run (after `make mlflow-ui`): %s", self._run_page)


def project_pipelines() -> Any:
    """Kedro's project pipelines registry (imported late: settings import this module)."""
    from kedro.framework.project import pipelines

    return pipelines


def _register_random_name_resolver() -> None:
    """kedro-mlflow's ``${km.random_name:}`` (its template's run name), registered lazily so
    that mlflow.yml resolves before kedro-mlflow is loaded."""
    from omegaconf import OmegaConf

    if OmegaConf.has_resolver("km.random_name"):
        return

    def random_name() -> str:
        from kedro_mlflow.config.resolvers import resolve_random_name

        return resolve_random_name()

    OmegaConf.register_new_resolver("km.random_name", random_name, use_cache=True)


class OnDemandMlflowHook:
    """kedro-mlflow's hook, set up only where MLflow may track.

    settings.py disables the plugin's own registration and registers this instead. A
    ``kedro run`` whose pipelines are all listed under ``tracking.disable_tracking.pipelines``
    and use none of kedro-mlflow's datasets never loads the hook: no MLflow store is opened, no
    experiment set up (seconds of start-up). Every other context (other runs, ``kedro mlflow
    ui``, ``kedro ipython``, notebooks) gets kedro-mlflow's hook from the moment the context
    exists, called at every point as the plugin's own registration would be, so what it
    records and sets up (``context.mlflow``, the tracking URI) is unchanged.
    """

    def __init__(self) -> None:
        self._context = None
        self._catalog_created: dict[str, Any] = {}
        self._hook: Any = None
        self._untracked: list[str] = []

    @hook_impl
    def after_context_created(self, context: KedroContext) -> None:
        self._context = context
        self._hook = None
        self._catalog_created = {}
        # `kedro run` names its pipelines before it creates the context (Kedro 1.7 keeps them
        # on the pipelines registry); elsewhere nothing is requested and the hook loads now.
        requested = getattr(project_pipelines(), "_requested_pipelines", None)
        self._untracked = self.untracked_pipelines() if requested else []
        if requested and all(name in self._untracked for name in requested):
            return  # decided in before_pipeline_run, which also sees the pipeline's datasets
        self._load()

    def _load(self) -> None:
        from kedro_mlflow.framework.hooks.mlflow_hook import MlflowHook

        self._hook = MlflowHook()
        self._hook.after_context_created(self._context)

    @hook_impl
    def after_catalog_created(  # noqa: PLR0913
        self,
        catalog: CatalogProtocol,
        conf_catalog: dict[str, Any],
        conf_creds: dict[str, Any],
        parameters: dict[str, Any],
        save_version: str,
        load_versions: dict[str, str],
    ) -> None:
        created = {
            "catalog": catalog,
            "conf_catalog": conf_catalog,
            "conf_creds": conf_creds,
            "parameters": parameters,
            "save_version": save_version,
            "load_versions": load_versions,
        }
        if self._hook is not None:
            self._hook.after_catalog_created(**created)
        else:
            self._catalog_created = created

    @hook_impl
    def before_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Pipeline, catalog: CatalogProtocol
    ) -> None:
        if self._hook is None and self._context is not None:
            names = run_params.get("pipeline_names") or ["__default__"]
            if isinstance(names, str):
                names = [names]
            if self.runs_untracked(names, pipeline, catalog):
                logger.info(
                    "MLflow store not opened: %s is not tracked (mlflow.yml)", "+".join(names)
                )
                self._catalog_created = {}
                return
            self._load()
            if self._catalog_created:
                self._hook.after_catalog_created(**self._catalog_created)
        self._catalog_created = {}
        if self._hook is not None:
            self._hook.before_pipeline_run(run_params, pipeline, catalog)

    def untracked_pipelines(self) -> list[str]:
        """``tracking.disable_tracking.pipelines`` of mlflow.yml (settings.py gives the loader
        its ``mlflow`` pattern), read without kedro-mlflow."""
        _register_random_name_resolver()
        try:
            conf = self._context.config_loader["mlflow"] or {}
        except MissingConfigException:
            return []
        names = conf.get("tracking", {}).get("disable_tracking", {}).get("pipelines") or []
        return [names] if isinstance(names, str) else list(names)

    def runs_untracked(
        self, names: list[str], pipeline: Pipeline, catalog: CatalogProtocol
    ) -> bool:
        """Whether a run whose context deferred the hook (``after_context_created``) goes
        without it: all its pipelines untracked, none of its datasets kedro-mlflow's."""
        if not all(name in self._untracked for name in names):
            return False
        # MLflow datasets need kedro-mlflow's hook even untracked: it switches their logging
        # off, choosing them as it does here, by a class name starting with "Mlflow" (its own
        # and the project's MlflowPlateReaderDataset).
        return not any(
            (catalog.get_type(name) or "").rsplit(".", 1)[-1].startswith("Mlflow")
            for name in pipeline.datasets()
        )

    @hook_impl
    def before_node_run(
        self, node: Node, catalog: CatalogProtocol, inputs: dict[str, Any], is_async: bool
    ) -> None:
        if self._hook is not None:
            self._hook.before_node_run(node, catalog, inputs, is_async)

    @hook_impl
    def after_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Pipeline, catalog: CatalogProtocol
    ) -> None:
        if self._hook is not None:
            self._hook.after_pipeline_run(run_params, pipeline, catalog)

    @hook_impl
    def on_pipeline_error(
        self,
        error: Exception,
        run_params: dict[str, Any],
        pipeline: Pipeline,
        catalog: CatalogProtocol,
    ) -> None:
        if self._hook is not None:
            self._hook.on_pipeline_error(error, run_params, pipeline, catalog)
