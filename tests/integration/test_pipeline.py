"""The whole pipeline through real sockets: every outcome of the contract."""

from __future__ import annotations

import hashlib
import io
import json
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from ece_uploader.emulator import EceEmulator, Fault
from ece_uploader.samples import bundle_zip, corrupt_zip, plugin_zip, traversal_zip
from extension_uploader.app import RetryableEventError
from extension_uploader.deadline import Deadline
from extension_uploader.events import ObjectRef
from extension_uploader.inspection import ExtensionInfo, Report, inspect_archive
from extension_uploader.outcome import TAG_AT, TAG_REASON, TAG_SHA256
from extension_uploader.pipeline import Runtime, process_object

from ..unit.inspection.corpus import zipped
from .conftest import (
    API_KEY,
    TAG,
    Logs,
    Put,
    Tags,
    details,
    log_line,
    outcome,
    run,
    s3_event,
)
from .test_ledger import next_second


def test_good_bundle_is_uploaded_byte_for_byte(
    put: Callable[..., Put], runtime: Runtime, ece: EceEmulator, bundle: str, tags_of: Tags
) -> None:
    data = bundle_zip()
    obj = put("bundles/synonyms.zip", data, {TAG: bundle, "team": "search"})

    result = run(s3_event(obj), runtime)

    tags = tags_of(obj)
    assert outcome(tags) == ("uploaded", "ok")
    assert tags[TAG_SHA256] == hashlib.sha256(data).hexdigest()
    assert tags[TAG_AT].endswith("Z") and tags["team"] == "search" and tags[TAG] == bundle
    assert ece.stored_bytes(bundle) == data
    assert len(ece.uploads(bundle)) == 1
    assert result["results"][0]["status"] == "uploaded"
    assert ece.spec_violations == []


def test_good_plugin_is_uploaded(
    put: Callable[..., Put], runtime: Runtime, ece: EceEmulator, plugin: str, tags_of: Tags
) -> None:
    data = plugin_zip("8.15.0")
    obj = put("plugins/analysis.zip", data, {TAG: plugin})
    run(s3_event(obj), runtime)
    assert outcome(tags_of(obj)) == ("uploaded", "ok")
    assert ece.stored_bytes(plugin) == data


def test_one_log_line_says_which_object_and_extension_and_how_long_it_took(
    put: Callable[..., Put],
    runtime: Runtime,
    bundle: str,
    function_logs: Callable[[], list[dict[str, Any]]],
) -> None:
    data = bundle_zip()
    obj = put("logged/x.zip", data, {TAG: bundle})
    ref = ObjectRef(obj.bucket, obj.key, obj.version_id, obj.etag)

    started = time.perf_counter()
    process_object(ref, runtime, Deadline.after(120))  # as a caller with no request id
    took_ms = (time.perf_counter() - started) * 1000

    [line] = [line for line in function_logs() if line.get("key") == obj.key]
    assert (line["status"], line["extension_id"], line["version_id"]) == (
        "uploaded",
        bundle,
        obj.version_id,
    )
    assert (line["request_id"], line["object_bytes"], line["bytes"]) == (
        "local",
        len(data),
        len(data),
    )
    assert 1.0 <= line["milliseconds"] <= took_ms + 0.1
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = archive.infolist()
    assert (line["entries"], line["uncompressed_bytes"]) == (
        len(members),
        sum(member.file_size for member in members),
    )


def test_untagged_zip_is_rejected_without_calling_ece(
    put: Callable[..., Put], runtime: Runtime, ece: EceEmulator, tags_of: Tags
) -> None:
    obj = put("incoming/untagged.zip", bundle_zip())
    run(s3_event(obj), runtime)
    assert outcome(tags_of(obj)) == ("rejected", "tag.missing_extension_id")
    assert ece.requests == []


