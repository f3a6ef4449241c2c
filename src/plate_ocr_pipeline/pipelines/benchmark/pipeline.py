"""Benchmark pipeline: per-provider latency/throughput table, chart and MLflow metrics."""

from kedro.pipeline import Pipeline, node, pipeline

from plate_ocr_pipeline.pipelines.benchmark.nodes import (
    collect_benchmark_metrics,
    plan_benchmark,
    plot_benchmark,
    run_benchmarks,
)


def create_pipeline(**kwargs) -> Pipeline:
    return pipeline(
        [
            node(
                plan_benchmark,
                inputs=["params:benchmark.providers", "params:benchmark.intra_op_threads"],
                outputs="benchmark_plan",
                name="plan_benchmark",
            ),
            node(
                run_benchmarks,
                inputs=[
                    "onnx_model",
                    "benchmark_plan",
                    "params:benchmark.batch_sizes",
                    "params:benchmark.warmup_runs",
                    "params:benchmark.timed_runs",
                    "params:benchmark.seed",
                ],
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
        tags="benchmark",
    )
