"""The whole plate reader as an MLflow Model: crop images in, plate text and confidences out.

``PlateReaderModel`` is an ``mlflow.pyfunc.PythonModel`` around ``ONNXPlateRecognizer``, with
the exported ``.onnx`` file as its one artifact. :func:`log_plate_reader` logs it to the active
MLflow run, with a signature, an input example made from a shipped sample crop and, if asked,
a version in the model registry; ``mlflow models serve`` then answers ``/invocations``. The
model is logged as code ("models from code": a three-line file that builds it), not pickled,
together with a copy of the library code it imports (``code_paths``), so serving it with
``--env-manager local`` needs no install of this project, only the packages listed below.

Why a pyfunc over the ONNX file, rather than kedro-mlflow's ``pipeline_ml_factory``:

- Serving stays as light as the plain install. A ``pipeline_ml_factory`` model
  (``KedroPipelineModel``) runs a Kedro pipeline at predict time, so the serving environment
  needs Kedro, kedro-mlflow, kedro-datasets and this project with its ``[pipelines]`` extra,
  which brings TensorFlow. Reading a plate needs onnxruntime, numpy and OpenCV only. This model
  carries just the library's ``core`` and ``inference`` code (``code_paths``) and asks for
  those packages plus MLflow, pandas and PyYAML (``pip_requirements``).
- The ONNX file alone is enough to read plates: the plate config (input size, alphabet, pad)
  is in its metadata, so no other training output (no encoder or scaler) has to be bound to it.
  That binding is what ``pipeline_ml_factory`` is for.
- It works with the pipelines as they are: ``pipeline_ml_factory`` would need an inference
  pipeline that takes a DataFrame of images (the ``infer`` stage reads a folder), and the
  train chain wrapped as a ``PipelineML``.
- A bare ``mlflow.onnx`` model would serve the raw tensors (uint8 NHWC in, slot probabilities
  out). The client would then have to resize, pad and decode the crop itself. This model takes
  the crop file and gives back the text.

Input: a DataFrame with an ``image_b64`` column, holding each crop's encoded file (PNG, JPEG,
...) in base64. Output: one row per input row, in order, with ``text``, ``confidence`` (the
mean of ``char_probs``), ``char_probs`` (the probability of each character read),
``region`` and ``region_confidence`` (the model's region family and its probability; empty and
0.0 for a model without a region output) and ``error``. ``error`` is empty when the crop was read; otherwise it gives the reason, and then
``text`` is empty, ``confidence`` is 0.0 and ``char_probs`` is empty. One bad row does not fail
the others.

This module needs MLflow and pandas, which the plain install does not have. Import it only to
log or load the model. ``plate_ocr_pipeline`` does not import it.
"""

from __future__ import annotations

import base64
import binascii
import importlib.metadata
import logging
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.models import infer_signature
from mlflow.pyfunc import PythonModel, PythonModelContext

from plate_ocr_pipeline.core.image_header import DEFAULT_MAX_FILE_BYTES
from plate_ocr_pipeline.core.onnx_metadata import MODEL_NAME_KEY
from plate_ocr_pipeline.inference.recognizer import ONNXPlateRecognizer, PlateResult, model_source

logger = logging.getLogger(__name__)

INPUT_COLUMN = "image_b64"
OUTPUT_COLUMNS = ("text", "confidence", "char_probs", "region", "region_confidence", "error")
ONNX_ARTIFACT = "onnx_model"
SAMPLES_DIR = Path(__file__).resolve().parents[1] / "assets" / "samples"
EXAMPLE_SAMPLE = "00_us.png"
# Packages of the served model: the plain install's (numpy, OpenCV, onnxruntime, PyYAML), plus
# MLflow and pandas for pyfunc. Each is pinned to the installed version when installed.
SERVING_PACKAGES = (
    "mlflow",
    "pandas",
    "numpy",
    "opencv-python-headless",
    "onnxruntime",
    "pyyaml",
)
# The library code the model carries, as paths in the package: the package root (lazy imports
# only), core with the region formats it reads, and the recognizer with this module. No
# pipelines, training code or models.
CODE_PARTS = (
    "__init__.py",
    "core",
    "assets/formats",
    "inference/__init__.py",
    "inference/recognizer.py",
    "inference/mlflow_model.py",
)
# The model's definition, logged as code ("models from code") rather than pickled: the served
# model is this text plus the library code above.
MODEL_CODE = """\
from mlflow.models import set_model

from plate_ocr_pipeline.inference.mlflow_model import PlateReaderModel

set_model(PlateReaderModel())
"""


