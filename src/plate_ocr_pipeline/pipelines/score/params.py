"""Schema of the ``score`` parameter section, checked before any node runs."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ScoreParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model_path: str | None = None
    latest_export_path: str
    annotations: list[str] = Field(min_length=1)
    equivalences: list[str] = []
    batch_size: int = Field(ge=1)
    threads: int | None = Field(default=None, ge=1)
    gallery_size: int = Field(ge=0)
    gallery_columns: int = Field(ge=1)


PARAMETER_SCHEMAS = {"score": ScoreParams}
