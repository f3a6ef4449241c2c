"""Benchmark nodes: absent providers are skipped with a reason; CPU rows, chart, metrics."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest
from pydantic import ValidationError

from plate_ocr_pipeline.pipelines.benchmark import nodes
from plate_ocr_pipeline.pipelines.benchmark.params import BenchmarkParams
from tests.plate_model_helpers import build_memorising_onnx


@pytest.fixture
def cpu_only(monkeypatch):
    monkeypatch.setattr(nodes.ort, "get_available_providers", lambda: ["CPUExecutionProvider"])


def test_absent_provider_is_recorded_as_skipped_with_the_reason(cpu_only):
    plan = nodes.plan_benchmark(
        ["CPUExecutionProvider", "CoreMLExecutionProvider", "CUDAExecutionProvider"], [1, 1]
    )
    assert [(p["provider"], p["status"]) for p in plan] == [
        ("CPUExecutionProvider", "planned"),
        ("CoreMLExecutionProvider", "skipped"),
        ("CUDAExecutionProvider", "skipped"),
    ]
    assert "macOS" in plan[1]["reason"] and "onnxruntime-gpu" in plan[2]["reason"]


def test_all_threads_means_every_core(cpu_only, monkeypatch):
    monkeypatch.setattr(nodes.os, "cpu_count", lambda: 6)
    plan = nodes.plan_benchmark(["CPUExecutionProvider"], [1, "all"])
    assert [p["threads"] for p in plan] == [1, 6]


def test_cpu_rows_chart_and_metrics(cpu_only):
    plan = nodes.plan_benchmark(["CPUExecutionProvider", "CoreMLExecutionProvider"], [1])
    results = nodes.run_benchmarks(
        build_memorising_onnx(), plan, [1, 4], warmup_runs=1, timed_runs=3, seed=0
    )
    rows = results["results"]
    assert [(r["provider"], r["status"], r.get("batch_size")) for r in rows] == [
        ("CPUExecutionProvider", "ok", 1),
        ("CPUExecutionProvider", "ok", 4),
        ("CoreMLExecutionProvider", "skipped", None),
    ]
    assert rows[1]["throughput"] > 0 and rows[0]["latency_p95_ms"] >= rows[0]["latency_p50_ms"]
    assert results["environment"]["input_shape"] == [64, 128, 1]
    figure = nodes.plot_benchmark(results)
    assert "coreml: skipped" in figure._suptitle.get_text()
    plt.close(figure)
    metrics = nodes.collect_benchmark_metrics(results)
    assert set(metrics) == {
        "benchmark.cpu.t1.latency_mean_ms",
        "benchmark.cpu.t1.latency_p50_ms",
        "benchmark.cpu.t1.latency_p95_ms",
        "benchmark.cpu.t1.throughput_b1",
        "benchmark.cpu.t1.throughput_b4",
    }
    assert metrics["benchmark.cpu.t1.throughput_b4"]["value"] == rows[1]["throughput"]


def test_provider_that_fails_to_start_is_an_error_row(monkeypatch):
    plan = [{"provider": "CUDAExecutionProvider", "threads": 1, "status": "planned", "reason": ""}]

    def refuse(*args, **kwargs):
        raise RuntimeError("no CUDA device")

    monkeypatch.setattr(nodes.ort, "InferenceSession", refuse)
    results = nodes.run_benchmarks(build_memorising_onnx(), plan, [1], 0, 1, 0)
    assert results["results"][0]["status"] == "error"
    assert "no CUDA device" in results["results"][0]["reason"]


def test_schema_names_an_unknown_provider():
    with pytest.raises(ValidationError, match="providers"):
        BenchmarkParams(
            providers=["TPUExecutionProvider"],
            intra_op_threads=[1],
            batch_sizes=[1],
            warmup_runs=0,
            timed_runs=1,
        )
