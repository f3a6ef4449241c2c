"""Schema of the ``export`` parameter section, checked before any node runs."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ExportParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    opset: int = Field(17, ge=13, le=21)
    model_name: str = "plate_ocr"
    model_version: str = "1"
    parity_batch_size: int = Field(32, ge=1)
    parity_tolerance: float = Field(1e-4, gt=0)
    simplify: bool = True
    quantize: bool = True
    calibration_images: int = Field(512, ge=1)
    int8_reduce_range: bool = True
    quantization_eval_limit: int | None = Field(500, ge=1)


PARAMETER_SCHEMAS = {"export": ExportParams}
