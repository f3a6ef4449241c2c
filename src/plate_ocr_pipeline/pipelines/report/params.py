"""Schema of the report template's part of a stage's parameter section.

The template has no section of its own: ``evaluate`` and ``score`` extend ``ReportParams``
with their own keys, and the template's nodes read the keys below from whichever section
they are given, ignoring the rest.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ReportParams(BaseModel):
    # The template sees a stage's whole section; the stage's own schema forbids typos.
    model_config = ConfigDict(extra="ignore")

    # Names of the labelled sets to report on; null: every set the catalog loaded.
    labelled_sets: list[str] | None = None
    equivalences: list[str] = ["O0"]  # characters counted as one in the *_eq metrics
    batch_size: int = Field(default=256, ge=1)
    gallery_size: int = Field(default=24, ge=0, le=200)
    gallery_columns: int = Field(default=4, ge=1, le=12)
    region_gallery_size: int = Field(default=4, ge=0, le=12)  # crops per (set, region) row
    # Per set name: a region label -> the model's families it stands for (region accuracy);
    # labels not listed map by the formats files (us-ca -> us, eu-de -> eu).
    region_labels: dict[str, dict[str, list[str]]] = Field(default_factory=dict)


# No `report:` section: the template reads the section of the stage that instantiates it.
PARAMETER_SCHEMAS: dict[str, type[BaseModel]] = {}
