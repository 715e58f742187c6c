"""The authorization boundary around the bucket: who may publish what, over what, and who did."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ece_uploader.emulator import EceEmulator
from ece_uploader.local import invoke, read_function
from ece_uploader.samples import bundle_zip
from extension_uploader.app import RetryableEventError
from extension_uploader.pipeline import Runtime

from .conftest import TAG, Logs, Put, Tags, log_line, outcome, run, s3_event

SPEC = read_function(Path("template.yaml"))


def test_an_allowed_id_is_uploaded(
    put: Callable[..., Put], make_runtime: Callable[..., Runtime], bundle: str, tags_of: Tags
) -> None:
    obj = put("allowed/x.zip", bundle_zip(), {TAG: bundle})
    run(s3_event(obj), make_runtime({"ALLOWED_EXTENSION_IDS": f"123,{bundle}"}))
    assert outcome(tags_of(obj)) == ("uploaded", "ok")


@pytest.mark.parametrize(
    "settings",
    [
        {"ALLOWED_EXTENSION_IDS": "1234567890"},
        {"EXTENSION_ROUTES": '{"team-a/": ["1234567890"], "team-b/": ["*"]}'},
        {"EXTENSION_ROUTES": '{"elsewhere/": ["*"]}'},
    ],
    ids=["not in the list", "not in the key's route", "under no route"],
)
def test_a_disallowed_id_is_rejected_before_any_request_to_ece(
    settings: dict[str, str],
    put: Callable[..., Put],
    make_runtime: Callable[..., Runtime],
    ece: EceEmulator,
    bundle: str,
    tags_of: Tags,
    function_logs: Logs,
) -> None:
    obj = put("team-a/x.zip", bundle_zip(), {TAG: bundle})
    run(s3_event(obj), make_runtime(settings))
    assert outcome(tags_of(obj)) == ("rejected", "tag.extension_not_allowed")
    assert log_line(function_logs, obj.key)["detail"] == "key team-a/x.zip"
    assert ece.requests == []


def test_a_route_lets_its_own_prefix_through(
    put: Callable[..., Put], make_runtime: Callable[..., Runtime], bundle: str, tags_of: Tags
) -> None:
    obj = put("team-a/x.zip", bundle_zip(), {TAG: bundle})
    run(s3_event(obj), make_runtime({"EXTENSION_ROUTES": json.dumps({"team-a/": [bundle]})}))
    assert outcome(tags_of(obj)) == ("uploaded", "ok")


def test_a_forced_replay_cannot_bypass_the_allow_list(
    put: Callable[..., Put],
    make_runtime: Callable[..., Runtime],
    ece: EceEmulator,
    bundle: str,
    tags_of: Tags,
) -> None:
    obj = put("forced/x.zip", bundle_zip(), {TAG: bundle})
    event = s3_event(obj) | {"ece-uploader": {"force": True}}
    run(event, make_runtime({"ALLOWED_EXTENSION_IDS": "1234567890"}))
    assert outcome(tags_of(obj)) == ("rejected", "tag.extension_not_allowed")
    assert ece.requests == []


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_plain_http_without_the_opt_in_stops_at_cold_start(
    function_env: dict[str, str], ece: EceEmulator
) -> None:
    env = function_env | {"ECE_ALLOW_HTTP": "false"}
    with pytest.raises(ValueError, match=r"plain http://.*ECE_ALLOW_HTTP=true"):
        invoke({"Records": []}, SPEC, env)
    assert ece.requests == []


def test_the_principal_and_source_ip_are_in_the_log_line_and_the_ledger(
    put: Callable[..., Put],
    runtime: Runtime,
    bundle: str,
    function_logs: Callable[[], list[dict[str, Any]]],
) -> None:
    obj = put("audit/x.zip", bundle_zip(), {TAG: bundle})
    event = s3_event(obj)
    event["Records"][0]["userIdentity"] = {"principalId": "AWS:AROAEXAMPLE:release-bot"}
    event["Records"][0]["requestParameters"] = {"sourceIPAddress": "198.51.100.7"}

    run(event, runtime)

    [line] = [entry for entry in function_logs() if entry.get("key") == "audit/x.zip"]
    assert (line["principal"], line["source_ip"]) == ("AWS:AROAEXAMPLE:release-bot", "198.51.100.7")
    live = runtime.ledger.read(bundle).live
    assert live is not None and live.principal == "AWS:AROAEXAMPLE:release-bot"
    assert live.source_ip == "198.51.100.7"


def test_sources_without_a_principal_say_unknown(
    put: Callable[..., Put], runtime: Runtime, bundle: str
) -> None:
    obj = put("audit/batch.zip", bundle_zip(), {TAG: bundle})
    event = {
        "invocationSchemaVersion": "1.0",
        "invocationId": "i",
        "job": {"id": "j"},
        "tasks": [{"taskId": "t", "s3BucketArn": f"arn:aws:s3:::{obj.bucket}", "s3Key": obj.key}],
    }
    run(event, runtime)
    live = runtime.ledger.read(bundle).live
    assert live is not None and live.principal == "unknown"


@pytest.mark.parametrize(
    "event",
    [
        {"Records": [{"eventSource": "aws:s3", "pad": "x" * (7 * 1024 * 1024)}]},
        {"Records": [{"eventSource": "aws:sqs", "messageId": "m", "body": "[" * 50_000}]},
        {"Records": [{"eventSource": "aws:sqs", "messageId": "m", "body": "[" * 40 + "]" * 40}]},
    ],
    ids=["larger than any real event", "unparseably deep body", "deeper than any real one"],
)
def test_absurd_events_are_refused_as_malformed_without_work(
    event: dict[str, Any], runtime: Runtime, ece: EceEmulator
) -> None:
    if event["Records"][0]["eventSource"] == "aws:sqs":  # the message goes to the queue's DLQ
        assert run(event, runtime) == {"batchItemFailures": [{"itemIdentifier": "m"}]}
    else:
        with pytest.raises(RetryableEventError):
            run(event, runtime)
    assert ece.requests == []
