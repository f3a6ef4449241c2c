"""How many CPU cores this process may use."""

from __future__ import annotations

import math
import os

# cgroup v2's CPU quota ("max 100000", or "200000 100000": two cores' time per period).
CGROUP_CPU_MAX = "/sys/fs/cgroup/cpu.max"


def available_cores() -> int:
    """CPU cores this process may use: its affinity where the OS tells it (``taskset``, a
    cpuset), at most its cgroup's CPU quota rounded up (``docker --cpus``, Kubernetes limits),
    else every core."""
    try:
        cores = len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    quota = cgroup_cpu_quota()
    return max(1, min(cores, quota)) if quota is not None else cores


def cgroup_cpu_quota(path: str = CGROUP_CPU_MAX) -> int | None:
    """Cores' worth of CPU time the cgroup allows, rounded up; ``None`` without a quota."""
    try:
        with open(path, encoding="ascii") as handle:
            fields = handle.read(64).split()
    except (OSError, UnicodeDecodeError):
        return None
    if len(fields) != 2 or fields[0] == "max":
        return None
    try:
        quota, period = int(fields[0]), int(fields[1])
    except ValueError:
        return None
    return math.ceil(quota / period) if quota > 0 and period > 0 else None
