"""``ece-uploader replay``: deliver objects already in a bucket to the function again.

Selects object versions (each key's current version, or every version with
``--all-versions``; delete markers never), filters them by their outcome tags
and times, pins each one (version id and ETag) and sends, one event per object,
the S3 ``ObjectCreated`` notification S3 would have sent for it, with the
principal ``replay:<caller>``. The ledger makes this safe in any order and any
number of times: a version already live is not uploaded again (unless
``--force``), an older one stays superseded.

By default only objects whose last outcome is ``failed`` or that have no outcome
yet (``missing``) are replayed: the ones something went wrong with. Name others
with ``--status`` (repeatable, or comma-separated; ``any`` for all).

Targets (``--to``): ``local`` runs the handler in this process; ``function:NAME``
invokes the deployed function (asynchronously, or waiting with ``--wait``);
``batch:FUNCTION_ARN`` writes a manifest and creates an S3 Batch Operations job
that invokes the function for each object (``--role-arn`` required; with
``--wait``, the job's completion report is read back).

Exit 0 when nothing failed, 1 when an object failed or the handler raised, 2 on
usage or I/O errors.
"""

from __future__ import annotations

import argparse
import csv
import getpass
import io
import json
import re
import sys
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, quote_plus, unquote_plus

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
from ece_uploader.commands.delivery import (
    FAILED,
    Result,
    add_target_arguments,
    any_failed,
    deliver_all,
    print_summary,
    summarise,
    wants_progress,
)

STATUSES = ("uploaded", "rejected", "failed", "skipped", "missing")
DEFAULT_STATUSES = ("failed", "missing")
MISSING = "missing"
DEFAULT_SUFFIX = ".zip"
# Where the command keeps what it writes into the bucket (Batch Operations manifests and
# reports); never replayed itself.
REPLAYS_PREFIX = "ece-uploader/replays/"
CONFIGURATION_ID = "ece-uploader-replay"
MANIFEST_FORMAT = "S3BatchOperations_CSV_20180820"
REPORT_FORMAT = "Report_CSV_20180820"
BATCH_DONE = ("Complete", "Failed", "Cancelled")
# Batch Operations: first pause between two looks at the job, then doubled up to the cap.
POLL_FIRST_SECONDS = 2.0
POLL_MAX_SECONDS = 30.0
DRY_RUN_COLUMNS = ("key", "version_id", "last_modified", "size", "status", "reason", "extension")
RELATIVE = re.compile(r"^(\d+)\s*([smhdw])$")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "replay",
        help="deliver objects already in a bucket to the function again",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--bucket", required=True, help="the bucket to replay from")
    parser.add_argument("--prefix", default="", help="only keys under this prefix")
    parser.add_argument(
        "--suffix",
        default=DEFAULT_SUFFIX,
        help="only keys ending so, in any case (default: .zip; '' for every key)",
    )
    parser.add_argument(
        "--status",
        action="append",
        metavar="STATUS",
        help=(
            "last outcome to replay: uploaded, rejected, failed, skipped, missing (no outcome"
            " tag yet) or any; repeatable or comma-separated (default: failed,missing)"
        ),
    )
    parser.add_argument("--reason", action="append", metavar="R", help="only this outcome reason")
    parser.add_argument("--extension", metavar="ID", help="only objects tagged for this extension")
    parser.add_argument("--since", metavar="T", help="LastModified at or after T (ISO 8601, 2h)")
    parser.add_argument("--until", metavar="T", help="LastModified before T (ISO 8601, 3d)")
    parser.add_argument(
        "--all-versions",
        action="store_true",
        help="every version of each key, not only the current one",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="upload again versions the ledger says are live (never an older object)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="list what would be replayed; send nothing"
    )
    parser.add_argument("--role-arn", help="batch: the role S3 Batch Operations assumes")
    add_target_arguments(parser, batch=True)
    add_common_arguments(parser)
    parser.set_defaults(func=run)


