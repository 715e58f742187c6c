"""``ece-uploader redrive``: the failed-events queue emptied into the right outcomes.

The queue is moto's SQS; its messages are Lambda on-failure destination records
(and the other shapes a failed-events queue can hold) for real objects.
"""

from __future__ import annotations

import functools
import io
import json
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from ece_uploader.cli import main
from ece_uploader.commands.common import Context
from ece_uploader.commands.redrive import unwrap
from ece_uploader.emulator import EceEmulator, Fault
from extension_uploader import app
from extension_uploader.outcome import TAG_STATUS

from .conftest import FAST_RETRIES, TAG, Put, Tags, s3_event

pytestmark = pytest.mark.integration


def zip_with(label: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        entry = zipfile.ZipInfo("dictionaries/synonyms.txt", date_time=(2026, 11, 30, 9, 0, 0))
        archive.writestr(entry, f"{label}, {label}-synonym\n")
    return buffer.getvalue()


def destination_record(payload: object) -> dict[str, Any]:
    return {
        "version": "1.0",
        "timestamp": "2026-11-30T09:15:00.000Z",
        "requestContext": {
            "requestId": "c9a1f0e2-0d7c-4b8e-9d8a-5f1b2f6c7a10",
            "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:uploader:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": 3,
        },
        "requestPayload": payload,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST"},
        "responsePayload": {"errorType": "RetryableEventError", "errorMessage": "retry"},
    }


@pytest.fixture
def env_file(tmp_path: Path, function_env: dict[str, str]) -> Path:
    path = tmp_path / "env.json"
    path.write_text(json.dumps({"UploaderFunction": function_env}))
    return path


@pytest.fixture
def sqs(aws_endpoint: str) -> Any:
    return boto3.client("sqs")


@pytest.fixture
def queue(sqs: Any) -> Iterator[str]:
    url: str = sqs.create_queue(QueueName=f"failed-{id(sqs)}")["QueueUrl"]
    yield url
    sqs.delete_queue(QueueUrl=url)


def send(sqs: Any, queue: str, *bodies: object) -> None:
    for body in bodies:
        sqs.send_message(
            QueueUrl=queue, MessageBody=body if isinstance(body, str) else json.dumps(body)
        )


def waiting(sqs: Any, queue: str) -> tuple[int, int]:
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return (
        int(attributes["ApproximateNumberOfMessages"]),
        int(attributes["ApproximateNumberOfMessagesNotVisible"]),
    )


def redrive(
    env_file: Path, capsys: pytest.CaptureFixture[str], queue: str, *args: str
) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()
    code = main(["redrive", "--env-vars", str(env_file), "--queue", queue, "--json", *args])
    return code, json.loads(capsys.readouterr().out)


def test_redrive_empties_a_queue_of_on_failure_records_into_correct_outcomes(
    put: Callable[..., Put],
    sqs: Any,
    queue: str,
    ece: EceEmulator,
    bundle: str,
    env_file: Path,
    tags_of: Tags,
    capsys: pytest.CaptureFixture[str],
) -> None:
    other = str(ece.create_extension(name="stemmer", extension_type="bundle", version="*")["id"])
    first = put("redrive/one two.zip", zip_with("one"), {TAG: bundle})
    second = put("redrive/a+b.zip", zip_with("two"), {TAG: other})
    untagged = put("redrive/untagged.zip", zip_with("three"))
    sns_wrapped = put("redrive/sns.zip", zip_with("four"), {TAG: other})
    sns_envelope = {"Type": "Notification", "Message": json.dumps(s3_event(sns_wrapped))}
    send(
        sqs,
        queue,
        destination_record(s3_event(first)),
        destination_record(s3_event(second)),
        destination_record(s3_event(untagged)),
        sns_envelope,  # an SNS notification as an SNS-to-SQS subscription delivers it
    )

    code, document = redrive(env_file, capsys, queue, "--concurrency", "2")

    assert code == 0, document
    assert document["received"] == document["redelivered"] == document["deleted"] == 4
    assert document["left"] == 0
    outcomes = {
        result["key"]: (result["status"], result["reason"])
        for message in document["messages"]
        for result in message["results"]
    }
    assert outcomes == {
        "redrive/one two.zip": ("uploaded", "ok"),
        "redrive/a+b.zip": ("uploaded", "ok"),
        "redrive/untagged.zip": ("rejected", "tag.missing_extension_id"),
        "redrive/sns.zip": ("uploaded", "ok"),
    }
    assert tags_of(first)[TAG_STATUS] == "uploaded"
    assert tags_of(untagged)[TAG_STATUS] == "rejected"
    assert ece.stored_bytes(bundle) == zip_with("one")
    assert waiting(sqs, queue) == (0, 0)

    code, document = redrive(env_file, capsys, queue)  # an empty queue: nothing to do
    assert code == 0 and document["received"] == 0


def test_what_cannot_be_redelivered_stays_in_the_queue(
    put: Callable[..., Put],
    sqs: Any,
    queue: str,
    ece: EceEmulator,
    bundle: str,
    env_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # ECE's retries wait milliseconds here, not seconds
    monkeypatch.setattr(app, "build_runtime", functools.partial(app.build_runtime, **FAST_RETRIES))
    good = put("left/good.zip", zip_with("good"), {TAG: bundle})
    throttled = str(ece.create_extension(name="busy", extension_type="bundle", version="*")["id"])
    busy = put("left/busy.zip", zip_with("busy"), {TAG: throttled})
    ece.script(Fault(status=503), method="GET", extension_id=throttled, times=None)
    send(
        sqs,
        queue,
        destination_record(s3_event(good)),
        destination_record(s3_event(busy)),
        "hello world",  # not an event at all
    )

    code, document = redrive(env_file, capsys, queue, "--visibility-timeout", "60")

    assert code == 1
    assert (document["received"], document["redelivered"], document["left"]) == (3, 1, 2)
    by_problem = {m["problem"] is not None: m for m in document["messages"] if not m["deleted"]}
    assert by_problem[True]["results"][0]["reason"] == "event.malformed"
    assert by_problem[False]["results"][0]["key"] == "left/busy.zip"
    assert by_problem[False]["results"][0]["status"] == "failed"
    assert waiting(sqs, queue) == (0, 2)  # left, invisible until their timeout ends


def test_max_bounds_the_messages_read(
    put: Callable[..., Put],
    sqs: Any,
    queue: str,
    bundle: str,
    env_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    objects = [put(f"max/{i}.zip", zip_with(f"m{i}"), {TAG: bundle}) for i in range(5)]
    send(sqs, queue, *(destination_record(s3_event(obj)) for obj in objects))

    code, document = redrive(env_file, capsys, queue, "--max", "3")

    assert code == 0 and document["received"] == 3
    assert waiting(sqs, queue)[0] == 2


def test_redrive_to_a_function_invokes_it_with_the_original_event(
    put: Callable[..., Put],
    sqs: Any,
    queue: str,
    bundle: str,
    env_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    obj = put("fn/x.zip", zip_with("x"), {TAG: bundle})
    event = s3_event(obj)
    send(sqs, queue, destination_record(event), destination_record(event))
    lambda_client = stub_lambda(monkeypatch, env_file)
    with Stubber(lambda_client) as stub:
        for error in (None, "Unhandled"):
            expected = {
                "FunctionName": "uploader",
                "InvocationType": "RequestResponse",
                "Payload": json.dumps(event).encode(),
            }
            reply: dict[str, Any] = {
                "StatusCode": 200,
                "Payload": streaming(
                    {"errorType": "RetryableEventError", "errorMessage": "retry"}
                    if error
                    else {"results": [{"bucket": obj.bucket, "key": obj.key, "status": "uploaded",
                                       "reason": "ok", "version_id": obj.version_id}]}
                ),
            }  # fmt: skip
            if error:
                reply["FunctionError"] = error
            stub.add_response("invoke", reply, expected)

        code, document = redrive(
            env_file, capsys, queue, "--to", "function:uploader", "--wait", "--concurrency", "1"
        )
        stub.assert_no_pending_responses()

    assert code == 1
    assert (document["redelivered"], document["left"]) == (1, 1)
    assert document["summary"] == {"failed": {"event.retry": 1}, "uploaded": {"ok": 1}}


def test_unwrap_reads_every_shape_a_failed_events_queue_holds() -> None:
    s3 = {"bucket": {"name": "b"}, "object": {"key": "k.zip"}}
    inner = {"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": s3}]}
    assert unwrap(json.dumps(destination_record(inner))) == (inner, None)
    assert unwrap(json.dumps(inner)) == (inner, None)
    eventbridge = {"source": "aws.s3", "detail-type": "Object Created",
                   "detail": {"bucket": {"name": "b"}, "object": {"key": "k.zip"}}}  # fmt: skip
    assert unwrap(json.dumps(destination_record(eventbridge))) == (eventbridge, None)
    assert unwrap("not json")[0] is None
    assert unwrap(json.dumps({"hello": "world"}))[0] is None
    assert unwrap(json.dumps(destination_record(destination_record(inner)))) == (inner, None)


# --- helpers for the Lambda API, stubbed against the real service model ----------------------


def stub_lambda(monkeypatch: pytest.MonkeyPatch, env_file: Path) -> Any:
    """The command's own Lambda client (made by ``Context.client``), to be stubbed."""
    real_client = Context.client
    made: dict[str, Any] = {}

    def client(self: Context, service: str, **options: Any) -> Any:
        if service != "lambda":
            return real_client(self, service, **options)
        if "lambda" not in made:
            made["lambda"] = real_client(self, service, **options)
        return made["lambda"]

    monkeypatch.setattr(Context, "client", client)
    made["lambda"] = real_client(Context({"AWS_REGION": "us-east-1", **_aws()}), "lambda")
    return made["lambda"]


def _aws() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k.startswith("AWS_")}


def streaming(document: object) -> Any:
    from botocore.response import StreamingBody

    data = json.dumps(document).encode()
    return StreamingBody(io.BytesIO(data), len(data))
