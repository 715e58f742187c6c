"""``ece-uploader rollback``: put a previous file of an extension back, through the same path.

The ledger keeps the objects that were live in each extension before the
current one. A rollback re-publishes one of them (``--steps N`` back, default 1,
or ``--to-version``) through the function's own checks, lease and ledger, run
here in-process with the function's settings (``--env-vars``). The object is
then live "as of now": a later replay of older objects stays superseded, while
a genuinely new object put after the rollback wins. The in-use policy does not
stop a rollback: it is the operator's explicit decision.
"""

from __future__ import annotations

import argparse
import uuid
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
    from extension_uploader.ledger import ExtensionRecord, LiveEntry

DEFAULT_TIMEOUT_SECONDS = 900.0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "rollback",
        help="make a previous file of an extension live again",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--extension", metavar="ID", required=True)
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--to-version", metavar="S3_VERSION", help="an S3 version id in history")
    target.add_argument("--steps", type=int, default=1, metavar="N", help="how far back (1)")
    parser.add_argument("--dry-run", action="store_true", help="say what would be done")
    add_common_arguments(parser)
    parser.set_defaults(func=run)


def choose(record: ExtensionRecord, to_version: str | None, steps: int) -> LiveEntry:
    """The history entry to make live again."""
    if not record.history:
        raise UsageError(f"the ledger keeps no earlier file of extension {record.extension_id}")
    if to_version is not None:
        for entry in record.history:
            if entry.object.version_id == to_version:
                return entry
        raise UsageError(f"version {to_version} is not in the history of {record.extension_id}")
    if not 1 <= steps <= len(record.history):
        raise UsageError(f"--steps must be between 1 and {len(record.history)}")
    return record.history[steps - 1]


def run(args: argparse.Namespace) -> int:
    from extension_uploader.app import build_runtime
    from extension_uploader.config import ConfigError, Settings
    from extension_uploader.ledger import Ledger, LedgerError

    try:
        context = Context.from_args(args)
        settings = Settings.from_env(context.env)
        ledger = Ledger(context.client("dynamodb"), settings.ledger_table)
        record = ledger.read(args.extension)
        target = choose(record, args.to_version, args.steps)
    except (UsageError, ConfigError, LedgerError) as exc:
        return fail("rollback", str(exc))
    plan = {
        "extension_id": args.extension,
        "from": _describe(record.live),
        "to": _describe(target),
    }
    if args.dry_run:
        _show(plan | {"status": "dry run", "reason": "-"}, as_json=args.json)
        return EXIT_OK
    runtime = build_runtime(settings, aws_client=context.client)
    result = _republish(target, runtime, _caller(context), context)
    _show(plan | {"status": result["status"], "reason": result["reason"]}, as_json=args.json)
    return EXIT_OK if result["status"] == "uploaded" else EXIT_NEGATIVE


def _republish(target: LiveEntry, runtime: Any, caller: str, context: Context) -> dict[str, Any]:
    from extension_uploader.deadline import Deadline
    from extension_uploader.events import ObjectRef
    from extension_uploader.pipeline import process_object

    obj = target.object
    ref = ObjectRef(obj.bucket, obj.key, obj.version_id, obj.etag, principal=caller, rollback=True)
    timeout = float(context.env.get("ROLLBACK_TIMEOUT_SECONDS") or DEFAULT_TIMEOUT_SECONDS)
    request_id = f"rollback-{uuid.uuid4().hex[:12]}"
    return process_object(ref, runtime, Deadline.after(timeout), request_id).to_dict()


def _caller(context: Context) -> str:
    """Who asked, for the ledger's audit trail."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        identity = context.client("sts").get_caller_identity()
    except (BotoCoreError, ClientError):  # the rollback does not depend on knowing who asked
        return "rollback:unknown"
    return f"rollback:{identity.get('Arn', 'unknown')}"


def _describe(entry: LiveEntry | None) -> str | None:
    if entry is None:
        return None
    obj = entry.object
    return f"s3://{obj.bucket}/{obj.key}#{obj.version_id or obj.etag} ({entry.sha256[:12]})"


def _show(row: dict[str, Any], *, as_json: bool) -> None:
    if as_json:
        print_json(row)
    else:
        print_table([row], ("extension_id", "from", "to", "status", "reason"))
