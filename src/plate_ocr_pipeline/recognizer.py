"""``ONNXPlateRecognizer``: read cropped plates with an exported ONNX model.

Light on purpose: onnxruntime, numpy, OpenCV and PyYAML only (no Kedro, no TensorFlow), so
``from plate_ocr_pipeline import ONNXPlateRecognizer`` is cheap. The calling convention follows
fast-plate-ocr's recognizer::

    from plate_ocr_pipeline import ONNXPlateRecognizer

    reader = ONNXPlateRecognizer("data/06_models/model.onnx")
    reader.run("crop.png")                        # ['AB123CD']
    texts, probs = reader.run(["a.png", "b.jpg"], return_confidence=True)
    reader.run_detailed(image_array)[0].confidence
    reader.benchmark()

The plate config (input size, alphabet, pad) comes from the ONNX file's metadata, or else from
a YAML file beside it (``<model>.yml``/``<model>.yaml`` or ``plate_config.yaml``/``.yml`` in
the same folder, holding the mapping itself or a ``plate:`` section).
"""

from __future__ import annotations

import logging
import os
import statistics
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from plate_ocr_pipeline.image_preprocessing import ImageReadError, preprocess_image, read_image
from plate_ocr_pipeline.onnx_metadata import plate_config_from_metadata
from plate_ocr_pipeline.plate_config import PlateConfig
from plate_ocr_pipeline.text_codec import decode_with_confidence

logger = logging.getLogger(__name__)

DEFAULT_MODEL_PATH = Path(__file__).parent / "assets" / "models" / "default.onnx"
DEFAULT_BATCH_SIZE = 64

Source = str | os.PathLike | bytes | np.ndarray


class PlateInputError(ImageReadError):
    """An input to the recognizer is missing, not an image or has zero size.

    The message names the input (its path, or its position for arrays) and the reason.
    """


@dataclass
class PlateResult:
    """One plate read by :meth:`ONNXPlateRecognizer.run_detailed`.

    ``confidence`` is the **mean** of ``char_probs`` (the softmax probability of each kept
    character), or ``0.0`` when the model reads no character at all.
    """

    text: str
    char_probs: np.ndarray = field(repr=False)
    confidence: float
    source: str


def _confidence(char_probs: np.ndarray) -> float:
    return float(np.mean(char_probs)) if len(char_probs) else 0.0


def find_plate_config_yaml(model_path: str | os.PathLike) -> Path | None:
    """The YAML plate config beside ``model_path``, if any (see the module docstring)."""
    path = Path(model_path)
    candidates = [
        path.with_suffix(".yml"),
        path.with_suffix(".yaml"),
        path.parent / "plate_config.yaml",
        path.parent / "plate_config.yml",
    ]
    return next((c for c in candidates if c.is_file()), None)


