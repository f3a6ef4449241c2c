"""Schema of the ``evaluate`` parameter section, checked before any node runs."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict

from plate_ocr_pipeline.pipelines.report.params import ReportParams


class EvaluateParams(ReportParams):
    """The report's keys (``ReportParams``) and the held-out splits to report on."""

    model_config = ConfigDict(extra="forbid")

    splits: list[Literal["train", "val", "test"]] = ["test"]  # held-out splits of model_input


PARAMETER_SCHEMAS = {"evaluate": EvaluateParams}
