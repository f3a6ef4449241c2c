"""Schema of the ``infer`` parameter section, checked before any node runs."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from plate_ocr_pipeline.datasets.image_folder_dataset import (
    DEFAULT_MAX_FILE_BYTES,
    DEFAULT_MAX_PIXELS,
)
from plate_ocr_pipeline.inference.providers import Provider


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
    # In order of preference; one this onnxruntime build lacks is skipped with a warning.
    providers: list[Provider] = Field(
        default_factory=lambda: ["CPUExecutionProvider"], min_length=1
    )
    threads: int | None = Field(None, ge=1)
    # Each of num_workers threads reads, decodes and runs whole batches, with one onnxruntime
    # thread each unless `threads` says otherwise (run_files(lanes=True)).
    lanes: bool = True
    progress: bool = True
    # Choose the most probable text that fits a format of the plate's likely region family
    # (the model's region output, or region_hint); see core.plate_formats.
    format_decoding: bool = True
    region_hint: list[str] | None = Field(None, min_length=1)
    # Reading limits, applied by the catalog's `infer_images` (`${runtime_params:...}`) as it
    # reads each file; `recognize_images` checks that the two agree.
    max_file_bytes: int = Field(DEFAULT_MAX_FILE_BYTES, ge=1)
    max_pixels: int = Field(DEFAULT_MAX_PIXELS, ge=1)
    # `local`: this process (run_files). `dask`: partitions of `partition_size` files as tasks
    # on a dask.distributed cluster (plate_ocr_pipeline.inference.distributed): a LocalCluster
    # of `dask_workers` single-thread workers, or the cluster at `scheduler_address`.
    engine: Literal["local", "dask"] = "local"
    partition_size: int = Field(2000, ge=1)
    dask_workers: int | None = Field(None, ge=1)
    dask_processes: bool = True
    scheduler_address: str | None = Field(None, min_length=1)
    dask_connect_timeout: float = Field(10.0, gt=0)

    @model_validator(mode="after")
    def _dask_settings_agree(self) -> InferParams:
        if self.scheduler_address is not None and self.engine != "dask":
            raise ValueError(
                "scheduler_address is set but engine is 'local': add infer.engine=dask "
                "(or drop the address)"
            )
        if self.scheduler_address is not None and self.dask_workers is not None:
            raise ValueError(
                "dask_workers sizes the LocalCluster and cannot apply to the cluster at "
                "scheduler_address: give one or the other (start workers with `dask worker`)"
            )
        return self


PARAMETER_SCHEMAS = {"infer": InferParams}
