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


def load_script(name: str):
    """``scripts/<name>.py`` as a module (the scripts folder is not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_text_image(path: Path, text: str, size: tuple[int, int] = (60, 160)) -> Path:
    """A white crop with ``text`` in black, written with OpenCV."""
    image = np.full((*size, 3), 255, np.uint8)
    cv2.putText(image, text, (6, size[0] - 18), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (0, 0, 0), 3)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), image)
    return path


SPLITS = ["train", "train", "train", "val", "train", "test"]


def make_plates(folder: Path, count: int = 30):
    """``count`` text crops written into ``folder`` and their clean table (pandas), with
    train/val/test splits and two regions."""
    import random

    import pandas as pd

    rng = random.Random(0)
    rows = []
    for i in range(count):
        text = "".join(rng.choice("ABCK0123789") for _ in range(rng.randint(3, 7)))
        path = write_text_image(folder / f"{i:03d}.png", text)
        rows.append({"image_path": str(path), "plate_text": text,
                     "region": f"r{i % 2}", "split": SPLITS[i % len(SPLITS)]})  # fmt: skip
    return pd.DataFrame(rows)


def image_files(plates) -> dict:
    """The catalog's ``plate_image_files`` for a clean table: ``{path: ImageFile}``."""
    from plate_ocr_pipeline.datasets import ImageFile

    return {path: ImageFile.at(path) for path in plates["image_path"]}


@pytest.fixture(scope="module")
def model_input(tmp_path_factory):
    """The train stage's input arrays for 30 text crops (module-scoped: built once)."""
    from plate_ocr_pipeline.pipelines.train.nodes import prepare_model_input

    plates = make_plates(tmp_path_factory.mktemp("plates"))
    return prepare_model_input(plates, image_files(plates), {}, DEFAULT_PLATE)


@pytest.fixture(scope="module")
def augmentation():
    """The project's augmentation Compose, seeded."""
    from plate_ocr_pipeline.datasets import AlbumentationsDataset
    from plate_ocr_pipeline.pipelines.augment.nodes import seed_augmentation

    compose = AlbumentationsDataset(filepath=str(REPO_ROOT / "conf/base/augmentation.yml")).load()
    return seed_augmentation(compose, {"seed": 42})


@pytest.fixture
def kedro_project(tmp_path: Path):
    """A copy of the project's conf and pyproject in a temp dir, so runs never write into
    the repository; MLflow tracks into a temp sqlite store."""
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(REPO_ROOT / "pyproject.toml", project / "pyproject.toml")
    shutil.copytree(REPO_ROOT / "conf", project / "conf", ignore=shutil.ignore_patterns("local"))
    (project / "conf" / "local").mkdir()
    # The package itself is installed (editable) in the venv; its assets (the shipped model,
    # the sample crops) are where the catalog's relative paths expect them.
    package = project / "src" / "plate_ocr_pipeline"
    package.mkdir(parents=True)
    (package / "assets").symlink_to(REPO_ROOT / "src" / "plate_ocr_pipeline" / "assets")
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
