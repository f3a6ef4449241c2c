"""Schema of the ``ingest`` parameter section, checked before any node runs."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from plate_ocr_pipeline.core.text_codec import LABEL_SEPARATORS


class SplitFractions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    train: float = Field(ge=0, le=1)
    val: float = Field(ge=0, le=1)
    test: float = Field(ge=0, le=1)

    @model_validator(mode="after")
    def _sum_to_one(self) -> SplitFractions:
        total = self.train + self.val + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"train + val + test must be 1, got {total:g}")
        return self


class IngestParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Only ever given on the command line; the catalog's `raw_annotations` entry reads it.
    annotation_files: list[str] | None = None
    uppercase: bool = True
    drop_characters: str = LABEL_SEPARATORS
    split_fractions: SplitFractions
    seed: int
    max_reject_fraction: float = Field(ge=0, le=1)


PARAMETER_SCHEMAS = {"ingest": IngestParams}
