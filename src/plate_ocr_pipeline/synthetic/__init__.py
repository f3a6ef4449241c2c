"""Synthetic licence-plate renderer (numpy, OpenCV, Pillow, the font packages and tqdm; pydantic for
its parameters; no Kedro, no TensorFlow).

>>> import numpy as np
>>> from plate_ocr_pipeline.synthetic import render_plate
>>> image, label = render_plate(np.random.default_rng(0), "us", 320, 160)
"""

from .formats import DEFAULT_REGION_WEIGHTS, REGION_FORMATS, REGIONS, sample_text
from .generate import (
    PlateDrawing,
    PlatePlan,
    generate_plates,
    iter_rendered,
    plan_plate,
    plan_plates,
    render_planned,
)
from .renderer import render_plate

__all__ = [
    "DEFAULT_REGION_WEIGHTS",
    "REGIONS",
    "REGION_FORMATS",
    "PlateDrawing",
    "PlatePlan",
    "generate_plates",
    "iter_rendered",
    "plan_plate",
    "plan_plates",
    "render_plate",
    "render_planned",
    "sample_text",
]
