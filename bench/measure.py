"""Shared by the benchmarks: how much memory a process has used at its peak."""

from __future__ import annotations

import resource
from pathlib import Path


def peak_rss_kb() -> int:
    """Peak RSS of this process in KiB.

    Linux's ``ru_maxrss`` survives ``exec``: a child forked from a big parent starts
    with the parent's peak. ``VmHWM`` in /proc belongs to the new program alone.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
