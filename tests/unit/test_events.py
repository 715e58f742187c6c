"""Event parsing: every source, every key encoding, and malformed input."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from extension_uploader.events import ObjectRef, Source, parse_event

EVENTS = Path(__file__).parent.parent / "events"


def load(name: str) -> Any:
    return json.loads((EVENTS / name).read_text())


def s3_notification(
    key: str, *, event_name: str = "ObjectCreated:Put", **obj: Any
) -> dict[str, Any]:
    return {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": event_name,
                "s3": {"bucket": {"name": "bucket"}, "object": {"key": key, **obj}},
            }
        ]
    }


def only_object(event: object) -> ObjectRef:
    parsed = parse_event(event)
    [delivery] = parsed.deliveries
    assert delivery.problem is None
    [ref] = delivery.objects
    return ref


def test_powertools_s3_sample_is_one_object_with_its_etag_and_size() -> None:
    ref = only_object(load("s3Event.json"))
    assert ref.bucket == "lambda-artifacts-deafc19498e3f2df"
    assert ref.key == "b21b84d653bb07b05b1e6b33684dc11b"
    assert ref.etag == "b21b84d653bb07b05b1e6b33684dc11b"
    assert ref.size == 1305107
    assert ref.version_id is None  # an unversioned bucket's record carries no versionId


@pytest.mark.parametrize(
    ("encoded", "decoded"),
    [
        ("a+b%2Bc.zip", "a b+c.zip"),  # real S3: '+' for space, %2B for '+'
        ("Happy%20Face.zip", "Happy Face.zip"),  # sam local generate-event
        ("folder%2Fsub%2Fx.zip", "folder/sub/x.zip"),  # moto encodes '/' too
        ("folder/sub/x.zip", "folder/sub/x.zip"),  # real S3 leaves '/' as is
        ("100%25+sure.zip", "100% sure.zip"),
        ("caf%C3%A9+%E2%9C%93.zip", "café ✓.zip"),
    ],
)
def test_s3_keys_are_decoded_once_with_unquote_plus(encoded: str, decoded: str) -> None:
    assert only_object(s3_notification(encoded)).key == decoded


def test_etag_quotes_and_version_are_kept_apart() -> None:
    ref = only_object(s3_notification("x.zip", eTag='"abc"', versionId="v1", size=12))
    assert (ref.etag, ref.version_id, ref.size) == ("abc", "v1", 12)


def test_every_record_of_a_multi_record_event_is_an_object() -> None:
    event = s3_notification("a.zip")
    event["Records"] += s3_notification("b.zip")["Records"]
    [delivery] = parse_event(event).deliveries
    assert [ref.key for ref in delivery.objects] == ["a.zip", "b.zip"]


def test_removals_tagging_events_and_folder_placeholders_need_no_work() -> None:
    event = s3_notification("gone.zip", event_name="ObjectRemoved:Delete")
    event["Records"] += s3_notification("x.zip", event_name="ObjectTagging:Put")["Records"]
    event["Records"] += s3_notification("folder/")["Records"]
    [delivery] = parse_event(event).deliveries
    assert delivery.objects == () and delivery.problem is None and delivery.ignored == 3


def test_s3_test_event_is_ignored() -> None:
    [delivery] = parse_event({"Service": "Amazon S3", "Event": "s3:TestEvent"}).deliveries
    assert delivery.problem is None and delivery.objects == ()


def test_eventbridge_keys_are_not_decoded_again() -> None:
    event = load("s3EventBridgeNotificationObjectCreatedEvent.json")
    event["detail"]["object"]["key"] = "a+b%2B.zip"
    parsed = parse_event(event)
    assert parsed.source is Source.EVENTBRIDGE
    ref = parsed.deliveries[0].objects[0]
    assert ref.key == "a+b%2B.zip"
    assert ref.etag == "4e68adba0abe2dc8653dc3354e14c01d"


def test_sqs_wrapped_s3_notification_keeps_the_message_id() -> None:
    parsed = parse_event(load("s3SqsEvent.json"))
    assert parsed.source is Source.SQS
    [delivery] = parsed.deliveries
    assert delivery.message_id == "ca3e7a89-c358-40e5-8aa0-5da01403c267"
    assert delivery.objects[0].key == "test.pdf"
    assert delivery.objects[0].version_id == "yd3d4HaWOT2zguDLvIQLU6ptDTwKBnQV"


def test_sns_inside_sqs_is_unwrapped() -> None:
    inner = json.dumps(s3_notification("via+sns.zip"))
    envelope = {"Type": "Notification", "Message": inner}
    event = {
        "Records": [{"eventSource": "aws:sqs", "messageId": "m1", "body": json.dumps(envelope)}]
    }
    [delivery] = parse_event(event).deliveries
    assert delivery.objects[0].key == "via sns.zip"


def test_eventbridge_inside_sqs_is_understood() -> None:
    body = json.dumps(load("s3EventBridgeNotificationObjectCreatedEvent.json"))
    event = {"Records": [{"eventSource": "aws:sqs", "messageId": "m1", "body": body}]}
    [delivery] = parse_event(event).deliveries
    assert delivery.objects[0].key == "IMG_m7fzo3.jpg"


def test_direct_sns_event() -> None:
    message = json.dumps(s3_notification("x.zip"))
    event = {"Records": [{"EventSource": "aws:sns", "Sns": {"Message": message}}]}
    parsed = parse_event(event)
    assert parsed.source is Source.SNS
    assert parsed.deliveries[0].objects[0].key == "x.zip"


def test_sqs_message_that_is_not_s3_is_a_problem_of_that_message_only() -> None:
    event = load("sqsDlqTriggerEvent.json")
    event["Records"].append(
        {
            "eventSource": "aws:sqs",
            "messageId": "good",
            "body": json.dumps(s3_notification("ok.zip")),
        }
    )
    bad, good = parse_event(event).deliveries
    assert bad.problem and bad.message_id == "db37cc61-1bb0-4e77-b6f3-7cf87f44a72a"
    assert good.problem is None and good.objects[0].key == "ok.zip"


@pytest.mark.parametrize(
    "schema", ["s3BatchOperationEventSchemaV1.json", "s3BatchOperationEventSchemaV2.json"]
)
def test_batch_operations_tasks(schema: str) -> None:
    parsed = parse_event(load(schema))
    assert parsed.source is Source.BATCH
    [delivery] = parsed.deliveries
    assert delivery.message_id == "dGFza2lkZ29lc2hlcmUK"
    assert delivery.objects[0].key == "prefix/dataset/dataset.20231222.json.gz"
    assert parsed.batch_meta and parsed.batch_meta["invocationId"]


@pytest.mark.parametrize("partition", ["aws", "aws-cn", "aws-us-gov", "aws-iso-b"])
def test_batch_task_bucket_arn_of_any_partition(partition: str) -> None:
    event = load("s3BatchOperationEventSchemaV1.json")
    event["tasks"][0]["s3BucketArn"] = f"arn:{partition}:s3:::my-bucket.example"
    [delivery] = parse_event(event).deliveries
    assert delivery.problem is None
    assert delivery.objects[0].bucket == "my-bucket.example"


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:s3:::",  # no bucket
        "arn::s3:::bucket",  # no partition
        "arn:aws:sqs:::bucket",  # not S3
        "arn:aws:s3:us-east-1:123456789012:bucket",  # region and account: not a bucket ARN
        "arn:aws:s3:::bucket/key.zip",  # an object, not a bucket
        "aws:s3:::bucket",
        42,
    ],
)
def test_batch_task_with_a_bad_bucket_arn_is_a_problem(arn: object) -> None:
    event = load("s3BatchOperationEventSchemaV1.json")
    event["tasks"][0]["s3BucketArn"] = arn
    [delivery] = parse_event(event).deliveries
    assert delivery.problem == "batch task has no bucket or key"
    assert delivery.objects == ()


@pytest.mark.parametrize(
    ("schema", "encoded"),
    [
        ("s3BatchOperationEventSchemaV1.json", "in+box/a%2Bb+caf%C3%A9.zip"),
        ("s3BatchOperationEventSchemaV2.json", "in%20box/a%2Bb%20caf%C3%A9.zip"),
    ],
)
def test_batch_task_keys_are_decoded_once(schema: str, encoded: str) -> None:
    event = load(schema)
    event["tasks"][0]["s3Key"] = encoded
    [delivery] = parse_event(event).deliveries
    assert delivery.objects[0].key == "in box/a+b café.zip"


@pytest.mark.parametrize(
    "event",
    [
        None,
        [],
        "text",
        {},
        {"Records": []},
        {"Records": "nope"},
        {"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put"}]},
        {
            "Records": [
                {
                    "eventSource": "aws:s3",
                    "eventName": "ObjectCreated:Put",
                    "s3": {"bucket": {"name": "b"}, "object": {"key": 5}},
                }
            ]
        },
        {"Records": [{"eventSource": "aws:sqs", "messageId": "m", "body": "{not json"}]},
        {"Records": [{"eventSource": "aws:sqs", "messageId": "m", "body": 42}]},
        {"source": "aws.s3", "detail-type": "Object Created", "detail": {"bucket": {}}},
        {"invocationSchemaVersion": "2.0", "tasks": [{"nothing": 1}]},
    ],
)
def test_malformed_events_become_problems_not_exceptions(event: object) -> None:
    parsed = parse_event(event)
    assert any(delivery.problem for delivery in parsed.deliveries)
    assert all(delivery.objects == () for delivery in parsed.deliveries if delivery.problem)


def test_nesting_is_bounded() -> None:
    payload: object = s3_notification("deep.zip")
    for _ in range(6):
        payload = {"Type": "Notification", "Message": json.dumps(payload)}
    [delivery] = parse_event(payload).deliveries
    assert delivery.problem == "event is nested too deeply"


def test_a_malformed_record_does_not_hide_the_good_ones_beside_it() -> None:
    event = s3_notification("good.zip")
    event["Records"].insert(
        0, {"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": {}}
    )
    [delivery] = parse_event(event).deliveries
    assert delivery.problem == "S3 record has no bucket name or object"
    assert [ref.key for ref in delivery.objects] == ["good.zip"]


def _random_value(rng: random.Random, depth: int) -> object:
    """JSON-like values biased towards the shapes the parser looks for."""
    keys = [
        "Records",
        "eventSource",
        "eventName",
        "s3",
        "bucket",
        "name",
        "object",
        "key",
        "body",
        "Sns",
        "Message",
        "Type",
        "detail",
        "source",
        "tasks",
        "taskId",
        "s3Key",
        "invocationSchemaVersion",
        "versionId",
        "eTag",
        "size",
        "detail-type",
        "x",
    ]
    scalars: list[object] = [
        None,
        True,
        0,
        -1,
        2**70,
        1.5,
        "",
        "aws:s3",
        "aws:sqs",
        "aws:sns",
        "ObjectCreated:Put",
        "Notification",
        "aws.s3",
        "Object Created",
        "a%2Fb+c.zip",
        "{",
        "{}",
        '{"Records": 5}',
        "null",
        "/",
    ]
    if depth <= 0 or rng.random() < 0.3:
        return rng.choice(scalars)
    if rng.random() < 0.3:
        return [_random_value(rng, depth - 1) for _ in range(rng.randint(0, 3))]
    value = {rng.choice(keys): _random_value(rng, depth - 1) for _ in range(rng.randint(0, 5))}
    if rng.random() < 0.2:  # a JSON string inside, as SQS and SNS carry it
        value["body" if rng.random() < 0.5 else "Message"] = json.dumps(
            _random_value(rng, depth - 1)
        )
    return value


def _mutate(rng: random.Random, value: object, depth: int = 0) -> object:
    """A real event with one subtree somewhere replaced by a random value."""
    if isinstance(value, dict) and value and rng.random() < 0.8:
        key = rng.choice(list(value))
        return {**value, key: _mutate(rng, value[key], depth + 1)}
    if isinstance(value, list) and value and rng.random() < 0.8:
        index = rng.randrange(len(value))
        return [*value[:index], _mutate(rng, value[index], depth + 1), *value[index + 1 :]]
    if isinstance(value, str) and value.startswith("{") and rng.random() < 0.8:
        return json.dumps(_mutate(rng, json.loads(value), depth + 1))
    return _random_value(rng, 3)


def test_parse_event_never_raises_on_random_shapes() -> None:
    rng = random.Random(20261128)
    real = [load(path.name) for path in sorted(EVENTS.glob("*.json"))]
    real.append(s3_notification("a b.zip", versionId="v", eTag="e", size=1))
    for n in range(20000):
        event = _random_value(rng, 6) if n % 4 == 0 else _mutate(rng, rng.choice(real))
        parsed = parse_event(event)
        for delivery in parsed.deliveries:
            assert delivery.problem is None or isinstance(delivery.problem, str)
            assert all(isinstance(ref.key, str) and ref.key for ref in delivery.objects)
            assert all(isinstance(ref.bucket, str) for ref in delivery.objects)
