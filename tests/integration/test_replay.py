"""``ece-uploader replay``: the right versions are re-driven, and the newest zip stays live.

A bucket of 200 object versions in every state (outcome tags written as the
function writes them), over moto and the ECE emulator on loopback.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import io
import json
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cmp_to_key
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import ANY, Stubber

from ece_uploader.cli import main
from ece_uploader.commands.common import Context
from ece_uploader.commands.replay import (
    Candidate,
    batch_event,
    manifest_rows,
    notification,
    parse_statuses,
    parse_time,
)
from ece_uploader.emulator import EceEmulator
from ece_uploader.samples import corrupt_zip
from extension_uploader.app import handle_event
from extension_uploader.deadline import Deadline
from extension_uploader.events import REPLAY_MARKER, parse_event
from extension_uploader.ledger import Ledger
from extension_uploader.ordering import ObjectVersion, Verdict, compare
from extension_uploader.outcome import TAG_AT, TAG_REASON, TAG_STATUS
from extension_uploader.pipeline import Runtime

from .conftest import TAG, Put, Tags

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def zip_with(label: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        entry = zipfile.ZipInfo("dictionaries/synonyms.txt", date_time=(2026, 11, 30, 9, 0, 0))
        archive.writestr(entry, f"{label}, {label}-synonym\n")
    return buffer.getvalue()


def next_second() -> None:
    time.sleep(1.05 - time.time() % 1)


def outcome_tags(status: str, reason: str) -> dict[str, str]:
    return {TAG_STATUS: status, TAG_REASON: reason, TAG_AT: "2026-11-30T09:00:00Z"}


@dataclass(frozen=True)
class Obj:
    put: Put
    state: str  # the outcome its tags show: uploaded ... skipped, or missing
    reason: str | None
    extension: str | None
    valid: bool
    label: str  # what its zip says
    latest: bool = True
    extra: bool = False  # one of the newer versions written after the boundary

    @property
    def pair(self) -> tuple[str, str | None]:
        return (self.put.key, self.put.version_id)


@dataclass
class Bucket:
    objects: list[Obj]
    extensions: list[str]
    boundary: datetime  # every object written at or after it is one of the extra versions

    def pairs(self, keep: Callable[[Obj], bool]) -> set[tuple[str, str | None]]:
        return {obj.pair for obj in self.objects if keep(obj)}


@pytest.fixture
def env_file(tmp_path: Path, function_env: dict[str, str]) -> Path:
    path = tmp_path / "env.json"
    path.write_text(json.dumps({"UploaderFunction": function_env}))
    return path


@pytest.fixture
def mixed(put: Callable[..., Put], s3: Any, ece: EceEmulator, bundle: str) -> Bucket:
    """200 versions: 180 keys in five states, and 10 keys with two newer versions each."""
    other = str(ece.create_extension(name="stemmer", extension_type="bundle", version="*")["id"])
    extensions = [bundle, other]
    states = [
        ("uploaded", "ok"),
        ("rejected", "zip.corrupt"),
        ("rejected", "tag.missing_extension_id"),
        ("failed", "ece.unreachable"),
        ("failed", "ece.http_503"),
        ("skipped", "upload.superseded"),
        ("missing", None),
        ("missing", None),
        ("missing", None),
    ]
    objects: list[Obj] = []
    for index in range(180):
        state, reason = states[index % len(states)]
        extension = None if reason == "tag.missing_extension_id" else extensions[index % 2]
        valid = reason != "zip.corrupt"
        tags = {} if extension is None else {TAG: extension}
        if state != "missing":
            tags |= outcome_tags(state, str(reason))
        key = f"mixed/{state}/{index:03d} {reason or 'new'}+{index % 3}%.zip"
        data = zip_with(key) if valid else corrupt_zip()
        objects.append(Obj(put(key, data, tags), state, reason, extension, valid, key))
    next_second()
    boundary = datetime.now(UTC).replace(microsecond=0)
    for version in (2, 3):  # two newer versions of ten untagged-outcome keys
        for index in range(10):
            key = objects[index * 9 + 6].put.key  # a "missing" key
            old = next(o for o in objects if o.put.key == key and o.latest)
            assert old.state == "missing"
            label = f"{old.put.key} v{version}"
            newer = put(old.put.key, zip_with(label), {TAG: str(old.extension)})
            objects[objects.index(old)] = replace(old, latest=False)
            objects.append(Obj(newer, "missing", None, old.extension, True, label, extra=True))
    put("mixed/readme.txt", b"not a zip", {TAG: bundle})  # never selected: not a .zip
    assert len(objects) == 200
    return Bucket(objects, extensions, boundary)


def replay(
    env_file: Path, capsys: pytest.CaptureFixture[str], bucket: str, *args: str
) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()
    code = main(["replay", "--env-vars", str(env_file), "--bucket", bucket, "--json", *args])
    return code, json.loads(capsys.readouterr().out)


def selected(document: dict[str, Any]) -> set[tuple[str, str | None]]:
    return {(obj["key"], obj["version_id"]) for obj in document["objects"]}


def replayed(document: dict[str, Any]) -> set[tuple[str, str | None]]:
    return {(result["key"], result["version_id"]) for result in document["results"]}


def newest(objs: list[Obj], s3: Any) -> Obj:
    """The winner by the ledger's own ordering (LastModified to the second, then a fixed tie)."""

    def version(obj: Obj) -> ObjectVersion:
        head = s3.head_object(Bucket=obj.put.bucket, Key=obj.put.key, VersionId=obj.put.version_id)
        return ObjectVersion(
            obj.put.bucket, obj.put.key, obj.put.version_id, obj.put.etag, head["LastModified"]
        )

    versions = {obj.pair: version(obj) for obj in objs}

    def order(a: Obj, b: Obj) -> int:
        verdict = compare(
            versions[a.pair],
            versions[b.pair],
            versions[b.pair].last_modified,
            candidate_is_current=True,
        )
        return {Verdict.NEWER: 1, Verdict.OLDER: -1, Verdict.SAME: 0}[verdict]

    return max(objs, key=cmp_to_key(order))