class ONNXPlateRecognizer:
    """Reads plate text from cropped plate images with an ONNX model.

    Args:
        model_path: The ``.onnx`` file. ``None``: the model shipped with the package
            (``plate_ocr_pipeline/assets/models/default.onnx``).
        providers: onnxruntime execution providers in order of preference, e.g.
            ``["CUDAExecutionProvider", "CPUExecutionProvider"]``. Providers that this
            onnxruntime build lacks are dropped with a warning; default CPU.
        threads: intra-op threads (``None``: onnxruntime's default, all cores).
        plate_config: Overrides the config from metadata/YAML (a ``PlateConfig`` or mapping).
    """

    def __init__(
        self,
        model_path: str | os.PathLike | None = None,
        providers: Sequence[str] | None = None,
        threads: int | None = None,
        plate_config: PlateConfig | dict[str, Any] | None = None,
    ) -> None:
        if model_path is None:
            model_path = DEFAULT_MODEL_PATH
            if not model_path.is_file():
                raise FileNotFoundError(
                    f"no model shipped at {model_path}: train and export one "
                    "(`kedro run --pipeline=train` writes data/06_models/model.onnx) "
                    "or pass model_path='path/to/model.onnx'"
                )
        self.model_path = Path(model_path)
        if not self.model_path.is_file():
            raise FileNotFoundError(f"ONNX model not found: {self.model_path}")

        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = int(threads)
            options.inter_op_num_threads = 1
        self.providers = _usable_providers(providers)
        self.session = ort.InferenceSession(
            str(self.model_path), sess_options=options, providers=self.providers
        )
        self.metadata = dict(self.session.get_modelmeta().custom_metadata_map)
        self.config = self._resolve_config(plate_config)
        self._input_name = self.session.get_inputs()[0].name
        self._output_name = self.session.get_outputs()[0].name
        self._check_input_shape()

    # ------------------------------------------------------------------ setup
    def _resolve_config(self, override: PlateConfig | dict[str, Any] | None) -> PlateConfig:
        if isinstance(override, PlateConfig):
            return override
        if override is not None:
            return PlateConfig.from_dict(override)
        config = plate_config_from_metadata(self.metadata)
        if config is not None:
            return config
        yaml_path = find_plate_config_yaml(self.model_path)
        if yaml_path is not None:
            return PlateConfig.from_yaml(yaml_path)
        raise FileNotFoundError(
            f"{self.model_path}: no plate config in the ONNX metadata (key 'plate_config') and "
            f"no YAML beside it ({self.model_path.with_suffix('.yml').name} or "
            "plate_config.yaml); export with the export pipeline or pass plate_config="
        )

    def _check_input_shape(self) -> None:
        model_input = self.session.get_inputs()[0]
        expected = (self.config.img_height, self.config.img_width, self.config.num_channels)
        actual = tuple(model_input.shape[1:])
        if len(actual) != 3 or any(
            isinstance(a, int) and a != e for a, e in zip(actual, expected, strict=True)
        ):
            raise ValueError(
                f"{self.model_path}: model input shape {model_input.shape} does not match the "
                f"plate config (batch, {expected[0]}, {expected[1]}, {expected[2]})"
            )
        if model_input.type != "tensor(uint8)":
            raise ValueError(
                f"{self.model_path}: model input type is {model_input.type}, expected uint8"
            )

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """``(height, width, channels)`` of one preprocessed crop."""
        return (self.config.img_height, self.config.img_width, self.config.num_channels)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(model_path={str(self.model_path)!r}, "
            f"providers={self.session.get_providers()!r})"
        )

    # ------------------------------------------------------------ preprocess
    def preprocess(self, source: Source, name: str | None = None) -> np.ndarray:
        """One input (path, encoded bytes or decoded array) to the model's uint8 ``(H, W, C)``.

        Raises ``PlateInputError`` naming the input when it cannot be used.
        """
        label = name if name is not None else _label(source)
        try:
            if isinstance(source, np.ndarray):
                image = source
            elif isinstance(source, (str, os.PathLike, bytes, bytearray)):
                image = read_image(source)
            else:
                raise PlateInputError(label, f"unsupported input type {type(source).__name__}")
            if image.size == 0:
                raise PlateInputError(label, f"image has zero size (shape {image.shape})")
            return preprocess_image(image, self.config)
        except PlateInputError:
            raise
        except ImageReadError as error:
            raise PlateInputError(label, error.reason) from error
        except Exception as error:  # OpenCV errors on odd arrays, etc.
            raise PlateInputError(label, f"{type(error).__name__}: {error}") from error

    # ----------------------------------------------------------------- model
    def predict(self, batch: np.ndarray) -> np.ndarray:
        """Model probabilities ``(N, slots, vocab)`` for an already preprocessed uint8 batch."""
        batch = np.ascontiguousarray(batch, dtype=np.uint8)
        if len(batch) == 0:
            return np.zeros(
                (0, self.config.max_plate_slots, self.config.vocabulary_size), dtype=np.float32
            )
        return self.session.run([self._output_name], {self._input_name: batch})[0]

    def decode(self, probabilities: np.ndarray) -> list[tuple[str, np.ndarray]]:
        """Texts (pad stripped) and per-character probabilities from model outputs."""
        return decode_with_confidence(probabilities, self.config)

    # ------------------------------------------------------------ public API
    def run(
        self, source: Any, return_confidence: bool = False, batch_size: int = DEFAULT_BATCH_SIZE
    ) -> list[str] | tuple[list[str], list[np.ndarray]]:
        """Plate texts for one input or many.

        Args:
            source: a path (``str``/``Path``), encoded image bytes, a list of paths, one image
                array (``HxW`` or ``HxWxC``, any bit depth), a batch (``NxHxWxC`` array) or a
                list of arrays.
            return_confidence: also return each plate's per-character probabilities.
            batch_size: inputs per model call (bounds memory for long lists).

        Returns:
            ``texts`` or ``(texts, char_probs)``, one entry per input, in input order.
        """
        results = self.run_detailed(source, batch_size=batch_size)
        texts = [r.text for r in results]
        if return_confidence:
            return texts, [r.char_probs for r in results]
        return texts

    def run_detailed(self, source: Any, batch_size: int = DEFAULT_BATCH_SIZE) -> list[PlateResult]:
        """Like :meth:`run` with every plate's text, char probabilities, confidence and source."""
        items = _as_items(source)
        results: list[PlateResult] = []
        batch_size = max(1, int(batch_size))
        for start in range(0, len(items), batch_size):
            chunk = items[start : start + batch_size]
            if len(chunk) and isinstance(source, np.ndarray) and source.ndim == 4:
                batch = self._fast_batch(source[start : start + batch_size])
            else:
                batch = None
            if batch is None:
                batch = np.stack([self.preprocess(item, label) for label, item in chunk])
            decoded = self.decode(self.predict(batch))
            for (label, _), (text, probs) in zip(chunk, decoded, strict=True):
                results.append(PlateResult(text, probs, _confidence(probs), label))
        return results

    def _fast_batch(self, batch: np.ndarray) -> np.ndarray | None:
        """A uint8 batch already of the model's shape goes straight to the model."""
        if batch.dtype == np.uint8 and batch.shape[1:] == self.input_shape:
            return batch
        return None

    def benchmark(
        self,
        n_iter: int = 200,
        batch_size: int = 1,
        warmup: int = 20,
        include_processing: bool = False,
        verbose: bool = True,
    ) -> dict[str, float]:
        """Time the model on random crops; prints and returns latency and throughput.

        ``include_processing`` also times preprocessing (resize of a 2x-sized crop) and
        decoding. Returns ``latency_mean_ms``, ``latency_p50_ms``, ``latency_p95_ms`` (per
        call of ``batch_size`` plates) and ``throughput`` (plates per second).
        """
        rng = np.random.default_rng(0)
        h, w, c = self.input_shape
        if include_processing:
            raw = [rng.integers(0, 256, (2 * h, 2 * w, 3), dtype=np.uint8)] * batch_size

            def call() -> None:
                self.run(raw, batch_size=batch_size)
        else:
            batch = rng.integers(0, 256, (batch_size, h, w, c), dtype=np.uint8)

            def call() -> None:
                self.predict(batch)

        stats = summarise_latencies(time_calls(call, n_iter, warmup), batch_size)
        if verbose:
            print(
                f"{self.model_path.name} on {self.session.get_providers()[0]}, batch {batch_size}: "
                f"mean {stats['latency_mean_ms']:.3f} ms, p50 {stats['latency_p50_ms']:.3f} ms, "
                f"p95 {stats['latency_p95_ms']:.3f} ms, {stats['throughput']:.1f} plates/s"
            )
        return stats


