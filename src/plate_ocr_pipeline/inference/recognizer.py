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

The model can also be given as its serialized bytes or an ``onnx.ModelProto`` (what a Kedro
catalog entry loads), e.g. ``ONNXPlateRecognizer(Path("model.onnx").read_bytes())``.
``run_files`` reads many files lazily (``{name: loader}``), a batch at a time, and turns a
file that cannot be read into a result with its ``error`` instead of raising.

Inputs stream: ``run``, ``run_detailed`` and ``run_iter`` take the next ``batch_size`` inputs
from a list or an iterator (a generator of arrays, say), preprocess and read them, and keep only
the small results, so memory holds one batch of inputs however many there are. ``run_iter``
yields each result as soon as its batch is read (the iterator is consumed no further).
How arrays of each dtype are read, and which are refused, is described in
``plate_ocr_pipeline.core.preprocessing``.

The plate config (input size, alphabet, pad) comes from the model's ONNX metadata, or else,
for a model given by path, from a YAML file beside it (``<model>.yml``/``<model>.yaml`` or
``plate_config.yaml``/``.yml`` in the same folder, holding the mapping itself or a ``plate:``
section).
"""

from __future__ import annotations

import copy
import itertools
import logging
import os
import statistics
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import onnxruntime as ort

from plate_ocr_pipeline.core.onnx_metadata import (
    MODEL_NAME_KEY,
    plate_config_from_metadata,
    region_families_from_metadata,
)
from plate_ocr_pipeline.core.plate_config import PlateConfig
from plate_ocr_pipeline.core.plate_formats import (
    family_hint,
    known_families,
    read_by_format,
)
from plate_ocr_pipeline.core.preprocessing import ImageReadError, preprocess_image, read_image
from plate_ocr_pipeline.core.text_codec import decode_with_confidence

if TYPE_CHECKING:  # pragma: no cover
    import onnx  # not in the plain install: a ModelProto is accepted by duck typing

logger = logging.getLogger(__name__)

DEFAULT_MODEL_PATH = Path(__file__).resolve().parents[1] / "assets" / "models" / "default.onnx"
DEFAULT_BATCH_SIZE = 64
REGION_OUTPUT = "region"
COLUMNS_OUTPUT = "columns"  # a CTC model's column probabilities (training.reader)
# One reading as a table row: the infer pipeline's predictions and `plate-ocr read --csv`.
RESULT_COLUMNS = (
    "path",
    "text",
    "confidence",
    "char_confidences",
    "region",
    "region_confidence",
    "raw_text",
    "status",
    "error",
)

Source = str | os.PathLike | bytes | np.ndarray
ModelSource = str | os.PathLike | bytes | bytearray | memoryview


class PlateInputError(ImageReadError):
    """An input to the recognizer is missing, not an image or has zero size.

    The message names the input (its path, or its position for arrays) and the reason.
    """


@dataclass
class PlateResult:
    """One plate read by :meth:`ONNXPlateRecognizer.run_detailed`.

    ``confidence`` is the **mean** of ``char_probs`` (the softmax probability of each kept
    character), or ``0.0`` when the model reads no character at all.

    ``error`` is set only by :meth:`ONNXPlateRecognizer.run_files`, for an input that could not
    be read (the reason); ``text`` is then empty, ``char_probs`` empty and ``confidence`` NaN.

    ``region`` and ``region_prob``: the most probable region family and its probability, from
    a model with a region output (else ``None`` and NaN). ``raw_text`` is the model's own
    reading; ``text`` differs from it only where format-aware decoding chose a reading that
    fits a region's format. ``format_fit``: whether some family's format (or the US's raw
    reading) fitted; ``None`` when format-aware decoding was off or had no region to go by.
    """

    text: str
    char_probs: np.ndarray = field(repr=False)
    confidence: float
    source: str
    error: str | None = None
    region: str | None = None
    region_prob: float = float("nan")
    raw_text: str | None = None
    format_fit: bool | None = None

    @property
    def ok(self) -> bool:
        """``True`` unless the input could not be read (see ``error``)."""
        return self.error is None

    @classmethod
    def failed(cls, source: str, reason: str) -> PlateResult:
        """The result of an input that could not be read."""
        return cls("", np.zeros(0, dtype=np.float32), float("nan"), source, error=reason)

    def record(self) -> dict[str, Any]:
        """This reading as a row of :data:`RESULT_COLUMNS` in plain Python values: ``None``
        where there is no value (an error row's confidence, a model without region output);
        each output format (infer's CSV, the CLI, the MLflow model) writes those its own way.
        """
        region_prob = None if self.region_prob != self.region_prob else float(self.region_prob)
        return {
            "path": self.source,
            "text": self.text,
            "confidence": float(self.confidence) if self.ok else None,
            "char_confidences": [round(float(p), 4) for p in self.char_probs],
            "region": self.region,
            "region_confidence": region_prob,
            "raw_text": self.raw_text if self.raw_text is not None or not self.ok else self.text,
            "status": "ok" if self.ok else "error",
            "error": self.error,
        }


def _confidence(char_probs: np.ndarray) -> float:
    # np.mean's own arithmetic (a float32 sum over the count) without its per-call overhead.
    return float(char_probs.sum() / len(char_probs)) if len(char_probs) else 0.0


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
        model_path: The ``.onnx`` file, or the model itself: its serialized bytes or an
            ``onnx.ModelProto`` (anything with ``SerializeToString()``). ``None``: the model
            shipped with the package (``plate_ocr_pipeline/assets/models/default.onnx``).
        providers: onnxruntime execution providers in order of preference, e.g.
            ``["CUDAExecutionProvider", "CPUExecutionProvider"]``. Providers that this
            onnxruntime build lacks are dropped with a warning; default CPU.
        threads: intra-op threads (``None``: onnxruntime's default, all cores).
        plate_config: Overrides the config from metadata/YAML (a ``PlateConfig`` or mapping).
        format_decoding: choose, per plate, the most probable text that fits a format of a
            likely region family (``core.plate_formats``), by the model's region output or
            ``region_hint``; a model with neither reads as with it off. Off: the model's own
            reading (``PlateResult.raw_text`` always holds it).
        region_hint: region families the plates come from (``["ar-old", "mercosur"]``),
            used instead of the region output by format-aware decoding (which a hint turns
            on).

    ``model_path`` is kept as the model file's ``Path`` (``None`` for a model given in memory);
    ``name`` names the model in messages.
    """

    def __init__(
        self,
        model_path: ModelSource | onnx.ModelProto | None = None,
        providers: Sequence[str] | None = None,
        threads: int | None = None,
        plate_config: PlateConfig | dict[str, Any] | None = None,
        format_decoding: bool = True,
        region_hint: Sequence[str] | None = None,
    ) -> None:
        model, self.model_path = model_source(model_path)
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = int(threads)
            options.inter_op_num_threads = 1
        self.providers = _usable_providers(providers)
        self.session = ort.InferenceSession(model, sess_options=options, providers=self.providers)
        self.metadata = dict(self.session.get_modelmeta().custom_metadata_map)
        # Names the model in messages: its path, or the name in its metadata.
        self.name = (
            str(self.model_path)
            if self.model_path is not None
            else f"<in-memory ONNX model {self.metadata.get(MODEL_NAME_KEY, '')!r}>"
        )
        self.config = self._resolve_config(plate_config)
        self._input_name = self.session.get_inputs()[0].name
        self._output_name = self.session.get_outputs()[0].name
        self._check_input_shape()
        # The region output's column names; [] for a model without one.
        outputs = [o.name for o in self.session.get_outputs()]
        families = region_families_from_metadata(self.metadata)
        self.region_families = families if REGION_OUTPUT in outputs else []
        self._output_names = [self._output_name] + ([REGION_OUTPUT] if self.region_families else [])
        self._has_columns = COLUMNS_OUTPUT in outputs
        if self._has_columns:
            self._output_names.append(COLUMNS_OUTPUT)
        self._set_reading(format_decoding, region_hint)

    def _set_reading(self, format_decoding: bool, region_hint: Sequence[str] | None) -> None:
        # A region hint is only for format-aware decoding: giving one turns it on.
        self.format_decoding = bool(format_decoding or region_hint)
        self.region_hint = None
        if region_hint:
            self.region_hint = family_hint(region_hint, self.known_families)

    @property
    def known_families(self) -> list[str]:
        """The region families a hint may name: the model's region output's, those with a
        formats file, and the US."""
        return known_families(self.region_families)

    def reading(
        self, format_decoding: bool = True, region_hint: Sequence[str] | None = None
    ) -> ONNXPlateRecognizer:
        """This recognizer decoding another way (``format_decoding``, ``region_hint`` as in
        the constructor), sharing its onnxruntime session: no second copy of the model.

        Raises ``ValueError`` naming the families of a hint that no format file or region
        output knows.
        """
        other = copy.copy(self)
        other._set_reading(format_decoding, region_hint)
        return other

    # ------------------------------------------------------------------ setup
    def _resolve_config(self, override: PlateConfig | dict[str, Any] | None) -> PlateConfig:
        if isinstance(override, PlateConfig):
            return override
        if override is not None:
            return PlateConfig.from_dict(override)
        config = plate_config_from_metadata(self.metadata)
        if config is not None:
            return config
        if self.model_path is None:
            raise FileNotFoundError(
                f"{self.name}: no plate config in the ONNX metadata (key 'plate_config'); "
                "export with the export pipeline or pass plate_config="
            )
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
        expected = self.config.input_shape
        actual = tuple(model_input.shape[1:])
        if len(actual) != 3 or any(
            isinstance(a, int) and a != e for a, e in zip(actual, expected, strict=True)
        ):
            raise ValueError(
                f"{self.name}: model input shape {model_input.shape} does not match the "
                f"plate config (batch, {expected[0]}, {expected[1]}, {expected[2]})"
            )
        if model_input.type != "tensor(uint8)":
            raise ValueError(f"{self.name}: model input type is {model_input.type}, expected uint8")

    @property
    def _short_name(self) -> str:
        return self.model_path.name if self.model_path is not None else self.name

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """``(height, width, channels)`` of one preprocessed crop."""
        return self.config.input_shape

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(model_path={self.name!r}, "
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

    def read_batch(self, batch: np.ndarray, labels: Sequence[str]) -> list[PlateResult]:
        """One result per preprocessed crop of ``batch``: text, confidences, region, and the
        format-aware reading when it is on."""
        batch = np.ascontiguousarray(batch, dtype=np.uint8)
        outputs = self.session.run(self._output_names, {self._input_name: batch})
        plates = outputs[0]
        regions = outputs[1] if self.region_families else None
        columns = outputs[-1] if self._has_columns else None
        results = []
        for row, (label, (text, probs)) in enumerate(zip(labels, self.decode(plates), strict=True)):
            region, region_prob, family_probs = None, float("nan"), None
            if regions is not None:
                best = int(regions[row].argmax())
                region, region_prob = self.region_families[best], float(regions[row, best])
                family_probs = dict(zip(self.region_families, regions[row].tolist(), strict=True))
            if self.region_hint is not None:
                family_probs = self.region_hint
            result = PlateResult(
                text, probs, _confidence(probs), label, None, region, region_prob, text
            )
            if self.format_decoding and family_probs is not None:
                fitted = read_by_format(
                    plates[row],
                    None if columns is None else columns[row],
                    self.config.pad_index,
                    self.config.alphabet,
                    family_probs,
                )
                result.text, result.char_probs = fitted.text, fitted.char_probs
                result.confidence = _confidence(fitted.char_probs)
                result.format_fit = fitted.fits
            results.append(result)
        return results

    # ------------------------------------------------------------ public API
    def run(
        self, source: Any, return_confidence: bool = False, batch_size: int = DEFAULT_BATCH_SIZE
    ) -> list[str] | tuple[list[str], list[np.ndarray]]:
        """Plate texts for one input or many.

        Args:
            source: a path (``str``/``Path``), encoded image bytes, a list of paths, one image
                array (``HxW`` or ``HxWxC``, any bit depth), a batch (``NxHxWxC`` array), or a
                list or iterator (e.g. a generator) of paths, bytes and arrays.
            return_confidence: also return each plate's per-character probabilities.
            batch_size: inputs per model call (at least 1). Lists and iterators are consumed
                ``batch_size`` inputs at a time, so memory holds one batch of inputs plus the
                results.

        Returns:
            ``texts`` or ``(texts, char_probs)``, one entry per input, in input order.

        Raises:
            PlateInputError: an input cannot be read; the message names it (its path, or its
                position ``<array[i]>`` / ``<item i>``) and the reason.
            ValueError: ``batch_size`` is not a positive integer.
        """
        texts: list[str] = []
        probs: list[np.ndarray] = []
        for result in self.run_iter(source, batch_size=batch_size):
            texts.append(result.text)
            if return_confidence:
                probs.append(result.char_probs)
        if return_confidence:
            return texts, probs
        return texts

    def run_detailed(self, source: Any, batch_size: int = DEFAULT_BATCH_SIZE) -> list[PlateResult]:
        """Like :meth:`run` with every plate's text, char probabilities, confidence and source."""
        return list(self.run_iter(source, batch_size=batch_size))

    def run_iter(self, source: Any, batch_size: int = DEFAULT_BATCH_SIZE) -> Iterator[PlateResult]:
        """Like :meth:`run_detailed`, lazily: yields the results of each batch as it is read.

        An iterator ``source`` is consumed ``batch_size`` inputs at a time, only as far as the
        results asked for so far need (the first result is ready after ``batch_size`` inputs
        were taken). Each input is preprocessed as soon as it is taken, so only the model-sized
        crops of a batch are held, not the inputs themselves. ``batch_size`` is checked at once;
        an input that cannot be read raises ``PlateInputError`` when its batch is reached (the
        results of the batches before it have been yielded).
        """
        size = _positive_int("batch_size", batch_size)
        if isinstance(source, np.ndarray) and source.ndim == 4:
            return self._iter_array_batch(source, size)
        return self._iter_items(_iter_items(source), size)

    def _iter_array_batch(self, source: np.ndarray, size: int) -> Iterator[PlateResult]:
        for start in range(0, len(source), size):
            part = source[start : start + size]
            labels = [f"<array[{i}]>" for i in range(start, start + len(part))]
            batch = self._fast_batch(part)
            if batch is None:
                pairs = zip(labels, part, strict=True)
                batch = np.stack([self.preprocess(image, label) for label, image in pairs])
            yield from self._results(labels, batch)

    def _iter_items(self, items: Iterator[tuple[str, Any]], size: int) -> Iterator[PlateResult]:
        while True:
            labels: list[str] = []
            crops: list[np.ndarray] = []
            for label, item in itertools.islice(items, size):
                crops.append(self.preprocess(item, label))  # only the model-sized crop is kept
                labels.append(label)
            if not labels:
                return
            yield from self._results(labels, np.stack(crops))

    def _results(self, labels: list[str], batch: np.ndarray) -> Iterator[PlateResult]:
        yield from self.read_batch(batch, labels)

    def run_files(
        self,
        files: Mapping[str, Callable[[], Any] | Source],
        batch_size: int = DEFAULT_BATCH_SIZE,
        num_workers: int = 2,
        lanes: bool = False,
    ) -> Iterator[PlateResult]:
        """One :class:`PlateResult` per entry of ``files``, in its order, errors included.

        Args:
            files: ``{name: loader}``, ``loader()`` returning the file's bytes (how
                ``ImageFolderDataset`` and ``PartitionedDataset`` hand out files); a value that
                is not callable is used as the input itself (a path, bytes or an array).
            batch_size: files read, decoded and run together: memory stays bounded by two
                batches (the next one is decoded while the model runs this one).
            num_workers: threads reading and decoding files (OpenCV releases the GIL).
            lanes: each of the ``num_workers`` threads reads, decodes *and* runs the model on
                whole batches (memory: ``num_workers + 1`` batches). Give the recognizer
                ``threads=1`` so that N lanes keep N cores busy; without lanes one batch
                runs on the model while the threads decode the next.

        A file that cannot be read or decoded gives a result whose ``error`` holds the reason
        (``source`` is its name); the others are still read. ``batch_size`` and
        ``num_workers`` below 1 raise ``ValueError`` at once.
        """
        size = _positive_int("batch_size", batch_size)
        workers = _positive_int("num_workers", num_workers)
        if lanes:
            return self._run_lanes(files, size, workers)
        return self._run_files(files, size, workers)

    def _run_lanes(
        self, files: Mapping[str, Callable[[], Any] | Source], size: int, lanes: int
    ) -> Iterator[PlateResult]:
        names = list(files)
        chunks = iter([names[i : i + size] for i in range(0, len(names), size)])

        def lane(chunk: list[str]) -> list[PlateResult]:
            prepared = [self._prepare_file(name, files[name]) for name in chunk]
            return list(self._read_prepared(chunk, prepared))

        with ThreadPoolExecutor(lanes) as pool:
            # One batch more than lanes in flight: a lane never waits for the consumer.
            pending = deque(
                pool.submit(lane, chunk) for chunk in itertools.islice(chunks, lanes + 1)
            )
            while pending:
                results = pending.popleft().result()
                following = next(chunks, None)
                if following is not None:
                    pending.append(pool.submit(lane, following))
                yield from results

    def _run_files(
        self, files: Mapping[str, Callable[[], Any] | Source], size: int, workers: int
    ) -> Iterator[PlateResult]:
        names = list(files)
        chunks = [names[i : i + size] for i in range(0, len(names), size)]
        if not chunks:
            return
        with ThreadPoolExecutor(workers) as pool:

            def submit(chunk: list[str]) -> list[Future]:
                return [pool.submit(self._prepare_file, name, files[name]) for name in chunk]

            pending = submit(chunks[0])
            for index, chunk in enumerate(chunks):
                prepared = [future.result() for future in pending]
                pending = submit(chunks[index + 1]) if index + 1 < len(chunks) else []
                yield from self._read_prepared(chunk, prepared)

    def _prepare_file(self, name: str, loader: Any) -> tuple[np.ndarray | None, str | None]:
        """Read and preprocess one file: ``(model input, None)`` or ``(None, reason)``."""
        try:
            data = loader() if callable(loader) else loader
        except Exception as error:  # OSError, or a filesystem backend's own (an HTTP 403)
            return None, f"unreadable file: {type(error).__name__}: {error}"
        try:
            return self.preprocess(data, name=name), None
        except PlateInputError as error:
            return None, error.reason

    def _read_prepared(
        self, names: list[str], prepared: list[tuple[np.ndarray | None, str | None]]
    ) -> Iterator[PlateResult]:
        """Run the model on the good images of one chunk; one result per name, in order."""
        good = [i for i, (image, _) in enumerate(prepared) if image is not None]
        read: dict[int, PlateResult] = {}
        if good:
            batch = np.stack([prepared[i][0] for i in good])
            read = dict(zip(good, self.read_batch(batch, [names[i] for i in good]), strict=True))
        for i, name in enumerate(names):
            if i in read:
                yield read[i]
            else:
                yield PlateResult.failed(name, str(prepared[i][1]))

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
        seed: int = 0,
    ) -> dict[str, float]:
        """Time the model on random crops (drawn with ``seed``); prints and returns latency
        and throughput.

        ``include_processing`` also times preprocessing (resize of a 2x-sized crop) and
        decoding. Returns ``latency_mean_ms``, ``latency_p50_ms``, ``latency_p95_ms`` (per
        call of ``batch_size`` plates), ``throughput`` (plates per second at the median call)
        and ``cpu_ms_per_plate`` (process CPU time of the timed calls per plate).

        Raises ``ValueError`` naming the argument when ``n_iter`` or ``batch_size`` is below 1
        or ``warmup`` below 0.
        """
        n_iter = _positive_int("n_iter", n_iter)
        batch_size = _positive_int("batch_size", batch_size)
        warmup = _positive_int("warmup", warmup, minimum=0)
        rng = np.random.default_rng(seed)
        h, w, c = self.input_shape
        if include_processing:
            raw = [rng.integers(0, 256, (2 * h, 2 * w, 3), dtype=np.uint8)] * batch_size

            def call() -> None:
                self.run(raw, batch_size=batch_size)
        else:
            batch = rng.integers(0, 256, (batch_size, h, w, c), dtype=np.uint8)

            def call() -> None:
                self.predict(batch)

        time_calls(call, 0, warmup)
        cpu_start = time.process_time()
        timings = time_calls(call, n_iter, 0)
        stats = summarise_latencies(timings, batch_size, time.process_time() - cpu_start)
        if verbose:
            print(
                f"{self._short_name} on {self.session.get_providers()[0]}, batch {batch_size}: "
                f"mean {stats['latency_mean_ms']:.3f} ms, p50 {stats['latency_p50_ms']:.3f} ms, "
                f"p95 {stats['latency_p95_ms']:.3f} ms, {stats['throughput']:.1f} plates/s, "
                f"{stats['cpu_ms_per_plate']:.3f} CPU-ms per plate"
            )
        return stats


# ---------------------------------------------------------------- helpers
def model_source(model: Any) -> tuple[str | bytes, Path | None]:
    """What onnxruntime opens (a path string or the serialized model) and the model's path
    (``None`` for a model given in memory)."""
    if model is None:
        if not DEFAULT_MODEL_PATH.is_file():
            raise FileNotFoundError(
                f"no model shipped at {DEFAULT_MODEL_PATH}: train and export one "
                "(`kedro run --pipelines=train` writes data/06_models/model.onnx) "
                "or pass model_path='path/to/model.onnx'"
            )
        return str(DEFAULT_MODEL_PATH), DEFAULT_MODEL_PATH
    if isinstance(model, (str, os.PathLike)):
        path = Path(model)
        if not path.is_file():
            raise FileNotFoundError(f"ONNX model not found: {path}")
        return str(path), path
    if isinstance(model, (bytes, bytearray, memoryview)):
        return bytes(model), None
    serialize = getattr(model, "SerializeToString", None)  # onnx.ModelProto, not imported here
    if callable(serialize):
        return serialize(), None
    raise TypeError(
        "model_path: expected a path, the serialized model (bytes) or an onnx.ModelProto, "
        f"got {type(model).__name__}"
    )


def time_calls(call: Callable[[], object], n_iter: int, warmup: int) -> list[float]:
    """Seconds taken by each of ``n_iter`` calls of ``call()`` after ``warmup`` untimed ones."""
    for _ in range(max(0, warmup)):
        call()
    timings = []
    for _ in range(max(0, n_iter)):
        start = time.perf_counter()
        call()
        timings.append(time.perf_counter() - start)
    return timings


def summarise_latencies(
    timings: Sequence[float], batch_size: int, cpu_seconds: float | None = None
) -> dict[str, float]:
    """Mean, p50 and p95 per call in ms, plates per second at the median call (a noisy
    machine's outliers move the mean), and, given the process CPU time the timed calls took,
    CPU-ms per plate (what a busy server pays, whatever the threads)."""
    ms = np.asarray(timings, dtype=np.float64) * 1000.0
    p50 = float(np.percentile(ms, 50))
    stats = {
        "batch_size": int(batch_size),
        "runs": len(ms),
        "latency_mean_ms": float(ms.mean()),
        "latency_p50_ms": p50,
        "latency_p95_ms": float(np.percentile(ms, 95)),
        "latency_stdev_ms": float(statistics.pstdev(ms)) if len(ms) > 1 else 0.0,
        "throughput": batch_size * 1000.0 / p50 if p50 > 0 else float("inf"),
    }
    if cpu_seconds is not None:
        stats["cpu_ms_per_plate"] = cpu_seconds * 1000.0 / (len(ms) * batch_size)
    return stats


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


def _iter_items(source: Any) -> Iterator[tuple[str, Any]]:
    """``(label, item)`` pairs, one per image, in input order. A list or tuple has its item
    types checked at once (before any work); an iterator is taken one item at a time, as the
    caller asks for them."""
    if isinstance(source, (str, os.PathLike, bytes, bytearray)):
        return iter([(_label(source), source)])
    if isinstance(source, np.ndarray):
        if source.ndim in (2, 3):  # a batch (ndim 4) is read by _iter_array_batch
            return iter([(_label(source), source)])
        raise PlateInputError(
            _label(source), "expected an image (HxW or HxWxC) or a batch (NxHxWxC)"
        )
    if isinstance(source, (list, tuple)):
        return iter([_item(i, item) for i, item in enumerate(source)])
    if _is_iterator(source):
        return (_item(i, item) for i, item in enumerate(source))
    raise PlateInputError(_label(source), "unsupported input type")


def _item(index: int, item: Any) -> tuple[str, Any]:
    if isinstance(item, np.ndarray):
        return f"<array[{index}]>", item
    if isinstance(item, (str, os.PathLike, bytes, bytearray)):
        return _label(item), item
    raise PlateInputError(f"<item {index}>", f"unsupported input type {type(item).__name__}")


def _positive_int(name: str, value: Any, minimum: int = 1) -> int:
    """``value`` as an ``int`` of at least ``minimum``, else ``ValueError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer of at least {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return int(value)


def _is_iterator(value: Any) -> bool:
    return isinstance(value, Iterator)
