"""A soak of the whole function as the platform runs it: concurrent, faulty, at least once.

On loopback: moto server (S3, Secrets Manager, DynamoDB) and the ECE emulator.
A producer puts zips of mixed validity into a versioned bucket (several keys per
extension, overwrites, deletes); every put becomes an event, delivered the way
S3 delivers (duplicates, out of order, several records per event, direct S3,
SQS and EventBridge shapes) to a few "containers" (threads, each its own
runtime) running at once. Failed invocations are retried as Lambda would (an
asynchronous event three times, an SQS message up to its receive count), then
land in a dead-letter list that is re-driven at the end, as an operator would.
Meanwhile ECE throttles with Retry-After, fails, answers slowly, resets
connections and cuts uploads short, and the API key is rotated.

At the end it counts what must be zero: objects lost (no outcome and no event
left), double uploads (one version stored twice), stale extensions (ECE holds
something older than the newest valid object aimed at it), wrong tags, and
secret leaks (the keys in logs, tags or results).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import random
import secrets
import tempfile
import threading
import time
import uuid
import zipfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote, quote_plus

from ece_uploader.emulator import Fault
from ece_uploader.local import stdout_redirected
from ece_uploader.samples import corrupt_zip, traversal_zip
from ece_uploader.sandbox import Sandbox
from extension_uploader.app import RetryableEventError, build_runtime, handle_event
from extension_uploader.config import Settings
from extension_uploader.deadline import Deadline
from extension_uploader.ordering import ObjectVersion, Verdict, compare
from extension_uploader.outcome import TAG_REASON, TAG_SHA256, TAG_STATUS
from extension_uploader.pipeline import Runtime

TAG = "ece-extension-id"
NOT_ALLOWED_ID = "1111111111"
ASYNC_ATTEMPTS = 3  # Lambda's asynchronous invocation: the call and two retries
SQS_RECEIVES = 5  # the queue's maxReceiveCount
DEADLINE_SECONDS = 60.0


@dataclass(frozen=True)
class SoakConfig:
    objects: int = 300
    extensions: int = 8
    keys_per_extension: int = 3
    in_flight: int = 3
    faults: int = 200
    seed: int = 7
    fast_backoff: bool = False  # the in-process ECE retries wait milliseconds, not seconds
    put_interval: float = 0.15  # mean seconds between two puts


@dataclass(frozen=True)
class Kind:
    name: str
    expected: tuple[str, str] | None  # the final (status, reason) of a version not superseded


VALID = Kind("valid", ("uploaded", "ok"))
TRAVERSAL = Kind("traversal", ("rejected", "zip.unsafe_path"))
CORRUPT = Kind("corrupt", ("rejected", "zip.corrupt"))
UNTAGGED = Kind("untagged", ("rejected", "tag.missing_extension_id"))
NOT_ALLOWED = Kind("not-allowed", ("rejected", "tag.extension_not_allowed"))


@dataclass
class PutObject:
    bucket: str
    key: str
    extension_id: str
    kind: Kind
    data: bytes
    version_id: str
    etag: str
    sha256: str


@dataclass
class Delivery:
    """One event as the platform hands it to the function, and how often it has tried."""

    shape: str  # "s3", "sqs" or "eventbridge"
    objects: list[PutObject]
    attempt: int = 1

    def event(self) -> dict[str, Any]:
        if self.shape == "eventbridge":
            return _eventbridge_event(self.objects[0])
        records = [_s3_record(obj) for obj in self.objects]
        if self.shape == "s3":
            return {"Records": records}
        return {
            "Records": [
                {
                    "messageId": str(uuid.uuid4()),
                    "eventSource": "aws:sqs",
                    "body": json.dumps({"Records": [record]}),
                }
                for record in records
            ]
        }


@dataclass
class SoakReport:
    objects: int = 0
    events: int = 0
    invocations: int = 0
    retried: int = 0
    redriven: int = 0
    faults: int = 0
    uploads: int = 0
    seconds: float = 0.0
    lost: list[str] = field(default_factory=list)
    double: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    wrong_tags: list[str] = field(default_factory=list)
    secret_leaks: list[str] = field(default_factory=list)
    crashes: list[str] = field(default_factory=list)
    trails: list[str] = field(default_factory=list)  # the log lines of what went wrong

    @property
    def ok(self) -> bool:
        return not (
            self.lost
            or self.double
            or self.stale
            or self.wrong_tags
            or self.secret_leaks
            or self.crashes
        )

    def line(self) -> str:
        return (
            f"soak: objects={self.objects} events={self.events} invocations={self.invocations}"
            f" retried={self.retried} redriven={self.redriven} faults={self.faults}"
            f" uploads={self.uploads} | lost={len(self.lost)} double={len(self.double)}"
            f" stale={len(self.stale)} wrong_tags={len(self.wrong_tags)}"
            f" secret_leaks={len(self.secret_leaks)} crashes={len(self.crashes)}"
            f" ({self.seconds:.0f} s)"
        )

    def details(self) -> list[str]:
        named = {
            "lost": self.lost,
            "double": self.double,
            "stale": self.stale,
            "wrong tags": self.wrong_tags,
            "secret leaks": self.secret_leaks,
            "crashes": self.crashes,
        }
        found = [f"{name}: {item}" for name, items in named.items() for item in items[:20]]
        return found + self.trails


def run_soak(config: SoakConfig) -> SoakReport:
    started = time.monotonic()
    with (
        tempfile.TemporaryFile("w+") as metrics,
        _environment(),
        Sandbox(suffix=f"-soak-{uuid.uuid4().hex[:8]}") as sandbox,
        _captured_logs() as logs,
    ):
        with stdout_redirected(metrics.fileno()):  # EMF metrics: kept, and searched too
            soak = _Soak(config, sandbox)
            report = soak.run()
        metrics.seek(0)
        report.trails = _trails(logs.getvalue(), report)
        report.secret_leaks = _leaks(
            soak.keys, logs.getvalue(), metrics.read(), soak.visible_text()
        )
    report.seconds = time.monotonic() - started
    return report


class _Soak:
    def __init__(self, config: SoakConfig, sandbox: Sandbox) -> None:
        self.config = config
        self.sandbox = sandbox
        self.random = random.Random(config.seed)
        self.s3 = sandbox.s3()
        assert sandbox.emulator is not None
        self.ece = sandbox.emulator
        self.bucket = sandbox.bucket
        self.keys = [sandbox.api_key]
        self.extensions = [
            str(
                self.ece.create_extension(name=f"soak-{n}", extension_type="bundle", version="*")[
                    "id"
                ]
            )
            for n in range(config.extensions)
        ]
        self.env = sandbox.env | {"ALLOWED_EXTENSION_IDS": ",".join(self.extensions)}
        self.puts: list[PutObject] = []
        self.pending: list[Delivery] = []
        self.dead: list[Delivery] = []
        self.results: list[dict[str, Any]] = []
        self.report = SoakReport()
        self.lock = threading.Lock()
        self.producing = True
        self.busy = 0

    # -- the run ------------------------------------------------------------

    def run(self) -> SoakReport:
        os.environ.update(self.env)
        workers = [
            threading.Thread(target=self._worker, args=(n,), daemon=True)
            for n in range(self.config.in_flight)
        ]
        chaos = threading.Thread(target=self._chaos, daemon=True)
        for thread in (*workers, chaos):
            thread.start()
        self._produce()
        with self.lock:
            self.producing = False
        for thread in (*workers, chaos):
            thread.join()
        self.report.faults -= len(self.ece.pending_faults())  # count only those that struck
        self.ece.clear_faults()
        self._redrive()
        self.report.objects = len(self.puts)
        self.report.uploads = len(self.ece.uploads())
        self._check()
        return self.report

    def _produce(self) -> None:
        """Put the objects, turning each put into events, some duplicated, some batched."""
        keys = [
            (extension_id, f"ext-{n}/key {k}+{n}.zip")
            for n, extension_id in enumerate(self.extensions)
            for k in range(self.config.keys_per_extension)
        ]
        batch: list[PutObject] = []
        for n in range(self.config.objects):
            extension_id, key = self.random.choice(keys)
            obj = self._put(n, extension_id, key)
            batch.append(obj)
            if self.random.random() < 0.05:  # a delete marker; the key may be put again
                self.s3.delete_object(Bucket=self.bucket, Key=key)
            if len(batch) >= self.random.choice((1, 1, 2, 3)):
                self._deliver(batch)
                batch = []
            time.sleep(self.random.uniform(0, self.config.put_interval * 2))
        if batch:
            self._deliver(batch)

    def _put(self, n: int, extension_id: str, key: str) -> PutObject:
        roll = self.random.random()
        kind = (
            VALID
            if roll < 0.72
            else TRAVERSAL
            if roll < 0.80
            else CORRUPT
            if roll < 0.88
            else UNTAGGED
            if roll < 0.94
            else NOT_ALLOWED
        )
        data = (
            _bundle(f"object {n} {secrets.token_hex(4)}")
            if kind is VALID
            else (traversal_zip() if kind is TRAVERSAL else corrupt_zip())
        )
        if kind in (UNTAGGED, NOT_ALLOWED):
            data = _bundle(f"object {n} {secrets.token_hex(4)}")
        extra: dict[str, Any] = {}
        target = NOT_ALLOWED_ID if kind is NOT_ALLOWED else extension_id
        if kind is not UNTAGGED:
            extra["Tagging"] = f"{TAG}={quote(target)}"
        reply = self.s3.put_object(Bucket=self.bucket, Key=key, Body=data, **extra)
        obj = PutObject(
            self.bucket,
            key,
            extension_id,
            kind,
            data,
            reply["VersionId"],
            reply["ETag"].strip('"'),
            hashlib.sha256(data).hexdigest(),
        )
        with self.lock:
            self.puts.append(obj)
        return obj

    def _deliver(self, objects: list[PutObject]) -> None:
        shape = self.random.choice(("s3", "s3", "sqs", "eventbridge"))
        deliveries = (
            [Delivery("eventbridge", [obj]) for obj in objects]
            if shape == "eventbridge"
            else [Delivery(shape, list(objects))]
        )
        with self.lock:
            for delivery in deliveries:
                self.pending.append(delivery)
                self.report.events += 1
                if self.random.random() < 0.15:  # at least once: sometimes twice
                    self.pending.append(Delivery(delivery.shape, list(delivery.objects)))
                    self.report.events += 1

    def _worker(self, number: int) -> None:
        runtime = self._runtime()
        while True:
            with self.lock:
                if not self.pending:
                    if not self.producing and self.busy == 0:
                        return
                    delivery = None
                else:  # out of order: any pending event may go next
                    delivery = self.pending.pop(self.random.randrange(len(self.pending)))
                    self.busy += 1
            if delivery is None:
                time.sleep(0.01)
                continue
            try:
                again = self._invoke(delivery, runtime, f"soak-{number}")
                if again:
                    self._retry(delivery, again)
            finally:
                with self.lock:
                    self.busy -= 1

    def _invoke(self, delivery: Delivery, runtime: Runtime, worker: str) -> list[PutObject]:
        """One invocation; returns the objects whose event the platform delivers again."""
        event = delivery.event()
        request_id = f"{worker}-{uuid.uuid4().hex[:8]}"
        with self.lock:
            self.report.invocations += 1
        try:
            result = handle_event(event, runtime, Deadline.after(DEADLINE_SECONDS), request_id)
        except RetryableEventError:
            return delivery.objects
        except Exception as exc:  # a bug: the platform would retry, the soak reports it
            with self.lock:
                self.report.crashes.append(f"{type(exc).__name__}: {exc}")
            return delivery.objects
        with self.lock:
            self.results.append(result)
        if delivery.shape != "sqs":
            return []
        failed = {item["itemIdentifier"] for item in result.get("batchItemFailures", [])}
        ids = [record["messageId"] for record in event["Records"]]
        return [obj for obj, id_ in zip(delivery.objects, ids, strict=True) if id_ in failed]

    def _retry(self, delivery: Delivery, objects: list[PutObject]) -> None:
        limit = SQS_RECEIVES if delivery.shape == "sqs" else ASYNC_ATTEMPTS
        retry = Delivery(delivery.shape, objects, delivery.attempt + 1)
        with self.lock:
            self.report.retried += 1
            if retry.attempt > limit:
                self.dead.append(retry)
            else:
                self.pending.append(retry)

    def _chaos(self) -> None:
        """Faults at ECE while there is work, and one key rotation half way."""
        faults = [
            Fault(status=429, retry_after=1),
            Fault(status=503),
            Fault(status=500),
            Fault(status=502, html="<html><body>Bad gateway</body></html>"),
            Fault(delay=1.5),
            Fault(reset_after_bytes=200),
            Fault(keep_bytes=100),
        ]
        rotated = False
        while True:
            with self.lock:
                done = not self.producing and not self.pending and self.busy == 0
                produced = len(self.puts)
            if done:
                return
            if not rotated and produced >= self.config.objects // 2:
                self._rotate_key()
                rotated = True
            if self.report.faults < self.config.faults and len(self.ece.pending_faults()) < 16:
                fault = self.random.choice(faults)
                method = "PUT" if fault.keep_bytes or fault.reset_after_bytes else None
                self.ece.script(
                    fault,
                    method=method or self.random.choice(("GET", "PUT", "PUT")),
                    extension_id=self.random.choice(
                        [None, None, self.random.choice(self.extensions)]
                    ),
                )
                self.report.faults += 1
            time.sleep(0.02)

    def _rotate_key(self) -> None:
        new_key = secrets.token_urlsafe(24)
        self.keys.append(new_key)
        self.sandbox.client("secretsmanager").put_secret_value(
            SecretId=self.sandbox.secret_id, SecretString=json.dumps({"api_key": new_key})
        )
        self.ece.set_api_keys({new_key})  # the old key stops working at once

    def _redrive(self) -> None:
        """The operator re-drives the dead-letter list once ECE behaves again."""
        runtime = self._runtime()
        for _ in range(5):
            dead, self.dead = self.dead, []
            for delivery in dead:
                self.report.redriven += 1
                again = self._invoke(Delivery(delivery.shape, delivery.objects), runtime, "redrive")
                if again:
                    self.dead.append(Delivery(delivery.shape, again))

    def _runtime(self) -> Runtime:
        options = {"backoff_base_seconds": 0.05} if self.config.fast_backoff else {}
        return build_runtime(Settings.from_env(self.env), **options)

    # -- the verdict --------------------------------------------------------

    def _check(self) -> None:
        tags = {obj.version_id: self._tags(obj) for obj in self.puts}
        current, deleted_at = self._current_versions()
        versions = self._last_modified()
        for obj in self.puts:
            deleted_since = deleted_at.get(obj.key, []) and (
                max(deleted_at[obj.key]) >= versions[obj.version_id].last_modified
            )
            self._check_tags(obj, tags[obj.version_id], excused=bool(deleted_since))
        self._check_uploads()
        for extension_id in self.extensions:
            self._check_extension(extension_id, tags, current, versions)

    def _check_tags(self, obj: PutObject, tags: dict[str, str], *, excused: bool) -> None:
        """``excused``: the key was deleted after this version, so it may be untagged."""
        status, reason = tags.get(TAG_STATUS), tags.get(TAG_REASON)
        name = f"{obj.key}#{obj.version_id[:8]} ({obj.kind.name})"
        if status is None or (status == "failed" and excused):
            # A version whose key was deleted after it is never tagged again, so it may
            # keep no outcome, or the failure an earlier attempt wrote.
            if not excused:
                self.report.lost.append(f"{name}: no outcome")
            return
        if reason in ("object.deleted", "object.changed") or status == "failed":
            self.report.wrong_tags.append(f"{name}: {status}/{reason}")
        elif (status, reason) == ("skipped", "upload.superseded"):
            return
        elif (status, reason) != obj.kind.expected:
            self.report.wrong_tags.append(f"{name}: {status}/{reason}, not {obj.kind.expected}")
        elif status == "uploaded" and tags.get(TAG_SHA256) != obj.sha256:
            self.report.wrong_tags.append(f"{name}: the sha256 tag is not the object's")

    def _check_uploads(self) -> None:
        shas = {obj.sha256: obj for obj in self.puts}
        counts = Counter(
            (upload.extension_id, upload.sha256)
            for upload in self.ece.uploads()
            if upload.sha256 in shas
        )
        for (extension_id, sha256), count in counts.items():
            if count > 1:
                self.report.double.append(
                    f"{shas[sha256].key} stored {count} times in {extension_id}"
                )

    def _check_extension(
        self,
        extension_id: str,
        tags: dict[str, dict[str, str]],
        current: dict[str, str | None],
        versions: dict[str, ObjectVersion],
    ) -> None:
        mine = [o for o in self.puts if o.extension_id == extension_id and o.kind is VALID]
        live = [o for o in mine if current.get(o.key) == o.version_id]
        try:
            stored = self.ece.stored_bytes(extension_id)
        except LookupError:
            stored = None
        if not live:
            return
        newest = live[0]
        for obj in live[1:]:
            if _newer(versions[obj.version_id], versions[newest.version_id]):
                newest = obj
        if stored == newest.data:
            return
        holder = next((o for o in mine if o.data == stored), None)
        newer_than_newest = holder is not None and _newer(
            versions[holder.version_id], versions[newest.version_id]
        )
        if holder is None or not newer_than_newest:
            what = f"{holder.key}#{holder.version_id[:8]}" if holder else "an unknown file"
            self.report.stale.append(
                f"{extension_id} holds {what}, not {newest.key}#{newest.version_id[:8]}"
                f" ({tags[newest.version_id].get(TAG_STATUS)})"
            )

    def _tags(self, obj: PutObject) -> dict[str, str]:
        reply = self.s3.get_object_tagging(
            Bucket=self.bucket, Key=obj.key, VersionId=obj.version_id
        )
        return {tag["Key"]: tag["Value"] for tag in reply["TagSet"]}

    def _current_versions(self) -> tuple[dict[str, str | None], dict[str, list[datetime]]]:
        """Each key's current version id (None under a delete marker), and its deletes."""
        current: dict[str, str | None] = {}
        deleted_at: dict[str, list[datetime]] = {}
        paginator = self.s3.get_paginator("list_object_versions")
        for page in paginator.paginate(Bucket=self.bucket):
            for version in page.get("Versions", []):
                if version["IsLatest"]:
                    current[version["Key"]] = version["VersionId"]
            for marker in page.get("DeleteMarkers", []):
                deleted_at.setdefault(marker["Key"], []).append(marker["LastModified"])
                if marker["IsLatest"]:
                    current[marker["Key"]] = None
        return current, deleted_at

    def _last_modified(self) -> dict[str, ObjectVersion]:
        found: dict[str, ObjectVersion] = {}
        for obj in self.puts:
            head = self.s3.head_object(Bucket=self.bucket, Key=obj.key, VersionId=obj.version_id)
            modified: datetime = head["LastModified"]
            found[obj.version_id] = ObjectVersion(
                obj.bucket, obj.key, obj.version_id, obj.etag, modified
            )
        return found

    def visible_text(self) -> str:
        """Everything a user could read back: results and every tag."""
        tag_text = [json.dumps(self._tags(obj)) for obj in self.puts]
        return json.dumps(self.results) + "".join(tag_text)


