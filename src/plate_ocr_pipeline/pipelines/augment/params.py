"""Schema of the ``augment`` parameter section, checked before any node runs."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class AugmentParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seed: int = 42
    preview_samples: int = Field(default=8, ge=1, le=64)
    preview_variants: int = Field(default=4, ge=1, le=16)


PARAMETER_SCHEMAS = {"augment": AugmentParams}
