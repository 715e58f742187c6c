"""What the handler answers each event source, with the pipeline's verdicts scripted.

The pipeline itself is tested end to end elsewhere; here ``process_object`` is replaced by
a script of outcomes per key, so every reply the platform reads can be checked exactly.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from extension_uploader import app, reasons
from extension_uploader.deadline import Deadline
from extension_uploader.events import ObjectRef
from extension_uploader.outcome import Outcome
from extension_uploader.pipeline import ObjectResult

SHA = "ab" * 32

VERDICTS: dict[str, Callable[[], Outcome]] = {
    "ok.zip": lambda: Outcome.uploaded(SHA, 10),
    "busy.zip": lambda: Outcome.failed(reasons.S3_ERROR, transient=True),
    "bad.zip": lambda: Outcome.rejected(reasons.ZIP_BOMB),
    "denied.zip": lambda: Outcome.failed(reasons.S3_ACCESS_DENIED, transient=False),
    "gone.zip": lambda: Outcome.skipped(reasons.OBJECT_DELETED, record_tags=False),
    "old.zip": lambda: Outcome.skipped(reasons.UPLOAD_SUPERSEDED),
}


@pytest.fixture(autouse=True)
def scripted_pipeline(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    seen: list[str] = []

    def process_object(
        ref: ObjectRef, runtime: object, deadline: Deadline, request_id: str
    ) -> ObjectResult:
        assert request_id == "req-1"  # for the log line and the ledger's audit trail
        seen.append(ref.key)
        if ref.key == "bug.zip":
            raise RuntimeError("a bug")
        return ObjectResult(ref, VERDICTS[ref.key](), "123", ref.version_id)

    monkeypatch.setattr(app, "process_object", process_object)
    yield seen


def handle(event: object) -> dict[str, Any]:
    return app.handle_event(event, None, Deadline.after(60), "req-1")  # type: ignore[arg-type]


def s3_record(key: str) -> dict[str, Any]:
    return {
        "eventSource": "aws:s3",
        "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": "bucket"}, "object": {"key": key, "versionId": "v1"}},
    }


def sqs_message(message_id: str | None, *keys: str, body: str | None = None) -> dict[str, Any]:
    text = body if body is not None else json.dumps({"Records": [s3_record(k) for k in keys]})
    return {"eventSource": "aws:sqs", "messageId": message_id, "body": text}


def test_sqs_reports_only_the_messages_to_retry() -> None:
    event = {
        "Records": [
            sqs_message("m-ok", "ok.zip", "bad.zip"),
            sqs_message("m-busy", "ok.zip", "busy.zip"),
            sqs_message("m-broken", body="{oops"),
            sqs_message(None, body="{oops"),
        ]
    }
    assert handle(event) == {
        "batchItemFailures": [{"itemIdentifier": "m-busy"}, {"itemIdentifier": "m-broken"}]
    }


def task(task_id: str | None, key: str | None) -> dict[str, Any]:
    found = {"taskId": task_id, "s3BucketArn": "arn:aws:s3:::bucket"}
    return found | ({"s3Key": key} if key is not None else {})


def test_batch_operations_get_a_result_per_task_and_the_job_echoed() -> None:
    keys = ["ok.zip", "busy.zip", "bad.zip", "denied.zip", "gone.zip", "old.zip", "folder/"]
    event = {
        "invocationSchemaVersion": "1.0",
        "invocationId": "inv-9",
        "job": {"id": "job-1"},
        "tasks": [task(f"t-{n}", key) for n, key in enumerate(keys)] + [task("t-nokey", None)],
    }
    reply = handle(event)
    assert {k: v for k, v in reply.items() if k != "results"} == {
        "invocationSchemaVersion": "1.0",
        "invocationId": "inv-9",
        "treatMissingKeysAs": "PermanentFailure",
    }
    assert reply["results"] == [
        {"taskId": "t-0", "resultCode": "Succeeded", "resultString": "uploaded: ok"},
        {"taskId": "t-1", "resultCode": "TemporaryFailure", "resultString": "failed: s3.error"},
        {"taskId": "t-2", "resultCode": "PermanentFailure", "resultString": "rejected: zip.bomb"},
        {
            "taskId": "t-3",
            "resultCode": "PermanentFailure",
            "resultString": "failed: s3.access_denied",
        },
        {
            "taskId": "t-4",
            "resultCode": "PermanentFailure",
            "resultString": "skipped: object.deleted",
        },
        {
            "taskId": "t-5",
            "resultCode": "Succeeded",
            "resultString": "skipped: upload.superseded",
        },
        {"taskId": "t-6", "resultCode": "Succeeded", "resultString": "nothing to do"},
        {
            "taskId": "t-nokey",
            "resultCode": "PermanentFailure",
            "resultString": "event.malformed: batch task has no bucket or key",
        },
    ]


def test_a_batch_task_without_an_id_is_answered_with_an_empty_one() -> None:
    event = {"invocationSchemaVersion": "1.0", "invocationId": "i", "tasks": [{"s3Key": "k"}]}
    [result] = handle(event)["results"]
    assert result == {
        "taskId": "",
        "resultCode": "PermanentFailure",
        "resultString": "event.malformed: batch task has no taskId",
    }


def test_a_direct_event_returns_every_result_when_nothing_needs_a_retry(
    scripted_pipeline: list[str],
) -> None:
    reply = handle({"Records": [s3_record("ok.zip"), s3_record("bad.zip")]})
    assert [(r["key"], r["status"], r["reason"]) for r in reply["results"]] == [
        ("ok.zip", "uploaded", "ok"),
        ("bad.zip", "rejected", "zip.bomb"),
    ]
    assert scripted_pipeline == ["ok.zip", "bad.zip"]


def test_a_direct_event_with_a_part_to_retry_fails_after_every_object_is_done(
    scripted_pipeline: list[str],
) -> None:
    with pytest.raises(app.RetryableEventError, match=r"^1 part\(s\) of the event must be"):
        handle({"Records": [s3_record("busy.zip"), s3_record("ok.zip")]})
    assert scripted_pipeline == ["busy.zip", "ok.zip"]


def test_a_direct_event_with_a_malformed_record_is_retried() -> None:
    with pytest.raises(app.RetryableEventError):
        handle({"Records": [s3_record("ok.zip"), {"eventSource": "aws:s3"}]})


def test_a_bug_on_one_object_costs_only_that_object(scripted_pipeline: list[str]) -> None:
    event = {"Records": [sqs_message("m-1", "bug.zip", "ok.zip"), sqs_message("m-2", "ok.zip")]}
    assert handle(event) == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    assert scripted_pipeline == ["bug.zip", "ok.zip", "ok.zip"]


def test_a_bug_is_an_internal_error_to_retry_in_a_batch_report() -> None:
    event = {"invocationSchemaVersion": "1.0", "invocationId": "i", "tasks": [task("t", "bug.zip")]}
    [result] = handle(event)["results"]
    assert result == {
        "taskId": "t",
        "resultCode": "TemporaryFailure",
        "resultString": "failed: internal.error",
    }


@pytest.fixture
def log_lines() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    from extension_uploader.telemetry import logger

    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    try:
        yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines() if line]
    finally:
        handler.setStream(previous)


def test_a_malformed_part_is_logged_with_what_is_wrong(
    log_lines: Callable[[], list[dict[str, Any]]],
) -> None:
    handle({"Records": [sqs_message("m-broken", body="{oops")]})
    [line] = [line for line in log_lines() if line["message"] == "malformed event"]
    assert (line["reason"], line["problem"]) == ("event.malformed", "SQS message body is not JSON")


def test_a_bug_is_logged_with_its_object_and_recorded_as_an_internal_error(
    log_lines: Callable[[], list[dict[str, Any]]],
) -> None:
    handle({"Records": [sqs_message("m-1", "bug.zip")]})
    lines = log_lines()
    [bug] = [line for line in lines if line["message"] == "unexpected error"]
    assert bug["level"] == "ERROR"
    assert (bug["bucket"], bug["key"]) == ("bucket", "bug.zip")
    assert "RuntimeError: a bug" in bug["exception"]
    [outcome] = [line for line in lines if line.get("reason") == reasons.INTERNAL_ERROR]
    assert (outcome["key"], outcome["version_id"], outcome["status"]) == ("bug.zip", "v1", "failed")
    assert outcome["milliseconds"] == 0
