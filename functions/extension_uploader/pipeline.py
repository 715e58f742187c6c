"""The story of one object: from an S3 event record to an outcome on the object.

Read :func:`process_object` top to bottom: head the exact version, decide whether
there is anything to do, read the target extension from the tags, ask ECE about
it, download with bounded memory, inspect, repack if needed, upload, then tag
the object and emit metrics and one log line. Expected results are values
(:class:`Outcome`); adapters raise typed errors that carry their retry semantics.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from extension_uploader import reasons
from extension_uploader.announce import AnnounceError, OutcomeEvents
from extension_uploader.config import Settings
from extension_uploader.credentials import SecretError
from extension_uploader.deadline import Deadline
from extension_uploader.ece import EceClient, Extension, is_safe_extension_id
from extension_uploader.ece_errors import EceError
from extension_uploader.events import ObjectRef
from extension_uploader.inspection import (
    ExtensionInfo,
    RepackError,
    inspect_stream,
    repack_deflate64,
)
from extension_uploader.ledger import ExtensionRecord, Lease, Ledger, LedgerError, LiveEntry
from extension_uploader.objects import ObjectInfo, ObjectStore, StorageError
from extension_uploader.ordering import ObjectVersion, Verdict, compare
from extension_uploader.outcome import (
    TAG_REPLACE_IN_USE,
    TAG_STATUS,
    Outcome,
    Status,
    format_timestamp,
    merge_tags,
    outcome_tags,
)
from extension_uploader.overlap import download_and_inspect
from extension_uploader.telemetry import logger, record_outcome

HASH_CHUNK_BYTES = 1024 * 1024
# Work on an object starts only with this much time left: a download, an
# inspection and an upload cannot finish in less.
MIN_SECONDS_TO_START = 5.0
# Deployment ids kept in the log line and the ledger (ECE may list thousands).
MAX_DEPLOYMENT_IDS = 20


@dataclass
class Runtime:
    """What the pipeline needs, built once per warm container."""

    settings: Settings
    objects: ObjectStore
    ece: EceClient
    ledger: Ledger
    events: OutcomeEvents | None = None  # OUTCOME_EVENT_BUS, when set
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))


@dataclass
class _Facts:
    """What was learnt along the way, for the tags and the log line."""

    info: ObjectInfo | None = None
    extension_id: str | None = None
    # The ledger keeps the outcome of objects aimed at an extension it holds, or that
    # ECE's pre-flight found: never for ids that may not exist.
    tracked: bool = False
    deployments: tuple[str, ...] = ()  # those using the extension, as the pre-flight saw
    log: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ObjectResult:
    ref: ObjectRef
    outcome: Outcome
    extension_id: str | None
    version_id: str | None

    @property
    def retry(self) -> bool:
        """True when the platform should deliver this object's event again."""
        return self.outcome.transient

    def to_dict(self) -> dict[str, Any]:
        return {
            "bucket": self.ref.bucket,
            "key": self.ref.key,
            "version_id": self.version_id,
            "extension_id": self.extension_id,
            "status": self.outcome.status.value,
            "reason": self.outcome.reason,
            "sha256": self.outcome.sha256,
            "bytes": self.outcome.uploaded_bytes,
            "principal": self.ref.principal,
        }


def process_object(
    ref: ObjectRef, runtime: Runtime, deadline: Deadline, request_id: str = "local"
) -> ObjectResult:
    """Decide, act and record the outcome for one object version. Never raises for bad input."""
    started = time.perf_counter()
    facts = _Facts(log={"request_id": request_id})
    try:
        outcome = _check_and_upload(ref, runtime, deadline, facts, request_id)
    except LedgerError as error:
        outcome = Outcome.failed(error.reason, transient=error.transient, detail=str(error))
    except StorageError as error:
        outcome = _storage_outcome(error)
    except SecretError as error:
        outcome = Outcome.failed(error.reason, transient=error.transient, detail=str(error))
    except EceError as error:
        outcome = _ece_outcome(error)
    if facts.info is not None and outcome.record_tags:
        outcome = _write_outcome_tags(ref, facts.info, outcome, runtime)
    if facts.tracked and facts.extension_id:
        _remember_outcome(ref, facts, outcome, runtime, request_id)
    result = ObjectResult(
        ref, outcome, facts.extension_id, facts.info.version_id if facts.info else ref.version_id
    )
    if runtime.events is not None:
        _announce(result, facts, runtime.events)
    record_outcome(
        ref,
        outcome,
        extension_id=facts.extension_id,
        version_id=result.version_id,
        milliseconds=(time.perf_counter() - started) * 1000,
        extra=facts.log,
        deployments_in_use=len(facts.deployments),
    )
    return result


