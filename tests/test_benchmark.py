"""Benchmark nodes: absent providers are skipped with a reason; CPU rows, chart, metrics."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest
from pydantic import ValidationError

from plate_ocr_pipeline.core import cpu
from plate_ocr_pipeline.core.onnx_metadata import embed_metadata
from plate_ocr_pipeline.core.plate_config import PlateConfig
from plate_ocr_pipeline.inference import provider_benchmark
from plate_ocr_pipeline.pipelines.benchmark import nodes
from plate_ocr_pipeline.pipelines.benchmark.params import BenchmarkParams
from tests.plate_model_helpers import PLATE, build_memorising_onnx


def benchmark_params(**overrides) -> dict:
    """A ``benchmark`` parameter section, as the nodes take it."""
    params = {
        "providers": ["CPUExecutionProvider"],
        "intra_op_threads": [1],
        "batch_sizes": [1],
        "warmup_runs": 0,
        "timed_runs": 1,
        "seed": 0,
    }
    return {**params, **overrides}


def exported_model():
    """A tiny model with the plate config in its metadata, as the export stage writes it."""
    return embed_metadata(build_memorising_onnx(), PlateConfig.from_dict(PLATE))


@pytest.fixture
def cpu_only(monkeypatch):
    monkeypatch.setattr(
        provider_benchmark.ort, "get_available_providers", lambda: ["CPUExecutionProvider"]
    )


def test_absent_provider_is_recorded_as_skipped_with_the_reason(cpu_only):
    providers = ["CPUExecutionProvider", "CoreMLExecutionProvider", "CUDAExecutionProvider"]
    plan = nodes.plan_benchmark(benchmark_params(providers=providers, intra_op_threads=[1, 1]))
    assert [(p["provider"], p["status"]) for p in plan] == [
        ("CPUExecutionProvider", "planned"),
        ("CoreMLExecutionProvider", "skipped"),
        ("CUDAExecutionProvider", "skipped"),
    ]
    assert "macOS" in plan[1]["reason"] and "onnxruntime-gpu" in plan[2]["reason"]


def test_all_threads_means_the_cores_this_process_may_use(cpu_only, monkeypatch):
    # A container or taskset allowing 3 of the machine's 6 cores: "all" is 3 threads.
    monkeypatch.setattr(cpu.os, "cpu_count", lambda: 6)
    monkeypatch.setattr(cpu.os, "sched_getaffinity", lambda pid: {0, 2, 5}, raising=False)
    monkeypatch.setattr(cpu, "cgroup_cpu_quota", lambda: None)
    plan = nodes.plan_benchmark(benchmark_params(intra_op_threads=[1, "all", 3]))
    assert [p["threads"] for p in plan] == [1, 3]


def test_cpu_rows_chart_and_metrics(cpu_only):
    params = benchmark_params(
        providers=["CPUExecutionProvider", "CoreMLExecutionProvider"],
        batch_sizes=[1, 4],
        warmup_runs=1,
        timed_runs=3,
    )
    results = nodes.run_benchmarks(exported_model(), nodes.plan_benchmark(params), params)
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
        "benchmark.cpu.t1.cpu_ms_per_plate_b1",
        "benchmark.cpu.t1.cpu_ms_per_plate_b4",
    }
    assert metrics["benchmark.cpu.t1.throughput_b4"]["value"] == rows[1]["throughput"]
    assert rows[1]["throughput"] == pytest.approx(4000 / rows[1]["latency_p50_ms"])
    assert rows[1]["cpu_ms_per_plate"] > 0
    # Without batch 1, latency is logged at the smallest batch timed.
    only_four = {**results, "results": [r for r in rows if r.get("batch_size") != 1]}
    assert "benchmark.cpu.t1.latency_p50_ms" in nodes.collect_benchmark_metrics(only_four)


def test_provider_that_fails_to_start_is_an_error_row(monkeypatch):
    plan = [{"provider": "CUDAExecutionProvider", "threads": 1, "status": "planned", "reason": ""}]

    def refuse(*args, **kwargs):
        raise RuntimeError("no CUDA device")

    monkeypatch.setattr(provider_benchmark.ort, "InferenceSession", refuse)
    results = nodes.run_benchmarks(exported_model(), plan, benchmark_params())
    assert results["results"][0]["status"] == "error"
    assert "no CUDA device" in results["results"][0]["reason"]


def test_provider_that_falls_back_to_cpu_is_an_error_row(cpu_only):
    plan = [{"provider": "CUDAExecutionProvider", "threads": 1, "status": "planned", "reason": ""}]
    results = nodes.run_benchmarks(exported_model(), plan, benchmark_params())
    assert [(r["status"], r["reason"]) for r in results["results"]] == [
        ("error", "onnxruntime fell back to CPUExecutionProvider")
    ]
    assert results["environment"]["input_shape"] == [64, 128, 1]


def test_schema_names_an_unknown_provider():
    with pytest.raises(ValidationError, match="providers"):
        BenchmarkParams(
            providers=["TPUExecutionProvider"],
            intra_op_threads=[1],
            batch_sizes=[1],
            warmup_runs=0,
            timed_runs=1,
        )


@pytest.mark.parametrize("field", ["batch_sizes", "intra_op_threads"])
def test_schema_refuses_a_zero_batch_or_thread_count_at_start(field):
    """Checked before any node runs, not at the benchmark after training."""
    settings = dict(
        providers=["CPUExecutionProvider"],
        intra_op_threads=[1, "all"],
        batch_sizes=[1, 8],
        warmup_runs=0,
        timed_runs=1,
    )
    BenchmarkParams(**settings)
    with pytest.raises(ValidationError, match=field):
        BenchmarkParams(**{**settings, field: [0]})


@pytest.mark.parametrize(
    ("content", "quota"),
    [("max 100000\n", None), ("150000 100000\n", 2), ("100000 100000", 1), ("junk", None)],
)
def test_a_cgroup_cpu_quota_caps_the_cores(tmp_path, monkeypatch, content, quota):
    (tmp_path / "cpu.max").write_text(content)
    assert cpu.cgroup_cpu_quota(str(tmp_path / "cpu.max")) == quota
    assert cpu.cgroup_cpu_quota(str(tmp_path / "absent")) is None
    # Four cores in the affinity, the quota's share of them used.
    monkeypatch.setattr(cpu.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    monkeypatch.setattr(cpu, "cgroup_cpu_quota", lambda: quota)
    assert cpu.available_cores() == (quota or 4)


def test_bad_timing_arguments_fail_before_any_timing():
    with pytest.raises(ValueError, match="intra_op_threads"):
        provider_benchmark.plan_providers(["CPUExecutionProvider"], [0])
    plan = provider_benchmark.plan_providers(["CPUExecutionProvider"], [1])
    with pytest.raises(ValueError, match=r"batch_sizes \[4, 0\]"):
        provider_benchmark.time_providers(exported_model(), plan, [4, 0], 3, 1)
