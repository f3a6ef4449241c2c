"""Matplotlib for the nodes that draw figures, imported on first use: pipeline discovery
imports every node module, and a run that draws nothing (``infer``) need not load it."""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure
else:
    # The figure nodes' return type. At run time a plain alias: Kedro's parameter check reads
    # every node's type hints (typing.get_type_hints), which must resolve without matplotlib.
    Figure = Any


def pyplot() -> ModuleType:
    """``matplotlib.pyplot`` on the non-interactive Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
