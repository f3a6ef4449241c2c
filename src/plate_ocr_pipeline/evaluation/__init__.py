"""Evaluation on labelled real sets, shared by the stages that report on them (evaluate,
score, compare) and the benchmarks: reading a set for a model's plate config, with a reason
for every row it cannot use, grouping its plates by region label, plate kind and layout, and
the region and format-decoding tables.
Needs numpy, OpenCV and pandas; no Kedro.
"""

from .groups import label_plates, report_groups
from .labelled_sets import REJECT_COLUMNS, read_labelled_set, read_labelled_sets
from .regions import read_regions_with_keras, region_tables

__all__ = [
    "REJECT_COLUMNS",
    "label_plates",
    "read_labelled_set",
    "read_labelled_sets",
    "read_regions_with_keras",
    "region_tables",
    "report_groups",
]
