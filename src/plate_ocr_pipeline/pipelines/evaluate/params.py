"""Schema of the ``evaluate`` parameter section, checked before any node runs."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ExtraSet(BaseModel):
    """A labelled set in ingest format (``image_path,plate_text[,region]``, image paths
    relative to the CSV); skipped with a warning when the file does not exist."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9_\-]+$")
    annotations: str


class EvaluateParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    splits: list[str] = ["test"]
    extra_sets: list[ExtraSet] = []
    equivalences: list[str] = ["O0"]
    batch_size: int = Field(default=256, ge=1)
    gallery_size: int = Field(default=24, ge=0, le=200)
    gallery_columns: int = Field(default=4, ge=1, le=12)


PARAMETER_SCHEMAS = {"evaluate": EvaluateParams}
