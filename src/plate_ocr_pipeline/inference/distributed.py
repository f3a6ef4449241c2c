"""Run :meth:`ONNXPlateRecognizer.run_files` on a Dask cluster, a partition of files per task.

The ordered ``{name: loader}`` mapping (what ``ImageFolderDataset`` loads) is cut into
partitions of ``partition_size`` files. Each partition is one ``dask.distributed`` task: the
worker opens the model once per process (cached, keyed by the model's digest, providers and
threads), calls ``run_files`` on its files and sends back their ``PlateResult`` objects. The
caller gets the results in the mapping's order, exactly as ``run_files`` yields them in one
process: one per file, a file that cannot be read as a result with its ``error``.

Memory: a worker holds one partition's results and ``run_files``'s two batches of images; the
caller keeps at most ``max_in_flight`` partitions submitted or waiting to be handed out in
order (a new one is submitted only when one is handed out), so neither grows with the folder.
The listing itself (names and loaders, no file data) is in the caller's memory, as it is for
the single-process run.

The loaders travel to the workers pickled: they name the files by the folder's path (or its
fsspec URL, with its filesystem's options and credentials), so on a cluster of several machines
every worker must see the folder at the same path (a shared mount, or object storage). The
model travels as its serialized bytes, scattered once to the workers.

Why not Kedro's ``DaskRunner`` (the runner of Kedro's Dask deployment guide)? It runs each
*node* as a Dask task; the infer pipeline is one node doing per-file work (then a summary that
depends on it), so a node-level runner would run the whole folder on a single worker. The work
is split here, inside the node, by partitions of files; the rest of the Kedro run (catalog,
hooks, the atomic CSV save) is unchanged and stays on the machine that runs ``kedro run``.

``dask[distributed]`` is needed only here (the ``pipelines`` extra); it is imported when a
client is made, so this module imports without it.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from plate_ocr_pipeline.core.cpu import available_cores
from plate_ocr_pipeline.inference.recognizer import (
    DEFAULT_BATCH_SIZE,
    ONNXPlateRecognizer,
    PlateResult,
    _positive_int,
    model_source,
)

if TYPE_CHECKING:  # pragma: no cover
    from distributed import Client

logger = logging.getLogger(__name__)

#: Files per Dask task unless told otherwise.
DEFAULT_PARTITION_SIZE = 2000
#: Seconds to reach a scheduler (and, on an existing cluster, to see its first worker).
DEFAULT_CONNECT_TIMEOUT = 10.0

# (format_decoding, region_hint): how a worker's recognizer decodes, as one hashable value.
Reading = tuple[bool, tuple[str, ...] | None]
NO_FORMATS: Reading = (False, None)

_RECOGNIZERS: dict[tuple[str, tuple[str, ...], int | None, Reading], ONNXPlateRecognizer] = {}
_RECOGNIZERS_LOCK = threading.Lock()
_MAX_CACHED = 4  # recognizers kept per worker process


def _import_distributed():
    try:
        import distributed
    except ImportError as error:  # pragma: no cover - the pipelines extra installs it
        raise ImportError(
            "infer.engine=dask needs dask.distributed: pip install 'dask[distributed]' "
            "(part of the project's `pipelines` extra)"
        ) from error
    return distributed


def serialized_model(
    model: Any, format_decoding: bool = False, region_hint: Sequence[str] | None = None
) -> bytes:
    """The model (path, bytes or ``onnx.ModelProto``) as bytes, opened once here so that a bad
    model, or a ``region_hint`` naming a family it does not know, fails before any cluster is
    started or any file is sent."""
    source, path = model_source(model)
    data = path.read_bytes() if path is not None else bytes(source)
    # Checks the graph, its plate config and input shape, and the hint's families.
    ONNXPlateRecognizer(data, threads=1).reading(format_decoding, region_hint)
    return data


@contextlib.contextmanager
def dask_client(
    scheduler_address: str | None = None,
    *,
    n_workers: int | None = None,
    processes: bool = True,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
) -> Iterator[Client]:
    """A ``distributed.Client``, closed on exit.

    ``scheduler_address`` (``tcp://host:8786``): an existing cluster; failing to reach it
    within ``connect_timeout`` seconds, or seeing no worker there within that time, raises
    ``ConnectionError`` naming the address. ``None``: a ``LocalCluster`` of ``n_workers``
    workers (default: one per available core) of one thread each, started here and stopped on
    exit; ``processes=False`` makes the workers threads of this process (light, for tests).
    """
    distributed = _import_distributed()
    if scheduler_address is None:
        workers = _positive_int(
            "n_workers", n_workers if n_workers is not None else available_cores()
        )
        with (
            distributed.LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=processes,
                dashboard_address=":0",  # a free port: never clashes with another cluster's
            ) as cluster,
            distributed.Client(cluster) as client,
        ):
            logger.info(
                "Infer on Dask: a LocalCluster of %d worker(s) x 1 thread (dashboard: %s)",
                workers,
                cluster.dashboard_link,
            )
            yield client
        return
    try:
        client = distributed.Client(scheduler_address, timeout=connect_timeout)
    except Exception as error:  # OSError on a timeout, ValueError/TypeError on a bad address
        raise ConnectionError(
            f"infer.scheduler_address={scheduler_address!r}: cannot reach a Dask scheduler "
            f"there within {connect_timeout:g} s ({type(error).__name__}: {error}); no file "
            "was read. Start one with `dask scheduler` or fix the address."
        ) from error
    with client:
        try:
            client.wait_for_workers(1, timeout=connect_timeout)
        except Exception as error:
            raise ConnectionError(
                f"infer.scheduler_address={scheduler_address!r}: the scheduler has no worker "
                f"after {connect_timeout:g} s; start some with `dask worker {scheduler_address}`"
            ) from error
        workers = client.scheduler_info().get("workers", {})
        logger.info("Infer on Dask: scheduler %s, %d worker(s)", scheduler_address, len(workers))
        yield client


def _worker_recognizer(
    model: bytes,
    digest: str,
    providers: tuple[str, ...],
    threads: int | None,
    reading: Reading = NO_FORMATS,
) -> ONNXPlateRecognizer:
    """The recognizer of this worker process for that model, opened on first use."""
    key = (digest, providers, threads, reading)
    with _RECOGNIZERS_LOCK:
        recognizer = _RECOGNIZERS.get(key)
        if recognizer is None:
            recognizer = ONNXPlateRecognizer(
                model,
                providers=list(providers),
                threads=threads,
                format_decoding=reading[0],
                region_hint=reading[1],
            )
            while len(_RECOGNIZERS) >= _MAX_CACHED:  # a long-lived worker serving many models
                _RECOGNIZERS.pop(next(iter(_RECOGNIZERS)))
            _RECOGNIZERS[key] = recognizer
    return recognizer


def read_partition(  # noqa: PLR0913 - one Dask task: every argument travels with it
    files: Mapping[str, Callable[[], Any] | Any],
    model: bytes,
    digest: str,
    providers: tuple[str, ...],
    threads: int | None,
    batch_size: int,
    num_workers: int,
    reading: Reading = NO_FORMATS,
) -> list[PlateResult]:
    """One task: the results of ``run_files`` on one partition, in its order."""
    recognizer = _worker_recognizer(model, digest, providers, threads, reading)
    return list(recognizer.run_files(files, batch_size, num_workers))


def partitions(names: Sequence[str], size: int) -> list[Sequence[str]]:
    """``names`` cut into consecutive slices of ``size`` (the last one shorter)."""
    size = _positive_int("partition_size", size)
    return [names[start : start + size] for start in range(0, len(names), size)]


def run_files_on_dask(  # noqa: PLR0913
    client: Client,
    files: Mapping[str, Callable[[], Any] | Any],
    model: Any,
    *,
    partition_size: int = DEFAULT_PARTITION_SIZE,
    batch_size: int = DEFAULT_BATCH_SIZE,
    num_workers: int = 2,
    providers: Sequence[str] | None = None,
    threads: int | None = 1,
    max_in_flight: int | None = None,
    format_decoding: bool = False,
    region_hint: Sequence[str] | None = None,
) -> Iterator[PlateResult]:
    """Like ``ONNXPlateRecognizer(model).run_files(files, batch_size, num_workers)``, with each
    partition of ``partition_size`` files read by a task on ``client``'s cluster.

    ``threads`` are onnxruntime's threads in each worker (one per Dask thread suits workers of
    one thread each). At most ``max_in_flight`` partitions (default: two per worker thread, at
    least two) are submitted or waiting to be handed out. ``partition_size``, ``batch_size``,
    ``num_workers`` and ``max_in_flight`` below 1 raise ``ValueError`` at once. A task that
    fails (its worker died, say) gives each of its files an error row naming the partition;
    so does each task still to run when the last worker leaves, since the model it needs is
    lost with the workers and the scheduler cancels it. A cluster with no worker to send the
    model to gives every file an error row saying so.
    ``format_decoding`` and ``region_hint`` are the recognizer's.
    """
    chunks = partitions(list(files), partition_size)
    size = _positive_int("batch_size", batch_size)
    workers = _positive_int("num_workers", num_workers)
    if max_in_flight is None:
        max_in_flight = max(2, 2 * sum(client.nthreads().values()))
    window = _positive_int("max_in_flight", max_in_flight)
    model_bytes = model if isinstance(model, bytes) else serialized_model(model)
    reading = (bool(format_decoding), tuple(region_hint) if region_hint else None)
    return _run(
        client, files, chunks, model_bytes, providers, threads, size, workers, window, reading
    )


def _run(  # noqa: PLR0913
    client: Client,
    files: Mapping[str, Any],
    chunks: list[Sequence[str]],
    model: bytes,
    providers: Sequence[str] | None,
    threads: int | None,
    batch_size: int,
    num_workers: int,
    window: int,
    reading: Reading = NO_FORMATS,
) -> Iterator[PlateResult]:
    if not chunks:
        return
    distributed = _import_distributed()
    digest = hashlib.sha256(model).hexdigest()
    try:
        scattered = client.scatter(model, broadcast=True, hash=False)
    except TimeoutError as error:  # no worker left to send the model to
        reason = f"not read: cannot send the model to a Dask worker ({error})"
        logger.error("Infer on Dask: %s", reason)
        for chunk in chunks:
            yield from (PlateResult.failed(name, reason) for name in chunk)
        return
    provider_names = tuple(providers or ["CPUExecutionProvider"])
    run_id = f"infer-{digest[:8]}-{os.urandom(4).hex()}"
    pending: dict[Any, int] = {}  # future -> partition index
    ready: dict[int, list[PlateResult]] = {}  # done, waiting for the partitions before them
    completed = distributed.as_completed()
    submitted = handed_out = 0

    def submit_more() -> None:
        nonlocal submitted
        while submitted < len(chunks) and len(pending) + len(ready) < window:
            part = {name: files[name] for name in chunks[submitted]}
            future = client.submit(
                read_partition,
                part,
                scattered,
                digest,
                provider_names,
                threads,
                batch_size,
                num_workers,
                reading,
                key=f"{run_id}-part-{submitted:06d}",
                pure=False,
                priority=-submitted,  # earlier partitions first: results leave in order
            )
            pending[future] = submitted
            completed.add(future)
            submitted += 1

    try:
        submit_more()
        for future in completed:
            index = pending.pop(future)
            try:
                ready[index] = future.result()
            except Exception as error:
                # A task lost (a worker killed, a bug) costs its files' readings, not the
                # run: each file gets its row, naming the partition and the cause.
                chunk = chunks[index]
                reason = (
                    f"dask task failed: partition {index} ({len(chunk)} files, {chunk[0]!r} to "
                    f"{chunk[-1]!r}): {type(error).__name__}: {error}"
                )
                logger.error("Infer on Dask: %s", reason)
                ready[index] = [PlateResult.failed(name, reason) for name in chunk]
            finally:
                future.release()
            while handed_out in ready:
                yield from ready.pop(handed_out)
                handed_out += 1
            submit_more()
    finally:
        for future in list(pending):
            future.cancel()
        completed.clear()
        scattered.release()
    if handed_out != len(chunks):  # pragma: no cover - as_completed ended early
        raise RuntimeError(f"infer on Dask: {handed_out} of {len(chunks)} partitions came back")
