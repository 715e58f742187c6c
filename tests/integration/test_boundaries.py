"""Edges the happy path never reaches: limits at their exact value, mixed batches,
time running short, big objects, Batch Operations tasks, and bugs in the function.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
import tempfile
import zipfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest

from ece_uploader.emulator import EceEmulator, Fault
from ece_uploader.samples import bundle_zip, traversal_zip
from extension_uploader.app import RetryableEventError, handle_event
from extension_uploader.deadline import Deadline
from extension_uploader.outcome import TAG_SHA256
from extension_uploader.pipeline import MIN_SECONDS_TO_START, Runtime

from .conftest import TAG, Logs, Put, Tags, log_line, outcome, run, s3_event

MiB = 1024 * 1024


def stored_zip(entries: dict[str, bytes]) -> bytes:
    """A zip of stored (uncompressed) entries: its size follows the entries' sizes exactly."""
    from io import BytesIO

    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name, date_time=(2026, 11, 28, 9, 15, 0))
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def sqs_message(message_id: str, *objects: Put) -> dict[str, Any]:
    return {
        "eventSource": "aws:sqs",
        "messageId": message_id,
        "body": json.dumps(s3_event(*objects)),
    }


def fixed_deadline(seconds_of_work: float) -> Deadline:
    """A clock that stands still: this much time left for work, whatever happens."""
    reserve = 10.0
    return Deadline(lambda: int((seconds_of_work + reserve) * 1000), reserve_seconds=reserve)


# -- MAX_ZIP_BYTES ---------------------------------------------------------------------------


def test_an_object_of_exactly_max_zip_bytes_is_accepted_one_byte_more_is_too_large(
    put: Callable[..., Put],
    make_runtime: Callable[..., Runtime],
    ece: EceEmulator,
    bundle: str,
    tags_of: Tags,
    function_logs: Logs,
) -> None:
    at_limit = stored_zip({"dictionaries/words.txt": b"x" * 1000})
    over = stored_zip({"dictionaries/words.txt": b"x" * 1001})
    assert len(over) == len(at_limit) + 1
    runtime = make_runtime({"MAX_ZIP_BYTES": str(len(at_limit))})
    fits = put("limit/at.zip", at_limit, {TAG: bundle})
    too_big = put("limit/over.zip", over, {TAG: bundle})

    run(s3_event(fits, too_big), runtime)

    assert outcome(tags_of(fits)) == ("uploaded", "ok")
    assert outcome(tags_of(too_big)) == ("rejected", "object.too_large")
    detail = log_line(function_logs, too_big.key)["detail"]
    assert detail == f"{len(over)} bytes > {len(at_limit)}"
    assert ece.stored_bytes(bundle) == at_limit
    assert len(ece.find_requests("PUT")) == 1


# -- SQS: a message is retried when any of its objects must be -------------------------------


def test_sqs_message_with_one_object_to_retry_among_several_is_reported(
    put: Callable[..., Put], runtime: Runtime, ece: EceEmulator, bundle: str, tags_of: Tags
) -> None:
    busy_ext = str(ece.create_extension(name="busy", extension_type="bundle", version="*")["id"])
    ece.script(Fault(status=500), method="PUT", extension_id=busy_ext, times=None)
    busy = put("mixed/busy.zip", bundle_zip(), {TAG: busy_ext})
    good = put("mixed/good.zip", bundle_zip(), {TAG: bundle})
    # Another extension: two objects for one extension in one second would supersede.
    other = str(ece.create_extension(name="other", extension_type="bundle", version="*")["id"])
    alone = put("alone/good.zip", bundle_zip(), {TAG: other})
    event = {"Records": [sqs_message("m-mixed", good, busy), sqs_message("m-alone", alone)]}

    result = run(event, runtime)

    assert result == {"batchItemFailures": [{"itemIdentifier": "m-mixed"}]}
    assert outcome(tags_of(good)) == ("uploaded", "ok")
    assert outcome(tags_of(busy)) == ("failed", "ece.root.internal_server_error")
    assert outcome(tags_of(alone)) == ("uploaded", "ok")


# -- Not enough time left to start an object --------------------------------------------------