def test_filters_select_exactly_the_expected_versions(
    mixed: Bucket, bucket: str, env_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Default: failed and missing, current versions only.
    code, document = replay(env_file, capsys, bucket, "--dry-run")
    assert code == 0 and document["dry_run"] and document["results"] == []
    assert selected(document) == mixed.pairs(
        lambda o: o.latest and o.state in ("failed", "missing")
    )
    assert document["selected"] == 40 + 60

    code, document = replay(
        env_file, capsys, bucket, "--dry-run", "--status", "rejected", "--reason", "zip.corrupt"
    )
    assert selected(document) == mixed.pairs(lambda o: o.reason == "zip.corrupt")
    assert {obj["status"] for obj in document["objects"]} == {"rejected"}

    other = mixed.extensions[1]
    code, document = replay(
        env_file, capsys, bucket, "--dry-run", "--status", "any", "--all-versions",
        "--extension", other,
    )  # fmt: skip
    assert selected(document) == mixed.pairs(lambda o: o.extension == other)
    assert len(selected(document)) > len(mixed.pairs(lambda o: o.extension == other and o.latest))

    code, document = replay(
        env_file, capsys, bucket, "--dry-run", "--status", "uploaded,skipped",
        "--status", "missing", "--since", mixed.boundary.isoformat(), "--prefix", "mixed/missing/",
    )  # fmt: skip
    assert selected(document) == mixed.pairs(lambda o: o.latest and o.extra)
    assert len(selected(document)) == 10

    code, document = replay(
        env_file, capsys, bucket, "--dry-run", "--status", "any", "--until",
        mixed.boundary.isoformat(), "--all-versions",
    )  # fmt: skip
    assert selected(document) == mixed.pairs(lambda o: not o.extra)


def test_replay_re_drives_the_selection_and_leaves_the_newest_zip_in_every_extension(
    mixed: Bucket,
    bucket: str,
    s3: Any,
    ece: EceEmulator,
    env_file: Path,
    ledger_table: str,
    tags_of: Tags,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, document = replay(env_file, capsys, bucket, "--concurrency", "4")

    assert code == 0, document["summary"]
    expected = mixed.pairs(lambda o: o.latest and o.state in ("failed", "missing"))
    assert replayed(document) == expected == selected(document)
    assert set(document["summary"]) <= {"uploaded", "skipped"}
    # The newest of what was replayed is live in each extension, uploaded once.
    for extension in mixed.extensions:
        candidates = [o for o in mixed.objects if o.pair in expected and o.extension == extension]
        winner = newest(candidates, s3)
        assert ece.stored_bytes(extension) == zip_with(winner.label)
        live = Ledger(_dynamodb(), ledger_table).read(extension).live
        assert live is not None and live.object.version_id == winner.put.version_id
        assert live.principal.startswith("replay:arn:aws:")
        shas = [upload.sha256 for upload in ece.uploads(extension)]
        assert len(shas) == len(set(shas))

    # Then everything current: the newest current zip of each extension wins.
    code, document = replay(env_file, capsys, bucket, "--status", "any", "--concurrency", "4")
    assert code == 0
    assert replayed(document) == mixed.pairs(lambda o: o.latest)
    for extension in mixed.extensions:
        candidates = [o for o in mixed.objects if o.latest and o.valid and o.extension == extension]
        winner = newest(candidates, s3)
        assert ece.stored_bytes(extension) == zip_with(winner.label)
    # A corrupt zip is never uploaded (older than what is live, it is not even read).
    assert not [
        r for r in document["results"] if "corrupt" in r["key"] and r["status"] == "uploaded"
    ]


def test_the_summary_table_and_a_failure_exit(
    put: Callable[..., Put],
    bucket: str,
    ece: EceEmulator,
    bundle: str,
    env_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    put("t/good.zip", zip_with("good"), {TAG: bundle})
    put("t/gone.zip", zip_with("gone"), {TAG: "404404404"})  # ECE does not know it
    capsys.readouterr()

    code = main(["replay", "--env-vars", str(env_file), "--bucket", bucket])

    out = capsys.readouterr().out
    assert code == 1  # the unknown extension failed
    header, *rows = out.splitlines()
    assert header.split() == ["STATUS", "REASON", "COUNT"]
    assert any(row.split() == ["uploaded", "ok", "1"] for row in rows)
    assert any(row.split()[0] == "failed" for row in rows)
    assert "2 object(s) replayed" in out


def two_keys_replayed(
    put: Callable[..., Put], bucket: str, bundle: str, env_file: Path, capsys: Any
) -> None:
    """An older and a newer key for one extension, replayed newest first: the newer is live."""
    put("f/a.zip", zip_with("older"), {TAG: bundle})
    next_second()
    put("f/b.zip", zip_with("newer"), {TAG: bundle})
    code, first = replay(env_file, capsys, bucket, "--status", "any", "--concurrency", "1")
    assert code == 0
    assert {r["key"]: r["reason"] for r in first["results"]} == {
        "f/b.zip": "ok",
        "f/a.zip": "upload.superseded",
    }
    code, again = replay(env_file, capsys, bucket, "--status", "any")
    assert {r["key"]: r["reason"] for r in again["results"]}["f/b.zip"] == "upload.duplicate"


def test_force_never_brings_back_an_older_object(
    put: Callable[..., Put],
    bucket: str,
    ece: EceEmulator,
    bundle: str,
    env_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    two_keys_replayed(put, bucket, bundle, env_file, capsys)

    code, forced = replay(env_file, capsys, bucket, "--status", "any", "--force")

    assert code == 0
    assert {r["key"]: r["reason"] for r in forced["results"]}["f/a.zip"] == "upload.superseded"
    assert ece.stored_bytes(bundle) == zip_with("newer")


def test_force_uploads_the_live_version_again(
    put: Callable[..., Put],
    bucket: str,
    ece: EceEmulator,
    bundle: str,
    env_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    two_keys_replayed(put, bucket, bundle, env_file, capsys)

    code, forced = replay(env_file, capsys, bucket, "--status", "any", "--force")

    assert code == 0
    assert {r["key"]: r["reason"] for r in forced["results"]}["f/b.zip"] == "ok"
    assert [u.sha256 for u in ece.uploads(bundle)][-2:] == [ece.uploads(bundle)[0].sha256] * 2


def test_replay_events_are_the_notifications_s3_sends() -> None:
    moment = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    candidate = Candidate("b", "dir/a b+c%d ✓.zip", "v1", "abc", 12, moment)
    event = notification(candidate, "replay:arn:aws:iam::1:user/op", "eu-west-1")
    [record] = event["Records"]
    assert record["s3"]["object"] == {
        "key": "dir/a+b%2Bc%25d+%E2%9C%93.zip",
        "size": 12,
        "eTag": "abc",
        "versionId": "v1",
    }
    assert "sequencer" not in record["s3"]["object"]
    assert record["userIdentity"] == {"principalId": "replay:arn:aws:iam::1:user/op"}
    assert REPLAY_MARKER not in event
    [delivery] = parse_event(event).deliveries
    [ref] = delivery.objects
    assert (ref.key, ref.version_id, ref.etag, ref.principal) == (
        candidate.key,
        "v1",
        "abc",
        "replay:arn:aws:iam::1:user/op",
    )
    assert not ref.force
    forced = notification(candidate, "replay:x", "eu-west-1", force=True)
    assert forced[REPLAY_MARKER] == {"force": True}
    assert parse_event(forced).deliveries[0].objects[0].force


def test_status_and_time_arguments() -> None:
    assert parse_statuses(None) == {"failed", "missing"}
    assert parse_statuses(["failed,rejected", "missing"]) == {"failed", "rejected", "missing"}
    assert parse_statuses(["any"]) is None
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    assert parse_time("2h", now) == datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
    assert parse_time("3d", now) == datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    assert parse_time("2026-11-30T09:00:00") == datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    assert parse_time("2026-11-30T09:00:00Z") == datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize("bad", [["--status", "done"], ["--since", "yesterday"]])
def test_usage_errors_exit_2(
    bad: list[str], bucket: str, env_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["replay", "--env-vars", str(env_file), "--bucket", bucket, *bad]) == 2
    assert "ece-uploader replay:" in capsys.readouterr().err


def test_batch_needs_a_role(
    bucket: str, env_file: Path, capsys: pytest.CaptureFixture[str], put: Callable[..., Put]
) -> None:
    put("x.zip", zip_with("x"))
    arn = "arn:aws:lambda:us-east-1:123456789012:function:uploader"
    assert main(["replay", "-n", str(env_file), "--bucket", bucket, "--to", f"batch:{arn}"]) == 2
    assert "--role-arn" in capsys.readouterr().err


# --- the progress bar ------------------------------------------------------------------------


@pytest.fixture
def cli_env(aws_endpoint: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)])}


def run_in_pty(argv: list[str], env: dict[str, str], seconds: float = 60) -> str:
    """The command's output as a person at a terminal sees it."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: stdin, stdout and stderr are the terminal, 100 columns wide
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
        os.execvpe(argv[0], argv, env)
    chunks: list[bytes] = []
    end = time.monotonic() + seconds
    try:
        while time.monotonic() < end:
            ready, _, _ = select.select([fd], [], [], 0.5)
            if not ready:
                if os.waitpid(pid, os.WNOHANG) != (0, 0):
                    break
                continue
            try:
                data = os.read(fd, 4096)
            except OSError:  # the terminal closed: the child is done
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(fd)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
    return b"".join(chunks).decode(errors="replace")


def _cli() -> str:
    return str(Path(sys.executable).with_name("ece-uploader"))


def test_a_terminal_shows_a_progress_bar_and_a_pipe_does_not(
    put: Callable[..., Put],
    bucket: str,
    bundle: str,
    env_file: Path,
    cli_env: dict[str, str],
) -> None:
    for index in range(6):
        put(f"bar/{index}.zip", zip_with(f"bar {index}"), {TAG: bundle})
    argv = [_cli(), "replay", "-n", str(env_file), "--bucket", bucket, "--status", "any"]

    on_terminal = run_in_pty(argv, cli_env)

    assert "replay to local" in on_terminal and "100%|" in on_terminal
    assert "6/6" in on_terminal
    assert "STATUS" in on_terminal and "6 object(s) replayed" in on_terminal

    piped = subprocess.run(argv, env=cli_env, capture_output=True, text=True, timeout=60)
    assert piped.returncode == 0, piped.stderr
    assert "100%|" not in piped.stdout + piped.stderr
    assert "6/6" not in piped.stdout + piped.stderr
    assert "6 object(s) replayed" in piped.stdout
    # without a terminal, the function's log lines go to standard error as `invoke` sends them
    assert '"status":"skipped"' in piped.stderr.replace(" ", "")


def _dynamodb() -> Any:
    import boto3

    return boto3.client("dynamodb")


@pytest.fixture(autouse=True)
def _no_leftover_environment() -> Iterator[None]:
    saved = dict(os.environ)
    yield
    # the local target restores the environment it set
    assert {**os.environ, "PYTEST_CURRENT_TEST": ""} == {**saved, "PYTEST_CURRENT_TEST": ""}


# --- function:NAME and batch:FUNCTION_ARN, stubbed against the real service models ------------

ACCOUNT = "123456789012"  # moto's
PRINCIPAL = f"replay:arn:aws:sts::{ACCOUNT}:user/moto"
FUNCTION_ARN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:uploader"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/batch-replay"
ODD_KEYS = ("odd/a b.zip", "odd/a+b.zip", "odd/100% sure.zip", "odd/café ✓.zip", "odd/x,y.zip")


def stubbed(monkeypatch: pytest.MonkeyPatch, *services: str) -> dict[str, Any]:
    """The command's own clients for ``services`` (made by ``Context.client``), to be stubbed."""
    real_client = Context.client
    made = {
        service: real_client(Context(dict(os.environ)), service, read_timeout=930)
        for service in services
    }

    def client(self: Context, service: str, **options: Any) -> Any:
        return made[service] if service in made else real_client(self, service, **options)

    monkeypatch.setattr(Context, "client", client)
    return made


def candidate_of(s3: Any, obj: Put) -> Candidate:
    head = s3.head_object(Bucket=obj.bucket, Key=obj.key, VersionId=obj.version_id)
    return Candidate(obj.bucket, obj.key, obj.version_id, obj.etag, obj.size, head["LastModified"])


def test_replay_to_a_function_invokes_it_asynchronously_with_the_s3_notification(
    put: Callable[..., Put],
    s3: Any,
    bucket: str,
    bundle: str,
    env_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    older = put("fn/a b.zip", zip_with("a"), {TAG: bundle})
    next_second()
    newer = put("fn/c+d.zip", zip_with("c"), {TAG: bundle})
    lambda_client = stubbed(monkeypatch, "lambda")["lambda"]
    with Stubber(lambda_client) as stub:
        for obj in (newer, older):  # newest first
            event = notification(candidate_of(s3, obj), PRINCIPAL, "us-east-1", force=True)
            stub.add_response(
                "invoke",
                {"StatusCode": 202},
                {
                    "FunctionName": "uploader",
                    "InvocationType": "Event",
                    "Payload": json.dumps(event).encode(),
                },
            )
        code, document = replay(
            env_file, capsys, bucket, "--status", "any", "--force",
            "--to", "function:uploader", "--concurrency", "1",
        )  # fmt: skip
        stub.assert_no_pending_responses()

    assert code == 0
    assert document["summary"] == {"sent": {"lambda.invoked_async": 2}}
    assert replayed(document) == {(older.key, older.version_id), (newer.key, newer.version_id)}


def simulate_batch_job(s3: Any, bucket: str, runtime: Runtime) -> Callable[..., None]:
    """What S3 Batch Operations would do on the job's second look: run the manifest, report."""
    calls: list[str] = []

    def on_describe_job(params: dict[str, Any], **_: Any) -> None:
        calls.append(params["JobId"])
        if len(calls) != 2:
            return
        listing = s3.list_objects_v2(Bucket=bucket, Prefix="ece-uploader/replays/")
        [manifest_key] = [o["Key"] for o in listing["Contents"] if o["Key"].endswith(".csv")]
        text = s3.get_object(Bucket=bucket, Key=manifest_key)["Body"].read().decode()
        event = batch_event(manifest_rows(text), job_id=params["JobId"])
        with contextlib.redirect_stdout(sys.stderr):  # the function's logs: not the command's
            reply = handle_event(event, runtime, Deadline.after(120))
        tasks = {task["taskId"]: task for task in event["tasks"]}
        lines = io.StringIO()
        writer = csv.writer(lines)
        for result in reply["results"]:
            task = tasks[result["taskId"]]
            status = "succeeded" if result["resultCode"] == "Succeeded" else "failed"
            writer.writerow([task["s3Bucket"], task["s3Key"], task["s3VersionId"] or "", status,
                             "" if status == "succeeded" else result["resultCode"], "200",
                             result["resultString"]])  # fmt: skip
        prefix = manifest_key.removesuffix("manifest.csv") + f"report/job-{params['JobId']}/"
        s3.put_object(Bucket=bucket, Key=f"{prefix}results/r1.csv", Body=lines.getvalue())
        top = {"Format": "Report_CSV_20180820", "Results": [
            {"TaskExecutionStatus": "succeeded", "Bucket": bucket, "Key": f"{prefix}results/r1.csv"}
        ]}  # fmt: skip
        s3.put_object(Bucket=bucket, Key=f"{prefix}manifest.json", Body=json.dumps(top))

    return on_describe_job


def test_replay_by_batch_operations_writes_the_manifest_creates_the_job_and_reads_the_report(
    put: Callable[..., Put],
    s3: Any,
    bucket: str,
    ece: EceEmulator,
    bundle: str,
    runtime: Runtime,
    env_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import ece_uploader.commands.replay as replay_command

    monkeypatch.setattr(replay_command, "POLL_FIRST_SECONDS", 0.01)
    objects = {key: put(key, zip_with(key), {TAG: bundle}) for key in ODD_KEYS}
    s3control = stubbed(monkeypatch, "s3control")["s3control"]
    s3control.meta.events.register(
        "before-parameter-build.s3-control.DescribeJob", simulate_batch_job(s3, bucket, runtime)
    )
    job_id = "00000000-1111-2222-3333-444444444444"
    with Stubber(s3control) as stub:
        stub.add_response(
            "create_job",
            {"JobId": job_id},
            {
                "AccountId": ACCOUNT,
                "ConfirmationRequired": False,
                "Operation": {
                    "LambdaInvoke": {"FunctionArn": FUNCTION_ARN, "InvocationSchemaVersion": "2.0"}
                },
                "Report": {
                    "Bucket": f"arn:aws:s3:::{bucket}",
                    "Format": "Report_CSV_20180820",
                    "Enabled": True,
                    "Prefix": ANY,
                    "ReportScope": "AllTasks",
                },
                "ClientRequestToken": ANY,
                "Manifest": {
                    "Spec": {
                        "Format": "S3BatchOperations_CSV_20180820",
                        "Fields": ["Bucket", "Key", "VersionId"],
                    },
                    "Location": ANY,
                },
                "Description": ANY,
                "Priority": 10,
                "RoleArn": ROLE_ARN,
            },
        )
        for status, done in (("Active", 0), ("Complete", len(objects))):
            stub.add_response(
                "describe_job",
                {"Job": {"JobId": job_id, "Status": status, "ProgressSummary": {
                    "TotalNumberOfTasks": len(objects), "NumberOfTasksSucceeded": done,
                    "NumberOfTasksFailed": 0}}},
                {"AccountId": ACCOUNT, "JobId": job_id},
            )  # fmt: skip
        code, document = replay(
            env_file, capsys, bucket, "--status", "missing", "--to", f"batch:{FUNCTION_ARN}",
            "--role-arn", ROLE_ARN, "--wait",
        )  # fmt: skip
        stub.assert_no_pending_responses()

    assert code == 0, document
    assert document["job_id"] == job_id and document["job_status"] == "Complete"
    # The manifest in the bucket names each pinned version, and decodes to the same keys.
    manifest_key = document["manifest"].removeprefix(f"s3://{bucket}/")
    assert manifest_key.startswith("ece-uploader/replays/") and manifest_key.endswith(".csv")
    text = s3.get_object(Bucket=bucket, Key=manifest_key)["Body"].read().decode()
    rows = manifest_rows(text)
    assert {(b, v) for b, _, v in rows} == {(bucket, o.version_id) for o in objects.values()}
    [decoded] = [parse_event(batch_event(rows))]
    assert {(r.key, r.version_id) for d in decoded.deliveries for r in d.objects} == {
        (o.key, o.version_id) for o in objects.values()
    }
    # The completion report, read back, says what became of each one.
    assert replayed(document) == {(o.key, o.version_id) for o in objects.values()}
    assert set(document["summary"]) <= {"uploaded", "skipped"}
    assert document["summary"]["uploaded"] == {"ok": 1}
    assert ece.stored_bytes(bundle) in {zip_with(key) for key in ODD_KEYS}


def test_batch_without_wait_prints_the_job_and_forces_through_user_arguments(
    put: Callable[..., Put],
    bucket: str,
    bundle: str,
    env_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    put("b/x.zip", zip_with("x"), {TAG: bundle})
    s3control = stubbed(monkeypatch, "s3control")["s3control"]
    with Stubber(s3control) as stub:
        stub.add_response(
            "create_job",
            {"JobId": "job-1"},
            {
                "AccountId": ACCOUNT, "ConfirmationRequired": False,
                "Operation": {"LambdaInvoke": {
                    "FunctionArn": FUNCTION_ARN, "InvocationSchemaVersion": "2.0",
                    "UserArguments": {"ece-uploader-force": "true"}}},
                "Report": ANY, "ClientRequestToken": ANY, "Manifest": ANY, "Description": ANY,
                "Priority": 10, "RoleArn": ROLE_ARN,
            },
        )  # fmt: skip
        code, document = replay(
            env_file, capsys, bucket, "--to", f"batch:{FUNCTION_ARN}", "--role-arn", ROLE_ARN,
            "--force",
        )  # fmt: skip

    assert code == 0
    assert document["job_id"] == "job-1"
    assert document["summary"] == {"submitted": {"batch.job-1": 1}}