# --- selection -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """One object version, pinned: what the replay names."""

    bucket: str
    key: str
    version_id: str | None  # None in an unversioned bucket (S3's "null" version)
    etag: str
    size: int
    last_modified: datetime
    tags: Mapping[str, str] | None = None  # read only when a filter needs them

    @property
    def status(self) -> str | None:
        from extension_uploader.outcome import TAG_STATUS

        if self.tags is None:
            return None
        return self.tags.get(TAG_STATUS) or MISSING

    @property
    def reason(self) -> str | None:
        from extension_uploader.outcome import TAG_REASON

        return None if self.tags is None else self.tags.get(TAG_REASON)

    def to_json(self, extension_tag: str) -> dict[str, Any]:
        return {
            "bucket": self.bucket,
            "key": self.key,
            "version_id": self.version_id,
            "etag": self.etag,
            "size": self.size,
            "last_modified": f"{self.last_modified:%Y-%m-%dT%H:%M:%SZ}",
            "status": self.status,
            "reason": self.reason,
            "extension_id": None if self.tags is None else self.tags.get(extension_tag),
        }


@dataclass(frozen=True)
class Selection:
    statuses: frozenset[str] | None  # None: any
    reasons: frozenset[str] = frozenset()
    extension: str | None = None
    extension_tag: str = "ece-extension-id"
    since: datetime | None = None
    until: datetime | None = None
    prefix: str = ""
    suffix: str = DEFAULT_SUFFIX
    all_versions: bool = False

    @property
    def needs_tags(self) -> bool:
        return self.statuses is not None or bool(self.reasons) or self.extension is not None

    def wants_version(self, version: Mapping[str, Any]) -> bool:
        key: str = version["Key"]
        if key.startswith(REPLAYS_PREFIX) or key.endswith("/"):
            return False
        if self.suffix and not key.lower().endswith(self.suffix.lower()):
            return False
        if not self.all_versions and not version.get("IsLatest", True):
            return False
        modified: datetime = version["LastModified"]
        if self.since and modified < self.since:
            return False
        return not (self.until and modified >= self.until)

    def wants_tags(self, candidate: Candidate) -> bool:
        if self.statuses is not None and candidate.status not in self.statuses:
            return False
        if self.reasons and candidate.reason not in self.reasons:
            return False
        tags = candidate.tags or {}
        return self.extension is None or tags.get(self.extension_tag) == self.extension


def parse_statuses(values: Sequence[str] | None) -> frozenset[str] | None:
    """``--status`` values (repeatable, comma-separated) as a set; None for ``any``."""
    names = [
        part.strip().lower() for value in values or [] for part in value.split(",") if part.strip()
    ]
    if not names:
        return frozenset(DEFAULT_STATUSES)
    if "any" in names:
        return None
    unknown = sorted(set(names) - set(STATUSES))
    if unknown:
        raise UsageError(f"--status {','.join(unknown)}: expected {', '.join(STATUSES)} or any")
    return frozenset(names)


def parse_time(text: str | None, now: datetime | None = None) -> datetime | None:
    """ISO 8601 (UTC unless it says otherwise), or a span ago: ``90s``, ``30m``, ``2h``, ``3d``."""
    if text is None:
        return None
    now = now or datetime.now(UTC)
    if match := RELATIVE.match(text.strip()):
        amount, unit = int(match[1]), match[2]
        return now - timedelta(**{UNITS[unit]: amount})
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"{text!r}: expected ISO 8601 (2026-11-30T09:00Z) or 2h, 3d") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def select(s3: Any, bucket: str, selection: Selection, *, concurrency: int = 4) -> list[Candidate]:
    """The versions to replay, newest first (the newest upload wins; older ones then skip)."""
    candidates = [
        _candidate(bucket, version)
        for version in _versions(s3, bucket, selection.prefix)
        if selection.wants_version(version)
    ]
    if selection.needs_tags:
        with ThreadPoolExecutor(max(1, concurrency)) as pool:
            candidates = list(pool.map(lambda c: replace(c, tags=_tags(s3, c)), candidates))
        candidates = [c for c in candidates if selection.wants_tags(c)]
    return sorted(candidates, key=lambda c: (c.last_modified, c.key), reverse=True)


def _versions(s3: Any, bucket: str, prefix: str) -> Iterator[dict[str, Any]]:
    """Every object version under ``prefix`` (delete markers are listed apart: never here)."""
    paginator = s3.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        yield from page.get("Versions", [])


def _candidate(bucket: str, version: Mapping[str, Any]) -> Candidate:
    version_id = version.get("VersionId")
    return Candidate(
        bucket=bucket,
        key=version["Key"],
        version_id=None if version_id in (None, "", "null") else version_id,
        etag=str(version.get("ETag", "")).strip('"'),
        size=int(version.get("Size", 0)),
        last_modified=version["LastModified"],
    )


