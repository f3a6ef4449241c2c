"""Benchmark nodes: time the ONNX model on every requested onnxruntime provider.

The timing itself is ``ONNXPlateRecognizer.benchmark``, run once per provider, thread count
and batch size. A provider that this onnxruntime build lacks (CoreML off macOS, CUDA without a
GPU build) is recorded as ``skipped`` with the reason; one that fails at session creation as
``error``.
"""

from __future__ import annotations

import logging
import os
import platform
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort

from plate_ocr_pipeline.inference.recognizer import ONNXPlateRecognizer
from plate_ocr_pipeline.pipelines.figures import Figure, pyplot

from .params import BenchmarkParams

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
        return os.cpu_count() or 1
    return int(value)


def plan_benchmark(benchmark: dict[str, Any]) -> list[dict[str, Any]]:
    """One entry per (provider, thread count) to run, or per provider to skip with a reason.

    ``"all"`` threads means every core; repeated thread counts are measured once.
    """
    p = BenchmarkParams.model_validate(benchmark)
    available = ort.get_available_providers()
    threads = list(dict.fromkeys(_resolve_threads(t) for t in p.intra_op_threads))
    plan = []
    for provider in dict.fromkeys(p.providers):
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


def run_benchmarks(
    onnx_model: onnx.ModelProto, benchmark_plan: list[dict[str, Any]], benchmark: dict[str, Any]
) -> dict[str, Any]:
    """Latency (mean, p50, p95 per call) and throughput (plates/s) at every batch size.

    Returns ``{"environment": {...}, "results": [row, ...]}``: one row per provider, thread
    count and batch size, plus one ``skipped``/``error`` row per provider that did not run.
    """
    p = BenchmarkParams.model_validate(benchmark)
    rows: list[dict[str, Any]] = []
    for entry in benchmark_plan:
        base = {
            "provider": entry["provider"],
            "short_name": SHORT_NAMES[entry["provider"]],
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
        for batch_size in p.batch_sizes:
            stats = reader.benchmark(
                p.timed_runs, batch_size, p.warmup_runs, verbose=False, seed=p.seed
            )
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
        "machine": platform.machine(),
        "platform": platform.platform(),
        "processor": platform.processor(),
        "input_shape": list(_input_shape(onnx_model)),
        "warmup_runs": p.warmup_runs,
        "timed_runs": p.timed_runs,
    }
    return {"environment": environment, "results": rows}


def _label(row: dict[str, Any]) -> str:
    return f"{row['short_name']} x{row['threads']}t"


def plot_benchmark(benchmark_results: dict[str, Any]) -> Figure:
    """Left: batch-1 latency (p50 bar, p95 whisker) per provider and thread count.
    Right: throughput per batch size. Skipped providers are listed under the title."""
    rows = [r for r in benchmark_results["results"] if r["status"] == "ok"]
    configs = list(dict.fromkeys(_label(r) for r in rows))
    batch_sizes = sorted({r["batch_size"] for r in rows})
    figure, (left, right) = pyplot().subplots(1, 2, figsize=(13, 4.8))
    single = {_label(r): r for r in rows if r["batch_size"] == min(batch_sizes, default=1)}
    positions = np.arange(len(configs))
    p50 = [single[c]["latency_p50_ms"] if c in single else 0.0 for c in configs]
    p95 = [single[c]["latency_p95_ms"] if c in single else 0.0 for c in configs]
    left.bar(positions, p50, color="tab:blue", label="p50")
    left.errorbar(
        positions,
        p50,
        yerr=[np.zeros(len(p50)), np.subtract(p95, p50)],
        fmt="none",
        ecolor="black",
        capsize=4,
        label="p95",
    )
    left.set_xticks(positions, configs)
    left.set_ylabel("ms per call")
    left.set_title(f"latency at batch {min(batch_sizes, default=1)}")
    left.legend()
    width = 0.8 / max(1, len(configs))
    for i, config in enumerate(configs):
        values = [
            next(
                (r["throughput"] for r in rows if _label(r) == config and r["batch_size"] == b), 0.0
            )
            for b in batch_sizes
        ]
        right.bar(np.arange(len(batch_sizes)) + i * width, values, width, label=config)
    right.set_xticks(
        np.arange(len(batch_sizes)) + width * (len(configs) - 1) / 2, [str(b) for b in batch_sizes]
    )
    right.set_xlabel("batch size")
    right.set_ylabel("plates per second")
    right.set_title("throughput")
    if configs:
        right.legend()
    others = [
        f"{r['short_name']}: {r['status']}"
        for r in benchmark_results["results"]
        if r["status"] != "ok"
    ]
    title = f"onnxruntime {benchmark_results['environment']['onnxruntime']}"
    if others:
        title += "  (" + ", ".join(others) + ")"
    figure.suptitle(title)
    figure.tight_layout()
    return figure


def collect_benchmark_metrics(benchmark_results: dict[str, Any]) -> dict[str, dict[str, float]]:
    """MLflow metrics ``benchmark.<provider>.t<threads>.latency_p50_ms`` (batch 1, also mean
    and p95) and ``benchmark.<provider>.t<threads>.throughput_b<batch>``."""
    metrics: dict[str, float] = {}
    for row in benchmark_results["results"]:
        if row["status"] != "ok":
            continue
        prefix = f"benchmark.{row['short_name']}.t{row['threads']}"
        if row["batch_size"] == 1:
            for key in ("latency_mean_ms", "latency_p50_ms", "latency_p95_ms"):
                metrics[f"{prefix}.{key}"] = row[key]
        metrics[f"{prefix}.throughput_b{row['batch_size']}"] = row["throughput"]
    return {key: {"value": float(value), "step": 0} for key, value in metrics.items()}
