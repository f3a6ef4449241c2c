"""Matplotlib for the nodes that draw figures, imported on first use: pipeline discovery
imports every node module, and a run that draws nothing (``infer``) need not load it."""

from __future__ import annotations

from types import ModuleType


def pyplot() -> ModuleType:
    """``matplotlib.pyplot`` on the non-interactive Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
