"""Newest wins and exactly once, under concurrency: each interleaving forced for real.

Two invocations are two threads with a runtime each (two warm containers); ECE
is slowed or throttled by the emulator's faults so that the interleaving the
test names really happens, and the test waits on what ECE received before it
starts the other invocation.
"""

from __future__ import annotations

import io
import threading
import time
import zipfile
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import boto3
import pytest

from ece_uploader.emulator import EceEmulator, Fault
from extension_uploader.app import RetryableEventError
from extension_uploader.events import REPLAY_MARKER
from extension_uploader.ledger import Ledger
from extension_uploader.outcome import TAG_SHA256, TAG_STATUS
from extension_uploader.pipeline import Runtime
from tests.faultproxy import FaultProxy, Rule

from .conftest import TAG, Logs, Put, Tags, details, log_line, outcome, run, s3_event


def zip_with(label: str) -> bytes:
    """A valid bundle whose bytes say which object it is."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        entry = zipfile.ZipInfo("dictionaries/synonyms.txt", date_time=(2026, 11, 30, 9, 0, 0))
        archive.writestr(entry, f"{label}, {label}-synonym\n" * 10)
    return buffer.getvalue()


def in_background(pool: ThreadPoolExecutor, event: Any, runtime: Runtime) -> Future[Any]:
    return pool.submit(run, event, runtime)


def wait_for(condition: Callable[[], bool], seconds: float = 20.0) -> None:
    end = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < end, "the interleaving did not happen"
        time.sleep(0.02)


def next_second() -> None:
    """S3 keeps LastModified to the second: make the next put visibly newer."""
    time.sleep(1.05 - time.time() % 1)


def accepted(ece: EceEmulator, extension_id: str) -> list[str]:
    return [upload.sha256 for upload in ece.uploads(extension_id)]


def identity(obj: Put) -> str:
    """How the ledger names an object version."""
    return f"s3://{obj.bucket}/{obj.key}#{obj.version_id}"


def lease_on(
    ledger_table: str,
    extension_id: str,
    leased: str,
    seconds_left: float,
    owner: str = "another-invocation",
) -> None:
    """Another invocation's lease on the object version ``leased``, ending ``seconds_left``
    from now (in the past when negative: an invocation that died)."""
    boto3.client("dynamodb").put_item(
        TableName=ledger_table,
        Item={
            "extension_id": {"S": extension_id},
            "lease_owner": {"S": owner},
            "lease_expires": {"N": str(int((time.time() + seconds_left) * 1000))},
            "lease_object": {"S": leased},
        },
    )


def test_older_version_waiting_out_retry_after_never_lands_after_the_newer_one(
    put: Callable[..., Put],
    make_runtime: Callable[..., Runtime],
    ece: EceEmulator,
    bundle: str,
    tags_of: Tags,
) -> None:
    # Given v1's first PUT is throttled with Retry-After: 2
    ece.script(Fault(status=429, retry_after=2), method="PUT", extension_id=bundle)
    v1 = put("team/synonyms.zip", zip_with("v1"), {TAG: bundle})
    with ThreadPoolExecutor(2) as pool:
        first = in_background(pool, s3_event(v1), make_runtime())
        wait_for(lambda: len(ece.find_requests("PUT")) == 1)
        # When v2 of the same key is put and handled while v1 waits
        next_second()
        v2 = put("team/synonyms.zip", zip_with("v2"), {TAG: bundle})
        second = in_background(pool, s3_event(v2), make_runtime())
        first.result(), second.result()

    # Then v1 gives up before its retry and ECE holds v2, sent once
    assert outcome(tags_of(v1)) == ("skipped", "upload.superseded")
    assert outcome(tags_of(v2)) == ("uploaded", "ok")
    assert ece.stored_bytes(bundle) == zip_with("v2")
    assert accepted(ece, bundle) == [v2.sha256]
    assert len(ece.find_requests("PUT")) == 2  # v1's throttled attempt, v2's upload


def test_slow_older_upload_finishes_first_and_the_newer_one_follows_it(
    put: Callable[..., Put],
    make_runtime: Callable[..., Runtime],
    ece: EceEmulator,
    bundle: str,
    tags_of: Tags,
) -> None:
    ece.script(Fault(delay=2), method="PUT", extension_id=bundle)  # v1's PUT takes 2 s
    v1 = put("team/slow.zip", zip_with("v1"), {TAG: bundle})
    with ThreadPoolExecutor(2) as pool:
        first = in_background(pool, s3_event(v1), make_runtime())
        wait_for(lambda: len(ece.find_requests("PUT")) == 1)
        next_second()
        v2 = put("team/slow.zip", zip_with("v2"), {TAG: bundle})
        second = in_background(pool, s3_event(v2), make_runtime())
        first.result(), second.result()

    assert outcome(tags_of(v1)) == ("uploaded", "ok")
    assert outcome(tags_of(v2)) == ("uploaded", "ok")
    assert accepted(ece, bundle) == [v1.sha256, v2.sha256]  # in that order, once each
    assert ece.stored_bytes(bundle) == zip_with("v2")
    live = make_runtime().ledger.read(bundle).live
    assert live is not None and live.object.version_id == v2.version_id


@pytest.mark.parametrize("order", ["older first", "newer first"])
def test_two_keys_for_one_extension_leave_the_newer_object_live(
    order: str,
    put: Callable[..., Put],
    runtime: Runtime,
    ece: EceEmulator,
    bundle: str,
    tags_of: Tags,
) -> None:
    older = put("team-a/synonyms.zip", zip_with("a"), {TAG: bundle})
    next_second()
    newer = put("team-b/synonyms.zip", zip_with("b"), {TAG: bundle})

    for obj in (older, newer) if order == "older first" else (newer, older):
        run(s3_event(obj), runtime)

    assert ece.stored_bytes(bundle) == zip_with("b")
    assert outcome(tags_of(newer)) == ("uploaded", "ok")
    if order == "older first":
        assert outcome(tags_of(older)) == ("uploaded", "ok")
        assert accepted(ece, bundle) == [older.sha256, newer.sha256]
    else:
        assert outcome(tags_of(older)) == ("skipped", "upload.superseded")
        assert accepted(ece, bundle) == [newer.sha256]


def test_two_keys_for_one_extension_at_once_end_with_the_newer_one(
    put: Callable[..., Put],
    make_runtime: Callable[..., Runtime],
    ece: EceEmulator,
    bundle: str,
    tags_of: Tags,
) -> None:
    ece.script(Fault(delay=1), method="PUT", extension_id=bundle, times=None)
    older = put("team-a/at-once.zip", zip_with("a"), {TAG: bundle})
    next_second()
    newer = put("team-b/at-once.zip", zip_with("b"), {TAG: bundle})
    with ThreadPoolExecutor(2) as pool:
        futures = [in_background(pool, s3_event(obj), make_runtime()) for obj in (newer, older)]
        for future in futures:
            future.result()

    assert ece.stored_bytes(bundle) == zip_with("b")
    assert accepted(ece, bundle)[-1] == newer.sha256
    assert len(accepted(ece, bundle)) == len(set(accepted(ece, bundle)))  # once each at most


def test_one_event_delivered_twice_at_once_is_uploaded_once(
    put: Callable[..., Put],
    make_runtime: Callable[..., Runtime],
    ece: EceEmulator,
    bundle: str,
    tags_of: Tags,
) -> None:
    ece.script(Fault(delay=1.5), method="PUT", extension_id=bundle)  # keeps the first busy
    obj = put("dup/at-once.zip", zip_with("once"), {TAG: bundle})
    event = s3_event(obj)
    with ThreadPoolExecutor(2) as pool:
        first = in_background(pool, event, make_runtime())
        wait_for(lambda: len(ece.find_requests("PUT")) == 1)
        second = in_background(pool, event, make_runtime())
        results = [first.result(), second.result()]

    reasons = sorted(result["results"][0]["reason"] for result in results)
    assert reasons == ["ok", "upload.duplicate"]
    assert len(ece.find_requests("PUT")) == 1
    assert accepted(ece, bundle) == [obj.sha256]
    assert outcome(tags_of(obj)) == ("uploaded", "ok")


def test_late_retry_of_an_older_object_after_a_newer_one_is_live_is_superseded(
    put: Callable[..., Put],
    runtime: Runtime,
    ece: EceEmulator,
    bundle: str,
    tags_of: Tags,
    function_logs: Logs,
) -> None:
    old = put("a/late.zip", zip_with("old"), {TAG: bundle})
    next_second()
    new = put("b/late.zip", zip_with("new"), {TAG: bundle})
    run(s3_event(new), runtime)

    run(s3_event(old), runtime)  # the platform's retry, minutes later
    run(s3_event(old), runtime)  # and a replay after that

    assert outcome(tags_of(old)) == ("skipped", "upload.superseded")
    assert details(function_logs, "upload.superseded") == [f"{identity(new)} is live"] * 2
    assert ece.stored_bytes(bundle) == zip_with("new")
    assert accepted(ece, bundle) == [new.sha256]


def test_a_delete_marker_is_never_tagged(
    s3: Any,
    put: Callable[..., Put],
    runtime: Runtime,
    ece: EceEmulator,
    bundle: str,
    tags_of: Tags,
    function_logs: Logs,
) -> None:
    obj = put("gone/x.zip", zip_with("x"), {TAG: bundle})
    s3.delete_object(Bucket=obj.bucket, Key=obj.key)  # a normal delete: a delete marker

    result = run(s3_event(obj), runtime)

    assert result["results"][0]["reason"] == "object.deleted"
    assert TAG_STATUS not in tags_of(obj)  # the old version keeps the tags it had
    assert log_line(function_logs, obj.key)["detail"] == "the key was deleted since"
    assert ece.requests == []


def test_forged_uploaded_tag_does_not_stop_an_upload(
    put: Callable[..., Put], runtime: Runtime, ece: EceEmulator, bundle: str, tags_of: Tags
) -> None:
    forged = {TAG: bundle, TAG_STATUS: "uploaded", TAG_SHA256: "0" * 64}
    obj = put("forged/x.zip", zip_with("real"), forged)

    run(s3_event(obj), runtime)

    assert ece.stored_bytes(bundle) == zip_with("real")
    assert tags_of(obj)[TAG_SHA256] == obj.sha256


def test_duplicate_puts_back_uploaded_tags_a_failed_tag_write_left_missing(
    s3: Any, put: Callable[..., Put], runtime: Runtime, ece: EceEmulator, bundle: str, tags_of: Tags
) -> None:
    obj = put("retag/x.zip", zip_with("x"), {TAG: bundle})
    run(s3_event(obj), runtime)
    s3.put_object_tagging(  # as if the outcome tags had never been written
        Bucket=obj.bucket,
        Key=obj.key,
        VersionId=obj.version_id,
        Tagging={"TagSet": [{"Key": TAG, "Value": bundle}]},
    )

    result = run(s3_event(obj), runtime)

    assert result["results"][0]["reason"] == "upload.duplicate"
    assert outcome(tags_of(obj)) == ("uploaded", "ok")
    assert tags_of(obj)[TAG_SHA256] == obj.sha256
    assert len(ece.uploads(bundle)) == 1


def test_a_lease_that_cannot_be_had_in_time_is_transient(
    put: Callable[..., Put],
    make_runtime: Callable[..., Runtime],
    ece: EceEmulator,
    bundle: str,
    tags_of: Tags,
    ledger_table: str,
) -> None:
    ledger = Ledger(boto3.client("dynamodb"), ledger_table)
    # another invocation holds the lease for 10 minutes
    lease_on(ledger_table, bundle, "s3://other/key#v", 600, owner="someone-else")
    obj = put("busy/x.zip", zip_with("x"), {TAG: bundle})

    started = time.monotonic()
    with pytest.raises(RetryableEventError):
        run(s3_event(obj), make_runtime(), seconds=18)  # 8 s of work time after the reserve

    assert time.monotonic() - started < 15
    assert outcome(tags_of(obj)) == ("failed", "ledger.busy")
    assert ece.uploads(bundle) == []
    assert ledger.read(bundle).lease_owner == "someone-else"


def test_an_upload_of_this_version_begun_elsewhere_meanwhile_is_a_duplicate(
    put: Callable[..., Put],
    runtime: Runtime,
    ece: EceEmulator,
    bundle: str,
    tags_of: Tags,
    ledger_table: str,
    function_logs: Callable[[], list[dict[str, Any]]],
) -> None:
    """The lease taken by another invocation for this very version after the first look."""
    obj = put("dup/late-lease.zip", zip_with("x"), {TAG: bundle})
    ece.script(Fault(delay=1.0), method="GET", extension_id=bundle)  # the pre-flight
    with ThreadPoolExecutor(1) as pool:
        result = pool.submit(run, s3_event(obj), runtime)
        wait_for(lambda: len(ece.find_requests("GET", extension_id=bundle)) == 1)
        lease_on(ledger_table, bundle, identity(obj), 600)
        [row] = result.result()["results"]

    assert (row["status"], row["reason"]) == ("skipped", "upload.duplicate")
    [line] = [line for line in function_logs() if line.get("key") == obj.key]
    assert line["detail"] == "another invocation uploads it"
    assert tags_of(obj) == {TAG: bundle}  # the uploading invocation writes them
    assert ece.find_requests("PUT") == []


def test_an_expired_lease_is_taken_over(
    put: Callable[..., Put], runtime: Runtime, ece: EceEmulator, bundle: str, ledger_table: str
) -> None:
    # an invocation that died: its lease ran out
    lease_on(ledger_table, bundle, "s3://other/key#v", -1, owner="dead")
    obj = put("taken/x.zip", zip_with("x"), {TAG: bundle})
    run(s3_event(obj), runtime)
    assert ece.stored_bytes(bundle) == zip_with("x")
    assert runtime.ledger.read(bundle).lease_owner is None


def test_a_lease_on_this_version_seen_at_the_first_look_is_a_duplicate_before_any_call(
    put: Callable[..., Put],
    runtime: Runtime,
    ece: EceEmulator,
    bundle: str,
    ledger_table: str,
    tags_of: Tags,
    function_logs: Logs,
) -> None:
    obj = put("lease/first-look.zip", zip_with("x"), {TAG: bundle})
    lease_on(ledger_table, bundle, identity(obj), seconds_left=600)
    [row] = run(s3_event(obj), runtime)["results"]
    assert (row["status"], row["reason"]) == ("skipped", "upload.duplicate")
    assert ece.requests == []  # not even the pre-flight
    assert tags_of(obj) == {TAG: bundle}  # the uploading invocation writes them
    assert log_line(function_logs, obj.key)["detail"] == "another invocation uploads it"


def test_an_expired_lease_on_this_very_version_does_not_make_it_a_duplicate(
    put: Callable[..., Put], runtime: Runtime, ece: EceEmulator, bundle: str, ledger_table: str
) -> None:
    obj = put("lease/expired.zip", zip_with("x"), {TAG: bundle})
    lease_on(ledger_table, bundle, identity(obj), seconds_left=-1)  # its invocation died mid-upload
    [row] = run(s3_event(obj), runtime)["results"]
    assert (row["status"], row["reason"]) == ("uploaded", "ok")
    assert ece.stored_bytes(bundle) == zip_with("x")


def test_an_unreachable_ledger_is_transient_and_nothing_is_uploaded(
    put: Callable[..., Put],
    make_runtime: Callable[..., Runtime],
    ece: EceEmulator,
    bundle: str,
    tags_of: Tags,
    function_logs: Logs,
) -> None:
    obj = put("no-ledger/x.zip", zip_with("x"), {TAG: bundle})
    with pytest.raises(RetryableEventError):
        run(s3_event(obj), make_runtime({"LEDGER_TABLE": "no-such-table"}))
    assert outcome(tags_of(obj)) == ("failed", "ledger.unavailable")
    detail = log_line(function_logs, obj.key)["detail"]
    assert detail == "ledger read failed: ResourceNotFoundException"
    assert ece.requests == []


def test_the_ledger_records_what_is_live_who_put_it_and_the_last_outcomes(
    put: Callable[..., Put], runtime: Runtime, ece: EceEmulator, bundle: str
) -> None:
    first = put("audit/a.zip", zip_with("a"), {TAG: bundle})
    event = s3_event(first)
    event["Records"][0]["userIdentity"] = {"principalId": "AWS:AIDAEXAMPLE:ci-pipeline"}
    event["Records"][0]["requestParameters"] = {"sourceIPAddress": "192.0.2.10"}
    run(event, runtime)
    run(event, runtime)  # a duplicate

    record = runtime.ledger.read(bundle)
    assert record.live is not None
    assert record.live.object.key == "audit/a.zip"
    assert record.live.object.version_id == first.version_id
    assert record.live.sha256 == first.sha256 and record.live.size == first.size
    assert record.live.principal == "AWS:AIDAEXAMPLE:ci-pipeline"
    assert record.live.source_ip == "192.0.2.10"
    assert record.live.ece_size == first.size and record.live.ece_last_modified
    assert (record.live.request_id, record.live.via) == ("local", "upload")
    assert [(o["status"], o["reason"]) for o in record.outcomes] == [
        ("skipped", "upload.duplicate"),
        ("uploaded", "ok"),
    ]
    latest = record.outcomes[0]
    assert set(latest) == {
        "at", "bucket", "key", "version_id", "status", "reason", "request_id", "principal",
    }  # fmt: skip
    assert (latest["bucket"], latest["key"], latest["version_id"]) == (
        first.bucket,
        "audit/a.zip",
        first.version_id,
    )
    assert latest["request_id"] == "local" and latest["at"].endswith("Z")
    assert latest["principal"] == "AWS:AIDAEXAMPLE:ci-pipeline"


def test_an_event_without_a_version_id_is_recorded_under_the_version_it_read(
    put: Callable[..., Put], runtime: Runtime, bundle: str
) -> None:
    obj = put("audit/unversioned-event.zip", zip_with("u"), {TAG: bundle})
    event = s3_event(obj)
    del event["Records"][0]["s3"]["object"]["versionId"]

    run(event, runtime)

    record = runtime.ledger.read(bundle)
    assert record.live is not None and record.live.object.version_id == obj.version_id
    assert record.outcomes[0]["version_id"] == obj.version_id


def test_a_version_made_live_while_this_one_was_read_is_a_duplicate_under_the_lease(
    put: Callable[..., Put],
    make_runtime: Callable[..., Runtime],
    ece: EceEmulator,
    bundle: str,
    tags_of: Tags,
) -> None:
    """The late delivery passed the first look (nothing live yet), then found it live."""
    obj = put("dup/under-lease.zip", zip_with("x"), {TAG: bundle})
    ece.script(Fault(delay=1.5), method="GET", extension_id=bundle)  # the late one's pre-flight
    with ThreadPoolExecutor(1) as pool:
        late = pool.submit(run, s3_event(obj), make_runtime())
        wait_for(lambda: len(ece.find_requests("GET", extension_id=bundle)) == 1)
        run(s3_event(obj), make_runtime())  # the other delivery: uploads and commits
        assert outcome(tags_of(obj)) == ("uploaded", "ok")
        [row] = late.result()["results"]

    assert (row["status"], row["reason"]) == ("skipped", "upload.duplicate")
    assert accepted(ece, bundle) == [obj.sha256]
    assert outcome(tags_of(obj)) == ("uploaded", "ok")


def test_a_forced_delivery_uploads_the_live_version_once_more(
    put: Callable[..., Put], runtime: Runtime, ece: EceEmulator, bundle: str, tags_of: Tags
) -> None:
    obj = put("force/x.zip", zip_with("x"), {TAG: bundle})
    run(s3_event(obj), runtime)
    run(s3_event(obj), runtime)  # a duplicate: nothing sent

    forced = s3_event(obj) | {REPLAY_MARKER: {"force": True}}
    [row] = run(forced, runtime)["results"]

    assert (row["status"], row["reason"]) == ("uploaded", "ok")
    assert accepted(ece, bundle) == [obj.sha256, obj.sha256]
    assert outcome(tags_of(obj)) == ("uploaded", "ok")


def test_the_stand_in_applies_each_conditional_write_atomically(ledger_table: str) -> None:
    """Racing conditional writes: one winner per item, as in DynamoDB (moto alone lets two win)."""
    racers = 8
    clients = [boto3.client("dynamodb") for _ in range(racers)]
    winners: dict[int, list[int]] = {}

    def race(item: int, racer: int, start: threading.Barrier) -> None:
        start.wait()
        try:
            clients[racer].update_item(
                TableName=ledger_table,
                Key={"extension_id": {"S": f"race-{item}"}},
                UpdateExpression="SET lease_owner = :me",
                ConditionExpression="attribute_not_exists(lease_owner)",
                ExpressionAttributeValues={":me": {"S": str(racer)}},
            )
        except clients[racer].exceptions.ConditionalCheckFailedException:
            return
        winners.setdefault(item, []).append(racer)

    with ThreadPoolExecutor(racers) as pool:
        for item in range(150):
            start = threading.Barrier(racers)
            list(pool.map(lambda racer: race(item, racer, start), range(racers)))  # noqa: B023

    assert {item: len(won) for item, won in winners.items()} == dict.fromkeys(range(150), 1)


def test_an_outcome_the_ledger_cannot_keep_is_logged_and_stands(
    aws_endpoint: str,
    put: Callable[..., Put],
    tags_of: Tags,
    make_runtime: Callable[..., Runtime],
    bundle: str,
    monkeypatch: pytest.MonkeyPatch,
    function_logs: Callable[[], list[dict[str, Any]]],
) -> None:
    """The ledger's outcome history is best effort: its failure is a warning, not a retry."""
    obj = put("history/corrupt.zip", zip_with("x")[:-30], {TAG: bundle})  # refused after a look
    with FaultProxy(aws_endpoint) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", proxy.url)
        refused = Rule(operation="UpdateItem", status=400, code="ValidationException", times=None)
        proxy.script(refused)
        [row] = run(s3_event(obj), make_runtime())["results"]

    assert (row["status"], row["reason"]) == ("rejected", "zip.corrupt")
    assert outcome(tags_of(obj)) == ("rejected", "zip.corrupt")
    [warning] = [
        line
        for line in function_logs()
        if line["message"] == "could not keep the outcome in the ledger"
    ]
    assert warning["level"] == "WARNING"
    assert (warning["key"], warning["reason"]) == (obj.key, "ledger.unavailable")
    assert "ValidationException" in warning["error"]