@pytest.mark.parametrize("bad_id", ["../users", "a/b", "1 2", "a:b", "@admin", ".."])
def test_unsafe_extension_ids_never_reach_ece(
    bad_id: str,
    put: Callable[..., Put],
    runtime: Runtime,
    ece: EceEmulator,
    tags_of: Tags,
    function_logs: Logs,
) -> None:
    obj = put("incoming/bad-id.zip", bundle_zip(), {TAG: bad_id})
    [row] = run(s3_event(obj), runtime)["results"]
    assert outcome(tags_of(obj)) == ("rejected", "tag.invalid_extension_id")
    assert row["extension_id"] is None  # an unsafe value is not named as an id
    assert log_line(function_logs, obj.key).get("extension_id") is None
    assert ece.requests == []


def test_too_large_is_rejected_before_anything_else(
    put: Callable[..., Put],
    make_runtime: Callable[..., Runtime],
    ece: EceEmulator,
    bundle: str,
    tags_of: Tags,
) -> None:
    data = bundle_zip()
    obj = put("big.zip", data, {TAG: bundle})
    run(s3_event(obj), make_runtime({"MAX_ZIP_BYTES": str(len(data) - 1)}))
    assert outcome(tags_of(obj)) == ("rejected", "object.too_large")
    assert ece.requests == []


def test_empty_object_is_rejected(
    put: Callable[..., Put], runtime: Runtime, ece: EceEmulator, bundle: str, tags_of: Tags
) -> None:
    obj = put("empty.zip", b"", {TAG: bundle})
    run(s3_event(obj), runtime)
    assert outcome(tags_of(obj)) == ("rejected", "object.empty")
    assert ece.requests == []


def test_deleted_object_is_skipped(
    put: Callable[..., Put], runtime: Runtime, s3: Any, bundle: str
) -> None:
    obj = put("gone.zip", bundle_zip(), {TAG: bundle})
    s3.delete_object(Bucket=obj.bucket, Key=obj.key, VersionId=obj.version_id)
    result = run(s3_event(obj), runtime)
    assert (result["results"][0]["status"], result["results"][0]["reason"]) == (
        "skipped",
        "object.deleted",
    )


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (traversal_zip(), "zip.unsafe_path"),
        (corrupt_zip(), "zip.corrupt"),
        (b"this is a text file, not an archive\n", "zip.not_a_zip"),
        (bundle_zip()[:-30], "zip.corrupt"),  # truncated
    ],
)
def test_bad_archives_are_rejected_and_never_uploaded(
    data: bytes,
    reason: str,
    put: Callable[..., Put],
    runtime: Runtime,
    ece: EceEmulator,
    bundle: str,
    tags_of: Tags,
    function_logs: Logs,
    tmp_path: Path,
) -> None:
    obj = put("incoming/bad.zip", data, {TAG: bundle})
    run(s3_event(obj), runtime)
    assert outcome(tags_of(obj)) == ("rejected", reason)
    first = _inspected(tmp_path, data).problems[0]  # what the log line says of it
    assert log_line(function_logs, obj.key)["detail"] == f"{first.entry or '-'}: {first.message}"
    assert ece.uploads(bundle) == []


def test_unknown_extension_fails_at_preflight_without_a_put(
    put: Callable[..., Put], runtime: Runtime, ece: EceEmulator, tags_of: Tags
) -> None:
    obj = put("incoming/unknown.zip", bundle_zip(), {TAG: "9999999999"})
    run(s3_event(obj), runtime)
    assert outcome(tags_of(obj)) == ("failed", "ece.extensions.not_found")
    assert [request.method for request in ece.requests] == ["GET"]


def test_plugin_for_another_elasticsearch_version_is_rejected(
    put: Callable[..., Put], runtime: Runtime, ece: EceEmulator, plugin: str, tags_of: Tags
) -> None:
    obj = put("plugins/old.zip", plugin_zip("8.14.0"), {TAG: plugin})
    run(s3_event(obj), runtime)
    assert outcome(tags_of(obj)) == ("rejected", "plugin.version_mismatch")
    assert ece.uploads(plugin) == []


