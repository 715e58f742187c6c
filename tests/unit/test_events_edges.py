"""Event parsing at its edges: limits exactly at the boundary, every field of each source,
wrappings as deep as the platform makes them, and what a malformed part reports."""

from __future__ import annotations

import json
from typing import Any

import pytest

from extension_uploader.events import (
    MAX_EVENT_BYTES,
    MAX_JSON_DEPTH,
    ObjectRef,
    ParsedEvent,
    Source,
    parse_event,
)


def s3_record(key: str = "a.zip", **extra: Any) -> dict[str, Any]:
    return {
        "eventSource": "aws:s3",
        "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": "bucket"}, "object": {"key": key}},
        **extra,
    }


def s3_event(*records: dict[str, Any]) -> dict[str, Any]:
    return {"Records": list(records or [s3_record()])}


def destination(event: object) -> dict[str, Any]:
    """A Lambda on-failure destination record of ``event``."""
    return {
        "version": "1.0",
        "requestContext": {"condition": "RetriesExhausted"},
        "requestPayload": event,
    }


def sns_record(message: object) -> dict[str, Any]:
    text = message if isinstance(message, str) else json.dumps(message)
    return {"EventSource": "aws:sns", "Sns": {"Message": text}}


def sqs_event(body: object, message_id: object = "m-1") -> dict[str, Any]:
    text = body if isinstance(body, str) else json.dumps(body)
    return {"Records": [{"eventSource": "aws:sqs", "messageId": message_id, "body": text}]}


def eventbridge(obj: dict[str, Any], **detail: Any) -> dict[str, Any]:
    return {
        "source": "aws.s3",
        "detail-type": "Object Created",
        "detail": {"bucket": {"name": "bucket"}, "object": obj, **detail},
    }


def batch(*tasks: object, **event: Any) -> dict[str, Any]:
    return {"invocationSchemaVersion": "1.0", "invocationId": "inv-1", "tasks": list(tasks)} | event


def nested(depth: int) -> object:
    """A JSON value ``depth`` levels deep (a scalar is one level)."""
    value: object = 1
    for _ in range(depth - 1):
        value = [value]
    return value


def problem_of(parsed: ParsedEvent) -> str | None:
    [delivery] = parsed.deliveries
    return delivery.problem


# Limits, measured before anything is read


def test_an_event_at_the_size_limit_is_read_and_one_byte_more_is_refused() -> None:
    # {"Records": [<n chars>, 7]}: the dict 2 + key 7 + 4, the list 2 + 2 items,
    # the number 8 and the string n + 2: n + 27 in all.
    def event(n: int) -> dict[str, Any]:
        return {"Records": ["x" * n, 7]}

    at_limit = parse_event(event(MAX_EVENT_BYTES - 27))
    assert "larger than" not in (problem_of(at_limit) or "")
    over = parse_event(event(MAX_EVENT_BYTES - 26))
    assert over.source is Source.S3
    assert problem_of(over) == f"event is larger than {MAX_EVENT_BYTES} bytes"


def test_size_counts_dictionary_keys() -> None:
    # {"k": <n chars>}: 2 + (1 + 4) + n + 2.
    assert "larger" not in (problem_of(parse_event({"k": "x" * (MAX_EVENT_BYTES - 9)})) or "")
    assert "larger" in (problem_of(parse_event({"k": "x" * (MAX_EVENT_BYTES - 8)})) or "")


def test_size_adds_up_across_every_part_of_the_event() -> None:
    # {"Records": [{"a": 1}, <n chars>]}: 13 + 4, the string n + 2 (read first), then the
    # inner dict 2 + (1 + 4) and its number 8: n + 34 in all.
    def event(n: int) -> dict[str, Any]:
        return {"Records": [{"a": 1}, "x" * n]}

    assert "larger" not in (problem_of(parse_event(event(MAX_EVENT_BYTES - 34))) or "")
    assert "larger" in (problem_of(parse_event(event(MAX_EVENT_BYTES - 33))) or "")