class PlateReaderModel(PythonModel):
    """``mlflow.pyfunc`` model: base64 crops in, plate text and confidences out (see the
    module docstring). Its one artifact, ``onnx_model``, is the exported ONNX file. An optional
    ``model_config`` can hold ``plate`` (the plate config, used instead of the file's
    metadata) and ``threads`` (onnxruntime intra-op threads)."""

    def load_context(self, context: PythonModelContext) -> None:
        config = dict(context.model_config or {})
        self.reader = ONNXPlateRecognizer(
            context.artifacts[ONNX_ARTIFACT],
            threads=config.get("threads"),
            plate_config=config.get("plate"),
        )

    def predict(
        self,
        context: PythonModelContext,
        model_input: pd.DataFrame,
        params: dict[str, Any] | None = None,
    ) -> pd.DataFrame:
        return read_frame(self.reader, model_input)


def encode_image(source: str | os.PathLike | bytes) -> str:
    """An image file (a path, or its bytes) as the base64 text of an ``image_b64`` cell."""
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    return base64.b64encode(data).decode("ascii")


def example_frame(paths: Sequence[str | os.PathLike] | None = None) -> pd.DataFrame:
    """The model's input for image files: a DataFrame with an ``image_b64`` column.
    ``None`` gives one shipped sample crop, which is the logged input example."""
    if paths is None:
        paths = [SAMPLES_DIR / EXAMPLE_SAMPLE]
    return pd.DataFrame({INPUT_COLUMN: [encode_image(path) for path in paths]})


# The longest base64 text of an image that read_image would still read.
MAX_BASE64_CHARACTERS = 4 * -(-DEFAULT_MAX_FILE_BYTES // 3)


def _decode_cell(value: Any) -> bytes:
    """The image bytes in one ``image_b64`` cell; ``ValueError`` saying why there are none."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if not isinstance(value, str):
        raise ValueError(f"expected base64 text, got {type(value).__name__}")
    text = "".join(value.split())  # line breaks of MIME-style base64
    if text.startswith("data:") and "," in text:  # a data URL: data:image/png;base64,....
        text = text.split(",", 1)[1]
    if not text:
        raise ValueError("empty value: no image")
    if len(text) > MAX_BASE64_CHARACTERS:  # decoded, it would be over read_image's cap
        raise ValueError(
            f"base64 value of {len(text):,} characters, over {MAX_BASE64_CHARACTERS:,}: not decoded"
        )
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as error:
        raise ValueError(f"not valid base64: {error}") from error


def read_frame(reader: ONNXPlateRecognizer, model_input: Any) -> pd.DataFrame:
    """Read each row's crop (see the module docstring for the input and output columns)."""
    if not isinstance(model_input, pd.DataFrame):
        raise TypeError(
            f"expected a DataFrame with an {INPUT_COLUMN!r} column, "
            f"got {type(model_input).__name__}"
        )
    if INPUT_COLUMN not in model_input.columns:
        raise ValueError(
            f"the input has no {INPUT_COLUMN!r} column (columns: {list(model_input.columns)})"
        )
    rows: list[dict[str, Any]] = [{} for _ in range(len(model_input))]
    images: dict[str, bytes] = {}
    for index, value in enumerate(model_input[INPUT_COLUMN].tolist()):
        try:
            images[str(index)] = _decode_cell(value)
        except ValueError as error:
            rows[index] = _row(PlateResult.failed(str(index), str(error)))
    for result in reader.run_files(images):
        rows[int(result.source)] = _row(result)
    return pd.DataFrame(rows, columns=list(OUTPUT_COLUMNS))


def _row(result: PlateResult) -> dict[str, Any]:
    """One answer row; a missing number is 0.0 (NaN would not survive the served JSON)."""
    record = result.record()
    return {
        "text": record["text"],
        "confidence": record["confidence"] or 0.0,
        "char_probs": [float(p) for p in result.char_probs],
        "region": record["region"] or "",
        "region_confidence": record["region_confidence"] or 0.0,
        "error": record["error"] or "",
    }


def serving_requirements() -> list[str]:
    """``pip_requirements`` of the logged model: :data:`SERVING_PACKAGES`, pinned when
    installed (OpenCV as whichever of its wheels is installed)."""
    requirements = []
    for package in SERVING_PACKAGES:
        candidates = [package]
        if package == "opencv-python-headless":
            candidates += ["opencv-python", "opencv-contrib-python-headless"]
        for name in candidates:
            try:
                requirements.append(f"{name}=={importlib.metadata.version(name)}")
                break
            except importlib.metadata.PackageNotFoundError:
                continue
        else:
            requirements.append(package)
    return requirements


def _stage_library_code(folder: Path) -> Path:
    """A copy of the package holding only :data:`CODE_PARTS`, the code the model imports."""
    source = Path(__file__).resolve().parents[1]
    target = folder / source.name
    target.mkdir(parents=True)
    for part in CODE_PARTS:
        if (source / part).is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
            shutil.copytree(source / part, target / part, ignore=ignore)
        else:
            (target / part).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / part, target / part)
    return target


