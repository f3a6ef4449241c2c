"""The plain install (``pip install .``, no extras) is the recognizer alone, and it works.

Builds a fresh virtual environment with the base interpreter of the one running the tests,
installs a copy of the checkout into it without extras (``-c requirements-lock.txt``; pip may
use the registry and its cache), then with that environment's Python reads the sample crops
shipped inside the installed package, through ``ONNXPlateRecognizer`` and through the
``plate-ocr`` console script, and checks that TensorFlow, Keras and Kedro are absent.

Takes about half a minute with a warm pip cache (the environment is about 320 MB). Skip it
with ``PLATE_OCR_SKIP_PLAIN_INSTALL=1`` or ``-m "not plain_install"``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

SKIP_ENV = "PLATE_OCR_SKIP_PLAIN_INSTALL"

pytestmark = [
    pytest.mark.plain_install,
    pytest.mark.skipif(
        os.environ.get(SKIP_ENV, "").strip().lower() not in ("", "0", "false", "no"),
        reason=f"{SKIP_ENV} is set",
    ),
]

# Run inside the plain environment: imports the recognizer, then tries the heavy packages.
IMPORTS = r"""
import importlib, json, sys
from pathlib import Path

import plate_ocr_pipeline
from plate_ocr_pipeline import ONNXPlateRecognizer

loaded = sorted(m for m in ("kedro", "tensorflow", "keras") if m in sys.modules)
imports = {}
for module in ("tensorflow", "keras", "kedro"):
    try:
        importlib.import_module(module)
        imports[module] = "imported"
    except ImportError as error:
        imports[module] = type(error).__name__
print(json.dumps({
    "package_dir": str(Path(plate_ocr_pipeline.__file__).parent),
    "loaded_with_recognizer": loaded,
    "imports": imports,
}))
"""

# Run inside the plain environment: reads the installed package's samples through the API and
# works out the rows `plate-ocr read` must print for them.
PROBE = r"""
import csv, json, sys
from pathlib import Path

import plate_ocr_pipeline
from plate_ocr_pipeline import ONNXPlateRecognizer
from plate_ocr_pipeline.inference.recognizer import PlateInputError

package_dir = Path(plate_ocr_pipeline.__file__).parent
samples = package_dir / "assets" / "samples"
with open(samples.with_suffix(".csv"), newline="") as handle:
    labels = {Path(row["image_path"]).name: row["plate_text"] for row in csv.DictReader(handle)}
names = sorted(p.name for p in samples.iterdir() if p.suffix == ".png")
reader = ONNXPlateRecognizer(threads=1)
results = reader.run_detailed([str(samples / name) for name in names])
try:
    reader.preprocess(sys.argv[1], name=sys.argv[1])
    bad_reason = None
except PlateInputError as error:
    bad_reason = error.reason