def test_an_event_at_the_depth_limit_is_read_and_one_level_more_is_refused() -> None:
    deepest = {"Records": nested(MAX_JSON_DEPTH - 1)}
    assert "deeper" not in (problem_of(parse_event(deepest)) or "")
    too_deep = parse_event({"Records": nested(MAX_JSON_DEPTH)})
    assert too_deep.source is Source.S3
    assert problem_of(too_deep) == f"event is nested deeper than {MAX_JSON_DEPTH} levels"


def test_depth_counts_through_dictionaries_too() -> None:
    value: object = 1
    for _ in range(MAX_JSON_DEPTH - 1):
        value = {"k": value}
    assert "deeper" not in (problem_of(parse_event(value)) or "")
    assert "deeper" in (problem_of(parse_event({"k": value})) or "")


def test_json_inside_an_sqs_body_has_the_same_depth_limit() -> None:
    body = json.dumps({"Records": nested(MAX_JSON_DEPTH)})
    parsed = parse_event(sqs_event(body))
    assert problem_of(parsed) == (
        f"SQS message body: event is nested deeper than {MAX_JSON_DEPTH} levels"
    )


# Wrappings


def test_three_destination_records_deep_is_still_read_and_four_is_not() -> None:
    event: object = s3_event()
    for _ in range(3):
        event = destination(event)
    [delivery] = parse_event(event).deliveries
    assert [ref.key for ref in delivery.objects] == ["a.zip"]
    too_deep = parse_event(destination(event))
    assert (too_deep.source, problem_of(too_deep)) == (Source.S3, "event is nested too deeply")


def test_an_sns_events_destination_record_in_sqs_is_read() -> None:
    """SQS body -> destination record -> SNS event -> S3 notification: the deepest real one."""
    parsed = parse_event(sqs_event(destination({"Records": [sns_record(s3_event())]})))
    assert parsed.source is Source.SQS
    [delivery] = parsed.deliveries
    assert [ref.key for ref in delivery.objects] == ["a.zip"]
    assert delivery.problem is None


def test_an_sns_envelope_of_a_destination_record_in_sqs_is_read() -> None:
    envelope = {"Type": "Notification", "Message": json.dumps(destination(s3_event()))}
    [delivery] = parse_event(sqs_event(envelope)).deliveries
    assert [ref.key for ref in delivery.objects] == ["a.zip"]


def test_sns_wrapped_in_sns_past_the_limit_is_refused() -> None:
    event: object = s3_event()
    for _ in range(4):
        event = {"Records": [sns_record(event)]}
    [delivery] = parse_event(event).deliveries
    assert delivery.objects == ()
    assert delivery.problem == "event is nested too deeply"


def test_each_sns_record_is_read_on_its_own() -> None:
    test_event = {"Service": "Amazon S3", "Event": "s3:TestEvent"}
    event = {
        "Records": [
            sns_record(test_event),
            sns_record("not json"),
            sns_record(s3_event(s3_record("b.zip"))),
            sns_record("[also not json"),
        ]
    }
    [delivery] = parse_event(event).deliveries
    assert [ref.key for ref in delivery.objects] == ["b.zip"]
    assert delivery.ignored == 1
    assert delivery.problem == "SNS message is not JSON; SNS message is not JSON"


def test_the_s3_test_event_needs_no_work() -> None:
    parsed = parse_event(sqs_event({"Service": "Amazon S3", "Event": "s3:TestEvent"}))
    [delivery] = parsed.deliveries
    assert (delivery.objects, delivery.problem, delivery.ignored) == ((), None, 1)


def test_an_sqs_message_id_that_is_not_a_string_is_not_kept() -> None:
    [delivery] = parse_event(sqs_event(s3_event(), message_id=5)).deliveries
    assert delivery.message_id is None
    assert [ref.key for ref in delivery.objects] == ["a.zip"]


def test_an_sqs_body_that_is_not_json_says_so() -> None:
    assert problem_of(parse_event(sqs_event("{oops"))) == "SQS message body is not JSON"
    assert problem_of(parse_event(sqs_event("[1]"))) == "event is not a JSON object"


