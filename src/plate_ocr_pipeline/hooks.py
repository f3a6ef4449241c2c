"""Project hooks: fail at start, naming the key, when a parameter or an input the run depends on
is wrong, before MLflow opens a run or any node runs."""

from __future__ import annotations

import difflib
import importlib
import logging
import os
import pkgutil
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from kedro.framework.hooks import hook_impl
from pydantic import BaseModel, ValidationError

from plate_ocr_pipeline import pipelines as pipelines_package
from plate_ocr_pipeline.core.plate_config import PlateConfig
from plate_ocr_pipeline.training.backend import (
    prefer_keras_backend,
    require_backend_installed,
    require_keras_backend,
)

if TYPE_CHECKING:
    from kedro.framework.context import KedroContext
    from kedro.io import CatalogProtocol
    from kedro.pipeline import Pipeline

logger = logging.getLogger(__name__)


class ParameterError(ValueError):
    """A parameter section failed validation; the message names the key."""


def collect_parameter_schemas() -> dict[str, type[BaseModel]]:
    """``PARAMETER_SCHEMAS`` of every stage package that has a ``params`` module."""
    schemas: dict[str, type[BaseModel]] = {}
    for module in pkgutil.iter_modules(pipelines_package.__path__):
        try:
            params_module = importlib.import_module(
                f"{pipelines_package.__name__}.{module.name}.params"
            )
        except ModuleNotFoundError as error:
            if error.name and error.name.endswith(f"{module.name}.params"):
                continue
            raise
        schemas.update(getattr(params_module, "PARAMETER_SCHEMAS", {}))
    return schemas


def _describe(error: ValidationError, section: str) -> str:
    lines = []
    for problem in error.errors():
        key = ".".join(str(part) for part in (section, *problem["loc"]))
        lines.append(f"  {key}: {problem['msg']}")
    return "\n".join(lines)


def validate_parameters(params: Mapping[str, Any]) -> None:
    """Validate the ``plate`` section and every stage section that has a schema."""
    PlateConfig.from_dict(params.get("plate", {}))
    schemas = collect_parameter_schemas()
    problems = []
    for section, schema in schemas.items():
        if section not in params:
            continue
        try:
            schema.model_validate(params[section])
        except ValidationError as error:
            problems.append(_describe(error, section))
    known = set(schemas) | {"plate"}
    # Kedro nests runtime `--params a.b=c` under `a`, so every key here is a section name.
    unknown = sorted(set(params) - known)
    if unknown:
        problems.append(
            f"  unknown parameter section(s) {unknown}; known sections: {sorted(known)}"
        )
    if problems:
        raise ParameterError("invalid parameters:\n" + "\n".join(problems))


# Parameters the catalog reads through `${runtime_params:...}` (catalog files can read no
# parameter file): parameter key -> (dataset, its argument). A value set in a parameters file
# rather than with --params would otherwise be validated and logged but never read.
CATALOG_PARAMETERS: dict[str, tuple[str, str]] = {
    "infer.input_dir": ("infer_images", "path"),
    "infer.max_file_bytes": ("infer_images", "max_file_bytes"),
    "infer.max_pixels": ("infer_images", "max_pixels"),
    "infer.model_path": ("infer_model", "filepath"),
    "infer.output_path": ("predictions", "filepath"),
    "score.model_path": ("score_model", "filepath"),
    "score.annotations": ("score_labelled_sets", "filepaths"),
    "compare.candidates_dir": ("compare_candidates", "path"),
    "compare.annotations": ("compare_labelled_sets", "filepaths"),
    "ingest.annotation_files": ("raw_annotations", "filepaths"),
}


def _same_setting(a: Any, b: Any, root: str) -> bool:
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_same_setting(a[k], b[k], root) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        pairs = zip(a, b, strict=False)
        return len(a) == len(b) and all(_same_setting(x, y, root) for x, y in pairs)
    if isinstance(a, str) and isinstance(b, str):
        # Kedro makes the catalog's relative paths absolute, under the project, and not the
        # parameters'.
        return os.path.normpath(os.path.join(root, a)) == os.path.normpath(os.path.join(root, b))
    return a == b


