"""What the operator's commands share: settings from ``--env-vars``, AWS clients, output."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EXIT_OK = 0
EXIT_NEGATIVE = 1
EXIT_USAGE = 2
FUNCTION_LOGICAL_ID = "UploaderFunction"


class UsageError(Exception):
    """When the command cannot run as asked: a missing setting, an unreadable file."""


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument(
        "--env-vars",
        "-n",
        type=Path,
        metavar="FILE",
        help="SAM env-vars JSON, or a sandbox description: the function's settings",
    )
    parser.add_argument("--profile", help="AWS profile (default: the standard chain)")
    parser.add_argument("--region", help="AWS region")


@dataclass(frozen=True)
class Context:
    """The function's settings as the command sees them, and a way to reach AWS."""

    env: Mapping[str, str]
    profile: str | None = None
    region: str | None = None

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Context:
        from ece_uploader.local import read_env_file

        env = dict(os.environ)
        if args.env_vars:
            try:
                env |= read_env_file(args.env_vars, FUNCTION_LOGICAL_ID)
            except (OSError, ValueError) as exc:
                raise UsageError(f"cannot read {args.env_vars}: {exc}") from None
        return cls(env, args.profile, args.region)

    def setting(self, name: str) -> str:
        value = self.env.get(name, "").strip()
        if not value:
            raise UsageError(f"{name} is not set: pass --env-vars FILE or export it")
        return value

    def client(self, service: str, *, read_timeout: float | None = None) -> Any:
        """A client for ``service`` with the command's credentials, region and endpoint.

        ``read_timeout`` is for calls that last long by design (a synchronous Lambda invoke).
        """
        import boto3
        from botocore.config import Config

        session = boto3.Session(
            profile_name=self.profile,
            region_name=self.region
            or self.env.get("AWS_REGION")
            or self.env.get("AWS_DEFAULT_REGION"),
            aws_access_key_id=self.env.get("AWS_ACCESS_KEY_ID"),
            aws_secret_access_key=self.env.get("AWS_SECRET_ACCESS_KEY"),
            aws_session_token=self.env.get("AWS_SESSION_TOKEN"),
        )
        config = Config(
            connect_timeout=5, read_timeout=read_timeout or 30, retries={"mode": "standard"}
        )
        return session.client(
            service,  # type: ignore[call-overload]
            endpoint_url=self.env.get("AWS_ENDPOINT_URL") or None,
            config=config,
        )


def print_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> None:
    """Aligned columns, headers in capitals; '-' for what is missing."""
    cells = [[_cell(row.get(column)) for column in columns] for row in rows]
    widths = [
        max(len(column), *(len(line[i]) for line in cells)) if cells else len(column)
        for i, column in enumerate(columns)
    ]
    print("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for line in cells:
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())


def print_json(document: Any) -> None:
    json.dump(document, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def fail(command: str, message: str) -> int:
    print(f"ece-uploader {command}: {message}", file=sys.stderr)
    return EXIT_USAGE


def _cell(value: Any) -> str:
    if value is None or value == "":
        return "-"
    return str(value)