def _tags(s3: Any, candidate: Candidate) -> dict[str, str]:
    address: dict[str, Any] = {"Bucket": candidate.bucket, "Key": candidate.key}
    if candidate.version_id:
        address["VersionId"] = candidate.version_id
    reply = s3.get_object_tagging(**address)
    return {tag["Key"]: tag["Value"] for tag in reply.get("TagSet", [])}


# --- events ----------------------------------------------------------------------------------


def notification(
    candidate: Candidate, principal: str, region: str, *, force: bool = False
) -> dict[str, Any]:
    """The ``ObjectCreated`` notification S3 would send for this version (one record)."""
    from extension_uploader.events import REPLAY_MARKER

    obj: dict[str, Any] = {
        "key": quote_plus(candidate.key, safe="/"),
        "size": candidate.size,
        "eTag": candidate.etag,
    }
    if candidate.version_id:
        obj["versionId"] = candidate.version_id
    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": region,
        "eventTime": candidate.last_modified.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": principal},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": CONFIGURATION_ID,
            "bucket": {"name": candidate.bucket, "arn": f"arn:aws:s3:::{candidate.bucket}"},
            "object": obj,
        },
    }
    event: dict[str, Any] = {"Records": [record]}
    if force:
        event[REPLAY_MARKER] = {"force": True}
    return event


