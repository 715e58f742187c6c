"""``ece-uploader status``: what the ledger says is live in each extension, checked against ECE.

For every extension in the ledger (or one, with ``--extension``): the live
object (bucket, key, version, SHA-256, size, since when, who put it) and the
last outcome; then ECE's own ``file_metadata`` for it. **Drift** is ECE holding
a file other than the one the ledger made live (size or last-modified differ:
an upload by hand, or a file cut short). Exit 1 when any extension drifted.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ece_uploader.commands.common import (
    EXIT_NEGATIVE,
    EXIT_OK,
    Context,
    UsageError,
    add_common_arguments,
    fail,
    print_json,
    print_table,
)

if TYPE_CHECKING:
    from extension_uploader.ece import EceClient, Extension
    from extension_uploader.ledger import ExtensionRecord, LiveEntry

COLUMNS = (
    "extension",
    "object",
    "version",
    "sha256",
    "size",
    "since",
    "last_outcome",
    "in_use",
    "ece",
)
IN_USE_NOTE = "running the previous file until a plan is applied"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "status",
        help="show what is live in each extension, and flag drift from ECE",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--extension", metavar="ID", help="only this extension")
    add_common_arguments(parser)
    parser.set_defaults(func=run)


@dataclass(frozen=True)
class ExtensionStatus:
    record: ExtensionRecord
    ece_file: dict[str, Any] | None  # size and last_modified_date ECE reports, if any
    ece_problem: str | None  # ECE could not be asked, or does not know the extension
    drift: str | None
    deployments: tuple[str, ...] = ()  # those using the extension now, as ECE says

    def to_json(self) -> dict[str, Any]:
        record = self.record
        return {
            "extension_id": record.extension_id,
            "live": record.live.to_item() if record.live else None,
            "last_outcome": record.outcomes[0] if record.outcomes else None,
            "history": [entry.to_item() for entry in record.history],
            "attention": record.attention,
            "ece": self.ece_file,
            "ece_problem": self.ece_problem,
            "drift": self.drift,
            "deployments": list(self.deployments),
        }

    def row(self) -> dict[str, Any]:
        live, record = self.record.live, self.record
        last = record.outcomes[0] if record.outcomes else None
        ece = "ok"
        if self.drift:
            ece = f"DRIFT: {self.drift}"
        elif self.ece_problem:
            ece = self.ece_problem
        if record.attention:
            ece += f" (attention: {record.attention.get('reason')})"
        return {
            "extension": record.extension_id,
            "object": f"s3://{live.object.bucket}/{live.object.key}" if live else None,
            "version": live.object.version_id if live else None,
            "sha256": live.sha256[:12] if live else None,
            "size": live.size if live else None,
            "since": f"{live.at:%Y-%m-%dT%H:%M:%SZ} by {live.principal}" if live else None,
            "last_outcome": f"{last['status']}: {last['reason']}" if last else None,
            "in_use": f"{len(self.deployments)} ({IN_USE_NOTE})" if self.deployments else "0",
            "ece": ece,
        }


def drift_of(live: LiveEntry | None, extension: Extension) -> str | None:
    """Why ECE's file is not the one the ledger made live, or None when it is."""
    if live is None:
        return "ECE holds a file the ledger never made live" if extension.file_size else None
    if extension.file_size is None:
        return "ECE holds no file"
    if live.ece_size is not None and extension.file_size != live.ece_size:
        return f"ECE's file has {extension.file_size} bytes, the live object {live.ece_size}"
    if live.ece_last_modified and extension.file_last_modified != live.ece_last_modified:
        return f"ECE's file was replaced at {extension.file_last_modified}"
    return None


def run(args: argparse.Namespace) -> int:
    try:
        context = Context.from_args(args)
        statuses = collect(context, args.extension)
    except UsageError as exc:
        return fail("status", str(exc))
    return show(statuses, as_json=args.json)


def show(statuses: list[ExtensionStatus], *, as_json: bool = False) -> int:
    """Print the statuses; the exit status says whether any extension drifted."""
    if as_json:
        print_json([status.to_json() for status in statuses])
    elif statuses:
        print_table([status.row() for status in statuses], COLUMNS)
    else:
        print("the ledger holds no extension yet")
    return EXIT_NEGATIVE if any(status.drift for status in statuses) else EXIT_OK


def collect(context: Context, only: str | None = None) -> list[ExtensionStatus]:
    from extension_uploader.ledger import Ledger, LedgerError

    ledger = Ledger(context.client("dynamodb"), context.setting("LEDGER_TABLE"))
    try:
        records = [ledger.read(only)] if only else list(ledger.records())
    except LedgerError as exc:
        raise UsageError(str(exc)) from None
    ece = ece_client(context)
    return [_status(record, ece) for record in sorted(records, key=lambda r: r.extension_id)]


def ece_client(context: Context) -> EceClient:
    """The function's own ECE client, with its settings and secret."""
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    from extension_uploader.credentials import CredentialStore
    from extension_uploader.ece import EceClient

    credentials = CredentialStore(
        context.setting("ECE_SECRET_ID"),
        SecretsProvider(boto3_client=context.client("secretsmanager")),
    )
    return EceClient(
        context.setting("ECE_API_URL"),
        credentials,
        tls_verify=context.env.get("ECE_TLS_VERIFY", "true").lower() != "false",
        ca_bundle=context.env.get("ECE_CA_BUNDLE") or None,
    )


def _status(record: ExtensionRecord, ece: EceClient) -> ExtensionStatus:
    from extension_uploader import reasons
    from extension_uploader.credentials import SecretError
    from extension_uploader.deadline import Deadline
    from extension_uploader.ece_errors import EceError

    try:
        extension = ece.get_extension(record.extension_id, Deadline.after(60, reserve_seconds=0))
    except (EceError, SecretError) as exc:
        if isinstance(exc, EceError) and exc.reason == reasons.ECE_EXTENSION_NOT_FOUND:
            gone = "ECE no longer knows the extension"
            return ExtensionStatus(record, None, gone, gone if record.live else None)
        return ExtensionStatus(record, None, f"ECE not asked: {exc.reason}", None)
    ece_file = {"size": extension.file_size, "last_modified_date": extension.file_last_modified}
    drift = drift_of(record.live, extension)
    return ExtensionStatus(record, ece_file, None, drift, extension.deployments)
