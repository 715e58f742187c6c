"""Mutation testing of the function, module by module, with mutmut.

    python mutation/run.py                 every module in MODULES, then the report
    python mutation/run.py pipeline ece    those modules only, then the report
    python mutation/run.py --report        the report from the results already there
    python mutation/run.py pipeline --resume   go on from where that module's last run stopped

Each module runs in a staged copy of the project under ``.mutation/<module>/`` where
the package sits at ``src/extension_uploader``, the layout mutmut understands (the
project maps ``functions/extension_uploader`` with setuptools' ``package-dir``, which
mutmut would name ``functions.extension_uploader`` and could not import). Only that
module's files are mutated, and only against the tests that exercise it; mutmut then
runs, for each mutant, only the tests that called the mutated function.

A run stopped by its time bound can be resumed: the stage and mutmut's verdicts are
kept, the tests are copied in afresh, and the survivors are tested again with them
along with every mutant not yet reached. A killed mutant stays killed, which holds as
long as tests are only added between the runs; mutmut itself tests a mutant again if
its function changed. A fresh run (without ``--resume``) starts from nothing.

The counts and every mutant not killed go to ``mutation/results/<module>.json``;
``mutation/REPORT.md`` is written from those and from ``mutation/survivors.toml``,
which says, for each survivor, why it is equivalent or harmless.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
STAGE = REPO / ".mutation"
RESULTS = REPO / "mutation" / "results"
SURVIVORS = REPO / "mutation" / "survivors.toml"
REPORT = REPO / "mutation" / "REPORT.md"
PACKAGE = "src/extension_uploader"

UNIT = ["tests/unit"]
IT = "tests/integration/"

# module -> (files to mutate, relative to the package; the tests that exercise them).
# Left out: tests that make fixed-name resources in moto's in-process backend
# (test_sample_events, test_cli), which outlives one pytest run and mutmut runs many.
MODULES: dict[str, tuple[list[str], list[str]]] = {
    "outcome": (["outcome.py"], [*UNIT, IT + "test_pipeline.py", IT + "test_ledger.py"]),
    "events": (["events.py"], [*UNIT, IT + "test_handler.py", IT + "test_redrive.py"]),
    "objects": (["objects.py"], [*UNIT, IT + "test_s3_faults.py", IT + "test_boundaries.py"]),
    "app": (["app.py"], [*UNIT, IT + "test_handler.py", IT + "test_s3_faults.py"]),
    "ece": (["ece.py", "ece_errors.py"], [*UNIT, IT + "test_ece_client.py"]),
    # The size-mismatch retry, S3 faults, IN_USE_POLICY and the outcome bus, the limits
    # at their boundaries and the allow-list each have their own integration file.
    "pipeline": (
        ["pipeline.py"],
        [
            *UNIT,
            IT + "test_pipeline.py",
            IT + "test_ledger.py",
            IT + "test_ece_client.py",
            IT + "test_s3_faults.py",
            IT + "test_in_use.py",
            IT + "test_boundaries.py",
            IT + "test_security.py",
        ],
    ),
    # The inspection package is large and pure: the unit tests cover it. Four parts,
    # each a run of 10 to 20 minutes on 2 cores, so that one can be run again alone.
    "inspection-structure": (["inspection/structure.py", "inspection/report.py"], UNIT),
    "inspection-archive": (
        ["inspection/archive.py", "inspection/endrecord.py", "inspection/streaming.py"],
        UNIT,
    ),
    "inspection-content": (
        ["inspection/content.py", "inspection/names.py", "inspection/properties.py"],
        UNIT,
    ),
    "inspection-repack": (["inspection/repack.py", "inspection/__init__.py"], UNIT),
}

# Minutes a module may take unless --minutes says otherwise. A mutant of the
# pipeline runs the integration tests that reach it (a few seconds when one of them
# fails, about a minute when none does): some 80 minutes on 2 cores for all 706.
DEFAULT_MINUTES = 15.0
MINUTES = {"pipeline": 120.0}

# Copied into the stage as they are: what the tests read besides the package.
STAGED = ["tests", "events", "template.yaml", "pyproject.toml", "README.md", "samconfig.toml"]

# Mutmut's statuses, by exit code of the mutant's test run.
KILLED = {"killed", "timeout", "segfault", "caught by type check"}


def stage(module: str, *, resume: bool) -> Path:
    """The module's stage, made afresh; or, resuming, refreshed around mutmut's ``mutants/``."""
    root = STAGE / module
    if not resume:
        shutil.rmtree(root, ignore_errors=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    copies = {
        REPO / "functions/extension_uploader": root / PACKAGE,
        REPO / "src/ece_uploader": root / "src/ece_uploader",
        REPO / "functions": root / "functions",
        **{REPO / name: root / name for name in STAGED},
    }
    for source, target in copies.items():
        if source.is_dir():
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(source, target, ignore=ignore)
        elif source.exists():
            shutil.copy2(source, target)
    return root


def run_module(module: str, jobs: int, minutes: float, *, resume: bool) -> dict[str, Any]:
    """One module in its stage, stopped after ``minutes``: what was tested by then counts."""
    resume = resume and (STAGE / module / "mutants").is_dir()
    root = stage(module, resume=resume)
    spent = root / "seconds"  # the module's time so far, over every run of this stage
    before = int(spent.read_text()) if resume and spent.exists() else 0
    started = time.monotonic()
    script = str(Path(__file__).resolve())
    env = os.environ | {"PYTHONDONTWRITEBYTECODE": "1"}
    log = root / "mutmut.log"
    with log.open("a" if resume else "w") as out:
        child = subprocess.Popen(  # noqa: S603 - this very script, in the stage
            [sys.executable, script, "--child", module, "--jobs", str(jobs)]
            + (["--resume"] if resume else []),
            cwd=root,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # its workers too are stopped at the time bound
        )
        try:
            code = child.wait(timeout=minutes * 60)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGTERM)
            child.wait()
            code = subprocess.call(  # noqa: S603
                [sys.executable, script, "--harvest", module], cwd=root, stdout=out, env=env
            )
    if code != 0:
        tail = log.read_text().splitlines()[-40:]
        raise SystemExit(f"mutmut failed on {module} (exit {code}):\n" + "\n".join(tail))
    result = json.loads((root / "result.json").read_text())
    result["seconds"] = before + round(time.monotonic() - started)
    spent.write_text(f"{result['seconds']}\n")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{module}.json").write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    return result


def child(module: str, jobs: int, *, resume: bool) -> None:
    """In the stage: configure mutmut for one module, run it, write result.json."""
    configure(module)
    from mutmut.__main__ import _reset_mutant_results, _run
    from mutmut.stats import status_by_exit_code

    if resume:  # the survivors meet the tests as they are now
        _reset_mutant_results(lambda _key, code: status_by_exit_code[code] == "survived")

    try:
        _run([], max_children=jobs)
    except SystemExit as stop:
        if stop.code not in (0, None):
            raise
    write_result(module)


def configure(module: str) -> None:
    files, tests = MODULES[module]
    from mutmut import configuration

    base = configuration._load_config()
    configuration._config = dataclasses.replace(
        base,
        source_paths=[Path(PACKAGE)],
        resolved_mutated_source_paths=[Path.cwd().resolve() / "mutants" / PACKAGE],
        only_mutate=[f"{PACKAGE}/{pattern}" for pattern in files],
        do_not_mutate=[],
        # mutmut runs the tests inside mutants/: what they read must be there too.
        also_copy=[*base.also_copy, *map(Path, [*STAGED, "functions", "src/ece_uploader"])],
        pytest_add_cli_args=[
            *("-p", "no:cacheprovider"),
            *("-p", "reopen_log_streams"),
            *("-p", "fastest_first"),  # a mutant the quick tests kill costs them only
        ],
        pytest_add_cli_args_test_selection=tests,
        use_git_change_detection=False,
        track_dependencies=False,
        # A mutant that hangs (a retry loop, a wait on a socket) is stopped after four
        # times its tests' usual time, not mutmut's fifteen.
        timeout_multiplier=4.0,
    )


def write_result(module: str) -> None:
    from mutmut.configuration import config
    from mutmut.mutation.data import SourceFileMutationData
    from mutmut.mutation.diff_apply import get_diff_for_mutant
    from mutmut.stats import status_by_exit_code
    from mutmut.utils.file_utils import walk_mutatable_files

    per_file: dict[str, dict[str, int]] = {}
    mutants: list[dict[str, Any]] = []
    for path in walk_mutatable_files():
        if not config().should_mutate(path):
            continue
        data = SourceFileMutationData(path=path)
        data.load()
        counts: dict[str, int] = {}
        for key, code in sorted(data.exit_code_by_key.items()):
            status = status_by_exit_code[code]
            counts[status] = counts.get(status, 0) + 1
            if status in KILLED or status == "not checked":
                continue
            diff = get_diff_for_mutant(key, path=path)
            mutants.append(describe(key, status, Path(path), diff))
        name = str(path).removeprefix("src/")
        per_file[name] = counts
    result = {"module": module, "files": per_file, "not_killed": mutants}
    Path("result.json").write_text(json.dumps(result, indent=1, sort_keys=True))


def describe(key: str, status: str, path: Path, diff: str) -> dict[str, Any]:
    removed = [line[1:] for line in diff.splitlines()[2:] if line.startswith("-")]
    added = [line[1:] for line in diff.splitlines()[2:] if line.startswith("+")]
    function = function_name(key.rpartition(".")[2].partition("__mutmut_")[0])
    return {
        "key": key,
        "status": status,
        "file": str(path).removeprefix("src/"),
        "function": function,
        "line": line_of(path, function, first_changed_line(diff)),
        "old": "\n".join(line.strip() for line in removed),
        "new": "\n".join(line.strip() for line in added),
    }


def function_name(mangled: str) -> str:
    """``x_name`` for functions, ``xǁClassǁname`` for methods: ``name``, ``Class.name``."""
    if mangled.startswith("xǁ"):
        return mangled[2:].replace("ǁ", ".")
    return mangled.removeprefix("x.").removeprefix("x_")


def first_changed_line(diff: str) -> int:
    """The first changed line of the mutant's diff, counted from the function's first line."""
    number = 0
    for line in diff.splitlines()[2:]:
        if line.startswith("@@"):
            number = int(line.split()[1].lstrip("-").split(",")[0]) - 1
        elif line.startswith(("-", "+")):
            return number + 1 if line.startswith("-") else number
        else:
            number += 1
    return 1


def line_of(path: Path, function: str, offset: int) -> int | None:
    """The line ``offset`` lines into ``function`` (1 = its ``def``) of the original file."""
    name = function.rpartition(".")[2]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name:
            return node.lineno + offset - 1
    return None


def explanations() -> list[dict[str, str]]:
    if not SURVIVORS.exists():
        return []
    return list(tomllib.loads(SURVIVORS.read_text()).get("survivor", []))


def notes() -> dict[str, str]:
    """Per module: what changed since its last run (tests added that kill listed mutants)."""
    if not SURVIVORS.exists():
        return {}
    return dict(tomllib.loads(SURVIVORS.read_text()).get("notes", {}))


def explain(mutant: dict[str, Any], known: list[dict[str, str]]) -> str | None:
    for entry in known:
        if (
            entry["file"] == mutant["file"]
            and entry["function"] == function_name(mutant["function"])
            and entry["old"].strip() == mutant["old"]
            and entry["new"].strip() == mutant["new"]
        ):
            return entry["why"]
    return None


def score(counts: dict[str, int]) -> tuple[int, int, int, int, int, int]:
    total = sum(counts.values())
    killed = sum(n for status, n in counts.items() if status in KILLED and status != "timeout")
    timeout = counts.get("timeout", 0)
    survived = counts.get("survived", 0)
    unchecked = counts.get("not checked", 0)
    other = total - killed - timeout - survived - unchecked
    return total, killed, survived, timeout, other, unchecked


def report() -> None:
    known = explanations()
    rows, sections, unexplained = [], [], 0
    for module in MODULES:
        path = RESULTS / f"{module}.json"
        if not path.exists():
            rows.append(f"| {module} | not run | | | | | | | |")
            continue
        result = json.loads(path.read_text())
        totals = [0] * 6
        for counts in result["files"].values():
            totals = [a + b for a, b in zip(totals, score(counts), strict=True)]
        total, killed, survived, timeout, other, unchecked = totals
        checked = total - unchecked
        percent = 100.0 * (killed + timeout) / checked if checked else 0.0
        rows.append(
            f"| {module} | {total} | {killed} | {survived} | {timeout} | {other} | {unchecked} | "
            f"{percent:.1f}% | {result.get('seconds', '?')} s |"
        )
        if result["not_killed"] or module in notes():
            sections.append(f"\n### {module}\n")
        if module in notes():
            sections.append(notes()[module].strip() + "\n")
        for mutant in sorted(result["not_killed"], key=lambda m: (m["file"], m["line"] or 0)):
            why = explain(mutant, known)
            if why is None:
                unexplained += 1
                why = "**not yet explained**"
            change = f"`{mutant['old'] or '(nothing)'}` → `{mutant['new'] or '(nothing)'}`"
            change = change.replace("\n", " ⏎ ").replace("|", "\\|")
            sections.append(
                f"- `{mutant['file']}:{mutant['line']}` ({function_name(mutant['function'])}, "
                f"{mutant['status']}): {change}  \n  {why.strip()}"
            )
    lines = [
        "# Mutation testing report",
        "",
        "Written by `make mutation` (`mutation/run.py`, mutmut): each module is mutated on",
        "its own and run against the tests that exercise it (see `MODULES` in the script).",
        "Score = (killed + timeout) / mutants checked. A module stops at its time bound",
        "(`--minutes`; 15 by default, 120 for the pipeline): mutants not reached by then",
        'are "not checked".',
        '"Other" counts mutants no selected test reaches (mutmut\'s "no tests") and any',
        "it calls suspicious: they count against the score. Every mutant not killed is",
        "listed below, with why it is equivalent or harmless where that is known",
        "(`mutation/survivors.toml`); the rest are gaps in the tests still to close.",
        "",
        "| module | mutants | killed | survived | timeout | other | not checked | score | time |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        *rows,
        "",
        notes().get("summary", "").strip(),
        "",
        f"Survivors not yet explained: {unexplained}.",
        "",
        "## Mutants not killed",
        *sections,
        "",
    ]
    REPORT.write_text("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help=f"some of: {' '.join(MODULES)}")
    parser.add_argument("--jobs", type=int, default=2, help="mutants tested at once")
    parser.add_argument("--report", action="store_true", help="only write the report")
    parser.add_argument(
        "--minutes",
        type=float,
        help=f"time bound per module (default {DEFAULT_MINUTES:g}; {MINUTES})",
    )
    parser.add_argument("--resume", action="store_true", help="go on from the module's last run")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--harvest", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.jobs, resume=args.resume)
        return
    if args.harvest:
        configure(args.harvest)
        write_result(args.harvest)
        return
    if unknown := set(args.modules) - set(MODULES):
        parser.error(f"unknown module(s): {' '.join(sorted(unknown))}")
    if not args.report:
        for module in args.modules or list(MODULES):
            print(f"== {module}", flush=True)
            minutes = args.minutes or MINUTES.get(module, DEFAULT_MINUTES)
            result = run_module(module, args.jobs, minutes, resume=args.resume)
            print(json.dumps({k: v for k, v in result.items() if k != "not_killed"}), flush=True)
    report()
    print(f"wrote {REPORT.relative_to(REPO)}")


if __name__ == "__main__":
    main()
