"""``ece-uploader validate``: the Lambda's archive checks, offline.

Exit status: 0 accepted, 1 rejected, 2 usage or I/O error, or a failure of the
inspection itself (a bug, never a verdict; argparse also exits 2 on bad arguments).
``--json`` prints the report as one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TextIO

from extension_uploader.inspection import (
    ExtensionInfo,
    InspectionBug,
    Limits,
    Problem,
    Report,
    inspect_archive,
)

EXIT_ACCEPTED = 0
EXIT_REJECTED = 1
EXIT_ERROR = 2

_DEFAULTS = Limits()


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``validate`` subcommand to the ``ece-uploader`` parser."""
    parser = subparsers.add_parser(
        "validate",
        help="check a plugin or bundle zip offline, as the Lambda would",
        description=(
            "Check a zip the way the uploader does before sending it to ECE: archive "
            "safety (structure, CRCs, bombs, names, links, encryption) and, with "
            "--type, the plugin or bundle content rules. Exit 0 accepted, 1 rejected, "
            "2 usage or I/O error."
        ),
    )
    parser.add_argument("path", type=Path, metavar="PATH", help="the zip file to check")
    parser.add_argument(
        "--type",
        dest="extension_type",
        choices=("plugin", "bundle"),
        help="also apply the content rules of this extension type",
    )
    parser.add_argument(
        "--es-version",
        metavar="V",
        help="the extension's version: a plugin's elasticsearch.version must equal it",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    limits = parser.add_argument_group("limits (defaults are the Lambda's)")
    limits.add_argument(
        "--max-entries", type=_non_negative, default=_DEFAULTS.max_entries, metavar="N"
    )
    limits.add_argument(
        "--max-uncompressed-bytes",
        type=_non_negative,
        default=_DEFAULTS.max_uncompressed_bytes,
        metavar="BYTES",
    )
    limits.add_argument(
        "--max-compression-ratio",
        type=_positive,
        default=_DEFAULTS.max_compression_ratio,
        metavar="N",
    )
    limits.add_argument(
        "--deflate64-policy", choices=("repack", "reject"), default=_DEFAULTS.deflate64_policy
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Inspect ``args.path`` and print the verdict; return the exit status."""
    limits = Limits(
        max_entries=args.max_entries,
        max_uncompressed_bytes=args.max_uncompressed_bytes,
        max_compression_ratio=args.max_compression_ratio,
        deflate64_policy=args.deflate64_policy,
    )
    extension = ExtensionInfo(args.extension_type, args.es_version)
    path: Path = args.path
    if not path.is_file():
        what = "no such file" if not path.exists() else "not a regular file"
        print(f"ece-uploader validate: {path}: {what}", file=sys.stderr)
        return EXIT_ERROR
    try:
        report = inspect_archive(path, limits, extension)
    except OSError as exc:
        print(f"ece-uploader validate: {path}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_ERROR
    except InspectionBug as exc:
        print(
            f"ece-uploader validate: {path}: internal error, no verdict: {exc.__cause__!r} "
            "(this is a bug in the uploader, not a problem of the archive; please report it)",
            file=sys.stderr,
        )
        return EXIT_ERROR
    if args.json:
        document = {"path": str(path), **report.to_dict()}
        json.dump(document, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        print_report(path, report, sys.stdout)
    return EXIT_ACCEPTED if report.ok else EXIT_REJECTED


def print_report(path: Path, report: Report, out: TextIO) -> None:
    """The human form: one line per problem and warning, then the verdict."""
    for problem in report.problems:
        out.write(_line("problem", problem))
    if report.omitted_problems:
        out.write(f"problem  ... and {report.omitted_problems} more of the same kinds\n")
    for warning in report.warnings:
        out.write(_line("warning", warning))
    summary = (
        f"{report.entries} entries, {report.files} files, "
        f"{report.uncompressed_bytes} bytes uncompressed"
    )
    if report.deflate64_entries:
        summary += f", {report.deflate64_entries} Deflate64"
        if report.ok:
            summary += " (re-encoded as Deflate before upload)"
    if report.ok:
        out.write(f"ACCEPTED {path} ({summary})\n")
    else:
        out.write(f"REJECTED {path}: {report.reason} ({summary})\n")


def _line(kind: str, problem: Problem) -> str:
    where = f" [{problem.entry}]" if problem.entry is not None else ""
    return f"{kind:<8} {problem.code}{where}: {problem.message}\n"


def _non_negative(text: str) -> int:
    value = _integer(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more: {text!r}")
    return value


def _positive(text: str) -> int:
    value = _integer(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more: {text!r}")
    return value


def _integer(text: str) -> int:
    try:
        return int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
