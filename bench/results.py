"""Shared by the benchmarks: timing helpers and the sections of ``bench/results.md``.

Each benchmark replaces its own section (between ``<!-- name -->`` markers) and
leaves the others as the last run wrote them.
"""

from __future__ import annotations

import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results.md"
TITLE = "# Benchmark results\n\nWritten by `make bench`; each section by its own script.\n"


def machine() -> str:
    import os

    return (
        f"Python {sys.version.split()[0]}, {platform.machine()}, {os.cpu_count()} CPUs, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )


def write_section(name: str, text: str) -> None:
    start, end = f"<!-- {name} -->", f"<!-- /{name} -->"
    current = RESULTS.read_text() if RESULTS.exists() else TITLE
    block = f"{start}\n{text.rstrip()}\n{end}"
    if start in current and end in current:
        before, rest = current.split(start, 1)
        _, after = rest.split(end, 1)
        current = before + block + after
    else:
        current = current.rstrip() + "\n\n" + block + "\n"
    RESULTS.write_text(current)


def best(values: list[float]) -> float:
    return min(values)


def median(values: list[float]) -> float:
    return statistics.median(values)


def timed(function: Callable[[], object]) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started