def _trails(logs: str, report: SoakReport) -> list[str]:
    """The function's log lines about each version the report names."""
    named = " ".join(report.lost + report.wrong_tags + report.stale)
    trails = []
    for line in logs.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        version = entry.get("version_id")
        if version and version[:8] in named:
            fields = ("request_id", "status", "reason", "detail")
            trails.append(f"  {version[:8]} " + " ".join(str(entry.get(f)) for f in fields))
    return trails


def _newer(candidate: ObjectVersion, other: ObjectVersion) -> bool:
    """The function's own order: both are their keys' current versions here."""
    verdict = compare(candidate, other, other.last_modified, candidate_is_current=True)
    return verdict is Verdict.NEWER


def _leaks(keys: list[str], logs: str, metrics: str, visible: str) -> list[str]:
    places = {"the logs": logs, "the metrics": metrics, "tags or results": visible}
    return [
        f"an API key appears in {name}" for name, text in places.items() for k in keys if k in text
    ]


def _bundle(text: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        entry = zipfile.ZipInfo("dictionaries/synonyms.txt", date_time=(2026, 11, 30, 9, 0, 0))
        archive.writestr(entry, f"{text}\nlaptop, notebook\n" * 20)
    return buffer.getvalue()


def _s3_record(obj: PutObject) -> dict[str, Any]:
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:AIDASOAK:producer"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "s3": {
            "s3SchemaVersion": "1.0",
            "bucket": {"name": obj.bucket},
            "object": {
                "key": quote_plus(obj.key),
                "size": len(obj.data),
                "eTag": obj.etag,
                "versionId": obj.version_id,
            },
        },
    }


def _eventbridge_event(obj: PutObject) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Object Created",
        "source": "aws.s3",
        "region": "us-east-1",
        "detail": {
            "bucket": {"name": obj.bucket},
            "object": {
                "key": obj.key,
                "size": len(obj.data),
                "etag": obj.etag,
                "version-id": obj.version_id,
            },
            "requester": "123456789012",
            "source-ip-address": "127.0.0.1",
            "reason": "PutObject",
        },
    }


@contextmanager
def _environment() -> Iterator[None]:
    saved = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextmanager
def _captured_logs() -> Iterator[io.StringIO]:
    """Everything the function logs, to search it for secrets."""
    from extension_uploader.telemetry import logger

    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    try:
        yield buffer
    finally:
        handler.setStream(previous)


def summarise(report: SoakReport) -> str:
    lines = [report.line(), *report.details()]
    return "\n".join(lines)


__all__ = ["SoakConfig", "SoakReport", "run_soak", "summarise"]