def _check_and_upload(
    ref: ObjectRef, runtime: Runtime, deadline: Deadline, facts: _Facts, request_id: str
) -> Outcome:
    settings = runtime.settings
    if not deadline.allows(MIN_SECONDS_TO_START):
        return Outcome.failed(reasons.LAMBDA_OUT_OF_TIME, transient=True)

    info = facts.info = runtime.objects.head(ref)
    facts.log["object_bytes"] = info.size
    if ref.etag and ref.version_id is None and info.etag != ref.etag:
        # Unversioned: the object there now is a newer one with its own event; its
        # tags are not ours to write.
        return Outcome.skipped(
            reasons.OBJECT_CHANGED, record_tags=False, detail="overwritten since the event"
        )
    if not ref.rollback and (stale := _not_current(ref, info, runtime)):
        return stale
    if info.size == 0:
        return Outcome.rejected(reasons.OBJECT_EMPTY)
    if info.size > settings.max_zip_bytes:
        return Outcome.rejected(
            reasons.OBJECT_TOO_LARGE, detail=f"{info.size} bytes > {settings.max_zip_bytes}"
        )

    extension_id = facts.extension_id = _extension_id(info, settings.extension_id_tag)
    if extension_id is None:
        return Outcome.rejected(reasons.TAG_MISSING_EXTENSION_ID)
    if not is_safe_extension_id(extension_id):
        facts.extension_id = None  # an unsafe value does not even go to the log as an id
        return Outcome.rejected(reasons.TAG_INVALID_EXTENSION_ID)
    if not settings.targets.permits(ref.key, extension_id):
        return Outcome.rejected(reasons.TAG_EXTENSION_NOT_ALLOWED, detail=f"key {ref.key}")
    candidate = _version(ref, info)
    record = runtime.ledger.read(extension_id)
    facts.tracked = record.live is not None
    if settled := _settled_by_ledger(
        record, candidate, info, runtime, holder="", rollback=ref.rollback, force=ref.force
    ):  # no lease of ours yet: any holder is another invocation
        return settled

    extension = runtime.ece.get_extension(extension_id, deadline)
    _note_extension(facts, extension)
    if extension.deployments and _refused_in_use(ref, info, settings):
        return Outcome.rejected(
            reasons.EXTENSION_IN_USE,
            detail=f"{len(extension.deployments)} deployment(s) use it; tag the object"
            f" {TAG_REPLACE_IN_USE}=true to replace its file anyway",
        )

    with TemporaryDirectory(prefix="ece-upload-") as workdir:
        archive = Path(workdir) / "object.zip"
        kind = ExtensionInfo(extension.extension_type, extension.version)
        download, report = download_and_inspect(
            runtime.objects,
            ref,
            info,
            archive,
            inspect=lambda fh, size: inspect_stream(fh, size, settings.limits, kind, name=ref.key),
            deadline=deadline,
        )
        facts.log.update(entries=report.entries, uncompressed_bytes=report.uncompressed_bytes)
        if report.warnings:
            facts.log["warnings"] = [problem.message for problem in report.warnings]
        if not report.ok or download is None:
            first = report.problems[0]
            return Outcome.rejected(first.code, detail=f"{first.entry or '-'}: {first.message}")

        sha256, size = download.sha256, download.size
        if report.deflate64_entries:
            repacked = Path(workdir) / "repacked.zip"
            try:
                repack_deflate64(archive, repacked)
            except RepackError as error:  # only if the file changed under us since inspection
                return Outcome.rejected(reasons.ZIP_CORRUPT, detail=f"repack failed: {error}")
            archive, size, sha256 = repacked, repacked.stat().st_size, _sha256(repacked)
            facts.log["repacked_deflate64_entries"] = report.deflate64_entries

        if settings.dry_run:
            return Outcome.skipped(reasons.UPLOAD_DRY_RUN, detail=f"would upload {sha256}")
        upload = _Upload(
            ref, info, extension_id, candidate, archive, sha256, size, extension.deployments
        )
        return _publish(upload, runtime, deadline, request_id)


@dataclass(frozen=True)
class _Upload:
    """A checked file, ready to go: what it is, where it goes, what it came from."""

    ref: ObjectRef
    info: ObjectInfo
    extension_id: str
    candidate: ObjectVersion
    archive: Path
    sha256: str
    size: int
    deployments: tuple[str, ...]  # those using the extension, as the pre-flight saw