def _write_onnx(model: Any, path: Path) -> None:
    """The model (a path, its bytes or an ``onnx.ModelProto``) written to ``path``."""
    source, model_path = model_source(model)
    if model_path is None:
        path.write_bytes(source)
    else:
        shutil.copyfile(model_path, path)


def log_plate_reader(
    onnx_model: Any,
    name: str = "plate_reader",
    registered_model_name: str | None = None,
    example_paths: Sequence[str | os.PathLike] | None = None,
    await_registration_for: int = 300,
) -> mlflow.models.model.ModelInfo:
    """Log :class:`PlateReaderModel` over ``onnx_model`` to the active MLflow run (with no
    active run, MLflow 3 logs it as a model of the current experiment outside any run) and,
    with ``registered_model_name``, register it as a new version of that model.

    Args:
        onnx_model: the ``.onnx`` file (a path), its bytes, or an ``onnx.ModelProto``.
        name: the model's name in the run.
        registered_model_name: the registry name; ``None`` logs the model without
            registering it.
        example_paths: crops for the input example (default: one shipped sample).
        await_registration_for: seconds to wait for the version to be ready.

    The signature is inferred from the input example and the model's own answer to it.
    """
    with tempfile.TemporaryDirectory(prefix="plate_reader_") as tmp:
        folder = Path(tmp)
        model_file = folder / "model.onnx"
        _write_onnx(onnx_model, model_file)
        reader = ONNXPlateRecognizer(model_file, threads=1)
        example = example_frame(example_paths)
        signature = infer_signature(example, read_frame(reader, example))
        code = _stage_library_code(folder / "code")
        model_code = folder / "plate_reader_model.py"
        model_code.write_text(MODEL_CODE)
        info = mlflow.pyfunc.log_model(
            name=name,
            python_model=str(model_code),
            artifacts={ONNX_ARTIFACT: str(model_file)},
            code_paths=[str(code)],
            pip_requirements=serving_requirements(),
            signature=signature,
            input_example=example,
            registered_model_name=registered_model_name,
            await_registration_for=await_registration_for,
            metadata={MODEL_NAME_KEY: reader.metadata.get(MODEL_NAME_KEY, "")},
        )
    logger.info(
        "Logged the plate reader as MLflow model %s%s",
        info.model_uri,
        f" (registered: {registered_model_name} v{info.registered_model_version})"
        if registered_model_name
        else "",
    )
    return info