def test_ece_refusing_the_file_is_rejected(
    put: Callable[..., Put], runtime: Runtime, ece: EceEmulator, bundle: str, tags_of: Tags
) -> None:
    ece.script(Fault(status=400, code="extensions.request_execution_failed"), method="PUT")
    obj = put("refused.zip", bundle_zip(), {TAG: bundle})
    run(s3_event(obj), runtime)
    assert outcome(tags_of(obj)) == ("rejected", "ece.extensions.request_execution_failed")


def test_transient_ece_failure_is_tagged_and_raised_for_the_platform_to_retry(
    put: Callable[..., Put], runtime: Runtime, ece: EceEmulator, bundle: str, tags_of: Tags
) -> None:
    proxy_page = "<html><body><h1>503 Service Unavailable</h1></body></html>"
    ece.script(Fault(status=503, html=proxy_page, retry_after=0), method="PUT", times=10)
    obj = put("busy.zip", bundle_zip(), {TAG: bundle})
    with pytest.raises(RetryableEventError):
        run(s3_event(obj), runtime)
    assert outcome(tags_of(obj)) == ("failed", "ece.http_503")

    assert len(ece.find_requests("PUT")) == 5  # every attempt the client allows itself
    ece.clear_faults()
    run(s3_event(obj), runtime)  # the platform's retry, once ECE is back
    assert outcome(tags_of(obj)) == ("uploaded", "ok")
    assert len(ece.uploads(bundle)) == 1


def test_unreachable_ece_is_transient(
    put: Callable[..., Put], make_runtime: Callable[..., Runtime], bundle: str, tags_of: Tags
) -> None:
    obj = put("nowhere.zip", bundle_zip(), {TAG: bundle})
    with pytest.raises(RetryableEventError):
        run(s3_event(obj), make_runtime({"ECE_API_URL": "http://127.0.0.1:9"}))
    assert outcome(tags_of(obj)) == ("failed", "ece.unreachable")


def test_slow_ece_times_out(
    put: Callable[..., Put],
    make_runtime: Callable[..., Runtime],
    ece: EceEmulator,
    bundle: str,
    tags_of: Tags,
) -> None:
    ece.script(Fault(delay=3.0), method="GET", times=10)
    obj = put("slow.zip", bundle_zip(), {TAG: bundle})
    with pytest.raises(RetryableEventError):
        run(s3_event(obj), make_runtime({"ECE_TIMEOUT_SECONDS": "0.5"}))
    assert outcome(tags_of(obj)) == ("failed", "ece.timeout")


ENCODERS: dict[str, Callable[[str], str]] = {
    "s3": lambda k: quote(k, safe="/").replace("%20", "+"),  # '/' kept, '+' for spaces
    "moto": lambda k: quote(k, safe="").replace("%20", "+"),  # quote_plus: '/' too
    "sam": lambda k: quote(k, safe="/"),  # generate-event: %20 for spaces
}
AWKWARD_KEYS = [
    "with space/synonyms v1.zip",
    "plus+sign/a+b.zip",
    "percent/100% sure%2F.zip",
    "unicode/été-✓-日本.zip",
    "deep/folder/structure/x.zip",
    "mixed/a b+c%d é.zip",
]


@pytest.mark.parametrize(
    ("key", "encoding"),
    [
        (key, encoding)
        for key in AWKWARD_KEYS
        for encoding in ENCODERS
        # %20-style encoding cannot carry a literal '+' through unquote_plus; S3 never sends it
        if not (encoding == "sam" and "+" in key)
    ],
)
def test_awkward_keys_are_decoded_once(
    key: str, encoding: str, put: Callable[..., Put], runtime: Runtime, bundle: str, tags_of: Tags
) -> None:
    obj = put(key, bundle_zip(), {TAG: bundle})
    run(s3_event(obj, encode=ENCODERS[encoding]), runtime)
    assert outcome(tags_of(obj)) == ("uploaded", "ok")