def manifest_csv(candidates: Sequence[Candidate]) -> str:
    """A Batch Operations CSV manifest: ``bucket,key,versionId``, keys URL-encoded.

    ``quote`` never writes ``+`` nor a space, so the key reads back the same with
    either URL decoding; commas and quotes in keys are encoded too.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for candidate in candidates:
        writer.writerow(
            [candidate.bucket, quote(candidate.key, safe="/"), candidate.version_id or ""]
        )
    return out.getvalue()


def manifest_rows(text: str) -> list[tuple[str, str, str | None]]:
    """(bucket, URL-encoded key, version id) of each manifest line, as S3 reads them."""
    rows = []
    for row in csv.reader(io.StringIO(text)):
        if not row:
            continue
        bucket, key = row[0], row[1]
        version = row[2] if len(row) > 2 and row[2] else None
        rows.append((bucket, key, version))
    return rows


def batch_event(
    rows: Iterable[tuple[str, str, str | None]],
    *,
    job_id: str = "local",
    force: bool = False,
) -> dict[str, Any]:
    """The Batch Operations (schema 2.0) event that invokes the function for manifest rows.

    The keys stay URL-encoded, as Batch Operations passes them.
    """
    from extension_uploader.events import BATCH_FORCE_ARGUMENT

    job: dict[str, Any] = {"id": job_id}
    if force:
        job["userArguments"] = {BATCH_FORCE_ARGUMENT: "true"}
    return {
        "invocationSchemaVersion": "2.0",
        "invocationId": uuid.uuid4().hex,
        "job": job,
        "tasks": [
            {
                "taskId": f"task-{index}",
                "s3Bucket": bucket,
                "s3Key": key,
                "s3VersionId": version,
            }
            for index, (bucket, key, version) in enumerate(rows)
        ],
    }


# --- the command -----------------------------------------------------------------------------


@dataclass
class Report:
    """What the command prints: the selection, and what became of it."""

    selected: list[Candidate]
    extension_tag: str
    results: list[Result] = field(default_factory=list)
    dry_run: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "selected": len(self.selected),
            "dry_run": self.dry_run,
            "objects": [c.to_json(self.extension_tag) for c in self.selected],
            "results": [result.to_json() for result in self.results],
            "summary": summarise(self.results),
            **self.extra,
        }


def run(args: argparse.Namespace) -> int:
    try:
        context = Context.from_args(args)
        report = replay(context, args)
    except UsageError as exc:
        return fail("replay", str(exc))
    return show(report, as_json=args.json)


def replay(context: Context, args: argparse.Namespace) -> Report:
    from extension_uploader.config import DEFAULT_EXTENSION_ID_TAG

    extension_tag = context.env.get("EXTENSION_ID_TAG") or DEFAULT_EXTENSION_ID_TAG
    selection = Selection(
        statuses=parse_statuses(args.status),
        reasons=frozenset(args.reason or ()),
        extension=args.extension,
        extension_tag=extension_tag,
        since=parse_time(args.since),
        until=parse_time(args.until),
        prefix=args.prefix,
        suffix=args.suffix,
        all_versions=args.all_versions,
    )
    target = args.to
    if target.startswith("batch:") and not args.role_arn and not args.dry_run:
        raise UsageError("--to batch:FUNCTION_ARN needs --role-arn")
    s3 = context.client("s3")
    try:
        selected = select(s3, args.bucket, selection, concurrency=args.concurrency)
    except _client_errors() as exc:
        raise UsageError(f"cannot list s3://{args.bucket}: {exc}") from None
    report = Report(selected, extension_tag, dry_run=args.dry_run)
    if args.dry_run or not selected:
        return report
    principal, account = _caller(context)
    if target.startswith("batch:"):
        return _replay_by_batch(
            context,
            s3,
            args,
            report,
            account=account,
            principal=principal,
            show_progress=wants_progress(args.json),
        )
    region = s3.meta.region_name or "us-east-1"
    events = [notification(c, principal, region, force=args.force) for c in selected]
    delivered = deliver_all(
        events, lambda chosen, event: chosen.deliver(event), context, args, to=target, verb="replay"
    )
    for candidate, results in zip(selected, delivered, strict=True):
        report.results.extend(_pinned(candidate, result) for result in results)
    return report


def _pinned(candidate: Candidate, result: Result) -> Result:
    """The result named by the version the replay pinned, where the function did not say."""
    return Result(
        result.bucket or candidate.bucket,
        result.key or candidate.key,
        result.version_id or candidate.version_id,
        result.status,
        result.reason,
    )


def _caller(context: Context) -> tuple[str, str | None]:
    """``replay:<caller ARN>`` for the audit trail, and the account id (Batch Operations)."""
    try:
        identity = context.client("sts").get_caller_identity()
    except _client_errors():
        return f"replay:{getpass.getuser()}"[:256], None
    return f"replay:{identity['Arn']}"[:256], identity.get("Account")


def _client_errors() -> tuple[type[Exception], ...]:
    from botocore.exceptions import BotoCoreError, ClientError

    return (BotoCoreError, ClientError)


# --- Batch Operations ------------------------------------------------------------------------


def _replay_by_batch(
    context: Context,
    s3: Any,
    args: argparse.Namespace,
    report: Report,
    *,
    account: str | None,
    principal: str,
    show_progress: bool,
) -> Report:
    function_arn = args.to.removeprefix("batch:")
    if not function_arn:
        raise UsageError("--to batch:FUNCTION_ARN: name the function's ARN")
    if account is None:
        raise UsageError("cannot tell the account id (STS GetCallerIdentity failed)")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    base = f"{REPLAYS_PREFIX}{stamp}-{uuid.uuid4().hex[:6]}"
    manifest_key = f"{base}/manifest.csv"
    try:
        put = s3.put_object(
            Bucket=args.bucket,
            Key=manifest_key,
            Body=manifest_csv(report.selected).encode(),
            ContentType="text/csv",
        )
    except _client_errors() as exc:
        raise UsageError(f"cannot write the manifest: {exc}") from None
    location: dict[str, Any] = {
        "ObjectArn": f"arn:aws:s3:::{args.bucket}/{manifest_key}",
        "ETag": put["ETag"].strip('"'),
    }
    if put.get("VersionId"):
        location["ObjectVersionId"] = put["VersionId"]
    operation: dict[str, Any] = {"FunctionArn": function_arn, "InvocationSchemaVersion": "2.0"}
    if args.force:
        from extension_uploader.events import BATCH_FORCE_ARGUMENT

        operation["UserArguments"] = {BATCH_FORCE_ARGUMENT: "true"}
    s3control = context.client("s3control")
    try:
        job_id: str = s3control.create_job(
            AccountId=account,
            ConfirmationRequired=False,
            Operation={"LambdaInvoke": operation},
            Report={
                "Bucket": f"arn:aws:s3:::{args.bucket}",
                "Format": REPORT_FORMAT,
                "Enabled": True,
                "Prefix": f"{base}/report",
                "ReportScope": "AllTasks",
            },
            ClientRequestToken=uuid.uuid4().hex,
            Manifest={
                "Spec": {"Format": MANIFEST_FORMAT, "Fields": ["Bucket", "Key", "VersionId"]},
                "Location": location,
            },
            Description=f"ece-uploader replay of {len(report.selected)} object(s) by {principal}"[
                :256
            ],
            Priority=10,
            RoleArn=args.role_arn,
        )["JobId"]
    except _client_errors() as exc:
        raise UsageError(f"cannot create the Batch Operations job: {exc}") from None
    report.extra = {"job_id": job_id, "manifest": f"s3://{args.bucket}/{manifest_key}"}
    if not args.json:
        print(f"Batch Operations job {job_id} created", file=sys.stderr)
    if not args.wait:
        report.results = [
            Result(c.bucket, c.key, c.version_id, "submitted", f"batch.{job_id}")
            for c in report.selected
        ]
        return report
    job = _wait_for_job(s3control, account, job_id, len(report.selected), show_progress)
    report.extra["job_status"] = job.get("Status")
    report_prefix = f"{base}/report/job-{job_id}/"
    report.results = _read_completion_report(s3, args.bucket, report_prefix, report.selected)
    if job.get("Status") != "Complete":
        reasons = "; ".join(r.get("FailureReason", "") for r in job.get("FailureReasons", []))
        report.extra["job_failure"] = reasons or job.get("StatusUpdateReason")
        done = {(r.key, r.version_id) for r in report.results}
        report.results += [
            Result(c.bucket, c.key, c.version_id, FAILED, f"batch.job_{job.get('Status')}".lower())
            for c in report.selected
            if (c.key, c.version_id) not in done
        ]
    return report


def _wait_for_job(
    s3control: Any, account: str, job_id: str, total: int, show_progress: bool
) -> dict[str, Any]:
    """``describe_job`` until the job ends, pausing longer each time."""
    from tqdm import tqdm

    pause = POLL_FIRST_SECONDS
    with tqdm(total=total, desc=f"job {job_id[:8]}", unit="task", disable=not show_progress) as bar:
        while True:
            job: dict[str, Any] = s3control.describe_job(AccountId=account, JobId=job_id)["Job"]
            progress = job.get("ProgressSummary", {})
            done = progress.get("NumberOfTasksSucceeded", 0) + progress.get(
                "NumberOfTasksFailed", 0
            )
            bar.update(max(0, done - bar.n))
            if job.get("Status") in BATCH_DONE:
                return job
            time.sleep(pause)
            pause = min(pause * 2, POLL_MAX_SECONDS)


def _read_completion_report(
    s3: Any, bucket: str, prefix: str, selected: Sequence[Candidate]
) -> list[Result]:
    """The job's completion report: its ``manifest.json`` names the result CSV files."""
    try:
        top = json.loads(s3.get_object(Bucket=bucket, Key=f"{prefix}manifest.json")["Body"].read())
        files = [(entry["Bucket"], entry["Key"]) for entry in top.get("Results", [])]
    except _client_errors():
        listing = s3.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}results/")
        files = [(bucket, entry["Key"]) for entry in listing.get("Contents", [])]
    known = {(c.key, c.version_id): c for c in selected}
    results: list[Result] = []
    for file_bucket, key in files:
        text = s3.get_object(Bucket=file_bucket, Key=key)["Body"].read().decode()
        for row in csv.reader(io.StringIO(text)):
            if len(row) < 7:
                continue
            results.append(_report_result(row, known))
    return results