def test_an_s3_notification_with_a_detail_field_is_still_a_notification() -> None:
    event = s3_event() | {"detail": {"note": "added by a forwarding rule"}}
    [delivery] = parse_event(sqs_event(event)).deliveries
    assert [ref.key for ref in delivery.objects] == ["a.zip"]


def test_non_json_object_event_is_a_problem_of_an_s3_event() -> None:
    parsed = parse_event(["not", "an", "object"])
    assert (parsed.source, problem_of(parsed)) == (Source.S3, "event is not a JSON object")


# Fields of each source


def test_s3_record_keeps_who_put_the_object_and_from_where() -> None:
    record = s3_record(
        userIdentity={"principalId": "AWS:AIDAEXAMPLE"},
        requestParameters={"sourceIPAddress": "203.0.113.7"},
    )
    [delivery] = parse_event(s3_event(record)).deliveries
    [ref] = delivery.objects
    assert (ref.principal, ref.source_ip) == ("AWS:AIDAEXAMPLE", "203.0.113.7")


@pytest.mark.parametrize(
    ("principal", "kept"),
    [
        ("p", "p"),
        ("p" * 256, "p" * 256),
        ("p" * 257, "unknown"),
        ("", "unknown"),
        (None, "unknown"),
    ],
)
def test_audit_fields_are_kept_only_when_short_printable_text(
    principal: str | None, kept: str
) -> None:
    record = s3_record(
        userIdentity={"principalId": principal},
        requestParameters={"sourceIPAddress": principal},
    )
    [delivery] = parse_event(s3_event(record)).deliveries
    [ref] = delivery.objects
    assert ref.principal == kept
    assert ref.source_ip == (None if kept == "unknown" else kept)


def test_s3_record_problems_say_what_is_missing() -> None:
    no_name = s3_record()
    del no_name["eventName"]
    no_key = s3_record(key="")
    event = s3_event({"eventSource": "aws:sqs"}, no_name, no_key, s3_record("ok.zip"))
    [delivery] = parse_event(event).deliveries
    assert [ref.key for ref in delivery.objects] == ["ok.zip"]
    assert delivery.problem == (
        "record is not an S3 notification record; S3 record has no eventName; "
        "S3 record has no object key"
    )


def test_eventbridge_event_keeps_every_field_of_the_object() -> None:
    event = eventbridge(
        {"key": "k.zip", "version-id": "v1", "etag": '"e1"', "size": 42},
        requester="123456789012",
        **{"source-ip-address": "198.51.100.4"},
    )
    [delivery] = parse_event(event).deliveries
    assert delivery.objects == (
        ObjectRef(
            "bucket",
            "k.zip",
            version_id="v1",
            etag="e1",
            size=42,
            principal="123456789012",
            source_ip="198.51.100.4",
        ),
    )
    assert delivery.ignored == 0


def test_eventbridge_etag_may_be_spelled_eTag() -> None:
    [delivery] = parse_event(eventbridge({"key": "k.zip", "eTag": "e2"})).deliveries
    [ref] = delivery.objects
    assert ref.etag == "e2"
    assert ref.principal == "unknown"


def test_eventbridge_events_that_need_no_work_are_counted_as_ignored() -> None:
    other = eventbridge({"key": "k.zip"}) | {"detail-type": "Object Deleted"}
    folder = eventbridge({"key": "folder/"})
    for event in (other, folder):
        [delivery] = parse_event(event).deliveries
        assert (delivery.objects, delivery.problem, delivery.ignored) == ((), None, 1)


def test_eventbridge_problems_say_what_is_missing() -> None:
    no_object = eventbridge({"key": "k.zip"})
    del no_object["detail"]["object"]
    no_key = eventbridge({"key": ""})
    assert problem_of(parse_event(no_object)) == "EventBridge event has no bucket name or object"
    assert problem_of(parse_event(no_key)) == "EventBridge event has no object key"


