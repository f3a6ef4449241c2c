"""Project settings. https://docs.kedro.org/en/stable/kedro_project_setup/settings.html"""

import os

from kedro.config import OmegaConfigLoader

from plate_ocr_pipeline.hooks import ParameterValidationHook


def _environment_variable(name: str, default: str | None = None) -> str | None:
    return os.environ.get(name, default)


# Validates the plate config and every stage's parameters before any node runs.
HOOKS = (ParameterValidationHook(),)

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # `${env:NAME,default}` anywhere in conf/, e.g. the MLflow tracking URI.
    "custom_resolvers": {"env": _environment_variable},
    # An environment such as `quick` overrides single keys (sizes), not whole sections.
    "merge_strategy": {"parameters": "soft", "catalog": "soft", "globals": "soft"},
    "config_patterns": {
        "parameters": ["parameters*", "parameters*/**", "**/parameters*"],
        "catalog": ["catalog*", "catalog*/**", "**/catalog*"],
    },
}
