"""``benchmark``: per-provider latency/throughput table, chart and MLflow metrics."""

from typing import Any

from kedro.pipeline import Pipeline, node, pipeline

from .nodes import collect_benchmark_metrics, plan_benchmark, plot_benchmark, run_benchmarks


def create_pipeline(**kwargs: Any) -> Pipeline:
    return pipeline(
        [
            node(
                plan_benchmark,
                inputs="params:benchmark",
                outputs="benchmark_plan",
                name="plan_benchmark",
            ),
            node(
                run_benchmarks,
                inputs=["onnx_model", "benchmark_plan", "params:benchmark"],
                outputs="benchmark_results",
                name="run_benchmarks",
            ),
            node(
                plot_benchmark,
                inputs="benchmark_results",
                outputs="benchmark_chart",
                name="plot_benchmark",
            ),
            node(
                collect_benchmark_metrics,
                inputs="benchmark_results",
                outputs="benchmark_metrics",
                name="collect_benchmark_metrics",
            ),
        ],
        namespace="benchmark",
        inputs={"onnx_model"},
        outputs=None,
        parameters={"params:benchmark"},
        tags="benchmark",
    )
