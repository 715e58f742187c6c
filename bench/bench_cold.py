"""Cold start: importing the handler against a bare ``import boto3``, fresh interpreters.

Usage:
    .venv/bin/python bench/bench_cold.py [--runs 9] [--no-write]

Each figure is the wall time of the import statement alone, measured inside a new
interpreter (bytecode compiled by a first run into a cache of its own, since
the environment may say not to write any), the cases interleaved,
best and median of ``--runs``. Also timed: the handler's import followed by what
its first invocation adds before any network call (the three AWS clients and the
ECE session), against ``import boto3`` and the same three clients. Then the
largest imports below the handler, from ``python -X importtime``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from results import best, machine, median, write_section

ROOT = Path(__file__).resolve().parents[1]
ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "ECE_API_URL": "https://ece.invalid:12443",
    "ECE_SECRET_ID": "bench",
    "LEDGER_TABLE": "bench",
    "ALLOWED_EXTENSION_IDS": "*",
    "POWERTOOLS_SERVICE_NAME": "bench",
    "POWERTOOLS_METRICS_NAMESPACE": "bench",
}

CASES = {
    "import boto3": "import boto3",
    "import extension_uploader.app": "import extension_uploader.app",
    "import boto3 + 3 clients": (
        "import boto3\n"
        "from botocore.config import Config\n"
        "for name in ('secretsmanager', 's3', 'dynamodb'):\n"
        "    boto3.client(name, config=Config(connect_timeout=5))\n"
    ),
    "import app + runtime built": (
        "import extension_uploader.app as app\n"
        "from extension_uploader.config import Settings\n"
        "app.build_runtime(Settings.from_env())\n"
    ),
}

# Where the handler's own import time goes, in one fresh interpreter: Powertools (the
# logger and metrics), then the rest of the handler, and within it the time the
# dataclass decorator spends generating methods (it compiles them with exec).
SHARES = """
import dataclasses, json, time
import boto3
spent = [0.0, 0]
generate = dataclasses._process_class
def timed(*args, **kwargs):
    started = time.perf_counter()
    try:
        return generate(*args, **kwargs)
    finally:
        spent[0] += time.perf_counter() - started
        spent[1] += 1
dataclasses._process_class = timed
t0 = time.perf_counter()
import aws_lambda_powertools
t1 = time.perf_counter()
spent[:] = [0.0, 0]
import extension_uploader.app
t2 = time.perf_counter()
print(json.dumps({"powertools": t1 - t0, "handler": t2 - t1, "dataclasses": spent[0],
                  "classes": spent[1]}))
"""

PYCACHE = str(Path(tempfile.gettempdir()) / "bench-cold-pycache")
TIMER = """
import time
_started = time.perf_counter()
{code}
print(time.perf_counter() - _started)
"""


def _env() -> dict[str, str]:
    """Bytecode written and read under one cache directory, for every module alike."""
    env = {**os.environ, **ENV, "PYTHONPATH": str(ROOT / "functions")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = PYCACHE
    return env


def run_case(code: str) -> float:
    out = subprocess.run(
        [sys.executable, "-c", TIMER.format(code=code)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT / "functions",
        env=_env(),
    )
    return float(out.stdout.strip().splitlines()[-1])


def shares(runs: int) -> dict[str, float]:
    """The best of ``runs`` for each share of the handler's import (see SHARES)."""
    samples = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", SHARES],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT / "functions",
            env=_env(),
        )
        samples.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return {key: min(sample[key] for sample in samples) for key in samples[0]}


def top_imports(limit: int = 12) -> list[tuple[str, float, float]]:
    """(module, cumulative ms, self ms) of the largest imports the handler adds to boto3."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import boto3; import extension_uploader.app"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT / "functions",
        env=_env(),
    )
    rows = []
    after_boto3 = False
    for line in out.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        own, cumulative, name = (part.strip() for part in line[12:].split("|"))
        if not own.isdigit():
            continue
        if name == "boto3":
            after_boto3 = True
            continue
        if after_boto3:
            depth = (len(line[12:].split("|")[2]) - len(line[12:].split("|")[2].lstrip())) // 2
            rows.append((depth, name, int(cumulative) / 1000, int(own) / 1000))
    # The direct children of the handler's import, and the biggest packages among them.
    children = [(name, cum, own) for depth, name, cum, own in rows if depth <= 2]
    children.sort(key=lambda row: -row[1])
    return children[:limit]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    for code in CASES.values():  # compile the bytecode once
        run_case(code)
    seconds: dict[str, list[float]] = {name: [] for name in CASES}
    for _ in range(args.runs):
        for name, code in CASES.items():
            seconds[name].append(run_case(code))
    print(f"{machine()}; fresh interpreter per run, bytecode compiled, {args.runs} runs")
    lines = ["| import | best ms | median ms | ratio (best) |", "|---|---:|---:|---:|"]
    pairs = [
        ("import extension_uploader.app", "import boto3"),
        ("import app + runtime built", "import boto3 + 3 clients"),
    ]
    for subject, reference in pairs:
        for name in (reference, subject):
            values = seconds[name]
            ratio = best(values) / best(seconds[reference])
            lines.append(
                f"| {name} | {best(values) * 1000:.0f} | {median(values) * 1000:.0f} | "
                f"{ratio:.2f}x |"
            )
    print("\n".join(lines))
    ratio = best(seconds["import extension_uploader.app"]) / best(seconds["import boto3"])
    verdict = "met" if ratio <= 1.2 else "NOT met"
    summary = f"handler import / boto3 import: **{ratio:.2f}x** (target 1.2x: {verdict})"
    share = shares(args.runs)
    added_ms = (
        best(seconds["import extension_uploader.app"]) - best(seconds["import boto3"])
    ) * 1000
    summary += (
        f"\n\nWhat the handler adds to boto3 ({added_ms:.0f} ms, best against best): "
        f"Powertools' logger and metrics {share['powertools'] * 1000:.0f} ms, the handler's "
        f"own modules {share['handler'] * 1000:.0f} ms, of which "
        f"{share['dataclasses'] * 1000:.0f} ms is the dataclass decorator generating the "
        f"methods of {share['classes']:.0f} classes (best of {args.runs} each)."
    )
    print(summary)
    top = top_imports()
    table = ["| module (the handler's, after boto3) | cumulative ms | self ms |", "|---|---:|---:|"]
    table += [f"| {name} | {cum:.1f} | {own:.1f} |" for name, cum, own in top]
    print("\n".join(table))
    if not args.no_write:
        write_section(
            "cold",
            "## Cold start: importing the handler\n\n"
            f"{machine()}; wall time of the import in a fresh interpreter, bytecode "
            f"compiled, {args.runs} runs interleaved.\n\n"
            + "\n".join(lines)
            + f"\n\n{summary}\n\nLargest imports the handler adds to boto3 "
            "(`python -X importtime`, which inflates every figure):\n\n" + "\n".join(table),
        )
    print(json.dumps({name: best(values) for name, values in seconds.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
