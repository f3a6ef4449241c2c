"""Schema of the ``score`` parameter section, checked before any node runs."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from plate_ocr_pipeline.pipelines.report.params import ReportParams


class ScoreParams(ReportParams):
    """The report's keys (``ReportParams``) and onnxruntime's threads."""

    model_config = ConfigDict(extra="forbid")

    threads: int | None = Field(default=None, ge=1)  # intra-op threads (null: all cores)
    # Only ever given on the command line; the catalog's `score_model` and
    # `score_labelled_sets` entries read them (`${runtime_params:...}`).
    model_path: str | None = None
    annotations: list[str] | dict[str, str] | None = None


PARAMETER_SCHEMAS = {"score": ScoreParams}
