"""Extensions in use: the count recorded, the replace policy, rollback, and outcome events."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest

from ece_uploader.cli import main
from ece_uploader.emulator import EceEmulator
from ece_uploader.samples import bundle_zip
from extension_uploader.outcome import TAG_REPLACE_IN_USE
from extension_uploader.pipeline import Runtime
from extension_uploader.telemetry import METRIC_UPLOADED_IN_USE, metrics

from .conftest import TAG, Logs, Put, Tags, details, outcome, run, s3_event
from .test_ledger import next_second, zip_with


def test_the_deployments_using_an_extension_are_counted_and_recorded(
    put: Callable[..., Put],
    runtime: Runtime,
    ece: EceEmulator,
    bundle: str,
    function_logs: Callable[[], list[dict[str, Any]]],
) -> None:
    first = ece.create_deployment("search-a", bundles=[bundle])["id"]
    second = ece.create_deployment("search-b", bundles=[bundle])["id"]
    obj = put("in-use/x.zip", bundle_zip(), {TAG: bundle})
    metrics.clear_metrics()

    result = run(s3_event(obj), runtime)

    assert result["results"][0]["status"] == "uploaded"
    assert metrics.metric_set[METRIC_UPLOADED_IN_USE]["Value"] == [1.0]
    [line] = [entry for entry in function_logs() if entry.get("key") == "in-use/x.zip"]
    assert line["deployments_in_use"] == 2
    assert (line["extension_type"], line["extension_version"]) == ("bundle", "*")
    assert sorted(line["deployment_ids"]) == sorted([first, second])
    live = runtime.ledger.read(bundle).live
    assert live is not None and live.deployments_count == 2
    assert sorted(live.deployments) == sorted([first, second])
    preflight = ece.find_requests("GET", extension_id=bundle)[0]
    assert preflight.query == {"include_deployments": ["true"]}


def test_status_shows_who_runs_the_previous_file(
    put: Callable[..., Put],
    runtime: Runtime,
    ece: EceEmulator,
    bundle: str,
    env_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    deployment = ece.create_deployment("search", bundles=[bundle])["id"]
    run(s3_event(put("in-use/y.zip", bundle_zip(), {TAG: bundle})), runtime)
    capsys.readouterr()

    assert main(["status", "--extension", bundle, "--env-vars", str(env_file), "--json"]) == 0
    [entry] = json.loads(capsys.readouterr().out)
    assert entry["deployments"] == [deployment]
    assert main(["status", "--extension", bundle, "--env-vars", str(env_file)]) == 0
    assert "1 (running the previous file until a plan is applied)" in capsys.readouterr().out


def test_refuse_policy_stops_a_replace_and_the_override_tag_lets_it_through(
    put: Callable[..., Put],
    make_runtime: Callable[..., Runtime],
    ece: EceEmulator,
    bundle: str,
    tags_of: Tags,
    function_logs: Logs,
) -> None:
    ece.create_deployment("search", bundles=[bundle])
    runtime = make_runtime({"IN_USE_POLICY": "refuse"})
    refused = put("policy/x.zip", zip_with("refused"), {TAG: bundle})

    run(s3_event(refused), runtime)

    assert outcome(tags_of(refused)) == ("rejected", "extension.in_use")
    assert details(function_logs, "extension.in_use") == [
        f"1 deployment(s) use it; tag the object {TAG_REPLACE_IN_USE}=true"
        " to replace its file anyway"
    ]
    assert ece.find_requests("PUT") == []  # nothing was sent

    next_second()
    allowed = put("policy/x.zip", zip_with("allowed"), {TAG: bundle, TAG_REPLACE_IN_USE: "true"})
    run(s3_event(allowed), runtime)
    assert outcome(tags_of(allowed)) == ("uploaded", "ok")
    assert ece.stored_bytes(bundle) == zip_with("allowed")


def test_an_extension_nobody_uses_is_replaced_under_the_refuse_policy(
    put: Callable[..., Put], make_runtime: Callable[..., Runtime], bundle: str, tags_of: Tags
) -> None:
    obj = put("policy/free.zip", bundle_zip(), {TAG: bundle})
    run(s3_event(obj), make_runtime({"IN_USE_POLICY": "refuse"}))
    assert outcome(tags_of(obj)) == ("uploaded", "ok")


@pytest.fixture
def env_file(tmp_path: Path, function_env: dict[str, str]) -> Path:
    path = tmp_path / "env.json"
    path.write_text(json.dumps({"UploaderFunction": function_env}))
    return path


def test_rollback_restores_the_previous_bytes_and_survives_later_replays(
    put: Callable[..., Put],
    runtime: Runtime,
    ece: EceEmulator,
    bundle: str,
    tags_of: Tags,
    env_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given A is live, then a bad B replaced it
    a = put("team/a.zip", zip_with("A"), {TAG: bundle})
    run(s3_event(a), runtime)
    older = put("team/older.zip", zip_with("older"), {TAG: bundle})  # never handled yet
    next_second()
    b = put("team/b.zip", zip_with("B-bad"), {TAG: bundle})
    run(s3_event(b), runtime)
    assert ece.stored_bytes(bundle) == zip_with("B-bad")

    # When the operator rolls back one step
    capsys.readouterr()
    code = main(["rollback", "--extension", bundle, "--env-vars", str(env_file), "--json"])

    # Then ECE holds A's bytes again and the ledger says why
    report = json.loads(capsys.readouterr().out)
    assert code == 0, report
    assert (report["status"], report["reason"]) == ("uploaded", "ok")
    assert ece.stored_bytes(bundle) == zip_with("A")
    record = runtime.ledger.read(bundle)
    assert record.live is not None and record.live.via == "rollback"
    assert record.live.object.version_id == a.version_id
    assert record.live.principal.startswith("rollback:")
    assert record.history[0].object.key == "team/b.zip"

    # A later replay of older objects stays superseded: B, and one never handled before
    run(s3_event(b), runtime)
    run(s3_event(older), runtime)
    assert outcome(tags_of(older)) == ("skipped", "upload.superseded")
    assert ece.stored_bytes(bundle) == zip_with("A")

    # A genuinely new object put after the rollback wins
    next_second()
    c = put("team/c.zip", zip_with("C"), {TAG: bundle})
    run(s3_event(c), runtime)
    assert outcome(tags_of(c)) == ("uploaded", "ok")
    assert ece.stored_bytes(bundle) == zip_with("C")


def test_rollback_dry_run_and_a_history_too_short_are_answered_without_changes(
    put: Callable[..., Put],
    runtime: Runtime,
    ece: EceEmulator,
    bundle: str,
    env_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run(s3_event(put("only/a.zip", zip_with("A"), {TAG: bundle})), runtime)
    args = ["rollback", "--extension", bundle, "--env-vars", str(env_file)]
    assert main(args) == 2  # nothing earlier to go back to
    assert "no earlier file" in capsys.readouterr().err
    next_second()
    run(s3_event(put("only/b.zip", zip_with("B"), {TAG: bundle})), runtime)
    uploads = len(ece.uploads(bundle))
    capsys.readouterr()
    assert main([*args, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "only/a.zip" in out and "dry run" in out
    assert len(ece.uploads(bundle)) == uploads
    assert main([*args, "--to-version", "no-such-version"]) == 2


def test_outcomes_are_published_to_the_event_bus(
    put: Callable[..., Put], make_runtime: Callable[..., Runtime], bundle: str
) -> None:
    events, sqs = boto3.client("events"), boto3.client("sqs")
    bus = f"outcomes-{uuid.uuid4().hex[:8]}"
    events.create_event_bus(Name=bus)
    queue = sqs.create_queue(QueueName=f"seen-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_rule(
        Name="all-outcomes",
        EventBusName=bus,
        EventPattern=json.dumps({"source": ["ece-extension-uploader"]}),
    )
    events.put_targets(Rule="all-outcomes", EventBusName=bus, Targets=[{"Id": "q", "Arn": arn}])
    obj = put("announce/x.zip", bundle_zip(), {TAG: bundle})
    event = s3_event(obj)
    event["Records"][0]["userIdentity"] = {"principalId": "AWS:AIDA:publisher"}
    event["Records"][0]["requestParameters"] = {"sourceIPAddress": "203.0.113.9"}

    run(event, make_runtime({"OUTCOME_EVENT_BUS": bus}))

    messages: list[dict[str, Any]] = []
    deadline = time.monotonic() + 10
    while not messages and time.monotonic() < deadline:
        reply = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1)
        messages = [json.loads(m["Body"]) for m in reply.get("Messages", [])]
    [message] = messages
    assert message["source"] == "ece-extension-uploader"
    assert message["detail-type"] == "Extension Upload Outcome"
    detail = message["detail"]
    assert (detail["bucket"], detail["key"], detail["version_id"]) == (
        obj.bucket,
        obj.key,
        obj.version_id,
    )
    assert (detail["extension_id"], detail["status"], detail["reason"]) == (
        bundle,
        "uploaded",
        "ok",
    )
    assert detail["sha256"] == obj.sha256 and detail["principal"] == "AWS:AIDA:publisher"
    assert (detail["source_ip"], detail["deployments_in_use"]) == ("203.0.113.9", 0)


def test_an_outcome_event_that_cannot_be_sent_is_logged_and_the_outcome_stands(
    put: Callable[..., Put],
    make_runtime: Callable[..., Runtime],
    bundle: str,
    tags_of: Tags,
    function_logs: Callable[[], list[dict[str, Any]]],
) -> None:
    obj = put("announce/nowhere.zip", bundle_zip(), {TAG: bundle})

    result = run(s3_event(obj), make_runtime({"OUTCOME_EVENT_BUS": "no-such-bus"}))

    assert result["results"][0]["status"] == "uploaded"
    assert outcome(tags_of(obj)) == ("uploaded", "ok")
    [warning] = [
        line for line in function_logs() if line["message"] == "outcome event not published"
    ]
    assert warning["level"] == "WARNING"
    assert warning["error"].startswith("outcome event ")