def test_moto_notifications_for_awkward_keys_reach_the_right_objects(
    s3: Any, bucket: str, put: Callable[..., Put], runtime: Runtime, bundle: str, tags_of: Tags
) -> None:
    import boto3

    sqs = boto3.client("sqs")
    queue = sqs.create_queue(QueueName=f"q-{bucket}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]
        },
    )
    objects = [put(key, bundle_zip(), {TAG: bundle}) for key in ("a b/c+d.zip", "é/100%.zip")]
    events = []
    while messages := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages"):
        for message in messages:
            events.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    for event in events:
        run(event, runtime)
    for obj in objects:
        assert outcome(tags_of(obj)) == ("uploaded", "ok")


def test_one_bad_record_does_not_stop_the_others(
    put: Callable[..., Put], runtime: Runtime, ece: EceEmulator, bundle: str, tags_of: Tags
) -> None:
    good1 = put("batch/1.zip", bundle_zip(), {TAG: bundle})
    bad = put("batch/2.zip", corrupt_zip(), {TAG: bundle})
    untagged = put("batch/3.zip", bundle_zip())
    good2 = put("batch/4.zip", plugin_zip(), {TAG: bundle})
    event = s3_event(good1, bad, untagged, good2)
    event["Records"].insert(2, {"eventSource": "aws:s3", "eventName": "ObjectRemoved:Delete"})

    result = run(event, runtime)

    assert [r["status"] for r in result["results"]] == [
        "uploaded",
        "rejected",
        "rejected",
        "uploaded",
    ]
    assert outcome(tags_of(good2)) == ("uploaded", "ok")
    assert len(ece.uploads(bundle)) == 2


def test_malformed_record_fails_the_event_after_the_good_ones_are_done(
    put: Callable[..., Put], runtime: Runtime, bundle: str, tags_of: Tags
) -> None:
    good = put("mixed/good.zip", bundle_zip(), {TAG: bundle})
    event = s3_event(good)
    event["Records"].insert(
        0, {"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": {}}
    )
    with pytest.raises(RetryableEventError):  # to the on-failure destination, for a person to see
        run(event, runtime)
    assert outcome(tags_of(good)) == ("uploaded", "ok")


def test_user_tags_that_leave_little_room_are_all_kept(
    put: Callable[..., Put], runtime: Runtime, bundle: str, tags_of: Tags, function_logs: Logs
) -> None:
    user = {f"owner-{n}": f"value {n}" for n in range(8)}
    obj = put("crowded.zip", bundle_zip(), {TAG: bundle, **user})

    run(s3_event(obj), runtime)

    tags = tags_of(obj)
    assert len(tags) == 10
    assert {key: tags[key] for key in user} == user and tags[TAG] == bundle
    assert outcome(tags) == ("uploaded", None)  # status first; no room for the reason
    [warning] = [line for line in function_logs() if line["level"] == "WARNING"]
    assert warning["message"] == "no room for every outcome tag: S3 allows 10 per object"
    assert warning["key"] == obj.key
    assert {TAG_REASON, TAG_SHA256} <= set(warning["dropped_tags"])
    again = run(s3_event(obj), runtime)  # a duplicate event is still recognised
    assert again["results"][0]["reason"] == "upload.duplicate"


def test_duplicate_event_leaves_tags_and_uploads_once(
    put: Callable[..., Put],
    runtime: Runtime,
    ece: EceEmulator,
    bundle: str,
    tags_of: Tags,
    function_logs: Logs,
) -> None:
    obj = put("dup.zip", bundle_zip(), {TAG: bundle})
    run(s3_event(obj), runtime)
    first = tags_of(obj)
    next_second()  # tags written again now would carry another time
    result = run(s3_event(obj), runtime)
    assert result["results"][0]["reason"] == "upload.duplicate"
    assert tags_of(obj) == first
    assert details(function_logs, "upload.duplicate") == [f"live already ({obj.size} bytes)"]
    assert len(ece.uploads(bundle)) == 1


