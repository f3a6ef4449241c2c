"""Project settings. https://docs.kedro.org/en/stable/kedro_project_setup/settings.html"""

import os
import warnings

from kedro.config import OmegaConfigLoader

from plate_ocr_pipeline.hooks import ParameterValidationHook
from plate_ocr_pipeline.tracking_hooks import MlflowRunDescriptionHook, OnDemandMlflowHook

# Library notices a user of this project cannot act on: Kedro's config loader calls an
# OmegaConf function OmegaConf now deprecates, and kedro-mlflow's pipeline model has no
# predict type hints. Hidden so that the project's own commands print only what is ours.
warnings.filterwarnings("ignore", message=r"register_new_resolver\(\) is deprecated")
warnings.filterwarnings("ignore", message=r".*Add type hints to the `predict` method")


def _environment_variable(name: str, default: str | None = None) -> str | None:
    return os.environ.get(name, default)


# Validates the plate config and every stage's parameters before any node runs; sets up
# kedro-mlflow's hook except for runs it does not track (infer: MLflow's store and experiment
# cost seconds of start-up); names and tags its run (`train (base)`) and records the files
# its catalog entries declare.
HOOKS = (ParameterValidationHook(), OnDemandMlflowHook(), MlflowRunDescriptionHook())
DISABLE_HOOKS_FOR_PLUGINS = ("kedro_mlflow",)  # registered above, on demand

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # `${env:NAME,default}` anywhere in conf/, e.g. the MLflow tracking URI.
    "custom_resolvers": {"env": _environment_variable},
    # An environment such as `quick` overrides single keys (sizes), not whole sections.
    "merge_strategy": {
        "parameters": "soft",
        "catalog": "soft",
        "globals": "soft",
        "mlflow": "soft",
    },
    "config_patterns": {
        "mlflow": ["mlflow*", "mlflow*/**", "**/mlflow*"],
        "parameters": ["parameters*", "parameters*/**", "**/parameters*"],
        "catalog": ["catalog*", "catalog*/**", "**/catalog*"],
    },
}
