"""Benchmark nodes: the recognizer timed on every requested onnxruntime provider
(``inference.provider_benchmark``), a chart and the MLflow metrics of the timings."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import onnx

from plate_ocr_pipeline.inference.provider_benchmark import plan_providers, time_providers
from plate_ocr_pipeline.pipelines.figures import Figure, pyplot

from .params import BenchmarkParams

logger = logging.getLogger(__name__)


def plan_benchmark(benchmark: dict[str, Any]) -> list[dict[str, Any]]:
    """One entry per (provider, thread count) to run, or per provider to skip with a reason
    (``benchmark.providers``, ``benchmark.intra_op_threads``)."""
    p = BenchmarkParams.model_validate(benchmark)
    return plan_providers(p.providers, p.intra_op_threads)


def run_benchmarks(
    onnx_model: onnx.ModelProto, benchmark_plan: list[dict[str, Any]], benchmark: dict[str, Any]
) -> dict[str, Any]:
    """The plan's timings at ``benchmark.batch_sizes``: ``{"environment", "results"}``."""
    p = BenchmarkParams.model_validate(benchmark)
    return time_providers(
        onnx_model, benchmark_plan, p.batch_sizes, p.timed_runs, p.warmup_runs, p.seed
    )


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
    """MLflow metrics ``benchmark.<provider>.t<threads>.latency_p50_ms`` (at the smallest
    batch size timed, also mean and p95), ``….throughput_b<batch>`` and
    ``….cpu_ms_per_plate_b<batch>``."""
    metrics: dict[str, float] = {}
    ok = [row for row in benchmark_results["results"] if row["status"] == "ok"]
    smallest = min((row["batch_size"] for row in ok), default=None)
    for row in ok:
        prefix = f"benchmark.{row['short_name']}.t{row['threads']}"
        if row["batch_size"] == smallest:
            for key in ("latency_mean_ms", "latency_p50_ms", "latency_p95_ms"):
                metrics[f"{prefix}.{key}"] = row[key]
        metrics[f"{prefix}.throughput_b{row['batch_size']}"] = row["throughput"]
        if "cpu_ms_per_plate" in row:
            metrics[f"{prefix}.cpu_ms_per_plate_b{row['batch_size']}"] = row["cpu_ms_per_plate"]
    return {key: {"value": float(value), "step": 0} for key, value in metrics.items()}