# ---------------------------------------------------------------- helpers
def time_calls(call, n_iter: int, warmup: int) -> list[float]:
    """Seconds taken by each of ``n_iter`` calls of ``call()`` after ``warmup`` untimed ones."""
    for _ in range(max(0, warmup)):
        call()
    timings = []
    for _ in range(max(1, n_iter)):
        start = time.perf_counter()
        call()
        timings.append(time.perf_counter() - start)
    return timings


def summarise_latencies(timings: Sequence[float], batch_size: int) -> dict[str, float]:
    """Mean, p50 and p95 per call in ms, and plates per second."""
    ms = np.asarray(timings, dtype=np.float64) * 1000.0
    mean = float(ms.mean())
    return {
        "batch_size": int(batch_size),
        "runs": len(ms),
        "latency_mean_ms": mean,
        "latency_p50_ms": float(np.percentile(ms, 50)),
        "latency_p95_ms": float(np.percentile(ms, 95)),
        "latency_stdev_ms": float(statistics.pstdev(ms)) if len(ms) > 1 else 0.0,
        "throughput": batch_size * 1000.0 / mean if mean > 0 else float("inf"),
    }


def _usable_providers(requested: Sequence[str] | None) -> list[str]:
    available = ort.get_available_providers()
    if not requested:
        return ["CPUExecutionProvider"]
    if isinstance(requested, str):
        requested = [requested]
    usable = [p for p in requested if p in available]
    missing = [p for p in requested if p not in available]
    if missing:
        logger.warning(
            "onnxruntime providers %s are not available here (available: %s); skipping them",
            missing,
            available,
        )
    return usable or ["CPUExecutionProvider"]


def _label(source: Any) -> str:
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    if isinstance(source, (bytes, bytearray)):
        return "<bytes>"
    if isinstance(source, np.ndarray):
        return f"<array {source.shape} {source.dtype}>"
    return f"<{type(source).__name__}>"


def _as_items(source: Any) -> list[tuple[str, Any]]:
    """``(label, item)`` pairs: one per image, in input order."""
    if isinstance(source, (str, os.PathLike, bytes, bytearray)):
        return [(_label(source), source)]
    if isinstance(source, np.ndarray):
        if source.ndim in (2, 3):
            return [(_label(source), source)]
        if source.ndim == 4:
            return [(f"<array[{i}]>", image) for i, image in enumerate(source)]
        raise PlateInputError(
            _label(source), "expected an image (HxW or HxWxC) or a batch (NxHxWxC)"
        )
    if isinstance(source, (list, tuple)) or _is_iterator(source):
        items = []
        for i, item in enumerate(source):
            if isinstance(item, np.ndarray):
                items.append((f"<array[{i}]>", item))
            elif isinstance(item, (str, os.PathLike, bytes, bytearray)):
                items.append((_label(item), item))
            else:
                raise PlateInputError(
                    f"<item {i}>", f"unsupported input type {type(item).__name__}"
                )
        return items
    raise PlateInputError(_label(source), "unsupported input type")


def _is_iterator(value: Any) -> bool:
    return isinstance(value, Iterator)