def _report_result(row: list[str], known: Mapping[tuple[str, str | None], Candidate]) -> Result:
    """One report line: Bucket, Key, VersionId, TaskStatus, ErrorCode, HTTPStatusCode, Message."""
    bucket, raw_key, version, task_status, error_code, _, message = row[:7]
    version_id = version or None
    key = raw_key if (raw_key, version_id) in known else unquote_plus(raw_key)
    status, _, reason = message.partition(": ")
    if status not in (*STATUSES, FAILED) or not reason:
        status = FAILED if task_status.lower() != "succeeded" else "done"
        reason = f"batch.{error_code}" if error_code else (message or "-")
    return Result(bucket, key, version_id, status, reason)


def show(report: Report, *, as_json: bool = False) -> int:
    if as_json:
        print_json(report.to_json())
    elif report.dry_run:
        rows = [c.to_json(report.extension_tag) for c in report.selected]
        for row in rows:
            row["extension"] = row.pop("extension_id")
        print_table(rows, DRY_RUN_COLUMNS)
        print(f"{len(report.selected)} object(s) would be replayed")
    elif not report.selected:
        print("no object matches: nothing replayed")
    else:
        print_summary(summarise(report.results))
        print(f"{len(report.selected)} object(s) replayed")
    return EXIT_NEGATIVE if any_failed(report.results) else EXIT_OK