def test_a_newer_version_of_the_live_key_written_in_the_same_second_is_uploaded(
    s3: Any, put: Callable[..., Put], runtime: Runtime, ece: EceEmulator, bundle: str
) -> None:
    """S3 stamps both with one second: the version that is current now is the newer."""
    for attempt in range(5):  # until both puts and the first upload fit in one second
        time.sleep(1.01 - time.time() % 1)
        key = f"same-second/{attempt}.zip"
        old = put(key, zip_with(f"old-{attempt}"), {TAG: bundle})
        run(s3_event(old), runtime)
        new = put(key, zip_with(f"new-{attempt}"), {TAG: bundle})
        stamps = {
            s3.head_object(Bucket=o.bucket, Key=key, VersionId=o.version_id)["LastModified"]
            for o in (old, new)
        }
        if len(stamps) == 1:
            break
    else:
        pytest.fail("no two puts landed in one second")

    [row] = run(s3_event(new), runtime)["results"]

    assert (row["status"], row["reason"]) == ("uploaded", "ok")
    assert ece.stored_bytes(bundle) == zip_with(f"new-{attempt}")


def test_an_overwrite_in_an_unversioned_bucket_is_uploaded_after_the_first_object(
    s3: Any, put: Callable[..., Put], runtime: Runtime, ece: EceEmulator, bundle: str
) -> None:
    """Without version ids, the ETag tells one object at a key from the next."""
    s3.create_bucket(Bucket="plain-bucket-overwrite")
    first = put("x.zip", zip_with("first"), {TAG: bundle}, into="plain-bucket-overwrite")
    run(s3_event(first), runtime)
    next_second()
    second = put("x.zip", zip_with("second"), {TAG: bundle}, into="plain-bucket-overwrite")

    [row] = run(s3_event(second), runtime)["results"]

    assert (row["status"], row["reason"]) == ("uploaded", "ok")
    assert accepted(ece, bundle) == [first.sha256, second.sha256]


