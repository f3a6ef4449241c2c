"""The Keras backend a run trains on, chosen by the recipe (``train.backend``).

Keras fixes its backend when it is first imported (from ``KERAS_BACKEND``), so the choice is
made before: the project's hook calls :func:`prefer_keras_backend` once the parameters are
loaded, and the train node checks with :func:`require_keras_backend` that Keras runs on it.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys

from plate_ocr_pipeline.training.params import KERAS_BACKENDS

logger = logging.getLogger(__name__)


def prefer_keras_backend(backend: str) -> None:
    """Make Keras load ``backend`` when it is imported later in this process. Does nothing
    once Keras is loaded (a notebook, a test process): :func:`require_keras_backend` then
    tells a training run that it runs on another one."""
    if backend not in KERAS_BACKENDS:
        raise ValueError(f"unknown Keras backend {backend!r}; known: {', '.join(KERAS_BACKENDS)}")
    if "keras" in sys.modules:
        return
    chosen = os.environ.get("KERAS_BACKEND")
    if chosen and chosen != backend:
        logger.warning("KERAS_BACKEND=%s ignored: train.backend is %s", chosen, backend)
    os.environ["KERAS_BACKEND"] = backend
    logger.info("Keras backend: %s (train.backend)", backend)


# The pip extra that installs each backend's library.
_BACKEND_EXTRAS = {"tensorflow": "train", "jax": "jax", "torch": "torch"}


def require_backend_installed(backend: str) -> None:
    """Fail, naming the extra to install, when ``backend``'s library is missing: at the start
    of a run, not when the first node imports Keras."""
    if importlib.util.find_spec(backend) is None:
        raise ModuleNotFoundError(
            f"train.backend is {backend!r}, but {backend} is not installed: "
            f'pip install ".[{_BACKEND_EXTRAS.get(backend, backend)}]", or set train.backend '
            "to an installed backend"
        )


def require_keras_backend(backend: str) -> None:
    """Fail, naming both, when Keras in this process runs on another backend than
    ``backend``."""
    import keras

    running = keras.backend.backend()
    if running != backend:
        raise RuntimeError(
            f"train.backend is {backend!r}, but Keras in this process already runs on "
            f"{running!r} (Keras fixes its backend when first imported): run in a new process "
            f"(`kedro run` sets it), or set train.backend={running}"
        )