def test_older_version_is_superseded_by_a_newer_one(
    put: Callable[..., Put],
    runtime: Runtime,
    ece: EceEmulator,
    bundle: str,
    tags_of: Tags,
    function_logs: Logs,
) -> None:
    old = put("versions/x.zip", bundle_zip(), {TAG: bundle})
    new = put("versions/x.zip", plugin_zip(), {TAG: bundle})
    run(s3_event(new), runtime)
    run(s3_event(old), runtime)  # late, out-of-order delivery
    assert outcome(tags_of(old)) == ("skipped", "upload.superseded")
    assert details(function_logs, "upload.superseded") == [f"newer version {new.version_id}"]
    assert ece.stored_bytes(bundle) == plugin_zip()


def test_overwritten_object_in_unversioned_bucket_is_skipped_as_changed(
    s3: Any,
    put: Callable[..., Put],
    runtime: Runtime,
    ece: EceEmulator,
    bundle: str,
    tags_of: Tags,
    function_logs: Logs,
) -> None:
    s3.create_bucket(Bucket="plain-bucket-changed")
    first = put("x.zip", bundle_zip(), {TAG: bundle}, into="plain-bucket-changed")
    second = put("x.zip", plugin_zip(), {TAG: bundle}, into="plain-bucket-changed")
    run(s3_event(second), runtime)  # the newer object's event came first
    assert outcome(tags_of(second)) == ("uploaded", "ok")

    result = run(s3_event(first), runtime)  # then the late event for the old one

    assert result["results"][0]["reason"] == "object.changed"
    assert details(function_logs, "object.changed") == ["overwritten since the event"]
    assert outcome(tags_of(second)) == ("uploaded", "ok")  # the newer object's tags stand
    assert ece.stored_bytes(bundle) == plugin_zip()


def test_dry_run_checks_and_tags_but_never_uploads(
    put: Callable[..., Put],
    make_runtime: Callable[..., Runtime],
    ece: EceEmulator,
    bundle: str,
    tags_of: Tags,
    function_logs: Logs,
) -> None:
    obj = put("dry.zip", bundle_zip(), {TAG: bundle})
    run(s3_event(obj), make_runtime({"DRY_RUN": "true"}))
    assert outcome(tags_of(obj)) == ("skipped", "upload.dry_run")
    assert log_line(function_logs, obj.key)["detail"] == f"would upload {obj.sha256}"
    assert ece.uploads(bundle) == []


def test_the_inspection_warnings_go_to_the_log_line(
    put: Callable[..., Put],
    runtime: Runtime,
    bundle: str,
    function_logs: Logs,
    tmp_path: Path,
) -> None:
    data = zipped({"dictionaries/a.txt": b"a", "notes.txt": b"outside the usual folders"})
    obj = put("warned.zip", data, {TAG: bundle})
    run(s3_event(obj), runtime)
    warnings = [warning.message for warning in _inspected(tmp_path, data).warnings]
    assert warnings and log_line(function_logs, obj.key)["warnings"] == warnings


def test_missing_secret_is_a_transient_failure(
    put: Callable[..., Put],
    make_runtime: Callable[..., Runtime],
    bundle: str,
    tags_of: Tags,
    function_logs: Logs,
) -> None:
    obj = put("nosecret.zip", bundle_zip(), {TAG: bundle})
    with pytest.raises(RetryableEventError):
        run(s3_event(obj), make_runtime({"ECE_SECRET_ID": "does/not/exist"}))
    assert outcome(tags_of(obj)) == ("failed", "secret.unavailable")
    detail = log_line(function_logs, obj.key)["detail"]
    assert detail == "could not read the ECE secret (GetParameterError)"


