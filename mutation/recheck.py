"""Re-check the survivors of a finished run against the tests as they are now.

    python mutation/recheck.py mutation/results/inspection.json [--file repack.py]
        [--function _reencode] -- tests/unit/inspection/test_repack.py ...

For each mutant the run left (``not_killed`` in the results file), the changed
line is put into the source (the old text replaced by the new, indentation
kept), the given tests run (``pytest -x -q``), and the file is put back. A
mutant whose tests fail is killed now. Much faster than a whole ``make mutation``
while writing the tests that kill survivors; the score that counts is still the
one a whole run writes.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "functions"


def apply(source: str, mutant: dict[str, Any]) -> str | None:
    """``source`` with the mutant's change made at its line, or None if it is not found."""
    lines = source.splitlines(keepends=True)
    old = mutant["old"].splitlines()
    new = mutant["new"].splitlines()
    start = (mutant.get("line") or 1) - 1
    # The recorded line is the first changed one; search near it, then anywhere.
    candidates = [*range(max(0, start - 3), min(len(lines), start + 4)), *range(len(lines))]
    for index in candidates:
        window = [line.strip() for line in lines[index : index + len(old)]]
        if window == old:
            indent = lines[index][: len(lines[index]) - len(lines[index].lstrip())]
            replaced = [f"{indent}{line}\n" for line in new if line != "(nothing)"]
            return "".join([*lines[:index], *replaced, *lines[index + len(old) :]])
    return None


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("--file", help="only mutants of this file (its name)")
    parser.add_argument("--function", help="only mutants of this function")
    parser.add_argument("tests", nargs="+")
    args = parser.parse_args(argv)
    mutants = json.loads(args.results.read_text())["not_killed"]
    mutants = [
        m
        for m in mutants
        if (not args.file or Path(m["file"]).name == args.file)
        and (not args.function or m["function"] == args.function)
    ]
    still: list[dict[str, Any]] = []
    for mutant in mutants:
        path = PACKAGE / mutant["file"]
        original = path.read_text()
        changed = apply(original, mutant)
        if changed is None:
            print(f"? {mutant['file']}:{mutant['line']} not found: {mutant['old']!r}")
            continue
        path.write_text(changed)
        try:
            run = subprocess.run(  # noqa: S603 - this interpreter, tests named by the caller
                [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *args.tests],
                cwd=REPO,
                capture_output=True,
                timeout=600,
                check=False,
            )
            killed = run.returncode != 0
        except subprocess.TimeoutExpired:
            killed = True
        finally:
            path.write_text(original)
        mark = "killed  " if killed else "SURVIVED"
        print(f"{mark} {mutant['file']}:{mutant['line']} ({mutant['function']})")
        print(f"         {mutant['old']}  ->  {mutant['new']}")
        if not killed:
            still.append(mutant)
    print(f"{len(mutants) - len(still)} of {len(mutants)} killed now; {len(still)} survive")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
