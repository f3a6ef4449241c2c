"""Schema of the ``infer`` parameter section, checked before any node runs."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from plate_ocr_pipeline.datasets.image_folder_dataset import (
    DEFAULT_MAX_FILE_BYTES,
    DEFAULT_MAX_PIXELS,
)


class InferParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Read by the catalog (`${runtime_params:infer.input_dir,...}`, `infer.output_path` and
    # `infer.model_path` likewise), kept here so that `--params=infer.input_dir=...` validates
    # and is logged with the run.
    input_dir: str
    output_path: str
    model_path: str
    batch_size: int = Field(64, ge=1)
    num_workers: int = Field(2, ge=1)
    providers: list[str] = Field(default_factory=lambda: ["CPUExecutionProvider"], min_length=1)
    threads: int | None = Field(None, ge=1)
    progress: bool = True
    # Reading limits, applied by the catalog's `infer_images` (`${runtime_params:...}`) as it
    # reads each file; `recognize_images` checks that the two agree.
    max_file_bytes: int = Field(DEFAULT_MAX_FILE_BYTES, ge=1)
    max_pixels: int = Field(DEFAULT_MAX_PIXELS, ge=1)


PARAMETER_SCHEMAS = {"infer": InferParams}