def check_catalog_parameters(
    conf_catalog: Mapping[str, Any],
    params: Mapping[str, Any],
    project_path: str | os.PathLike[str] | None = None,
) -> None:
    """Fail when a parameter that the catalog reads from the command line was set to another
    value in a parameters file, naming the key, so that the run does not silently read or
    write the default. Relative paths are taken from ``project_path`` (default: here)."""
    root = os.fspath(project_path) if project_path is not None else os.getcwd()
    problems = []
    for key, (dataset, argument) in CATALOG_PARAMETERS.items():
        section, name = key.split(".", 1)
        value = (params.get(section) or {}).get(name)
        config = conf_catalog.get(dataset)
        if value is None or not isinstance(config, Mapping) or argument not in config:
            continue
        if not _same_setting(value, config[argument], root):
            problems.append(
                f"  {key}: the parameters say {value!r} but the catalog's {dataset} reads "
                f"{config[argument]!r}; the catalog takes this key from the command line only: "
                f"--params={key}=..."
            )
    if problems:
        raise ParameterError("parameters the catalog does not read:\n" + "\n".join(problems))


def check_starting_model(pipeline: Pipeline, catalog: CatalogProtocol) -> None:
    """A run that fine-tunes or transfers from the catalog's ``starting_model`` fails before
    rendering or ingesting anything when that model is not there."""
    if "starting_model" not in pipeline.inputs():
        return
    train = catalog.load("params:train") if "params:train" in catalog else {}
    start = train.get("start", "scratch") if isinstance(train, Mapping) else "scratch"
    if start == "scratch":
        return
    if not catalog.exists("starting_model"):
        described = catalog.get("starting_model")
        raise ParameterError(
            f"train.start={start} needs the catalog's starting_model, and there is none at "
            f"{described!r}: set globals `starting_model: path/to/model.keras` (the shipped "
            "one is src/plate_ocr_pipeline/assets/models/default.keras)"
        )


def check_keras_backend(pipeline: Pipeline, catalog: CatalogProtocol) -> None:
    """A run that trains fails before rendering anything when ``train.backend`` is not
    installed, or when Keras in this process already runs on another backend (a notebook)."""
    if "params:train" not in pipeline.inputs():
        return
    train = catalog.load("params:train")
    if not (isinstance(train, Mapping) and train.get("backend")):
        return
    if "keras" in sys.modules:
        require_keras_backend(train["backend"])
    else:
        require_backend_installed(train["backend"])


# The keys the project's catalogs read from an environment's globals.yml.
KNOWN_GLOBALS = (
    "data_root",
    "starting_model",
    "annotation_files",
    "dev_sets",
    "dev_region_labels",
    "compare_candidates_dir",
)


def check_globals(globals_: Mapping[str, Any]) -> None:
    """A globals key spelt close to one the catalogs read (``annotation_file``) fails at
    start: the catalog would silently take its default (the synthetic set). Other keys are
    left alone: one's own catalog entries may read them."""
    misspelt = {
        key: close[0]
        for key in globals_
        if key not in KNOWN_GLOBALS
        and (close := difflib.get_close_matches(str(key), KNOWN_GLOBALS, n=1, cutoff=0.8))
    }
    if misspelt:
        said = ", ".join(f"{key!r} (did you mean {known!r}?)" for key, known in misspelt.items())
        raise ParameterError(f"globals.yml: unknown keys {said}")


# The stages that pick labelled sets by name (`<stage>.labelled_sets`) from a catalog entry.
LABELLED_SETS_DATASETS = {
    "evaluate": "evaluate_labelled_sets",
    "score": "score_labelled_sets",
    "compare": "compare_labelled_sets",
}


def check_labelled_set_names(pipeline: Pipeline, catalog: CatalogProtocol) -> None:
    """A ``<stage>.labelled_sets`` name that its catalog entry does not define fails before
    any node (for evaluate: before training), naming the names it has; so does a
    ``<stage>.region_labels`` set spelt close to a defined one that it is not (``real_arr``).
    Other ``region_labels`` sets are left alone: ``score.annotations`` names its own sets."""
    inputs = pipeline.inputs()
    for stage, dataset_name in LABELLED_SETS_DATASETS.items():
        if dataset_name not in inputs or f"params:{stage}" not in catalog:
            continue
        section = catalog.load(f"params:{stage}")
        names = getattr(catalog.get(dataset_name), "names", None)
        if not isinstance(section, Mapping) or names is None:
            continue
        defined = f"{dataset_name} does not define (it has: {', '.join(names) or 'none'})"
        unknown = [name for name in section.get("labelled_sets") or [] if name not in names]
        if unknown:
            raise ParameterError(f"{stage}.labelled_sets names {unknown}, which {defined}")
        misspelt = [
            name
            for name in section.get("region_labels") or {}
            if name not in names and difflib.get_close_matches(name, names, n=1, cutoff=0.75)
        ]
        if misspelt:
            raise ParameterError(f"{stage}.region_labels names sets {misspelt}, which {defined}")


