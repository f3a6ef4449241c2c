"""Schema of the ``infer`` parameter section, checked before any node runs."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


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


PARAMETER_SCHEMAS = {"infer": InferParams}
