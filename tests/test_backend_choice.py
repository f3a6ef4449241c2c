"""The recipe's ``train.backend`` picks the Keras backend before Keras loads."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from plate_ocr_pipeline.training.backend import (
    prefer_keras_backend,
    require_backend_installed,
    require_keras_backend,
)
from tests.conftest import REPO_ROOT

# The project hook, given the loaded parameters, then Keras imported as a node would.
CHILD = """
from plate_ocr_pipeline.hooks import ParameterValidationHook
from tests.conftest import DEFAULT_PLATE
parameters = {"parameters": {"plate": DEFAULT_PLATE, "train": %r}}
ParameterValidationHook().after_catalog_created(conf_catalog={}, parameters=parameters)
import keras
print("BACKEND", keras.backend.backend())
"""


def _backend_in_child(train: dict, environment_backend: str) -> str:
    env = {**os.environ, "KERAS_BACKEND": environment_backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [sys.executable, "-c", CHILD % train],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split("BACKEND", 1)[1].strip()


def test_the_recipe_backend_wins_over_the_environment_before_keras_loads():
    pytest.importorskip("jax")
    assert _backend_in_child({"backend": "jax"}, "tensorflow") == "jax"
    assert _backend_in_child({"backend": "tensorflow"}, "jax") == "tensorflow"
    # Without the key, the environment's choice stands.
    assert _backend_in_child({"epochs": 3}, "jax") == "jax"


def test_a_training_run_on_another_loaded_backend_fails_naming_both(plate_params):
    import keras

    from tests.test_train_pipeline import fit, quick_train_params

    running = keras.backend.backend()
    other = "jax" if running != "jax" else "tensorflow"
    before = os.environ.get("KERAS_BACKEND")
    prefer_keras_backend(other)  # Keras is loaded: nothing changes
    assert os.environ.get("KERAS_BACKEND") == before
    require_keras_backend(running)
    # The train node checks before it fits anything (the data is never looked at).
    with pytest.raises(RuntimeError, match=f"train.backend is '{other}'.*runs on '{running}'"):
        fit({}, None, plate_params, **quick_train_params(backend=other))
    with pytest.raises(ValueError, match="unknown Keras backend 'jaxx'"):
        prefer_keras_backend("jaxx")


def test_a_backend_typo_fails_at_start_naming_the_key(plate_params):
    from plate_ocr_pipeline.hooks import ParameterError, validate_parameters

    with pytest.raises(ParameterError, match="train.backend"):
        validate_parameters({"plate": plate_params, "train": {"backend": "jaxx"}})


def test_a_backend_that_is_not_installed_fails_at_start_naming_the_extra(monkeypatch):
    import importlib.util

    from kedro.io import DataCatalog, MemoryDataset
    from kedro.pipeline import node, pipeline

    from plate_ocr_pipeline import hooks

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a)
    )
    with pytest.raises(ModuleNotFoundError, match=r"train.backend is 'torch'.*\.\[torch\]"):
        require_backend_installed("torch")
    require_backend_installed("tensorflow")
    # The hook checks it before a pipeline that trains runs, when Keras is not loaded yet.
    monkeypatch.delitem(sys.modules, "keras", raising=False)
    catalog = DataCatalog({"params:train": MemoryDataset({"backend": "torch"})})
    trains = pipeline([node(lambda train: train, "params:train", "out")])
    with pytest.raises(ModuleNotFoundError, match="torch"):
        hooks.check_keras_backend(trains, catalog)
    reads = pipeline([node(lambda x: x, "images", "texts")])
    hooks.check_keras_backend(reads, catalog)  # does not train: nothing to check
