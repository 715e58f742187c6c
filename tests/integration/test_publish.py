"""``ece-uploader publish`` as a CI pipeline runs it: moto server and the ECE emulator on
loopback, and the function processing what the bucket notifies.

Nothing runs the function on a put here, so a relay thread plays the platform: it
receives the bucket's notifications from an SQS queue (as the sandbox does) and
hands each event to the handler.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from ece_uploader import cli
from ece_uploader.commands.publish import (
    FIRST_POLL_SECONDS,
    JITTER,
    MAX_POLL_SECONDS,
    Publication,
    wait_for_outcome,
)
from ece_uploader.emulator import EceEmulator
from ece_uploader.samples import bundle_zip, plugin_zip, traversal_zip
from extension_uploader.app import handle_event
from extension_uploader.deadline import Deadline
from extension_uploader.pipeline import Runtime

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "ece_uploader.cli"]
TAG = "ece-extension-id"


class Relay:
    """Hands the bucket's notifications to the function, one event at a time."""

    def __init__(self, queue_url: str, runtime: Runtime) -> None:
        self.queue_url = queue_url
        self.runtime = runtime
        self.sqs = boto3.client("sqs")
        self.results: list[dict[str, Any]] = []
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="relay", daemon=True)

    def __enter__(self) -> Relay:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _serve(self) -> None:
        while not self._stop.is_set():
            reply = self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
            )
            for message in reply.get("Messages", []):
                try:
                    event = json.loads(message["Body"])
                    self.results.append(handle_event(event, self.runtime, Deadline.after(60)))
                except Exception as exc:  # the test reports it; the platform would retry
                    self.errors.append(exc)
                self.sqs.delete_message(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )


@pytest.fixture
def notified(s3: Any, bucket: str) -> str:
    """The bucket sends its .zip ObjectCreated notifications to a fresh queue: its URL."""
    sqs = boto3.client("sqs")
    queue_url = sqs.create_queue(QueueName=f"publish-{uuid.uuid4().hex[:12]}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": queue_arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "suffix", "Value": ".zip"}]}},
                }
            ]
        },
    )
    sqs.purge_queue(QueueUrl=queue_url)  # the s3:TestEvent S3 sends first
    return str(queue_url)


@pytest.fixture
def relay(notified: str, runtime: Runtime, function_logs: Any) -> Iterator[Relay]:
    """The function at work; its logs kept apart from the command's output."""
    with Relay(notified, runtime) as running:
        yield running
    assert running.errors == []


@pytest.fixture
def write_zip(tmp_path: Path) -> Callable[[str, bytes], Path]:
    def write(name: str, data: bytes) -> Path:
        path = tmp_path / name
        path.write_bytes(data)
        return path

    return write


