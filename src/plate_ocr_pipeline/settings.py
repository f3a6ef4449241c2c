"""Project settings. https://docs.kedro.org/en/stable/kedro_project_setup/settings.html"""

import os

from kedro.config import OmegaConfigLoader

from plate_ocr_pipeline.hooks import ParameterValidationHook

# Validates the plate config and every stage's parameters before any node runs.
HOOKS = (ParameterValidationHook(),)

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # `${env:NAME,default}` anywhere in conf/, e.g. the MLflow tracking URI.
    "custom_resolvers": {"env": lambda name, default=None: os.environ.get(name, default)},
    "config_patterns": {
        "parameters": ["parameters*", "parameters*/**", "**/parameters*"],
        "catalog": ["catalog*", "catalog*/**", "**/catalog*"],
    },
}