def test_sqs_batch_reports_only_the_messages_to_retry(
    put: Callable[..., Put], runtime: Runtime, ece: EceEmulator, bundle: str, tags_of: Tags
) -> None:
    good = put("sqs/good.zip", bundle_zip(), {TAG: bundle})
    busy_ext = str(ece.create_extension(name="busy", extension_type="bundle", version="*")["id"])
    busy = put("sqs/busy.zip", bundle_zip(), {TAG: busy_ext})
    ece.script(Fault(status=503, retry_after=0), method="PUT", extension_id=busy_ext, times=10)
    event = {
        "Records": [
            {"eventSource": "aws:sqs", "messageId": "m-good", "body": json.dumps(s3_event(good))},
            {"eventSource": "aws:sqs", "messageId": "m-busy", "body": json.dumps(s3_event(busy))},
            {"eventSource": "aws:sqs", "messageId": "m-junk", "body": "not json"},
        ]
    }
    result = run(event, runtime)
    assert result == {
        "batchItemFailures": [{"itemIdentifier": "m-busy"}, {"itemIdentifier": "m-junk"}]
    }
    assert outcome(tags_of(good)) == ("uploaded", "ok")


def test_secret_never_appears_in_logs_tags_or_results(
    put: Callable[..., Put],
    runtime: Runtime,
    ece: EceEmulator,
    bundle: str,
    tags_of: Tags,
    function_logs: Callable[[], list[dict[str, Any]]],
    capfd: pytest.CaptureFixture[str],
) -> None:

    objects = [
        put("s/good.zip", bundle_zip(), {TAG: bundle}),
        put("s/bad.zip", traversal_zip(), {TAG: bundle}),
        put("s/unknown.zip", bundle_zip(), {TAG: "123"}),
    ]
    ece.script(Fault(status=401, code="root.unauthenticated"), method="GET", times=2)

    result = run(s3_event(*objects), runtime)

    lines = function_logs()
    logged = {line.get("key"): line.get("reason") for line in lines if "key" in line}
    assert logged == {
        "s/good.zip": "ece.root.unauthenticated",  # 401, refresh, 401 again: permanent
        "s/bad.zip": "zip.unsafe_path",
        "s/unknown.zip": "ece.extensions.not_found",
    }
    out, err = capfd.readouterr()
    texts = [json.dumps(lines), out, err, json.dumps(result)]
    texts += [json.dumps(tags_of(obj)) for obj in objects]
    assert all(API_KEY not in text for text in texts)


FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "zips"


def _inspected(tmp_path: Path, data: bytes) -> Report:
    """The inspection's own verdict on ``data``, as a bundle: what the function reports."""
    path = tmp_path / "inspected.zip"
    path.write_bytes(data)
    return inspect_archive(path, extension=ExtensionInfo("bundle", "*"))


def test_deflate64_archive_is_repacked_as_deflate_before_upload(
    put: Callable[..., Put],
    runtime: Runtime,
    ece: EceEmulator,
    bundle: str,
    tags_of: Tags,
    function_logs: Logs,
    tmp_path: Path,
) -> None:
    data = (FIXTURES / "deflate64-bundle.zip").read_bytes()
    obj = put("d64/bundle.zip", data, {TAG: bundle})

    run(s3_event(obj), runtime)

    tags = tags_of(obj)
    assert outcome(tags) == ("uploaded", "ok")
    repacked = _inspected(tmp_path, data).deflate64_entries
    assert repacked and log_line(function_logs, obj.key)["repacked_deflate64_entries"] == repacked
    stored = ece.stored_bytes(bundle)
    assert tags[TAG_SHA256] == hashlib.sha256(stored).hexdigest() != obj.sha256
    with zipfile.ZipFile(io.BytesIO(data)) as original, zipfile.ZipFile(io.BytesIO(stored)) as sent:
        assert 9 in {info.compress_type for info in original.infolist()}
        assert {info.compress_type for info in sent.infolist()} <= {0, 8}
        before = [(i.filename, i.CRC, i.file_size, i.date_time) for i in original.infolist()]
        after = [(i.filename, i.CRC, i.file_size, i.date_time) for i in sent.infolist()]
        assert after == before
        assert sent.testzip() is None  # every CRC checks out with plain zipfile


