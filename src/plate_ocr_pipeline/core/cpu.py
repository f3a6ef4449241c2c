"""How many CPU cores this process may use."""

from __future__ import annotations

import os


def available_cores() -> int:
    """CPU cores this process may use: its affinity where the OS tells it (a container or
    ``taskset`` may allow fewer than the machine has), else every core."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1
