"""Schema of the ``ensemble`` parameter section, checked before any node runs."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class EnsembleParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Names of the member files (without .keras) in data/06_models/ensemble_members;
    # null takes every file there, in name order.
    members: list[str] | None = Field(None, min_length=1)


PARAMETER_SCHEMAS = {"ensemble": EnsembleParams}