@pytest.mark.parametrize(
    ("version", "etag", "size", "expected"),
    [
        ("", "", "12", (None, None, None)),
        (5, None, True, (None, None, None)),
        ("v9", '"abc-2"', 0, ("v9", "abc-2", 0)),
    ],
)
def test_object_fields_of_the_wrong_kind_are_dropped(
    version: object, etag: object, size: object, expected: tuple[object, ...]
) -> None:
    record = s3_record()
    record["s3"]["object"] |= {"versionId": version, "eTag": etag, "size": size}
    [delivery] = parse_event(s3_event(record)).deliveries
    [ref] = delivery.objects
    assert (ref.version_id, ref.etag, ref.size) == expected


# S3 Batch Operations


def test_batch_reply_echoes_the_job_and_reads_each_task() -> None:
    parsed = parse_event(
        batch(
            {
                "taskId": "t1",
                "s3BucketArn": "arn:aws:s3:::bucket",
                "s3Key": "a%2Bb.zip",
                "s3VersionId": "v3",
            },
            {"s3Key": "no-task-id.zip", "s3BucketArn": "arn:aws:s3:::bucket"},
            {"taskId": "t3", "s3BucketArn": "arn:aws:s3:::bucket"},
            {"taskId": "t4", "s3BucketArn": "arn:aws:s3:::bucket", "s3Key": "folder/"},
            {"taskId": "t5", "s3Bucket": "other", "s3Key": "e.zip"},
        )
    )
    assert parsed.source is Source.BATCH
    assert parsed.batch_meta == {"invocationSchemaVersion": "1.0", "invocationId": "inv-1"}
    first, second, third, fourth, fifth = parsed.deliveries
    assert first.objects == (ObjectRef("bucket", "a+b.zip", version_id="v3"),)
    assert (first.message_id, first.ignored) == ("t1", 0)
    assert (second.message_id, second.problem) == (None, "batch task has no taskId")
    assert (third.message_id, third.problem) == ("t3", "batch task has no bucket or key")
    assert (fourth.objects, fourth.ignored, fourth.problem) == ((), 1, None)
    assert fifth.objects == (ObjectRef("other", "e.zip"),)


def test_batch_tasks_that_are_not_a_list_are_one_problem() -> None:
    parsed = parse_event(batch() | {"tasks": {"taskId": "t1"}})
    assert parsed.source is Source.BATCH
    assert parsed.batch_meta == {"invocationSchemaVersion": "1.0", "invocationId": "inv-1"}
    assert problem_of(parsed) == "tasks is not a list"


def test_tasks_without_a_schema_version_are_not_a_batch_job() -> None:
    parsed = parse_event({"tasks": [], "Records": [s3_record()]})
    assert parsed.source is Source.S3
    [delivery] = parsed.deliveries
    assert [ref.key for ref in delivery.objects] == ["a.zip"]


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:s3",  # too short
        "arn:aws:s3:us-east-1::bucket",  # a region: not a bucket ARN
        "arn:aws:s3::123456789012:bucket",  # an account: not a bucket ARN
        "arn:aws:s3:::bucket/key",
        "nra:aws:s3:::bucket",
    ],
)
def test_a_task_whose_arn_is_not_a_bucket_arn_has_no_bucket(arn: str) -> None:
    [delivery] = parse_event(batch({"taskId": "t1", "s3BucketArn": arn, "s3Key": "k"})).deliveries
    assert delivery.problem == "batch task has no bucket or key"


def test_an_sns_envelope_whose_message_is_not_json_says_so() -> None:
    envelope = {"Type": "Notification", "Message": "{oops"}
    assert problem_of(parse_event(sqs_event(envelope))) == "SNS message is not JSON"


def test_a_json_object_that_is_no_known_event_says_what_it_is_not() -> None:
    assert problem_of(parse_event(sqs_event({"hello": "world"}))) == (
        "event has no Records and is not an S3, SQS, SNS or EventBridge event"
    )
