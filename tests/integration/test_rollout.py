"""``ece-uploader rollout``: the no-op plan, validated in a dry run, applied one at a time.

The command talks HTTP to the ECE emulator and reads its secret from moto, as it
would from ECE and Secrets Manager. Plans last 0.3 s; the command looks every
0.05 s.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from ece_uploader.cli import main
from ece_uploader.emulator import EceEmulator, Fault

from .conftest import API_KEY
from .test_ledger import wait_for

PLAN_SECONDS = 0.3
FAST = ("--poll-seconds", "0.05", "--timeout", "30")


@pytest.fixture
def env_file(tmp_path: Path, ece: EceEmulator, secret_id: str) -> Path:
    """The settings the command needs: where ECE is, and the secret with its key."""
    ece.set_plan_duration(PLAN_SECONDS)
    path = tmp_path / "env.json"
    settings = {"ECE_API_URL": ece.url, "ECE_SECRET_ID": secret_id, "ECE_ALLOW_HTTP": "true"}
    path.write_text(json.dumps({"UploaderFunction": settings}))
    return path


@pytest.fixture
def two_users(ece: EceEmulator, plugin: str) -> list[str]:
    """Two deployments that use the plugin, and one that does not."""
    first = ece.create_deployment("search-a", plugins=[plugin])["id"]
    second = ece.create_deployment("search-b", plugins=[plugin])["id"]
    ece.create_deployment("unrelated")
    return [first, second]


def rollout(
    env_file: Path, capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[int, Any, str]:
    """Exit code, the JSON document (or the table text), and stderr."""
    capsys.readouterr()
    code = main(["rollout", "--env-vars", str(env_file), *extra])
    captured = capsys.readouterr()
    out = json.loads(captured.out) if "--json" in extra else captured.out
    return code, out, captured.err


def outcomes(ece: EceEmulator, deployment_id: str) -> list[str]:
    return [plan.outcome for plan in ece.deployment_plans(deployment_id)]


def applied(ece: EceEmulator, deployment_id: str) -> list[Any]:
    return [u for u in ece.deployment_updates(deployment_id) if not u.validate_only]


def start_plan(ece: EceEmulator, deployment_id: str) -> None:
    """Someone else's plan, pending in ECE (an update sent by hand)."""
    headers = {"Authorization": f"ApiKey {API_KEY}"}
    url = f"{ece.url}/api/v1/deployments/{deployment_id}"
    current = requests.get(url, params={"clear_transient": "true"}, headers=headers, timeout=10)
    [resource] = current.json()["resources"]["elasticsearch"]
    body = {
        "prune_orphans": False,
        "resources": {
            "elasticsearch": [
                {
                    "ref_id": resource["ref_id"],
                    "region": resource["region"],
                    "plan": resource["info"]["plan_info"]["current"]["plan"],
                }
            ]
        },
    }
    reply = requests.put(url, json=body, headers=headers, timeout=10)
    assert reply.status_code == 200, reply.text