def publish(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``ece-uploader publish ARGV`` in-process: exit status, stdout, stderr."""
    try:
        code = cli.main(["publish", *argv])
    except SystemExit as exit:  # argparse
        code = int(exit.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def publish_process(*argv: str) -> subprocess.CompletedProcess[str]:
    """``ece-uploader publish ARGV`` in its own process, as CI runs it."""
    return subprocess.run(
        [*CLI, "publish", *argv],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def versions(s3: Any, bucket: str) -> list[dict[str, Any]]:
    return list(s3.list_object_versions(Bucket=bucket).get("Versions", []))


def human(stdout: str) -> dict[str, str]:
    return dict(line.split(": ", 1) for line in stdout.splitlines())


# ------------------------------------------------------------------ through the real entry point


def test_a_good_zip_is_published_and_uploaded(
    relay: Relay,
    s3: Any,
    bucket: str,
    bundle: str,
    ece: EceEmulator,
    write_zip: Callable[[str, bytes], Path],
    tags_of: Any,
) -> None:
    # Given a good bundle and a function that processes what the bucket notifies
    data = bundle_zip()
    path = write_zip("synonyms v2.zip", data)
    # When CI publishes it and waits, as a separate process
    done = publish_process(
        str(path), "--bucket", bucket, "--extension-id", bundle,
        "--type", "bundle", "--wait", "--timeout", "60", "--json",
    )  # fmt: skip
    # Then it exits 0 with one JSON document naming the version and its outcome
    assert done.returncode == 0, done.stdout + done.stderr
    document = json.loads(done.stdout)
    key = f"extensions/{bundle}/synonyms v2.zip"
    [version] = versions(s3, bucket)
    assert document == {
        "bucket": bucket,
        "key": key,
        "version_id": version["VersionId"],
        "status": "uploaded",
        "reason": "ok",
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    assert version["Key"] == key
    # And the version carries the extension id and the function's outcome tags
    tags = s3.get_object_tagging(Bucket=bucket, Key=key, VersionId=version["VersionId"])
    tags = {tag["Key"]: tag["Value"] for tag in tags["TagSet"]}
    assert tags[TAG] == bundle
    assert tags["ece-upload-status"] == "uploaded"
    # And ECE holds the exact bytes
    assert ece.stored_bytes(bundle) == data
    assert "waiting up to 60 s" in done.stderr


def test_usage_errors_exit_2_from_the_entry_point(tmp_path: Path) -> None:
    done = publish_process(str(tmp_path / "missing.zip"), "--bucket", "b", "--extension-id", "1")
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == f"ece-uploader publish: {tmp_path / 'missing.zip'}: no such file\n"


# ------------------------------------------------------------------ in-process


def test_without_wait_it_prints_where_the_file_went(
    capsys: pytest.CaptureFixture[str],
    s3: Any,
    bucket: str,
    bundle: str,
    write_zip: Callable[[str, bytes], Path],
) -> None:
    path = write_zip("synonyms.zip", bundle_zip())
    code, out, err = publish(capsys, str(path), "--bucket", bucket, "--extension-id", bundle)
    assert code == 0, err
    [version] = versions(s3, bucket)
    assert human(out) == {
        "bucket": bucket,
        "key": f"extensions/{bundle}/synonyms.zip",
        "version_id": version["VersionId"],
        "status": "-",
        "reason": "-",
        "sha256": "-",
    }
    # The tag went with the put itself (the ObjectCreated event sees it), URL-encoded
    tagging = s3.get_object_tagging(Bucket=bucket, Key=version["Key"])["TagSet"]
    assert tagging == [{"Key": TAG, "Value": bundle}]
    assert err == ""


def test_the_key_and_the_tag_key_can_be_chosen(
    capsys: pytest.CaptureFixture[str],
    s3: Any,
    bucket: str,
    write_zip: Callable[[str, bytes], Path],
    tmp_path: Path,
) -> None:
    env_vars = tmp_path / "env.json"
    env_vars.write_text(json.dumps({"UploaderFunction": {"EXTENSION_ID_TAG": "team/ece id"}}))
    path = write_zip("a.zip", bundle_zip())
    key = "incoming/ünïcode & space+plus.ZIP"
    code, _, err = publish(
        capsys, str(path), "--bucket", bucket, "--extension-id", "abc-123", "--key", key,
        "--env-vars", str(env_vars),
    )  # fmt: skip
    assert code == 0, err
    tagging = s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]
    assert tagging == [{"Key": "team/ece id", "Value": "abc-123"}]


def test_a_hostile_zip_is_refused_before_anything_reaches_s3(
    capsys: pytest.CaptureFixture[str],
    s3: Any,
    bucket: str,
    bundle: str,
    write_zip: Callable[[str, bytes], Path],
) -> None:
    path = write_zip("evil.zip", traversal_zip())
    code, out, err = publish(
        capsys, str(path), "--bucket", bucket, "--extension-id", bundle, "--wait", "--json"
    )
    assert code == 1
    assert json.loads(out) == {
        "bucket": bucket,
        "key": f"extensions/{bundle}/evil.zip",
        "version_id": None,
        "status": "rejected",
        "reason": "zip.unsafe_path",
        "sha256": None,
    }
    assert "problem  zip.unsafe_path [../../config/evil.yml]" in err
    assert err.splitlines()[-1].startswith(
        "ece-uploader publish: refused, nothing put: zip.unsafe_path: [../../config/evil.yml] "
    )
    assert s3.list_object_versions(Bucket=bucket).get("Versions", []) == []


@pytest.mark.parametrize(
    ("settings", "extra", "reason"),
    [
        ({"MAX_ENTRIES": "1"}, [], "zip.too_many_entries"),
        ({"ALLOWED_EXTENSION_IDS": "111,222"}, [], "tag.extension_not_allowed"),
        (
            {"ALLOWED_EXTENSION_IDS": "*", "EXTENSION_ROUTES": '{"plugins/": ["*"]}'},
            [],
            "tag.extension_not_allowed",
        ),
        ({"MAX_ZIP_BYTES": "100"}, [], "object.too_large"),
        ({}, ["--type", "plugin"], "plugin.missing_descriptor"),
        ({}, ["--extension-id", "../42"], "tag.invalid_extension_id"),
    ],
)
def test_the_functions_settings_and_rules_refuse_before_the_put(
    capsys: pytest.CaptureFixture[str],
    s3: Any,
    bucket: str,
    write_zip: Callable[[str, bytes], Path],
    tmp_path: Path,
    settings: dict[str, str],
    extra: list[str],
    reason: str,
) -> None:
    # Given the function's settings in SAM's env-vars format
    env_vars = tmp_path / "env.json"
    env_vars.write_text(json.dumps({"Parameters": {}, "UploaderFunction": settings}))
    path = write_zip("synonyms.zip", bundle_zip())
    code, out, err = publish(
        capsys, str(path), "--bucket", bucket, "--extension-id", "42",
        "--env-vars", str(env_vars), *extra,
    )  # fmt: skip
    assert code == 1, err
    assert human(out)["reason"] == reason
    assert f"refused, nothing put: {reason}: " in err
    assert versions(s3, bucket) == []


def test_an_empty_file_is_refused(
    capsys: pytest.CaptureFixture[str], s3: Any, bucket: str, write_zip: Any
) -> None:
    code, out, _ = publish(
        capsys, str(write_zip("e.zip", b"")), "--bucket", bucket, "--extension-id", "42"
    )
    assert (code, human(out)["reason"]) == (1, "object.empty")
    assert versions(s3, bucket) == []


@pytest.mark.parametrize(
    ("target", "data", "status", "reason"),
    [
        # the extension is a plugin: without --type the bundle passes here, not there
        ("plugin", bundle_zip(), "rejected", "plugin.missing_descriptor"),
        ("plugin", plugin_zip(es_version="8.14.0"), "rejected", "plugin.version_mismatch"),
        ("unknown", bundle_zip(), "failed", "ece.extensions.not_found"),
    ],
)
def test_the_functions_negative_outcome_exits_1(
    relay: Relay,
    plugin: str,
    bucket: str,
    write_zip: Callable[[str, bytes], Path],
    target: str,
    data: bytes,
    status: str,
    reason: str,
) -> None:
    extension_id = plugin if target == "plugin" else "9999999999"
    path = write_zip("x.zip", data)
    done = publish_process(
        str(path), "--bucket", bucket, "--extension-id", extension_id, "--wait", "--timeout", "60"
    )
    code, out, err = done.returncode, done.stdout, done.stderr
    assert code == 1, out + err
    shown = human(out)
    assert (shown["status"], shown["reason"], shown["sha256"]) == (status, reason, "-")
    assert shown["version_id"] != "-"
    assert err.splitlines()[-1] == f"ece-uploader publish: {status}: {reason}"


def test_nobody_processing_times_out_with_exit_3(
    capsys: pytest.CaptureFixture[str],
    s3: Any,
    bucket: str,
    bundle: str,
    write_zip: Callable[[str, bytes], Path],
) -> None:
    path = write_zip("synonyms.zip", bundle_zip())
    started = time.monotonic()
    code, out, err = publish(
        capsys, str(path), "--bucket", bucket, "--extension-id", bundle,
        "--wait", "--timeout", "2", "--json",
    )  # fmt: skip
    elapsed = time.monotonic() - started
    assert code == 3, err
    assert 2 <= elapsed < 6
    [version] = versions(s3, bucket)  # put, and left for the function
    document = json.loads(out)
    assert document["version_id"] == version["VersionId"]
    assert (document["status"], document["reason"]) == (None, None)
    assert err.splitlines()[-1] == (
        f"ece-uploader publish: no outcome after 2 s: is the uploader deployed, and does "
        f"s3://{bucket}/extensions/{bundle}/synonyms.zip reach it?"
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["--bucket", "b"],  # no --extension-id
        ["--bucket", "b", "--extension-id", "1", "--timeout", "0"],
        ["--bucket", "b", "--extension-id", "1", "--timeout", "soon"],
        ["--bucket", "b", "--extension-id", "1", "--type", "theme"],
    ],
)
def test_bad_arguments_exit_2(
    capsys: pytest.CaptureFixture[str], write_zip: Any, argv: list[str]
) -> None:
    code, out, err = publish(capsys, str(write_zip("a.zip", bundle_zip())), *argv)
    assert code == 2
    assert out == ""
    assert "usage: ece-uploader publish" in err


def test_io_and_setting_errors_exit_2(
    capsys: pytest.CaptureFixture[str],
    aws_endpoint: str,
    write_zip: Callable[[str, bytes], Path],
    tmp_path: Path,
) -> None:
    path = str(write_zip("a.zip", bundle_zip()))
    common = ["--bucket", "no-such-bucket-here", "--extension-id", "42"]

    code, out, err = publish(capsys, path, *common)
    assert code == 2
    assert human(out)["version_id"] == "-"
    assert err.startswith(
        "ece-uploader publish: cannot put s3://no-such-bucket-here/extensions/42/a.zip: "
        "NoSuchBucket: "
    )

    code, out, err = publish(capsys, path, *common, "--key", "notes.txt")
    assert (code, out) == (2, "")
    assert "does not end in .zip: the uploader ignores it" in err

    code, out, err = publish(capsys, str(tmp_path), *common)
    assert (code, out, err) == (2, "", f"ece-uploader publish: {tmp_path}: not a file\n")

    code, _, err = publish(capsys, path, *common, "--env-vars", str(tmp_path / "none.json"))
    assert code == 2 and "cannot read" in err

    env_vars = tmp_path / "env.json"
    env_vars.write_text(json.dumps({"UploaderFunction": {"MAX_ENTRIES": "many"}}))
    code, _, err = publish(capsys, path, *common, "--env-vars", str(env_vars))
    assert (code, err) == (
        2,
        "ece-uploader publish: MAX_ENTRIES must be a whole number, got 'many'\n",
    )


# ------------------------------------------------------------------ the verdicts and the waiting


@pytest.mark.parametrize(
    ("status", "reason", "code"),
    [
        (None, None, 0),
        ("uploaded", "ok", 0),
        ("skipped", "upload.duplicate", 0),
        ("skipped", "upload.superseded", 1),
        ("skipped", "object.deleted", 1),
        ("rejected", "zip.corrupt", 1),
        ("failed", "ece.timeout", 1),
    ],
)
def test_exit_codes_of_outcomes(status: str | None, reason: str | None, code: int) -> None:
    assert Publication("b", "k.zip", "v1", status, reason).exit_code == code


class TagsAppearLater:
    """An S3 client whose version gets its outcome tags at the N-th look."""

    def __init__(self, looks: int, tags: dict[str, str]) -> None:
        self.looks, self.tags, self.calls = looks, tags, 0

    def get_object_tagging(self, **address: str) -> dict[str, Any]:
        assert address == {"Bucket": "b", "Key": "k.zip", "VersionId": "v1"}
        self.calls += 1
        tags = self.tags if self.calls >= self.looks else {TAG: "42"}
        return {"TagSet": [{"Key": k, "Value": v} for k, v in tags.items()]}


def test_polling_backs_off_from_half_a_second_to_five() -> None:
    now = [0.0]
    pauses: list[float] = []

    def sleep(seconds: float) -> None:
        pauses.append(seconds)
        now[0] += seconds

    s3 = TagsAppearLater(8, {"ece-upload-status": "uploaded", "ece-upload-sha256": "ab"})
    got = wait_for_outcome(
        s3, Publication("b", "k.zip", "v1"), 300, sleep=sleep, clock=lambda: now[0]
    )
    assert (got.status, got.reason, got.sha256) == ("uploaded", "ok", "ab")
    nominal = [0.5, 1, 2, 4, 5, 5, 5]
    assert nominal[0] == FIRST_POLL_SECONDS and nominal[-1] == MAX_POLL_SECONDS
    assert len(pauses) == len(nominal)
    for pause, expected in zip(pauses, nominal, strict=True):
        assert expected * (1 - JITTER) <= pause <= expected * (1 + JITTER)
    assert len(set(pauses)) > 1  # jittered, not lock-step


def test_polling_never_sleeps_past_the_timeout() -> None:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    from ece_uploader.commands import publish as command

    with pytest.raises(command._Failed) as failed:
        wait_for_outcome(
            TagsAppearLater(10**6, {}),
            Publication("b", "k.zip", "v1"),
            7,
            sleep=sleep,
            clock=lambda: now[0],
        )
    assert failed.value.code == 3
    assert now[0] == pytest.approx(7)