def test_an_event_without_a_version_id_tags_the_version_it_uploaded_not_a_newer_one(
    put: Callable[..., Put], runtime: Runtime, ece: EceEmulator, bundle: str, tags_of: Tags
) -> None:
    """The key's next version, written while this one is sent, has an event of its own."""
    read = put("no-version/x.zip", zip_with("read"), {TAG: bundle, "team": "first"})
    event = s3_event(read)
    del event["Records"][0]["s3"]["object"]["versionId"]
    ece.script(Fault(delay=1.0), method="PUT")
    with ThreadPoolExecutor(1) as pool:
        running = in_background(pool, event, runtime)
        wait_for(lambda: len(ece.find_requests("PUT")) == 1)
        newer = put("no-version/x.zip", zip_with("newer"), {TAG: bundle, "team": "second"})
        [row] = running.result()["results"]

    assert (row["status"], row["version_id"]) == ("uploaded", read.version_id)
    assert outcome(tags_of(read)) == ("uploaded", "ok")
    assert tags_of(read)["team"] == "first"  # its own tags, merged with the outcome
    assert tags_of(newer) == {TAG: bundle, "team": "second"}


def test_an_extension_ece_does_not_know_gets_no_entry_in_the_ledger(
    put: Callable[..., Put], runtime: Runtime, ledger_table: str
) -> None:
    """The ledger keeps history for extensions it tracks, not for every id a tag names."""
    obj = put("unknown/x.zip", zip_with("x"), {TAG: "9999999999"})
    [row] = run(s3_event(obj), runtime)["results"]
    assert row["reason"] == "ece.extensions.not_found"
    item = boto3.client("dynamodb").get_item(
        TableName=ledger_table, Key={"extension_id": {"S": "9999999999"}}
    )
    assert "Item" not in item