def test_an_object_is_not_started_without_enough_time_left(
    put: Callable[..., Put],
    runtime: Runtime,
    ece: EceEmulator,
    bundle: str,
    tags_of: Tags,
    function_logs: Logs,
) -> None:
    obj = put("late/start.zip", bundle_zip(), {TAG: bundle})
    # Enough for any single call (MIN_ATTEMPT_SECONDS), not for a whole object.
    deadline = fixed_deadline(MIN_SECONDS_TO_START - 1)
    with pytest.raises(RetryableEventError):  # the platform delivers it again
        handle_event(s3_event(obj), runtime, deadline)
    line = log_line(function_logs, obj.key)
    assert (line["status"], line["reason"]) == ("failed", "lambda.out_of_time")
    assert ece.requests == []  # not even the pre-flight
    assert tags_of(obj) == {TAG: bundle}  # nothing was learnt, so nothing is tagged


def test_an_object_is_started_with_just_enough_time_left(
    put: Callable[..., Put], runtime: Runtime, bundle: str, tags_of: Tags
) -> None:
    obj = put("late/just.zip", bundle_zip(), {TAG: bundle})
    handle_event(s3_event(obj), runtime, fixed_deadline(MIN_SECONDS_TO_START + 0.5))
    assert outcome(tags_of(obj)) == ("uploaded", "ok")


# -- Temporary files ---------------------------------------------------------------------------


