"""Turn whatever the platform delivered into the object versions to process.

Pure: no AWS calls. Understands direct S3 notifications, S3 notifications wrapped
in SQS and/or SNS, EventBridge "Object Created" events (directly or through SQS),
and S3 Batch Operations jobs. Key encoding differs by source and is undone here,
exactly once:

- S3 notifications URL-encode keys with ``+`` for spaces: ``unquote_plus``.
- EventBridge sends the key as it is: decoding it again would turn ``+`` into a space.
- Batch Operations URL-encode keys like notifications do.

A Lambda on-failure destination record (the event the platform gave up on, in
``requestPayload``) is unwrapped to that event, directly or in an SQS message, so
that a failed-events queue can be re-driven into the function as it is.

The operator's ``ece-uploader replay --force`` marks its events with
``"ece-uploader": {"force": true}`` beside ``Records`` (S3 notification) or
``detail`` (EventBridge), or with the user argument ``"ece-uploader-force": "true"``
(Batch Operations, schema 2.0): the objects are then :attr:`ObjectRef.force`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, TypeGuard
from urllib.parse import unquote_plus

_MAX_NESTING = 3  # SNS -> SQS -> S3 is the deepest real wrapping
_MAX_AUDIT_CHARS = 256  # principal ids and IP addresses are far shorter
# Nothing the platform sends comes near these: an event past them is refused unread.
MAX_EVENT_BYTES = 6 * 1024 * 1024  # Lambda's largest invocation payload
MAX_JSON_DEPTH = 32  # a destination record of SNS in SQS nests about a dozen levels
# The replay marker: a top-level field of the event, and a Batch Operations user argument.
REPLAY_MARKER = "ece-uploader"
BATCH_FORCE_ARGUMENT = "ece-uploader-force"


class Source(StrEnum):
    S3 = "s3"
    SQS = "sqs"
    SNS = "sns"
    EVENTBRIDGE = "eventbridge"
    BATCH = "batch"


@dataclass(frozen=True)
class ObjectRef:
    """One object version named by an event."""

    bucket: str
    key: str
    version_id: str | None = None
    etag: str | None = None
    size: int | None = None
    # Who put the object, for the audit trail: the event's principal and source IP.
    principal: str = "unknown"
    source_ip: str | None = None
    # An operator's replay asked to upload this version again even if the ledger says it is
    # live already. Never a way around ordering (an older object stays superseded) nor the
    # allow-list.
    force: bool = False
    # Set only by `ece-uploader rollback`: make this older version live again, as of now.
    rollback: bool = False


@dataclass(frozen=True)
class Delivery:
    """A unit the platform retries on its own.

    The whole event for direct S3, SNS and EventBridge invocations; one message for
    SQS (partial batch failures); one task for Batch Operations. ``problem`` says
    what in it could not be understood; the objects that could are still there.
    """

    objects: tuple[ObjectRef, ...] = ()
    message_id: str | None = None
    problem: str | None = None
    ignored: int = 0  # records that need no work: removals, tagging events, test events


@dataclass(frozen=True)
class ParsedEvent:
    source: Source
    deliveries: tuple[Delivery, ...]
    batch_meta: dict[str, Any] | None = None  # Batch Operations: what the reply must echo


def parse_event(event: object) -> ParsedEvent:
    """Never raises: a shape it does not know becomes a delivery with a problem."""
    if problem := _beyond_limits(event):
        return ParsedEvent(Source.S3, (Delivery(problem=problem),))
    return _parse_event(event, 0)


def _beyond_limits(document: object) -> str | None:
    """Too big or too deep for any real event: measured without recursion, stopping early."""
    size = 0
    stack: list[tuple[object, int]] = [(document, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return f"event is nested deeper than {MAX_JSON_DEPTH} levels"
        if isinstance(node, dict):
            size += 2 + sum(len(str(key)) + 4 for key in node)
            stack.extend((value, depth + 1) for value in node.values())
        elif isinstance(node, list):
            size += 2 + len(node)
            stack.extend((value, depth + 1) for value in node)
        else:
            size += len(node) + 2 if isinstance(node, str) else 8
        if size > MAX_EVENT_BYTES:
            return f"event is larger than {MAX_EVENT_BYTES} bytes"
    return None


def _parse_event(event: object, depth: int) -> ParsedEvent:
    if depth > _MAX_NESTING:
        return ParsedEvent(Source.S3, (Delivery(problem="event is nested too deeply"),))
    if is_destination_record(event):
        # The original event of an asynchronous invocation: it is retried as itself.
        return _parse_event(event["requestPayload"], depth + 1)
    if not isinstance(event, dict):
        return ParsedEvent(Source.S3, (Delivery(problem="event is not a JSON object"),))
    if "tasks" in event and "invocationSchemaVersion" in event:
        return _parse_batch(event)
    records = event.get("Records")
    if isinstance(records, list) and records and all(_is_sqs(r) for r in records):
        return ParsedEvent(Source.SQS, tuple(_parse_sqs_record(r) for r in records))
    if isinstance(records, list) and records and all(_is_sns(r) for r in records):
        return ParsedEvent(Source.SNS, (_parse_payload(event, depth),))
    source = Source.EVENTBRIDGE if event.get("source") == "aws.s3" else Source.S3
    return ParsedEvent(source, (_parse_payload(event, depth),))


def is_destination_record(payload: object) -> TypeGuard[dict[str, Any]]:
    """A Lambda on-failure destination record: the failed event is its ``requestPayload``."""
    return (
        isinstance(payload, dict)
        and "requestPayload" in payload
        and isinstance(payload.get("requestContext"), dict)
        and isinstance(payload.get("version"), str)
    )


def _forced(payload: dict[str, Any]) -> bool:
    marker = payload.get(REPLAY_MARKER)
    return isinstance(marker, dict) and marker.get("force") is True


def _with_force(delivery: Delivery, force: bool) -> Delivery:
    if not force or not delivery.objects:
        return delivery
    return replace(delivery, objects=tuple(replace(ref, force=True) for ref in delivery.objects))


def _is_sqs(record: object) -> bool:
    return isinstance(record, dict) and record.get("eventSource") == "aws:sqs"


def _is_sns(record: object) -> bool:
    return isinstance(record, dict) and record.get("EventSource") == "aws:sns"


def _parse_sqs_record(record: dict[str, Any]) -> Delivery:
    message_id = record.get("messageId")
    message_id = message_id if isinstance(message_id, str) else None
    delivery = _parse_json_text(record.get("body"), 1, "SQS message body")
    return replace(delivery, message_id=message_id)


def _parse_json_text(text: object, depth: int, what: str) -> Delivery:
    if not isinstance(text, str):
        return Delivery(problem=f"{what} is not a string")
    if len(text) > MAX_EVENT_BYTES:
        return Delivery(problem=f"{what} is larger than {MAX_EVENT_BYTES} bytes")
    try:
        payload = json.loads(text)
    except (ValueError, RecursionError):
        return Delivery(problem=f"{what} is not JSON")
    if problem := _beyond_limits(payload):
        return Delivery(problem=f"{what}: {problem}")
    return _parse_payload(payload, depth)


def _parse_payload(payload: object, depth: int) -> Delivery:
    """An S3 notification, an SNS envelope or an EventBridge event, possibly nested."""
    if depth > _MAX_NESTING:
        return Delivery(problem="event is nested too deeply")
    if not isinstance(payload, dict):
        return Delivery(problem="event is not a JSON object")
    if payload.get("Event") == "s3:TestEvent":
        return Delivery(ignored=1)
    if is_destination_record(payload):
        return _parse_payload(payload["requestPayload"], depth + 1)
    if payload.get("Type") == "Notification" and "Message" in payload:
        return _parse_json_text(payload["Message"], depth + 1, "SNS message")
    if payload.get("source") == "aws.s3" and "detail" in payload:
        return _with_force(_parse_eventbridge(payload), _forced(payload))
    records = payload.get("Records")
    if not isinstance(records, list) or not records:
        return Delivery(
            problem="event has no Records and is not an S3, SQS, SNS or EventBridge event"
        )
    objects: list[ObjectRef] = []
    problems: list[str] = []
    ignored = 0
    for record in records:  # a malformed record must not hide the good ones beside it
        if _is_sns(record):
            inner = _parse_json_text(_field(record, "Sns", "Message"), depth + 1, "SNS message")
            objects.extend(inner.objects)
            problems.extend([inner.problem] if inner.problem else [])
            ignored += inner.ignored
            continue
        parsed = _parse_s3_record(record)
        if isinstance(parsed, str):
            problems.append(parsed)
        elif parsed is None:
            ignored += 1
        else:
            objects.append(parsed)
    return _with_force(
        Delivery(tuple(objects), problem="; ".join(problems) or None, ignored=ignored),
        _forced(payload),
    )


def _parse_s3_record(record: object) -> ObjectRef | str | None:
    """An object for ObjectCreated records, None for records that need no work, else a problem."""
    if not isinstance(record, dict) or record.get("eventSource") != "aws:s3":
        return "record is not an S3 notification record"
    name = record.get("eventName")
    if not isinstance(name, str):
        return "S3 record has no eventName"
    if not name.startswith("ObjectCreated:"):
        return None
    bucket, obj = _field(record, "s3", "bucket", "name"), _field(record, "s3", "object")
    if not isinstance(bucket, str) or not isinstance(obj, dict):
        return "S3 record has no bucket name or object"
    raw_key = obj.get("key")
    if not isinstance(raw_key, str) or not raw_key:
        return "S3 record has no object key"
    ref = _object(
        bucket, unquote_plus(raw_key), obj.get("versionId"), obj.get("eTag"), obj.get("size")
    )
    return ref and _with_requester(
        ref,
        _field(record, "userIdentity", "principalId"),
        _field(record, "requestParameters", "sourceIPAddress"),
    )


def _parse_eventbridge(event: dict[str, Any]) -> Delivery:
    if event.get("detail-type") != "Object Created":
        return Delivery(ignored=1)
    bucket, obj = _field(event, "detail", "bucket", "name"), _field(event, "detail", "object")
    if not isinstance(bucket, str) or not isinstance(obj, dict):
        return Delivery(problem="EventBridge event has no bucket name or object")
    key = obj.get("key")
    if not isinstance(key, str) or not key:
        return Delivery(problem="EventBridge event has no object key")
    etag = obj.get("etag", obj.get("eTag"))
    ref = _object(bucket, key, obj.get("version-id"), etag, obj.get("size"))
    ref = ref and _with_requester(
        ref, _field(event, "detail", "requester"), _field(event, "detail", "source-ip-address")
    )
    return Delivery(() if ref is None else (ref,), ignored=0 if ref else 1)


def _parse_batch(event: dict[str, Any]) -> ParsedEvent:
    meta = {
        "invocationSchemaVersion": event.get("invocationSchemaVersion"),
        "invocationId": event.get("invocationId"),
    }
    force = _field(event, "job", "userArguments", BATCH_FORCE_ARGUMENT) == "true"
    tasks = event.get("tasks")
    if not isinstance(tasks, list):
        return ParsedEvent(Source.BATCH, (Delivery(problem="tasks is not a list"),), meta)
    deliveries = []
    for task in tasks:
        task_id = task.get("taskId") if isinstance(task, dict) else None
        if not isinstance(task, dict) or not isinstance(task_id, str):
            deliveries.append(Delivery(problem="batch task has no taskId"))
            continue
        bucket = task.get("s3Bucket") or _bucket_from_arn(task.get("s3BucketArn"))
        key = task.get("s3Key")
        if not isinstance(bucket, str) or not isinstance(key, str) or not key:
            deliveries.append(
                Delivery(message_id=task_id, problem="batch task has no bucket or key")
            )
            continue
        ref = _object(bucket, unquote_plus(key), task.get("s3VersionId"), None, None)
        delivery = Delivery(() if ref is None else (ref,), task_id, ignored=int(ref is None))
        deliveries.append(_with_force(delivery, force))
    return ParsedEvent(Source.BATCH, tuple(deliveries), meta)


def _field(document: object, *path: str) -> object:
    """``document[path[0]][path[1]]...``, or None where the shape is not what S3 sends."""
    for name in path:
        if not isinstance(document, dict):
            return None
        document = document.get(name)
    return document


def _with_requester(ref: ObjectRef, principal: object, source_ip: object) -> ObjectRef:
    """The audit fields, kept only when they are short strings (they go to logs and the ledger)."""
    return replace(
        ref,
        principal=_short_text(principal) or "unknown",
        source_ip=_short_text(source_ip),
    )


def _short_text(value: object) -> str | None:
    if isinstance(value, str) and 0 < len(value) <= _MAX_AUDIT_CHARS and value.isprintable():
        return value
    return None


def _bucket_from_arn(arn: object) -> str | None:
    """``arn:<partition>:s3:::<bucket>`` in any partition (aws, aws-cn, aws-us-gov, ...)."""
    if not isinstance(arn, str):
        return None
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or not parts[1] or parts[2] != "s3":
        return None
    if parts[3] or parts[4] or not parts[5] or "/" in parts[5]:
        return None
    return parts[5]


def _object(bucket: str, key: str, version: object, etag: object, size: object) -> ObjectRef | None:
    """None for folder placeholders (keys ending in ``/``): there is nothing to upload."""
    if key.endswith("/"):
        return None
    return ObjectRef(
        bucket=bucket,
        key=key,
        version_id=version if isinstance(version, str) and version else None,
        etag=etag.strip('"') if isinstance(etag, str) and etag else None,
        size=size if isinstance(size, int) and not isinstance(size, bool) else None,
    )
