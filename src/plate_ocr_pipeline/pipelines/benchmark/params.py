"""Schema of the ``benchmark`` parameter section, checked before any node runs."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from plate_ocr_pipeline.inference.providers import Provider


class BenchmarkParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    providers: list[Provider] = Field(min_length=1)
    intra_op_threads: list[Annotated[int, Field(ge=1)] | Literal["all"]] = Field(min_length=1)
    batch_sizes: list[Annotated[int, Field(ge=1)]] = Field(min_length=1)
    warmup_runs: int = Field(ge=0)
    timed_runs: int = Field(ge=1)
    seed: int = 0


PARAMETER_SCHEMAS = {"benchmark": BenchmarkParams}
