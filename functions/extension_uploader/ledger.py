"""The ledger: what is live in each extension, and the lease that serialises uploads to it.

One DynamoDB item per extension id (partition key ``extension_id``):

- ``live``: the object version ECE holds (bucket, key, version, ETag, SHA-256,
  size, S3 last-modified, when and by which invocation, who put it, what ECE
  reported back), and ``history``: the ones live before it, newest first;
- ``outcomes``: the last few outcomes of objects aimed at the extension;
- ``lease_owner``/``lease_expires``/``lease_object``: the one invocation allowed
  to upload to the extension right now, until the end of its own time at most;
- ``attention``: set when ECE was left holding a file it cut short.

Every write is conditional: the lease is taken only if free, expired or ours;
``live`` changes only under the lease; ``outcomes`` are appended with an
optimistic revision check. Callers never see botocore: failures are
:class:`LedgerError` with ``transient`` set (an unreachable ledger is retried).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from extension_uploader import reasons
from extension_uploader.deadline import Deadline
from extension_uploader.ordering import ObjectVersion

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

HISTORY_LENGTH = 10
OUTCOMES_LENGTH = 10
LEASE_POLL_FIRST_SECONDS = 0.1
LEASE_POLL_MAX_SECONDS = 2.0
# A lease is only worth waiting for while an upload could still follow it.
MIN_SECONDS_AFTER_LEASE = 5.0
OPTIMISTIC_ATTEMPTS = 8

_CONFLICT = "ConditionalCheckFailedException"
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


class LedgerError(Exception):
    """When the ledger cannot be read or written, or the lease cannot be had: retry the event."""

    def __init__(self, reason: str, message: str, *, transient: bool = True) -> None:
        super().__init__(message)
        self.reason = reason
        self.transient = transient


@dataclass(frozen=True)
class LiveEntry:
    """An object version made live in an extension."""

    object: ObjectVersion
    order_at: datetime  # the object's own time, or the moment of a rollback
    sha256: str
    size: int
    at: datetime
    request_id: str
    principal: str
    source_ip: str | None = None
    ece_size: int | None = None
    ece_last_modified: str | None = None  # file_metadata.last_modified_date, for drift checks
    via: str = "upload"  # or "rollback"
    deployments: tuple[str, ...] = ()  # those using the extension when it went live (capped)
    deployments_count: int = 0

    def to_item(self) -> dict[str, Any]:
        obj = self.object
        return {
            "bucket": obj.bucket,
            "key": obj.key,
            "version_id": obj.version_id,
            "etag": obj.etag,
            "last_modified": _iso(obj.last_modified),
            "order_at": _iso(self.order_at),
            "sha256": self.sha256,
            "size": self.size,
            "at": _iso(self.at),
            "request_id": self.request_id,
            "principal": self.principal,
            "source_ip": self.source_ip,
            "ece_size": self.ece_size,
            "ece_last_modified": self.ece_last_modified,
            "via": self.via,
            "deployments": list(self.deployments),
            "deployments_count": self.deployments_count,
        }

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> LiveEntry:
        return cls(
            object=ObjectVersion(
                bucket=item["bucket"],
                key=item["key"],
                version_id=item.get("version_id"),
                etag=item["etag"],
                last_modified=_parse_iso(item["last_modified"]),
            ),
            order_at=_parse_iso(item["order_at"]),
            sha256=item["sha256"],
            size=int(item["size"]),
            at=_parse_iso(item["at"]),
            request_id=item.get("request_id") or "",
            principal=item.get("principal") or "unknown",
            source_ip=item.get("source_ip"),
            ece_size=_int_or_none(item.get("ece_size")),
            ece_last_modified=item.get("ece_last_modified"),
            via=item.get("via") or "upload",
            deployments=tuple(item.get("deployments") or ()),
            deployments_count=int(item.get("deployments_count") or 0),
        )


@dataclass(frozen=True)
class ExtensionRecord:
    """Everything the ledger holds about one extension."""

    extension_id: str
    live: LiveEntry | None = None
    history: tuple[LiveEntry, ...] = ()
    outcomes: tuple[dict[str, Any], ...] = ()
    attention: dict[str, Any] | None = None
    lease_owner: str | None = None
    lease_object: str | None = None
    lease_expires_ms: int = 0
    outcomes_revision: int = 0

    def leased_to_other(self, owner: str, now_ms: int) -> bool:
        return self.lease_owner not in (None, owner) and self.lease_expires_ms > now_ms

    @classmethod
    def from_item(cls, extension_id: str, item: dict[str, Any] | None) -> ExtensionRecord:
        if not item:
            return cls(extension_id)
        plain = {name: _deserializer.deserialize(value) for name, value in item.items()}
        live = plain.get("live")
        return cls(
            extension_id=extension_id,
            live=LiveEntry.from_item(live) if live else None,
            history=tuple(LiveEntry.from_item(entry) for entry in plain.get("history") or ()),
            outcomes=tuple(_plain(entry) for entry in plain.get("outcomes") or ()),
            attention=_plain(plain["attention"]) if plain.get("attention") else None,
            lease_owner=plain.get("lease_owner"),
            lease_object=plain.get("lease_object"),
            lease_expires_ms=int(plain.get("lease_expires") or 0),
            outcomes_revision=int(plain.get("outcomes_revision") or 0),
        )


class Ledger:
    """The DynamoDB table named by ``LEDGER_TABLE`` (client injected)."""

    def __init__(
        self,
        client: DynamoDBClient,
        table: str,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._table = table
        self._clock = clock
        self._sleep = sleep

    def read(self, extension_id: str) -> ExtensionRecord:
        """The extension's record as of now (a strongly consistent read)."""
        with _dynamodb_errors("read"):
            reply = self._client.get_item(
                TableName=self._table, Key=_key(extension_id), ConsistentRead=True
            )
        return ExtensionRecord.from_item(extension_id, reply.get("Item"))

    def records(self) -> Iterator[ExtensionRecord]:
        """Every extension in the ledger (for the command line; the function never scans)."""
        paginator = self._client.get_paginator("scan")
        with _dynamodb_errors("scan"):
            for page in paginator.paginate(TableName=self._table, ConsistentRead=True):
                for item in page.get("Items", []):
                    extension_id = _deserializer.deserialize(item["extension_id"])
                    yield ExtensionRecord.from_item(str(extension_id), item)

    def acquire(
        self, extension_id: str, owner: str, obj: ObjectVersion, deadline: Deadline
    ) -> Lease | None:
        """Take the extension's lease, waiting while another invocation holds it.

        Returns None when the holder is uploading this very object version (a
        duplicate delivery: it must not be uploaded twice). Raises a transient
        :class:`LedgerError` when the lease cannot be had while an upload could
        still follow it.
        """
        wait = LEASE_POLL_FIRST_SECONDS
        while True:
            now_ms = self._now_ms()
            expires_ms = now_ms + int(deadline.seconds_to_end() * 1000)
            try:
                with _dynamodb_errors("take the lease"):
                    reply = self._client.update_item(
                        TableName=self._table,
                        Key=_key(extension_id),
                        UpdateExpression=(
                            "SET lease_owner = :owner, lease_expires = :expires,"
                            " lease_object = :object"
                        ),
                        ConditionExpression=(
                            "attribute_not_exists(lease_owner) OR lease_expires < :now"
                            " OR lease_owner = :owner"
                        ),
                        ExpressionAttributeValues=_values(
                            owner=owner, expires=expires_ms, object=obj.identity, now=now_ms
                        ),
                        ReturnValues="ALL_NEW",
                    )
                record = ExtensionRecord.from_item(extension_id, reply.get("Attributes"))
                return Lease(self, extension_id, owner, record)
            except _Conflict:
                pass
            holder = self.read(extension_id)
            if holder.leased_to_other(owner, self._now_ms()) and holder.lease_object == (
                obj.identity
            ):
                return None
            if not deadline.allows(wait + MIN_SECONDS_AFTER_LEASE):
                raise LedgerError(
                    reasons.LEDGER_BUSY,
                    f"extension {extension_id} stayed leased to another upload",
                )
            self._sleep(wait * random.uniform(0.5, 1.0))  # noqa: S311 - jitter, not crypto
            wait = min(wait * 2, LEASE_POLL_MAX_SECONDS)

    def record_outcome(self, extension_id: str, entry: dict[str, Any]) -> None:
        """Keep ``entry`` among the extension's last outcomes (newest first)."""
        for _ in range(OPTIMISTIC_ATTEMPTS):
            record = self.read(extension_id)
            outcomes = [entry, *record.outcomes][:OUTCOMES_LENGTH]
            try:
                self._update_if_revision(extension_id, record.outcomes_revision, outcomes)
            except _Conflict:
                continue
            return
        raise LedgerError(reasons.LEDGER_BUSY, "too many concurrent outcome writes")

    def _update_if_revision(
        self, extension_id: str, revision: int, outcomes: list[dict[str, Any]]
    ) -> None:
        condition = (
            "attribute_not_exists(outcomes_revision)"
            if revision == 0
            else "outcomes_revision = :revision"
        )
        values = {"outcomes": outcomes, "next": revision + 1}
        if revision:
            values["revision"] = revision
        with _dynamodb_errors("record the outcome"):
            self._client.update_item(
                TableName=self._table,
                Key=_key(extension_id),
                UpdateExpression="SET outcomes = :outcomes, outcomes_revision = :next",
                ConditionExpression=condition,
                ExpressionAttributeValues=_values(**values),
            )

    def write_leased(self, extension_id: str, owner: str, expression: str, **values: Any) -> None:
        """An update that holds only while ``owner`` has the extension's lease."""
        try:
            with _dynamodb_errors("write under the lease"):
                self._client.update_item(
                    TableName=self._table,
                    Key=_key(extension_id),
                    UpdateExpression=expression,
                    ConditionExpression="lease_owner = :owner",
                    ExpressionAttributeValues=_values(owner=owner, **values),
                )
        except _Conflict:
            raise LedgerError(
                reasons.LEDGER_UNAVAILABLE, f"the lease on {extension_id} was lost"
            ) from None

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)