def test_nothing_is_left_in_the_temporary_folder_whatever_the_outcome(
    put: Callable[..., Put],
    runtime: Runtime,
    ece: EceEmulator,
    bundle: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where the function works
    busy = str(ece.create_extension(name="busy", extension_type="bundle", version="*")["id"])
    ece.script(Fault(status=500), method="PUT", extension_id=busy, times=None)
    objects = [
        put("tmp/good.zip", bundle_zip(), {TAG: bundle}),
        put("tmp/bad.zip", traversal_zip(), {TAG: bundle}),
        put("tmp/failing.zip", bundle_zip(), {TAG: busy}),
    ]

    with pytest.raises(RetryableEventError):  # the failing upload is retried
        run(s3_event(*objects), runtime)

    assert [path.name for path in tmp_path.iterdir()] == []


# -- SHA-256 of an object bigger than one download chunk --------------------------------------


def test_sha256_tag_covers_every_byte_of_a_multi_mib_object(
    put: Callable[..., Put], runtime: Runtime, ece: EceEmulator, bundle: str, tags_of: Tags
) -> None:
    rng = random.Random(7)
    data = stored_zip({f"dictionaries/part{n}.bin": rng.randbytes(MiB + 12345) for n in range(3)})
    assert len(data) > 3 * MiB  # several download chunks, the last one short
    obj = put("big/several-mib.zip", data, {TAG: bundle})

    run(s3_event(obj), runtime)

    tags = tags_of(obj)
    assert outcome(tags) == ("uploaded", "ok")
    assert tags[TAG_SHA256] == hashlib.sha256(data).hexdigest()
    assert ece.stored_bytes(bundle) == data


# -- S3 Batch Operations ------------------------------------------------------------------------


def batch_job(schema: str, *tasks: dict[str, Any]) -> dict[str, Any]:
    return {
        "invocationSchemaVersion": schema,
        "invocationId": "inv-1",
        "job": {"id": "job-1"},
        "tasks": list(tasks),
    }


def batch_task(schema: str, obj: Put, key: str, task_id: str = "t0") -> dict[str, Any]:
    """A task as Batch Operations writes it: 1.0 names the bucket by ARN, 2.0 by name."""
    task: dict[str, Any] = {"taskId": task_id, "s3Key": key, "s3VersionId": obj.version_id}
    if schema == "1.0":
        task["s3BucketArn"] = f"arn:aws:s3:::{obj.bucket}"
    else:
        task["s3Bucket"] = obj.bucket
    return task


def results_of(reply: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(r["taskId"], r["resultCode"], r["resultString"]) for r in reply["results"]]


@pytest.mark.parametrize("schema", ["1.0", "2.0"])
@pytest.mark.parametrize(
    "encode", [quote_plus, quote], ids=["plus-for-space", "percent-20-for-space"]
)
def test_batch_operations_keys_are_url_decoded(
    schema: str,
    encode: Callable[[str], str],
    put: Callable[..., Put],
    runtime: Runtime,
    bundle: str,
    tags_of: Tags,
) -> None:
    obj = put("batch keys/a b+c café ✓.zip", bundle_zip(), {TAG: bundle})
    reply = run(batch_job(schema, batch_task(schema, obj, encode(obj.key))), runtime)
    assert results_of(reply) == [("t0", "Succeeded", "uploaded: ok")]
    assert outcome(tags_of(obj)) == ("uploaded", "ok")


@pytest.mark.parametrize("schema", ["1.0", "2.0"])
def test_batch_task_for_a_missing_object_is_a_permanent_failure(
    schema: str, put: Callable[..., Put], runtime: Runtime, ece: EceEmulator, bundle: str
) -> None:
    obj = put("batch/present.zip", bundle_zip(), {TAG: bundle})
    missing = dataclasses.replace(obj, key="batch/absent.zip", version_id=None)
    reply = run(
        batch_job(
            schema,
            batch_task(schema, obj, obj.key, "t-present"),
            batch_task(schema, missing, missing.key, "t-absent"),
        ),
        runtime,
    )
    assert results_of(reply) == [
        ("t-present", "Succeeded", "uploaded: ok"),
        ("t-absent", "PermanentFailure", "skipped: object.deleted"),
    ]
    assert len(ece.find_requests("PUT")) == 1


@pytest.mark.parametrize("partition", ["aws-cn", "aws-us-gov"])
def test_batch_task_bucket_arn_in_another_partition(
    partition: str, put: Callable[..., Put], runtime: Runtime, bundle: str, tags_of: Tags
) -> None:
    obj = put("batch/partition.zip", bundle_zip(), {TAG: bundle})
    task = batch_task("1.0", obj, obj.key) | {"s3BucketArn": f"arn:{partition}:s3:::{obj.bucket}"}
    reply = run(batch_job("1.0", task), runtime)
    assert results_of(reply) == [("t0", "Succeeded", "uploaded: ok")]
    assert outcome(tags_of(obj)) == ("uploaded", "ok")


# -- A bug in the function is retried, whatever the event source -----------------------------


def _broken(runtime: Runtime) -> Runtime:
    """The runtime with a clock that raises: an unexpected error inside process_object."""

    def now() -> datetime:
        raise RuntimeError("a bug")

    return dataclasses.replace(runtime, now=now)


def test_a_failure_of_the_inspection_itself_is_logged_naming_the_object(
    put: Callable[..., Put], runtime: Runtime, bundle: str, tags_of: Tags, function_logs: Logs
) -> None:
    """A bug in the inspection (here: a limit it cannot compare with) is not a bad zip."""
    obj = put("bug/inspection.zip", bundle_zip(), {TAG: bundle})
    limits = dataclasses.replace(runtime.settings.limits)
    object.__setattr__(limits, "max_entries", None)  # past its validation
    broken = dataclasses.replace(
        runtime, settings=dataclasses.replace(runtime.settings, limits=limits)
    )

    with pytest.raises(RetryableEventError):
        run(s3_event(obj), broken)

    [error] = [line for line in function_logs() if line["message"] == "unexpected error"]
    assert f"the inspection of {obj.key!r} failed: TypeError" in error["exception"]
    assert log_line(function_logs, obj.key)["reason"] == "internal.error"
    assert TAG_SHA256 not in tags_of(obj)


def test_internal_error_raises_an_asynchronous_event_for_a_retry(
    put: Callable[..., Put], runtime: Runtime, bundle: str
) -> None:
    obj = put("bug/async.zip", bundle_zip(), {TAG: bundle})
    with pytest.raises(RetryableEventError):
        run(s3_event(obj), _broken(runtime))


def test_internal_error_reports_the_sqs_message_for_a_retry(
    put: Callable[..., Put], runtime: Runtime, bundle: str
) -> None:
    obj = put("bug/sqs.zip", bundle_zip(), {TAG: bundle})
    reply = run({"Records": [sqs_message("m-bug", obj)]}, _broken(runtime))
    assert reply == {"batchItemFailures": [{"itemIdentifier": "m-bug"}]}


def test_internal_error_is_a_temporary_failure_of_the_batch_task(
    put: Callable[..., Put], runtime: Runtime, bundle: str
) -> None:
    obj = put("bug/batch.zip", bundle_zip(), {TAG: bundle})
    reply = run(batch_job("2.0", batch_task("2.0", obj, obj.key)), _broken(runtime))
    assert results_of(reply) == [("t0", "TemporaryFailure", "failed: internal.error")]