print(json.dumps({
    "package_dir": str(package_dir),
    "samples": str(samples),
    "labels": labels,
    "texts": {name: r.text for name, r in zip(names, results)},
    "rows": [f"{r.source}\t{r.text}\t{r.confidence:.4f}"
             + (f"\t{r.region}\t{r.region_prob:.4f}" if r.region else "") for r in results],
    "bad_reason": bad_reason,
    "families": reader.region_families,
}))
"""


def _base_python() -> str:
    """The interpreter the running one (often itself a venv) was made from."""
    base = getattr(sys, "_base_executable", None)
    return base if base and Path(base).is_file() else sys.executable


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.pop("VIRTUAL_ENV", None)
    env["PYTHONNOUSERSITE"] = "1"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def _run(command: list[str], cwd: Path, timeout: float = 120, check: bool = True):
    result = subprocess.run(
        command, cwd=cwd, env=_clean_env(), capture_output=True, text=True, timeout=timeout
    )
    if check and result.returncode != 0:
        pytest.fail(
            f"{' '.join(command)} exited {result.returncode}\n"
            f"stdout:\n{result.stdout[-4000:]}\nstderr:\n{result.stderr[-4000:]}"
        )
    return result


@pytest.fixture(scope="module")
def plain_env(tmp_path_factory):
    """``(bin_dir, work_dir)`` of a fresh venv holding the checkout installed without extras."""
    root = tmp_path_factory.mktemp("plain_install")
    # Install from a copy (the sources pip needs), so the build never writes into the checkout.
    source = root / "checkout"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO_ROOT / name, source / name)
    shutil.copytree(
        REPO_ROOT / "src" / "plate_ocr_pipeline",
        source / "src" / "plate_ocr_pipeline",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"),
    )
    venv = root / "venv"
    started = time.perf_counter()
    _run([_base_python(), "-m", "venv", str(venv)], cwd=root)
    bin_dir = venv / ("Scripts" if os.name == "nt" else "bin")
    python = bin_dir / "python"
    _run(
        [
            str(python), "-m", "pip", "install", "--no-compile", "-q", "--no-input",
            "-c", str(REPO_ROOT / "requirements-lock.txt"), str(source),
        ],
        cwd=root,
        timeout=600,
    )  # fmt: skip
    print(f"\nplain install: venv + pip install in {time.perf_counter() - started:.1f} s")
    yield bin_dir, root
    shutil.rmtree(venv, ignore_errors=True)  # about 320 MB; pytest keeps its last 3 tmp dirs


@pytest.fixture(scope="module")
def bad_file(plain_env) -> Path:
    path = plain_env[1] / "not_a_plate.png"
    path.write_bytes(b"this is not an image")
    return path


@pytest.fixture(scope="module")
def probe(plain_env, bad_file) -> dict:
    bin_dir, root = plain_env
    result = _run([str(bin_dir / "python"), "-c", PROBE, str(bad_file)], cwd=root)
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_plain_install_is_the_installed_copy_without_heavy_packages(plain_env):
    bin_dir, root = plain_env
    result = _run([str(bin_dir / "python"), "-c", IMPORTS], cwd=root)
    found = json.loads(result.stdout.strip().splitlines()[-1])
    # The package comes from the venv's site-packages, not from the checkout.
    assert Path(found["package_dir"]).is_relative_to(root / "venv")
    assert found["loaded_with_recognizer"] == []
    assert found["imports"] == {
        "tensorflow": "ModuleNotFoundError",
        "keras": "ModuleNotFoundError",
        "kedro": "ModuleNotFoundError",
    }


def test_plain_install_recognizer_reads_the_shipped_samples(probe):
    labels, texts = probe["labels"], probe["texts"]
    assert sorted(texts) == sorted(labels) and len(labels) == 12
    exact = sum(texts[name] == labels[name] for name in labels)
    # The shipped model reads all 12 (tests/test_shipped_model.py); a smoke test of the file.
    assert exact == len(labels), {name: (texts[name], labels[name]) for name in labels}


def test_plain_install_console_script_reads_the_samples(plain_env, probe, bad_file):
    bin_dir, root = plain_env
    command = [str(bin_dir / "plate-ocr"), "read", probe["samples"], str(bad_file)]
    result = _run([*command, "--threads", "1"], cwd=root, check=False)
    assert result.returncode == 1, result.stderr  # the bad file fails; the others are read
    rows = result.stdout.splitlines()
    assert probe["bad_reason"]
    assert rows == [*probe["rows"], f"{bad_file}\terror\t{probe['bad_reason']}"]
    for row in rows[:-1]:
        path, text, confidence, region, region_confidence = row.split("\t")
        assert region in probe["families"] and re.fullmatch(r"[01]\.\d{4}", region_confidence)
        assert Path(path).parent == Path(probe["samples"])
        assert re.fullmatch(r"[0-9A-Z]*", text)
        assert re.fullmatch(r"[01]\.\d{4}", confidence)
    assert "plate-ocr: 1 of 13 input(s) could not be read" in result.stderr

    only_samples = _run([*command[:-1], "--threads", "1"], cwd=root)
    assert only_samples.stdout.splitlines() == probe["rows"]


def test_plain_install_console_script_benchmarks(plain_env):
    bin_dir, root = plain_env
    command = [str(bin_dir / "plate-ocr"), "benchmark", "--threads", "1", "--json"]
    result = _run([*command, "--iterations", "5", "--warmup", "1"], cwd=root)
    stats = json.loads(result.stdout)
    assert stats["runs"] == 5 and stats["batch_size"] == 1
    assert stats["latency_mean_ms"] > 0 and stats["throughput"] > 0


def test_plain_install_project_script_names_the_missing_extra(plain_env):
    """plate-ocr-pipeline (the Kedro project's entry point) is installed with the package; in
    the plain install it says which extra it needs instead of failing on an import."""
    bin_dir, root = plain_env
    result = _run([str(bin_dir / "plate-ocr-pipeline"), "run"], cwd=root, check=False)
    assert result.returncode == 1
    assert "pip install '.[pipelines]'" in result.stderr and "Traceback" not in result.stderr
