"""Project hooks: fail at start, naming the key, when a parameter or an input the run depends on
is wrong, before MLflow opens a run or any node runs."""

from __future__ import annotations

import importlib
import logging
import pkgutil
import sys
from collections.abc import Mapping
from typing import Any

from kedro.framework.hooks import hook_impl
from pydantic import BaseModel, ValidationError

from plate_ocr_pipeline import pipelines as pipelines_package
from plate_ocr_pipeline.core.plate_config import PlateConfig
from plate_ocr_pipeline.training.backend import (
    prefer_keras_backend,
    require_backend_installed,
    require_keras_backend,
)

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


def check_starting_model(pipeline, catalog) -> None:
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


def check_keras_backend(pipeline, catalog) -> None:
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


def check_augmentation_pipeline(pipeline, catalog) -> None:
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

    @hook_impl(tryfirst=True)
    def after_catalog_created(self, parameters) -> None:
        # The parameters Kedro just loaded for the catalog, --params included: loading them
        # again here would cost a third of a second of start-up.
        params = parameters.get("parameters", {})
        validate_parameters(params)
        logger.info("Parameters validated: %s", ", ".join(sorted(params)))
        train = params.get("train")
        if isinstance(train, Mapping) and train.get("backend"):
            prefer_keras_backend(train["backend"])  # before any node imports Keras

    @hook_impl(tryfirst=True)
    def before_pipeline_run(self, run_params, pipeline, catalog) -> None:
        check_starting_model(pipeline, catalog)
        check_keras_backend(pipeline, catalog)
        check_augmentation_pipeline(pipeline, catalog)
