"""On-failure destination records and the replay marker, built from the real sample events."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from extension_uploader.events import (
    BATCH_FORCE_ARGUMENT,
    REPLAY_MARKER,
    ObjectRef,
    Source,
    is_destination_record,
    parse_event,
)

EVENTS = Path(__file__).parent.parent / "events"
S3_SAMPLE_BUCKET = "lambda-artifacts-deafc19498e3f2df"
S3_SAMPLE_KEY = "b21b84d653bb07b05b1e6b33684dc11b"


def load(name: str) -> Any:
    return json.loads((EVENTS / name).read_text())


def destination_record(payload: object, condition: str = "RetriesExhausted") -> dict[str, Any]:
    """What Lambda sends to an on-failure destination after giving up on an async event."""
    return {
        "version": "1.0",
        "timestamp": "2026-11-30T09:15:00.000Z",
        "requestContext": {
            "requestId": "e4b46cbf-b738-xmpl-8880-a18cdf61200e",
            "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:uploader:$LATEST",
            "condition": condition,
            "approximateInvokeCount": 3,
        },
        "requestPayload": payload,
        "responseContext": {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": "Unhandled",
        },
        "responsePayload": {
            "errorMessage": "1 part(s) of the event must be retried",
            "errorType": "RetryableEventError",
        },
    }


def sqs_event(*bodies: object) -> dict[str, Any]:
    """The sample SQS event, one record per body (JSON-encoded)."""
    template = load("sqsDlqTriggerEvent.json")["Records"][0]
    records = []
    for index, body in enumerate(bodies):
        record = copy.deepcopy(template)
        record["messageId"] = f"message-{index}"
        record["body"] = body if isinstance(body, str) else json.dumps(body)
        records.append(record)
    return {"Records": records}


def objects(event: object) -> list[ObjectRef]:
    parsed = parse_event(event)
    assert all(delivery.problem is None for delivery in parsed.deliveries)
    return [ref for delivery in parsed.deliveries for ref in delivery.objects]


@pytest.mark.parametrize("condition", ["RetriesExhausted", "EventAgeExceeded"])
def test_a_destination_record_is_its_request_payload(condition: str) -> None:
    record = destination_record(load("s3Event.json"), condition)

    assert is_destination_record(record)
    parsed = parse_event(record)
    assert parsed.source is Source.S3  # retried the way the original event is
    [ref] = objects(record)
    assert (ref.bucket, ref.key, ref.etag) == (S3_SAMPLE_BUCKET, S3_SAMPLE_KEY, S3_SAMPLE_KEY)
    assert ref.principal == "AWS:AIDAINPONIXQXHT3IKHL2"
    assert not ref.force


def test_a_destination_record_of_an_eventbridge_event() -> None:
    record = destination_record(load("s3EventBridgeNotificationObjectCreatedEvent.json"))

    assert parse_event(record).source is Source.EVENTBRIDGE
    [ref] = objects(record)
    assert (ref.bucket, ref.key) == ("example-bucket", "IMG_m7fzo3.jpg")


def test_a_destination_record_of_an_sns_wrapped_notification() -> None:
    sns_event = {
        "Records": [
            {"EventSource": "aws:sns", "Sns": {"Message": json.dumps(load("s3Event.json"))}},
        ]
    }

    assert parse_event(destination_record(sns_event)).source is Source.SNS
    assert objects(destination_record(sns_event)) == objects(load("s3Event.json"))


def test_destination_records_inside_sqs_messages_keep_their_message_ids() -> None:
    event = sqs_event(
        destination_record(load("s3Event.json")),
        destination_record(load("s3EventDecodedKey.json")),
        "hello world",  # the sample's own body: not an event
    )

    parsed = parse_event(event)

    assert parsed.source is Source.SQS
    first, second, third = parsed.deliveries
    assert first.message_id == "message-0" and first.problem is None
    assert [ref.key for ref in first.objects] == [S3_SAMPLE_KEY]
    assert second.message_id == "message-1" and second.problem is None
    assert [ref.key for ref in second.objects] == ["Happy Face.jpg"]
    assert third.message_id == "message-2" and third.problem is not None


def test_nested_destination_records_are_bounded() -> None:
    event: object = load("s3Event.json")
    for _ in range(10):
        event = destination_record(event)

    [delivery] = parse_event(event).deliveries

    assert delivery.problem == "event is nested too deeply"
    assert delivery.objects == ()
    # and inside an SQS message too
    [in_sqs] = parse_event(sqs_event(event)).deliveries
    assert in_sqs.problem is not None and in_sqs.objects == ()


def test_a_destination_record_whose_payload_is_not_an_event_is_a_problem() -> None:
    [delivery] = parse_event(destination_record("not an event")).deliveries
    assert delivery.problem is not None and delivery.objects == ()


def test_a_dict_with_only_some_of_the_record_fields_is_not_a_destination_record() -> None:
    assert not is_destination_record({"requestPayload": load("s3Event.json")})
    assert not is_destination_record({"requestPayload": {}, "requestContext": "x", "version": "1"})


def test_the_replay_marker_forces_every_object_of_the_notification() -> None:
    event = load("s3Event.json") | {REPLAY_MARKER: {"force": True}}

    assert [ref.force for ref in objects(event)] == [True]
    # kept through SQS and through a destination record
    assert [ref.force for ref in objects(sqs_event(event))] == [True]
    assert [ref.force for ref in objects(destination_record(event))] == [True]


def test_the_replay_marker_on_an_eventbridge_event() -> None:
    event = load("s3EventBridgeNotificationObjectCreatedEvent.json")
    event[REPLAY_MARKER] = {"force": True}

    assert [ref.force for ref in objects(event)] == [True]


@pytest.mark.parametrize(
    "marker", [{"force": "true"}, {"force": 1}, {"force": False}, "force", True, None]
)
def test_only_a_literal_true_forces(marker: object) -> None:
    event = load("s3Event.json") | {REPLAY_MARKER: marker}
    assert [ref.force for ref in objects(event)] == [False]


def test_the_marker_of_an_outer_envelope_does_not_force_the_inner_event() -> None:
    # Only the event that names the object can ask for it to be forced.
    event = sqs_event(load("s3Event.json")) | {REPLAY_MARKER: {"force": True}}
    assert [ref.force for ref in objects(event)] == [False]


def test_batch_operations_user_argument_forces_every_task() -> None:
    event = load("s3BatchOperationEventSchemaV2.json")
    assert [ref.force for ref in objects(event)] == [False]  # k1, k2: not ours

    event["job"]["userArguments"][BATCH_FORCE_ARGUMENT] = "true"
    assert [ref.force for ref in objects(event)] == [True]

    event["job"]["userArguments"][BATCH_FORCE_ARGUMENT] = "yes"
    assert [ref.force for ref in objects(event)] == [False]
