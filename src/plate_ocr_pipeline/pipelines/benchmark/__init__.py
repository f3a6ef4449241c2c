"""Benchmark: latency and throughput of the exported ONNX model per onnxruntime provider."""

from plate_ocr_pipeline.pipelines.benchmark.pipeline import create_pipeline

__all__ = ["create_pipeline"]