def test_a_dry_run_lists_and_validates_without_changing_anything(
    ece: EceEmulator,
    plugin: str,
    two_users: list[str],
    env_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    plans_before = ece.deployment_plans()

    code, document, err = rollout(env_file, capsys, "--extension", plugin, "--json")

    assert code == 0, err
    assert document["mode"] == "dry_run" and document["ok"] is True
    assert [d["deployment_id"] for d in document["deployments"]] == two_users
    assert document["validated"] == two_users and document["rolled"] == []
    for entry in document["deployments"]:
        assert entry["result"] == "valid"
        assert entry["pending_plan"] is False and entry["health"].startswith("healthy")
        [resource] = entry["elasticsearch"]
        assert (resource["ref_id"], resource["region"]) == ("main-elasticsearch", "ece-region")
        assert entry["uses"] == ["plugin analysis-demo (plan)"]
        request = entry["request"]
        assert request["prune_orphans"] is False
        assert list(request["resources"]) == ["elasticsearch"]
        [payload] = request["resources"]["elasticsearch"]
        assert set(payload) == {"ref_id", "region", "plan"}
        assert "transient" not in payload["plan"]
        current = ece.get_deployment(entry["deployment_id"])
        assert current is not None
        stored = current["resources"]["elasticsearch"][0]["info"]["plan_info"]["current"]["plan"]
        assert payload["plan"] == {k: v for k, v in stored.items() if k != "transient"}
    # Only validate-only requests reached ECE; no plan started.
    updates = ece.deployment_updates()
    assert len(updates) == 2 and all(u.validate_only for u in updates)
    assert ece.deployment_plans() == plans_before
    assert [r.query.get("validate_only") for r in ece.find_requests("PUT")] == [["true"]] * 2

    code, table, _ = rollout(env_file, capsys, "--extension", plugin)
    assert code == 0
    header, *rows = table.splitlines()
    assert header.split()[:3] == ["DEPLOYMENT", "NAME", "ELASTICSEARCH"]
    assert len(rows) == 2 and all(" valid " in row for row in rows)


def test_deployment_narrows_and_refuses_one_that_does_not_use_the_extension(
    ece: EceEmulator,
    plugin: str,
    two_users: list[str],
    env_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, document, _ = rollout(
        env_file, capsys, "--extension", plugin, "--deployment", two_users[1], "--json"
    )
    assert code == 0
    assert [d["deployment_id"] for d in document["deployments"]] == [two_users[1]]

    stranger = ece.create_deployment("other")["id"]
    code, _, err = rollout(env_file, capsys, "--extension", plugin, "--deployment", stranger)
    assert code == 2
    assert f"is not used by {stranger}" in err
    assert ece.deployment_updates() == [u for u in ece.deployment_updates() if u.validate_only]


def test_apply_rolls_the_deployments_one_after_the_other(
    ece: EceEmulator,
    plugin: str,
    two_users: list[str],
    env_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    first, second = two_users

    code, document, err = rollout(
        env_file, capsys, "--extension", plugin, "--apply", *FAST, "--json"
    )

    assert code == 0, err
    assert document["mode"] == "apply" and document["rolled"] == two_users
    assert document["failed"] == document["not_attempted"] == []
    for deployment_id in two_users:
        assert outcomes(ece, deployment_id) == ["success", "success"]
        [update] = applied(ece, deployment_id)
        creation, rolled = ece.deployment_plans(deployment_id)
        assert rolled.plan == {k: v for k, v in creation.plan.items() if k != "transient"}
        assert update.body["prune_orphans"] is False
    # The second deployment's plan was sent only once the first one's had ended.
    first_plan = ece.deployment_plans(first)[-1]
    [second_put] = applied(ece, second)
    assert first_plan.ended_at is not None and second_put.received_at >= first_plan.ended_at
    # Every apply carried the resource version read with the plan.
    puts = [r for r in ece.find_requests("PUT") if r.query.get("validate_only") == ["false"]]
    assert len(puts) == 2 and all(r.query.get("version") for r in puts)
    assert "submitting the current plan again" in err and "rolled" in err


def test_apply_waits_for_a_pending_plan_and_never_cancels_it(
    ece: EceEmulator,
    plugin: str,
    two_users: list[str],
    env_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    first, second = two_users
    ece.set_plan_duration(600, first)
    start_plan(ece, first)  # someone else's plan, still pending when the rollout starts
    assert outcomes(ece, first) == ["success", "pending"]

    def reads() -> int:
        return len(ece.find_requests("GET", deployment_id=first))

    before = reads()
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(
            rollout, env_file, capsys, "--extension", plugin, "--apply", "--wait", *FAST, "--json"
        )
        wait_for(lambda: reads() >= before + 3)  # the rollout keeps finding it pending
        assert outcomes(ece, first) == ["success", "pending"]
        ece.set_plan_duration(0, first)  # their plan ends now
        code, document, err = running.result()

    assert code == 0, err
    assert document["rolled"] == two_users
    # The plan already pending ran to its end; then came the rollout's own.
    assert outcomes(ece, first) == ["success", "success", "success"]
    theirs = ece.deployment_plans(first)[1]
    ours = applied(ece, first)[-1]
    assert theirs.ended_at is not None and ours.received_at >= theirs.ended_at
    assert {r.method for r in ece.requests} <= {"GET", "PUT"}  # nothing cancelled
    assert f"{first}: a plan is pending; waiting for it" in err
    assert outcomes(ece, second) == ["success", "success"]


def test_without_wait_a_deployment_with_a_pending_plan_is_skipped(
    ece: EceEmulator,
    plugin: str,
    two_users: list[str],
    env_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    first, second = two_users
    ece.set_plan_duration(30, first)
    start_plan(ece, first)

    code, document, _ = rollout(env_file, capsys, "--extension", plugin, "--apply", *FAST, "--json")

    assert code == 1
    assert document["skipped"] == [first] and document["rolled"] == [second]
    assert "rerun with --wait" in document["deployments"][0]["detail"]
    assert len(applied(ece, first)) == 1  # only the plan started by hand
    assert outcomes(ece, first) == ["success", "pending"]


def test_apply_stops_at_the_first_plan_that_fails(
    ece: EceEmulator,
    plugin: str,
    two_users: list[str],
    env_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    first, second = two_users
    ece.fail_next_plan(first, "Instance ran out of disk")

    code, document, err = rollout(
        env_file, capsys, "--extension", plugin, "--apply", *FAST, "--json"
    )

    assert code == 1
    assert document["failed"] == [first] and document["not_attempted"] == [second]
    assert document["rolled"] == []
    failed = document["deployments"][0]
    assert "Instance ran out of disk" in failed["detail"]
    assert outcomes(ece, first) == ["success", "failed"]
    assert ece.deployment_updates(second) == []  # not even validated
    assert f"not attempted {second}" in err

    # Once the cause is fixed, running it again rolls both.
    code, table, _ = rollout(env_file, capsys, "--extension", plugin, "--apply", *FAST)
    assert code == 0 and table.count(" rolled ") == 2
    assert outcomes(ece, first) == ["success", "failed", "success"]


def test_a_plan_still_running_at_the_timeout_is_a_failure_and_keeps_running(
    ece: EceEmulator,
    plugin: str,
    two_users: list[str],
    env_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    first, second = two_users
    ece.set_plan_duration(30, first)

    code, document, _ = rollout(
        env_file,
        capsys,
        *("--extension", plugin, "--apply", "--poll-seconds", "0.05", "--timeout", "0.4"),
        "--json",
    )

    assert code == 1
    assert document["failed"] == [first] and document["not_attempted"] == [second]
    assert "had not ended within --timeout 0.4 s" in document["deployments"][0]["detail"]
    assert outcomes(ece, first) == ["success", "pending"]  # still running, not cancelled
    assert ece.deployment_updates(second) == []


def test_apply_stops_when_ece_refuses_the_update(
    ece: EceEmulator,
    plugin: str,
    two_users: list[str],
    env_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    first, second = two_users
    ece.script(
        Fault(
            status=400,
            code="deployments.deployment_resource_plan_change_error",
            message="refused",
        ),
        operation_id="update-deployment",
        deployment_id=first,
    )

    code, document, _ = rollout(env_file, capsys, "--extension", plugin, "--apply", *FAST, "--json")

    assert code == 1
    assert document["failed"] == [first] and document["not_attempted"] == [second]
    detail = document["deployments"][0]["detail"]
    assert "ece.deployments.deployment_resource_plan_change_error (HTTP 400)" in detail
    assert outcomes(ece, first) == ["success"] and outcomes(ece, second) == ["success"]


def test_an_unknown_extension_is_a_usage_error(
    ece: EceEmulator, env_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = rollout(env_file, capsys, "--extension", "404404")
    assert code == 2 and "ECE knows no extension 404404" in err


def test_an_extension_nobody_uses_has_nothing_to_roll(
    ece: EceEmulator, plugin: str, env_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, document, err = rollout(env_file, capsys, "--extension", plugin, "--apply", "--json")
    assert code == 0 and document["deployments"] == [] and "nothing to roll" in err
