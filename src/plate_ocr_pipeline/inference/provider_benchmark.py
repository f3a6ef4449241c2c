"""The recognizer timed on every requested onnxruntime provider and thread count: which ones
this machine can run, then latency and throughput of each at each batch size, with the
machine beside them.

The timing itself is ``ONNXPlateRecognizer.benchmark``. A provider that this onnxruntime build
lacks (CoreML off macOS, CUDA without a GPU build) is ``skipped`` with the reason; one that
fails at session creation, or that onnxruntime quietly replaces by the CPU, is an ``error``.
"""

from __future__ import annotations

import logging
import os
import platform
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import onnxruntime as ort

from plate_ocr_pipeline.core.cpu import available_cores
from plate_ocr_pipeline.inference.recognizer import ONNXPlateRecognizer

if TYPE_CHECKING:
    import onnx  # the plain install reads models without it

logger = logging.getLogger(__name__)

SHORT_NAMES = {
    "CPUExecutionProvider": "cpu",
    "CoreMLExecutionProvider": "coreml",
    "CUDAExecutionProvider": "cuda",
    "TensorrtExecutionProvider": "tensorrt",
    "OpenVINOExecutionProvider": "openvino",
}
SKIP_REASONS = {
    "CoreMLExecutionProvider": "CoreML runs on macOS only (onnxruntime build for macOS)",
    "CUDAExecutionProvider": "needs the onnxruntime-gpu package and an NVIDIA GPU",
    "TensorrtExecutionProvider": "needs onnxruntime-gpu built with TensorRT and an NVIDIA GPU",
    "OpenVINOExecutionProvider": "needs the onnxruntime-openvino package",
}


def _resolve_threads(value: int | str) -> int:
    if value == "all":
        return available_cores()
    return int(value)


def plan_providers(
    providers: Sequence[str], intra_op_threads: Sequence[int | str]
) -> list[dict[str, Any]]:
    """One entry per (provider, thread count) to run, or per provider to skip with a reason.

    ``"all"`` threads means the cores this process may use (its CPU affinity); repeated
    thread counts are measured once.
    """
    available = ort.get_available_providers()
    threads = list(dict.fromkeys(_resolve_threads(t) for t in intra_op_threads))
    if not threads or min(threads) < 1:  # 0 would be onnxruntime's "all", mislabelled t0
        raise ValueError(f"intra_op_threads must be counts of at least 1 or 'all': {threads}")
    plan = []
    for provider in dict.fromkeys(providers):
        if provider not in available:
            reason = (
                f"not in onnxruntime.get_available_providers() {available}: "
                f"{SKIP_REASONS.get(provider, 'not built into this onnxruntime')}"
            )
            logger.info("Benchmark: skipping %s (%s)", provider, reason)
            plan.append(
                {"provider": provider, "threads": None, "status": "skipped", "reason": reason}
            )
            continue
        plan += [
            {"provider": provider, "threads": t, "status": "planned", "reason": ""} for t in threads
        ]
    return plan


def _input_shape(model: onnx.ModelProto) -> tuple[int, ...]:
    dims = model.graph.input[0].type.tensor_type.shape.dim[1:]
    return tuple(d.dim_value for d in dims)


def time_providers(
    onnx_model: onnx.ModelProto,
    plan: list[dict[str, Any]],
    batch_sizes: Sequence[int],
    timed_runs: int,
    warmup_runs: int,
    seed: int = 0,
) -> dict[str, Any]:
    """Latency (mean, p50, p95 per call) and throughput (plates/s) at every batch size, for
    each entry of ``plan_providers``' plan.

    Returns ``{"environment": {...}, "results": [row, ...]}``: one row per provider, thread
    count and batch size, plus one ``skipped``/``error`` row per provider that did not run.
    """
    # Checked before any timing, so that a bad value does not come after minutes of runs.
    if not batch_sizes or min(batch_sizes) < 1 or timed_runs < 1 or warmup_runs < 0:
        raise ValueError(
            f"batch_sizes {list(batch_sizes)} and timed_runs {timed_runs} must be at least 1, "
            f"warmup_runs {warmup_runs} at least 0"
        )
    rows: list[dict[str, Any]] = []
    for entry in plan:
        base = {
            "provider": entry["provider"],
            "short_name": SHORT_NAMES.get(entry["provider"], entry["provider"]),
            "threads": entry["threads"],
        }
        if entry["status"] == "skipped":
            rows.append({**base, "status": "skipped", "reason": entry["reason"]})
            continue
        try:
            reader = ONNXPlateRecognizer(
                onnx_model, providers=[entry["provider"]], threads=entry["threads"]
            )
        except Exception as error:  # a listed provider can still fail to initialise
            logger.warning("Benchmark: %s failed to start: %s", entry["provider"], error)
            rows.append({**base, "status": "error", "reason": f"{type(error).__name__}: {error}"})
            continue
        running = reader.session.get_providers()[0]
        if running != entry["provider"]:  # onnxruntime fell back (to CPU) rather than failing
            reason = f"onnxruntime fell back to {running}"
            logger.warning("Benchmark: %s did not start: %s", entry["provider"], reason)
            rows.append({**base, "status": "error", "reason": reason})
            continue
        for batch_size in batch_sizes:
            stats = reader.benchmark(timed_runs, batch_size, warmup_runs, verbose=False, seed=seed)
            rows.append({**base, "status": "ok", "reason": "", **stats})
            logger.info(
                "Benchmark %s threads=%s batch=%d: p50 %.3f ms, %.0f plates/s",
                entry["provider"],
                entry["threads"],
                batch_size,
                stats["latency_p50_ms"],
                stats["throughput"],
            )
    environment = {
        "onnxruntime": ort.__version__,
        "available_providers": ort.get_available_providers(),
        "cpu_count": os.cpu_count(),
        "available_cores": available_cores(),
        "machine": platform.machine(),
        "platform": platform.platform(),
        "processor": platform.processor(),
        "input_shape": list(_input_shape(onnx_model)),
        "warmup_runs": warmup_runs,
        "timed_runs": timed_runs,
    }
    return {"environment": environment, "results": rows}