def check_region_hint(pipeline: Pipeline, catalog: CatalogProtocol) -> None:
    """An ``infer.region_hint`` naming a family that neither the model nor a formats file
    knows fails before any file is read, naming the known ones."""
    if "infer_model" not in pipeline.inputs() or "params:infer" not in catalog:
        return
    infer = catalog.get("params:infer").load()  # quietly: nothing is read unless a hint is set
    hint = infer.get("region_hint") if isinstance(infer, Mapping) else None
    if not hint or not catalog.exists("infer_model"):
        return  # no hint; a missing model is named by its own dataset
    from plate_ocr_pipeline.inference.recognizer import ONNXPlateRecognizer

    # The recognizer's own check, as infer will read: the families it knows for this model.
    recognizer = ONNXPlateRecognizer(catalog.get("infer_model").load(), threads=1)
    try:
        recognizer.reading(True, hint)
    except ValueError as error:
        raise ParameterError(f"infer.region_hint: {error}") from None


def check_annotation_files(
    pipeline: Pipeline, catalog: CatalogProtocol, written_by_run: str | None = None
) -> None:
    """A run that ingests fails before any node (before rendering, for the train chain) when
    an annotations CSV it is given does not exist, naming it; ``written_by_run`` (the
    synthetic set's CSV, when this run renders it) is not looked for."""
    if "raw_annotations" not in pipeline.inputs():
        return
    dataset = catalog.get("raw_annotations")
    missing = getattr(dataset, "missing_files", list)()
    missing = [path for path in missing if not _same_path(path, written_by_run)]
    if missing:
        raise ParameterError(
            f"annotations files not found: {', '.join(missing)} (ingest.annotation_files, or "
            "annotation_files in an environment's globals.yml)"
        )


def _same_path(a: str, b: str | None) -> bool:
    return b is not None and os.path.abspath(a) == os.path.abspath(b)


def check_augmentation_pipeline(pipeline: Pipeline, catalog: CatalogProtocol) -> None:
    """A run that augments builds the catalog's ``augmentation_pipeline`` (strictly) before
    any node, so that a bad augmentation YAML fails before ingest decodes every image."""
    dataset = catalog.get("augmentation_pipeline")
    if dataset is None or "augmentation_pipeline" not in pipeline.inputs():
        return  # not augmenting; or no entry at all, which Kedro itself reports
    # Loaded from the dataset itself: AugmentationConfigError names the file and transform.
    dataset.load()


class ParameterValidationHook:
    """Validates every parameter section once the catalog exists, and the starting model and
    the augmentation pipeline before the pipeline runs: before any node.

    Both hooks run first (``tryfirst``), before kedro-mlflow's: a run that fails these checks
    opens no MLflow run and leaves no FAILED run behind."""

    project_path: str | None = None
    synthetic_csv: str | None = None

    @hook_impl(tryfirst=True)
    def after_context_created(self, context: KedroContext) -> None:
        self.project_path = str(context.project_path)
        check_globals(context.config_loader["globals"])

    @hook_impl(tryfirst=True)
    def after_catalog_created(
        self, conf_catalog: dict[str, Any], parameters: dict[str, Any]
    ) -> None:
        # The parameters Kedro just loaded for the catalog, --params included: loading them
        # again here would cost a third of a second of start-up.
        params = parameters.get("parameters", {})
        validate_parameters(params)
        check_catalog_parameters(conf_catalog, params, self.project_path)
        synthetic = conf_catalog.get("synthetic_annotations")
        self.synthetic_csv = synthetic.get("filepath") if isinstance(synthetic, Mapping) else None
        logger.info("Parameters validated: %s", ", ".join(sorted(params)))
        train = params.get("train")
        if isinstance(train, Mapping) and train.get("backend"):
            prefer_keras_backend(train["backend"])  # before any node imports Keras

    @hook_impl(tryfirst=True)
    def before_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Pipeline, catalog: CatalogProtocol
    ) -> None:
        check_starting_model(pipeline, catalog)
        check_keras_backend(pipeline, catalog)
        check_labelled_set_names(pipeline, catalog)
        check_region_hint(pipeline, catalog)
        rendered = "synthetic_annotations" in pipeline.all_outputs()
        check_annotation_files(pipeline, catalog, self.synthetic_csv if rendered else None)
        check_augmentation_pipeline(pipeline, catalog)