class _Withdrawn(Exception):
    """Raised before a PUT attempt when the object is no longer the one to upload."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.reason)
        self.outcome = outcome


def _publish(upload: _Upload, runtime: Runtime, deadline: Deadline, request_id: str) -> Outcome:
    """Upload under the extension's lease, deciding "is this still the newest?" right before."""
    holder = f"{request_id}/{uuid.uuid4().hex[:12]}"
    lease = runtime.ledger.acquire(upload.extension_id, holder, upload.candidate, deadline)
    if lease is None:
        return Outcome.skipped(
            reasons.UPLOAD_DUPLICATE, record_tags=False, detail="another invocation uploads it"
        )
    with lease:

        def still_the_newest() -> None:
            if upload.ref.rollback:
                return  # an older version on purpose
            if stale := _not_current(upload.ref, upload.info, runtime):
                raise _Withdrawn(stale)

        try:  # the S3 side is checked by still_the_newest before every PUT attempt
            if settled := _settled_by_ledger(
                lease.record,
                upload.candidate,
                upload.info,
                runtime,
                holder=holder,
                rollback=upload.ref.rollback,
                force=upload.ref.force,
            ):
                return settled
            extension = _upload_verified(upload, runtime, deadline, lease, still_the_newest)
        except _Withdrawn as withdrawn:
            return withdrawn.outcome
        rollback = upload.ref.rollback
        lease.commit(
            LiveEntry(
                object=upload.candidate,
                # A rollback is live as of now, to the microsecond: objects S3 stamped with
                # this second or earlier (its LastModified has no fraction) stay superseded.
                order_at=runtime.now() if rollback else upload.candidate.last_modified,
                sha256=upload.sha256,
                size=upload.size,
                at=runtime.now(),
                request_id=request_id,
                principal=upload.ref.principal,
                source_ip=upload.ref.source_ip,
                ece_size=extension.file_size,
                ece_last_modified=extension.file_last_modified,
                via="rollback" if rollback else "upload",
                deployments=upload.deployments[:MAX_DEPLOYMENT_IDS],
                deployments_count=len(upload.deployments),
            )
        )
    return Outcome.uploaded(upload.sha256, upload.size)


def _upload_verified(
    upload: _Upload,
    runtime: Runtime,
    deadline: Deadline,
    lease: Lease,
    before_attempt: Callable[[], None],
) -> Extension:
    """PUT the file; a size ECE got wrong is tried once more, then left for a retry."""
    try:
        return runtime.ece.upload(upload.extension_id, upload.archive, deadline, before_attempt)
    except EceError as error:
        if error.reason != reasons.ECE_SIZE_MISMATCH:
            raise
        first = error.server_message
    try:
        return runtime.ece.upload(upload.extension_id, upload.archive, deadline, before_attempt)
    except EceError as error:
        if error.reason != reasons.ECE_SIZE_MISMATCH:
            raise
        # ECE now serves a cut file: say so in the ledger, and let the platform retry.
        lease.flag_attention(reasons.ECE_SIZE_MISMATCH, upload.candidate, f"{first}; then {error}")
        raise EceError(
            reasons.ECE_SIZE_MISMATCH,
            transient=True,
            server_message=f"twice: {error.server_message}",
        ) from None


def _not_current(ref: ObjectRef, info: ObjectInfo, runtime: Runtime) -> Outcome | None:
    """Skipped when a newer version of the key exists, or the key was deleted since."""
    if not info.version_id:
        return None
    latest = runtime.objects.latest_version_id(ref)
    if latest is None:
        # A delete marker: deleted keys are never tagged.
        return Outcome.skipped(
            reasons.OBJECT_DELETED, record_tags=False, detail="the key was deleted since"
        )
    if latest != info.version_id:
        return Outcome.skipped(reasons.UPLOAD_SUPERSEDED, detail=f"newer version {latest}")
    return None


def _settled_by_ledger(
    record: ExtensionRecord,
    candidate: ObjectVersion,
    info: ObjectInfo,
    runtime: Runtime,
    *,
    holder: str,
    rollback: bool,
    force: bool,
) -> Outcome | None:
    """A duplicate or a superseded object, by what the ledger says is live or being uploaded.

    A rollback is superseded by nothing: only the very version live already stops it.
    A forced replay uploads the version live already once more; it is superseded all the same.
    """
    now_ms = int(runtime.now().timestamp() * 1000)
    if record.lease_object == candidate.identity and record.leased_to_other(holder, now_ms):
        return Outcome.skipped(
            reasons.UPLOAD_DUPLICATE, record_tags=False, detail="another invocation uploads it"
        )
    live = record.live
    if live is None:
        return None
    verdict = compare(candidate, live.object, live.order_at, candidate_is_current=True)
    if rollback and verdict is Verdict.OLDER:
        return None
    if verdict is Verdict.SAME and not force:
        # Tags a failed write left missing are put back; otherwise they stand as they are.
        shown = info.tags.get(TAG_STATUS) == Status.UPLOADED
        return Outcome.duplicate(live.sha256, live.size, retag=not shown)
    if verdict is Verdict.OLDER:
        return Outcome.skipped(reasons.UPLOAD_SUPERSEDED, detail=f"{live.object.identity} is live")
    return None


