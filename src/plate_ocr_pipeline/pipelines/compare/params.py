"""Schema of the ``compare`` parameter section, checked before any node runs."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from plate_ocr_pipeline.pipelines.report.params import ReportParams


class CompareParams(ReportParams):
    """The report's keys (``ReportParams``: sets, equivalences, batch size, region labels),
    onnxruntime's threads and the folder of candidates."""

    model_config = ConfigDict(extra="forbid")

    threads: int | None = Field(default=None, ge=1)  # intra-op threads (null: all cores)
    # Only a value given on the command line reaches the catalog
    # (`${runtime_params:compare.candidates_dir,...}`); kept here so that it validates and is
    # logged with the run. The default is globals.yml's, in both places.
    candidates_dir: str
    annotations: list[str] | dict[str, str] | None = None  # as score.annotations
    # The candidate the others are measured against in the table's `*_delta` columns (its
    # path in candidates_dir without the suffix, `older/plain`); null: no deltas.
    baseline: str | None = Field(default=None, min_length=1)


PARAMETER_SCHEMAS = {"compare": CompareParams}
