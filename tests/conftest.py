"""Shared fixtures: a default plate config, hand-made crops, and an isolated Kedro project."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "1")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

DEFAULT_PLATE = {
    "max_plate_slots": 10,
    "alphabet": "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_",
    "pad_char": "_",
    "img_height": 64,
    "img_width": 128,
    "color_mode": "grayscale",
    "keep_aspect_ratio": False,
    "padding_color": [114, 114, 114],
    "interpolation": "linear",
}


@pytest.fixture
def plate_params() -> dict:
    return dict(DEFAULT_PLATE)


def write_text_image(path: Path, text: str, size: tuple[int, int] = (60, 160)) -> Path:
    """A white crop with ``text`` in black, written with OpenCV."""
    image = np.full((*size, 3), 255, np.uint8)
    cv2.putText(image, text, (6, size[0] - 18), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (0, 0, 0), 3)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), image)
    return path


@pytest.fixture
def kedro_project(tmp_path: Path):
    """A copy of the project's conf and pyproject in a temp dir, so runs never write into
    the repository; MLflow tracks into a temp sqlite store."""
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(REPO_ROOT / "pyproject.toml", project / "pyproject.toml")
    shutil.copytree(REPO_ROOT / "conf", project / "conf", ignore=shutil.ignore_patterns("local"))
    (project / "conf" / "local").mkdir()
    (project / "src").mkdir()  # the package itself is installed (editable) in the venv
    tracking = tmp_path / "mlflow.db"

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        env = dict(os.environ, PLATE_OCR_MLFLOW_URI=f"sqlite:///{tracking}")
        kedro = Path(sys.executable).with_name("kedro")
        result = subprocess.run(
            [str(kedro), "run", *args],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"kedro run {args} failed:\n{result.stdout}\n{result.stderr}")
        return result

    run.path = project
    run.tracking = tracking
    return run
