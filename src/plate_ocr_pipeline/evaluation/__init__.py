"""Evaluation on labelled real sets, shared by the stages that report on them (evaluate,
score, compare) and the benchmarks: reading a set for a model's plate config, with a reason
for every row it cannot use, grouping its plates by region label, plate kind and layout, and
the region and format-decoding tables, and the report tables (metrics per set and region,
per plate, by length, by confidence; the character confusion), and candidate models side
by side (the comparison table and the plates some candidate misreads).
Needs numpy, OpenCV and pandas; no Kedro.
"""

from .comparison import (
    READING_COLUMNS,
    candidate_readings,
    comparison_table,
    misread_plates,
    read_candidates,
)
from .groups import check_label_families, label_plates, report_groups, unknown_label_families
from .labelled_sets import REJECT_COLUMNS, read_labelled_set, read_labelled_sets
from .regions import read_regions_with_keras, read_regions_with_recognizer, region_tables
from .report_tables import (
    character_confusion,
    predict_probabilities,
    report_metrics,
    summarise_by_confidence,
    summarise_by_length,
)

__all__ = [
    "READING_COLUMNS",
    "REJECT_COLUMNS",
    "candidate_readings",
    "check_label_families",
    "character_confusion",
    "comparison_table",
    "label_plates",
    "misread_plates",
    "predict_probabilities",
    "read_candidates",
    "read_labelled_set",
    "read_labelled_sets",
    "read_regions_with_keras",
    "read_regions_with_recognizer",
    "region_tables",
    "report_groups",
    "report_metrics",
    "summarise_by_confidence",
    "summarise_by_length",
    "unknown_label_families",
]