def test_deflate64_reject_policy(
    put: Callable[..., Put],
    make_runtime: Callable[..., Runtime],
    ece: EceEmulator,
    bundle: str,
    tags_of: Tags,
) -> None:
    obj = put("d64/reject.zip", (FIXTURES / "deflate64-bundle.zip").read_bytes(), {TAG: bundle})
    run(s3_event(obj), make_runtime({"DEFLATE64_POLICY": "reject"}))
    assert outcome(tags_of(obj)) == ("rejected", "zip.unsupported_method")
    assert ece.uploads(bundle) == []


def test_eventbridge_object_created_event(
    put: Callable[..., Put], runtime: Runtime, bundle: str, tags_of: Tags
) -> None:
    obj = put("eb/a+b c.zip", bundle_zip(), {TAG: bundle})
    event = {
        "version": "0",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "detail": {
            "bucket": {"name": obj.bucket},
            "object": {
                "key": obj.key,
                "size": obj.size,
                "etag": obj.etag,
                "version-id": obj.version_id,
            },
            "reason": "PutObject",
        },
    }
    result = run(event, runtime)
    assert result["results"][0]["key"] == "eb/a+b c.zip"  # not decoded a second time
    assert outcome(tags_of(obj)) == ("uploaded", "ok")


def test_batch_operations_job_gets_a_result_per_task(
    put: Callable[..., Put], runtime: Runtime, ece: EceEmulator, bundle: str, tags_of: Tags
) -> None:
    good = put("batch-ops/good.zip", bundle_zip(), {TAG: bundle})
    other = str(ece.create_extension(name="other", extension_type="bundle", version="*")["id"])
    bad = put("batch-ops/bad.zip", traversal_zip(), {TAG: other})
    busy_ext = str(ece.create_extension(name="busy", extension_type="bundle", version="*")["id"])
    busy = put("batch-ops/busy.zip", bundle_zip(), {TAG: busy_ext})
    ece.script(Fault(status=503, retry_after=0), method="PUT", extension_id=busy_ext, times=None)
    event = {
        "invocationSchemaVersion": "2.0",
        "invocationId": "inv-1",
        "job": {"id": "job-1"},
        "tasks": [
            {
                "taskId": f"t{n}",
                "s3Bucket": obj.bucket,
                "s3Key": quote(obj.key),
                "s3VersionId": obj.version_id,
            }
            for n, obj in enumerate((good, bad, busy))
        ],
    }
    result = run(event, runtime)
    assert result["invocationSchemaVersion"] == "2.0" and result["invocationId"] == "inv-1"
    assert result["treatMissingKeysAs"] == "PermanentFailure"
    assert [(r["taskId"], r["resultCode"], r["resultString"]) for r in result["results"]] == [
        ("t0", "Succeeded", "uploaded: ok"),
        ("t1", "PermanentFailure", "rejected: zip.unsafe_path"),
        ("t2", "TemporaryFailure", "failed: ece.root.internal_server_error"),
    ]


def test_extension_id_tag_name_is_configurable(
    put: Callable[..., Put], make_runtime: Callable[..., Runtime], bundle: str, tags_of: Tags
) -> None:
    obj = put("custom-tag.zip", bundle_zip(), {"target": bundle, TAG: "ignored-here"})
    run(s3_event(obj), make_runtime({"EXTENSION_ID_TAG": "target"}))
    assert outcome(tags_of(obj)) == ("uploaded", "ok")


def test_plain_string_secret_is_an_api_key(
    put: Callable[..., Put],
    make_runtime: Callable[..., Runtime],
    secrets_client: Any,
    ece: EceEmulator,
    bundle: str,
    tags_of: Tags,
) -> None:
    name = f"ece/plain-{bundle}"
    secrets_client.create_secret(Name=name, SecretString=API_KEY)
    obj = put("plain-secret.zip", bundle_zip(), {TAG: bundle})
    run(s3_event(obj), make_runtime({"ECE_SECRET_ID": name}))
    assert outcome(tags_of(obj)) == ("uploaded", "ok")
    assert {request.auth_scheme for request in ece.requests} == {"ApiKey"}
