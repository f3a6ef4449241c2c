"""The onnxruntime execution providers the project knows by name, so that a misspelt one in the
parameters fails validation (without importing onnxruntime)."""

from __future__ import annotations

from typing import Literal

Provider = Literal[
    "CPUExecutionProvider",
    "CoreMLExecutionProvider",
    "CUDAExecutionProvider",
    "TensorrtExecutionProvider",
    "OpenVINOExecutionProvider",
]