def _note_extension(facts: _Facts, extension: Extension) -> None:
    """What the pre-flight said, for the log line, the ledger and the outcome event."""
    facts.tracked = True
    facts.deployments = extension.deployments
    facts.log.update(
        extension_type=extension.extension_type,
        extension_version=extension.version,
        deployments_in_use=len(extension.deployments),
    )
    if extension.deployments:
        facts.log["deployment_ids"] = list(extension.deployments[:MAX_DEPLOYMENT_IDS])


def _refused_in_use(ref: ObjectRef, info: ObjectInfo, settings: Settings) -> bool:
    """IN_USE_POLICY=refuse guards automatic replacements; a rollback is the operator's call."""
    override = info.tags.get(TAG_REPLACE_IN_USE, "").strip().lower() == "true"
    return settings.in_use_policy == "refuse" and not override and not ref.rollback


def _version(ref: ObjectRef, info: ObjectInfo) -> ObjectVersion:
    return ObjectVersion(ref.bucket, ref.key, info.version_id, info.etag, info.last_modified)


def _extension_id(info: ObjectInfo, tag: str) -> str | None:
    value = info.tags.get(tag, "").strip()
    return value or None


def _storage_outcome(error: StorageError) -> Outcome:
    if error.reason in (reasons.OBJECT_DELETED, reasons.OBJECT_CHANGED):
        # Gone, or replaced by an object with its own event: nothing of ours to tag.
        return Outcome.skipped(error.reason, record_tags=False, detail=str(error))
    return Outcome.failed(error.reason, transient=error.transient, detail=str(error))


def _ece_outcome(error: EceError) -> Outcome:
    detail = error.server_message or str(error)
    if error.refused_file:
        return Outcome.rejected(error.reason, detail=detail)
    return Outcome.failed(error.reason, transient=error.transient, detail=detail)


def _write_outcome_tags(
    ref: ObjectRef, info: ObjectInfo, outcome: Outcome, runtime: Runtime
) -> Outcome:
    """Merge the outcome into the tags as they are now (the user may have added some)."""
    try:
        current = runtime.objects.read_tags(ref, info)
        merged = merge_tags(current, outcome_tags(outcome, runtime.now()))
        if merged.dropped:
            logger.warning(
                "no room for every outcome tag: S3 allows 10 per object",
                extra={"key": ref.key, "dropped_tags": list(merged.dropped)},
            )
        runtime.objects.write_tags(ref, info, merged.tags)
    except StorageError as error:
        logger.error(
            "could not write the outcome tags",
            extra={"key": ref.key, "reason": error.reason, "error": str(error)},
        )
        if error.transient and not outcome.transient:
            # Without its tags the outcome is invisible: let the platform try again.
            return replace(outcome, transient=True)
    return outcome


def _remember_outcome(
    ref: ObjectRef, facts: _Facts, outcome: Outcome, runtime: Runtime, request_id: str
) -> None:
    """The extension's recent outcomes in the ledger, for ``ece-uploader status``."""
    assert facts.extension_id is not None and facts.info is not None  # both from the head
    entry = {
        "at": format_timestamp(runtime.now()),
        "bucket": ref.bucket,
        "key": ref.key,
        "version_id": facts.info.version_id,
        "status": outcome.status.value,
        "reason": outcome.reason,
        "request_id": request_id,
        "principal": ref.principal,
    }
    try:
        runtime.ledger.record_outcome(facts.extension_id, entry)
    except LedgerError as error:  # history only: the outcome itself stands
        logger.warning(
            "could not keep the outcome in the ledger",
            extra={"key": ref.key, "reason": error.reason, "error": str(error)},
        )


def _announce(result: ObjectResult, facts: _Facts, events: OutcomeEvents) -> None:
    """The outcome on the EventBridge bus; a failure to send it is logged, never retried."""
    detail = result.to_dict() | {
        "source_ip": result.ref.source_ip,
        "deployments_in_use": len(facts.deployments),
    }
    try:
        events.publish(detail)
    except AnnounceError as error:
        logger.warning("outcome event not published", extra={"error": str(error)})


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(HASH_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()