@dataclass
class Lease:
    """The right to upload to one extension; released on exit unless committed."""

    ledger: Ledger
    extension_id: str
    owner: str
    # The record as the lease was taken: its live object and history cannot change
    # while the lease is held, since only the holder writes them.
    record: ExtensionRecord
    _done: bool = field(default=False, init=False)

    def __enter__(self) -> Lease:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self._done:
            self.release()

    def commit(self, live: LiveEntry) -> None:
        """Make ``live`` the extension's live object and release the lease, in one write."""
        previous = self.record
        history = [entry.to_item() for entry in (previous.live, *previous.history) if entry]
        self._write(
            "SET live = :live, history = :history"
            " REMOVE attention, lease_owner, lease_expires, lease_object",
            live=live.to_item(),
            history=history[:HISTORY_LENGTH],
        )
        self._done = True

    def flag_attention(self, reason: str, obj: ObjectVersion, detail: str) -> None:
        """Say that ECE may be serving a broken file for this extension."""
        self._write(
            "SET attention = :attention",
            attention={
                "reason": reason,
                "detail": detail,
                "at": _iso(datetime.now(UTC)),
                "object": obj.identity,
            },
        )

    def release(self) -> None:
        with suppress(LedgerError):  # else it expires at the end of this invocation's time
            self._write("REMOVE lease_owner, lease_expires, lease_object")
        self._done = True

    def _write(self, expression: str, **values: Any) -> None:
        self.ledger.write_leased(self.extension_id, self.owner, expression, **values)


class _Conflict(Exception):
    """A conditional write's condition did not hold."""


@contextmanager
def _dynamodb_errors(action: str) -> Iterator[None]:
    try:
        yield
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code == _CONFLICT:
            raise _Conflict from None
        raise LedgerError(reasons.LEDGER_UNAVAILABLE, f"ledger {action} failed: {code}") from exc
    except BotoCoreError as exc:
        raise LedgerError(
            reasons.LEDGER_UNAVAILABLE, f"ledger {action} failed: {type(exc).__name__}"
        ) from exc


def _key(extension_id: str) -> dict[str, Any]:
    return {"extension_id": {"S": extension_id}}


def _values(**values: Any) -> dict[str, Any]:
    return {f":{name}": _serializer.serialize(value) for name, value in values.items()}


def _plain(value: Any) -> Any:
    """DynamoDB's Decimals back to ints (every number the ledger stores is whole)."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if value is not None and type(value).__name__ == "Decimal":
        return int(value)
    return value


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
