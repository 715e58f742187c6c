"""The emulator's deployments over real sockets: extensions in use, plans, failures, admin.

Every API response here is checked against the packaged spec as it arrives.
"""

from __future__ import annotations

import base64
import copy
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from ece_uploader.emulator import EceEmulator, Fault, validate_response

pytestmark = pytest.mark.integration

API_KEY = "deployments-key"
BASIC_USER = ("admin", "s3cret-pw")
TIMEOUT = 10
# Plans run this long unless a test says otherwise: long enough to see them
# pending, short enough to wait for.
PLAN_SECONDS = 0.2
NO_TRANSIENT = {"show_plans": "true", "clear_transient": "true"}
# Long enough never to end by itself in a test: such a plan ends when the test
# shortens it (set_plan_duration), so seeing it pending never races the clock.
LONG_PLAN_SECONDS = 600
RESOURCE_HEADERS = {
    "Content-Type": "application/json",
    "x-cloud-resource-version": "1",
    "x-cloud-resource-created": "2026-11-28T09:15:00.123Z",
    "x-cloud-resource-last-modified": "2026-11-28T09:15:00.123Z",
}


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll with backoff until ``predicate`` holds (no fixed sleeps)."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


@pytest.fixture
def emu() -> Iterator[EceEmulator]:
    with EceEmulator(
        api_keys={API_KEY}, basic_users=dict([BASIC_USER]), plan_duration=PLAN_SECONDS
    ) as emulator:
        yield emulator
        assert emulator.spec_violations == []


class Api:
    """The deployment and extension operations, each response checked against the spec."""

    def __init__(self, emu: EceEmulator) -> None:
        self.emu = emu
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"ApiKey {API_KEY}"

    def call(self, operation_id: str, method: str, path: str, **kwargs: Any) -> requests.Response:
        response = self.session.request(method, self.emu.api_url + path, timeout=TIMEOUT, **kwargs)
        problems = validate_response(
            operation_id, response.status_code, response.headers, response.content
        )
        assert problems == [], (operation_id, response.status_code, response.text)
        return response

    def get(self, deployment_id: str, **params: str) -> requests.Response:
        return self.call("get-deployment", "GET", f"/deployments/{deployment_id}", params=params)

    def info(self, deployment_id: str, **params: str) -> dict[str, Any]:
        """The Elasticsearch resource's ``info`` (plans shown, transient cleared)."""
        response = self.get(deployment_id, **(NO_TRANSIENT | params))
        assert response.status_code == 200, response.text
        info: dict[str, Any] = response.json()["resources"]["elasticsearch"][0]["info"]
        return info

    def put(
        self, deployment_id: str, body: dict[str, Any], *, validate_only: bool = False
    ) -> requests.Response:
        params = {"validate_only": "true"} if validate_only else {}
        return self.call(
            "update-deployment", "PUT", f"/deployments/{deployment_id}", json=body, params=params
        )

    def users_of(self, extension_id: str) -> list[str]:
        response = self.call(
            "get-extension",
            "GET",
            f"/deployments/extensions/{extension_id}",
            params={"include_deployments": "true"},
        )
        assert response.status_code == 200, response.text
        deployments: list[str] = response.json()["deployments"]
        return deployments

    def no_op_update(self, deployment_id: str) -> dict[str, Any]:
        """What a rollout sends: the current plan again, Elasticsearch only, no pruning."""
        resource = self.get(deployment_id, **NO_TRANSIENT).json()["resources"]["elasticsearch"][0]
        payload = {
            "ref_id": resource["ref_id"],
            "region": resource["region"],
            "plan": resource["info"]["plan_info"]["current"]["plan"],
        }
        return {"prune_orphans": False, "resources": {"elasticsearch": [payload]}}

    def pending(self, deployment_id: str) -> bool:
        return "pending" in self.info(deployment_id)["plan_info"]


@pytest.fixture
def api(emu: EceEmulator) -> Iterator[Api]:
    client = Api(emu)
    yield client
    client.session.close()


@pytest.fixture
def plugin(emu: EceEmulator) -> str:
    return str(emu.create_extension("analysis-demo", "plugin", "8.15.0")["id"])


@pytest.fixture
def bundle(emu: EceEmulator) -> str:
    return str(emu.create_extension("synonyms", "bundle", "8.*")["id"])


def with_extension(body: dict[str, Any], key: str, entry: dict[str, str]) -> dict[str, Any]:
    changed = copy.deepcopy(body)
    elasticsearch = changed["resources"]["elasticsearch"][0]["plan"]["elasticsearch"]
    elasticsearch.setdefault(key, []).append(entry)
    return changed


# -- which deployments use an extension --------------------------------------------------


def test_include_deployments_lists_every_deployment_using_the_extension(
    emu: EceEmulator, api: Api, plugin: str, bundle: str
) -> None:
    first = emu.create_deployment("first", plugins=[plugin], bundles=[bundle])
    second = emu.create_deployment("second", plugins=[plugin])
    emu.create_deployment("unrelated")

    assert api.users_of(plugin) == [first["id"], second["id"]]
    assert api.users_of(bundle) == [first["id"]]
    unused = emu.create_extension("unused")
    assert api.users_of(unused["id"]) == []
    plain = api.call("get-extension", "GET", f"/deployments/extensions/{plugin}")
    assert "deployments" not in plain.json()


def test_include_deployments_follows_the_current_plan(
    emu: EceEmulator, api: Api, plugin: str, bundle: str
) -> None:
    deployment = emu.create_deployment("search", plugins=[plugin], plan_duration=LONG_PLAN_SECONDS)
    entry = {"name": "synonyms", "url": f"repo://{bundle}", "elasticsearch_version": "8.*"}
    body = with_extension(api.no_op_update(deployment["id"]), "user_bundles", entry)

    assert api.put(deployment["id"], body).status_code == 200
    assert api.pending(deployment["id"])
    assert api.users_of(bundle) == []  # only once the plan is current

    emu.set_plan_duration(0, deployment["id"])
    assert not api.pending(deployment["id"])
    assert api.users_of(bundle) == [deployment["id"]]
    assert api.users_of(plugin) == [deployment["id"]]


def test_an_extension_named_in_a_topology_element_counts(
    emu: EceEmulator, api: Api, plugin: str
) -> None:
    deployment = emu.create_deployment("search")
    emu.set_plan_duration(0, deployment["id"])
    body = api.no_op_update(deployment["id"])
    topology = body["resources"]["elasticsearch"][0]["plan"]["cluster_topology"][0]
    topology["elasticsearch"]["user_plugins"] = [
        {"name": "analysis-demo", "url": f"repo://{plugin}", "elasticsearch_version": "8.15.0"}
    ]

    assert api.put(deployment["id"], body).status_code == 200
    assert api.users_of(plugin) == [deployment["id"]]


# -- reading a deployment -----------------------------------------------------------------


def test_get_shows_the_current_plan_with_repo_urls(
    emu: EceEmulator, api: Api, plugin: str, bundle: str
) -> None:
    deployment = emu.create_deployment("search", plugins=[plugin], bundles=[bundle])

    response = api.get(deployment["id"], show_plans="true")

    assert response.status_code == 200
    assert response.headers["x-cloud-resource-version"] == "1"
    body = response.json()
    assert (body["id"], body["name"], body["healthy"]) == (deployment["id"], "search", True)
    resource = body["resources"]["elasticsearch"][0]
    assert (resource["ref_id"], resource["region"]) == ("main-elasticsearch", "ece-region")
    assert resource["id"] == resource["info"]["cluster_id"]
    assert body["resources"]["kibana"] == []
    info = resource["info"]
    assert (info["status"], info["healthy"], info["plan_info"]["healthy"]) == (
        "started",
        True,
        True,
    )
    plan = info["plan_info"]["current"]["plan"]
    assert plan["elasticsearch"]["user_plugins"] == [
        {"name": "analysis-demo", "url": f"repo://{plugin}", "elasticsearch_version": "8.15.0"}
    ]
    assert plan["elasticsearch"]["user_bundles"] == [
        {"name": "synonyms", "url": f"repo://{bundle}", "elasticsearch_version": "8.*"}
    ]
    assert "transient" in plan
    assert "pending" not in info["plan_info"]
    assert info["plan_info"]["history"] == []
    assert info["plan_info"]["current"]["plan_attempt_log"] == []


def test_get_query_flags_shape_the_answer(emu: EceEmulator, api: Api, plugin: str) -> None:
    deployment_id = emu.create_deployment("search", plugins=[plugin])["id"]

    hidden = api.info(deployment_id, show_plans="false")
    assert hidden["plan_info"] == {"healthy": True, "history": []}
    cleared = api.info(deployment_id)["plan_info"]["current"]["plan"]
    assert "transient" not in cleared
    full = api.info(
        deployment_id,
        show_plan_history="true",
        show_plan_logs="true",
        show_metadata="true",
        show_settings="true",
        show_system_alerts="3",
    )
    assert [h["plan_attempt_name"] for h in full["plan_info"]["history"]] == ["attempt-0000000000"]
    steps = full["plan_info"]["current"]["plan_attempt_log"]
    assert [s["step_id"] for s in steps] == ["plan-started", "apply-plan", "plan-completed"]
    assert {s["status"] for s in steps} == {"success"}
    assert "raw" in full["metadata"]
    assert full["settings"] == {"metadata": {"name": "search"}}
    assert full["system_alerts"] == []
    plain = api.info(deployment_id)
    assert {"raw", "settings", "system_alerts"} & {*plain, *plain["metadata"]} == set()


def test_unknown_deployment_is_404(api: Api) -> None:
    for response in (
        api.get("0123456789abcdef0123456789abcdef"),
        api.put("0123456789abcdef0123456789abcdef", {"prune_orphans": False}),
    ):
        assert response.status_code == 404
        assert response.headers["x-cloud-error-codes"] == "deployments.deployment_not_found"


def test_deployment_operations_authenticate_like_extension_ones(
    emu: EceEmulator, plugin: str
) -> None:
    deployment_id = emu.create_deployment("search", plugins=[plugin])["id"]
    url = f"{emu.api_url}/deployments/{deployment_id}"
    basic = base64.b64encode(":".join(BASIC_USER).encode()).decode()

    anonymous = requests.get(url, timeout=TIMEOUT)
    wrong_key = requests.put(
        url, json={"prune_orphans": False}, headers={"Authorization": "ApiKey nope"}
    )
    with_basic = requests.get(url, headers={"Authorization": f"Basic {basic}"}, timeout=TIMEOUT)

    for refused in (anonymous, wrong_key):
        assert refused.status_code == 401
        assert refused.headers["x-cloud-error-codes"] == "root.unauthenticated"
    assert with_basic.status_code == 200
    assert [r.auth_scheme for r in emu.find_requests(deployment_id=deployment_id)] == [
        None,
        "ApiKey",
        "Basic",
    ]
    assert emu.deployment_updates() == []


# -- updating a deployment ----------------------------------------------------------------


def test_validate_only_changes_nothing(emu: EceEmulator, api: Api, plugin: str) -> None:
    deployment_id = emu.create_deployment("search", plugins=[plugin])["id"]
    body = api.no_op_update(deployment_id)
    before = api.get(deployment_id, show_plan_history="true")

    validated = api.put(deployment_id, {**body, "name": "renamed"}, validate_only=True)

    assert validated.status_code == 200
    answer = validated.json()
    assert (answer["id"], answer["name"]) == (deployment_id, "search")
    assert answer["resources"] == [
        {
            "ref_id": "main-elasticsearch",
            "id": before.json()["resources"]["elasticsearch"][0]["id"],
            "kind": "elasticsearch",
            "region": "ece-region",
        }
    ]
    assert answer["diagnostics"]["updates"]["elasticsearch"][0]["ref_id"] == "main-elasticsearch"
    after = api.get(deployment_id, show_plan_history="true")
    assert after.json() == before.json()
    assert after.headers["x-cloud-resource-version"] == before.headers["x-cloud-resource-version"]
    assert [p.outcome for p in emu.deployment_plans(deployment_id)] == ["success"]
    updates = emu.deployment_updates(deployment_id)
    assert [(u.validate_only, u.body["name"]) for u in updates] == [(True, "renamed")]


def test_an_applied_plan_is_pending_then_current(emu: EceEmulator, api: Api, plugin: str) -> None:
    deployment_id = emu.create_deployment(
        "search", plugins=[plugin], plan_duration=LONG_PLAN_SECONDS
    )["id"]
    body = api.no_op_update(deployment_id)
    first_attempt = api.info(deployment_id)["plan_info"]["current"]["plan_attempt_id"]

    applied = api.put(deployment_id, body)

    assert applied.status_code == 200
    assert applied.headers["x-cloud-resource-version"] == "2"
    assert "diagnostics" not in applied.json()
    running = api.info(deployment_id, show_plan_logs="true")
    assert running["status"] == "reconfiguring"
    pending = running["plan_info"]["pending"]
    assert pending["healthy"] is True
    assert "attempt_end_time" not in pending
    assert pending["plan_attempt_log"][-1]["status"] == "pending"
    assert pending["plan"] == body["resources"]["elasticsearch"][0]["plan"]
    assert [p.outcome for p in emu.deployment_plans(deployment_id)] == ["success", "pending"]

    emu.set_plan_duration(PLAN_SECONDS, deployment_id)  # it ends by itself, on time
    wait_for(lambda: not api.pending(deployment_id))
    done = api.info(deployment_id, show_plan_history="true")
    assert done["status"] == "started"
    assert done["plan_info"]["current"]["plan_attempt_id"] == pending["plan_attempt_id"]
    assert "attempt_end_time" in done["plan_info"]["current"]
    history = done["plan_info"]["history"]
    assert [h["plan_attempt_id"] for h in history] == [first_attempt, pending["plan_attempt_id"]]
    assert "plan_end_time" in history[0]
    plans = emu.deployment_plans(deployment_id)
    assert [(p.action, p.outcome) for p in plans] == [
        ("deployments.create-deployment", "success"),
        ("deployments.update-deployment", "success"),
    ]
    assert plans[1].plan == body["resources"]["elasticsearch"][0]["plan"]
    assert plans[1].ended_at is not None
    assert (plans[1].ended_at - plans[1].started_at).total_seconds() == PLAN_SECONDS


def test_a_plan_while_another_is_pending_is_refused(
    emu: EceEmulator, api: Api, plugin: str
) -> None:
    deployment_id = emu.create_deployment(
        "search", plugins=[plugin], plan_duration=LONG_PLAN_SECONDS
    )["id"]
    body = api.no_op_update(deployment_id)
    assert api.put(deployment_id, body).status_code == 200

    again = api.put(deployment_id, body)
    validated = api.put(deployment_id, body, validate_only=True)

    assert again.status_code == 400
    code = "deployments.deployment_resource_plan_change_error"
    assert again.headers["x-cloud-error-codes"] == code
    assert "pending plan" in again.json()["errors"][0]["message"]
    assert validated.status_code == 200
    assert [p.outcome for p in emu.deployment_plans(deployment_id)] == ["success", "pending"]

    emu.set_plan_duration(0, deployment_id)  # ends the pending plan now
    assert api.put(deployment_id, body).status_code == 200
    assert [p.outcome for p in emu.deployment_plans(deployment_id)] == [
        "success",
        "success",
        "success",
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: p.update(ref_id="other-es"), "no Elasticsearch resource [other-es]"),
        (lambda p: p.update(region="us-east-1"), "region"),
        (
            lambda p: p["plan"]["elasticsearch"].update(
                user_plugins=[{"name": "x", "url": "repo://404", "elasticsearch_version": "8"}]
            ),
            "unknown extensions ['404']",
        ),
    ],
)
def test_an_unusable_plan_is_refused(
    emu: EceEmulator,
    api: Api,
    change: Callable[[dict[str, Any]], None],
    message: str,
) -> None:
    deployment_id = emu.create_deployment("search")["id"]
    body = api.no_op_update(deployment_id)
    change(body["resources"]["elasticsearch"][0])

    for validate_only in (True, False):
        refused = api.put(deployment_id, body, validate_only=validate_only)
        assert refused.status_code == 400
        assert refused.headers["x-cloud-error-codes"] == "clusters.cluster_invalid_plan"
        assert message in refused.json()["errors"][0]["message"]
    assert emu.deployment_updates() == []
    assert len(emu.deployment_plans(deployment_id)) == 1


def test_other_resource_kinds_are_refused(emu: EceEmulator, api: Api) -> None:
    deployment_id = emu.create_deployment("search")["id"]
    kibana = {
        "ref_id": "main-kibana",
        "elasticsearch_cluster_ref_id": "main-elasticsearch",
        "region": "ece-region",
        "plan": {"kibana": {"version": "8.15.0"}},
    }
    body = {"prune_orphans": False, "resources": {"kibana": [kibana]}}

    refused = api.put(deployment_id, body)

    assert refused.status_code == 400
    assert refused.headers["x-cloud-error-codes"] == "clusters.cluster_invalid_plan"
    assert "no kibana resources" in refused.json()["errors"][0]["message"]


def test_a_schema_error_is_refused_and_recorded(emu: EceEmulator, api: Api) -> None:
    deployment_id = emu.create_deployment("search")["id"]

    refused = api.put(deployment_id, {"resources": {}})

    assert refused.status_code == 400
    assert refused.headers["x-cloud-error-codes"] == "root.invalid_json_request"
    assert refused.json()["errors"][0]["fields"] == ["prune_orphans"]
    assert emu.spec_violations == [
        f"PUT /api/v1/deployments/{deployment_id}: body prune_orphans: is required"
    ]
    emu.reset()


# -- failing plans ------------------------------------------------------------------------


def test_a_failed_plan_ends_unhealthy_in_the_history(
    emu: EceEmulator, api: Api, plugin: str
) -> None:
    deployment_id = emu.create_deployment("search", plugins=[plugin])["id"]
    current = api.info(deployment_id)["plan_info"]["current"]
    body = api.no_op_update(deployment_id)
    emu.fail_next_plan(deployment_id, message="instance did not start")

    assert api.put(deployment_id, body).status_code == 200
    wait_for(lambda: not api.pending(deployment_id))

    response = api.get(deployment_id, **NO_TRANSIENT, show_plan_history="true")
    response_logs = api.info(deployment_id, show_plan_history="true", show_plan_logs="true")
    deployment = response.json()
    info = deployment["resources"]["elasticsearch"][0]["info"]
    assert deployment["healthy"] is False
    assert (info["healthy"], info["plan_info"]["healthy"], info["status"]) == (
        False,
        False,
        "started",
    )
    assert info["plan_info"]["current"]["plan_attempt_id"] == current["plan_attempt_id"]
    failed = response_logs["plan_info"]["history"][-1]
    assert failed["healthy"] is False
    assert {"attempt_end_time", "plan_end_time"} <= set(failed)
    assert failed["error"]["message"] == "instance did not start"
    assert failed["error"]["failure_type"] == "ClusterFailure:EmulatedPlanFailure"
    error_steps = [s for s in failed["plan_attempt_log"] if s["status"] == "error"]
    assert [s["step_id"] for s in error_steps] == ["apply-plan", "plan-completed"]
    plans = emu.deployment_plans(deployment_id)
    assert [(p.outcome, p.error) for p in plans] == [
        ("success", None),
        ("failed", "instance did not start"),
    ]

    emu.set_plan_duration(0, deployment_id)
    assert api.put(deployment_id, body).status_code == 200
    assert api.get(deployment_id).json()["healthy"] is True


def test_fail_next_plan_hits_the_pending_plan(emu: EceEmulator, api: Api) -> None:
    deployment_id = emu.create_deployment("search", plan_duration=LONG_PLAN_SECONDS)["id"]
    assert api.put(deployment_id, api.no_op_update(deployment_id)).status_code == 200

    emu.fail_next_plan(deployment_id)
    emu.set_plan_duration(0, deployment_id)

    assert [p.outcome for p in emu.deployment_plans(deployment_id)] == ["success", "failed"]
    with pytest.raises(LookupError):
        emu.fail_next_plan("nope")


def test_an_unhealthy_deployment(emu: EceEmulator, api: Api) -> None:
    deployment_id = emu.create_deployment("search", healthy=False)["id"]

    info = api.info(deployment_id)
    assert (info["healthy"], info["topology"]["healthy"], info["plan_info"]["healthy"]) == (
        False,
        False,
        True,
    )
    emu.set_deployment_health(deployment_id, True)
    assert api.get(deployment_id).json()["healthy"] is True


# -- faults on deployment operations ------------------------------------------------------


def test_faults_aim_at_deployment_operations(emu: EceEmulator, api: Api, plugin: str) -> None:
    target = emu.create_deployment("target")["id"]
    other = emu.create_deployment("other")["id"]
    emu.script(Fault(status=503, code="root.unavailable"), method="GET", deployment_id=target)
    emu.script(Fault(status=404), operation_id="update-deployment")

    assert api.get(other).status_code == 200
    assert api.users_of(plugin) == []  # a GET on an extension is not aimed at
    unavailable = api.get(target)
    assert unavailable.status_code == 503
    assert unavailable.headers["x-cloud-error-codes"] == "root.unavailable"
    missing = api.put(other, api.no_op_update(other))
    assert missing.status_code == 404
    assert missing.headers["x-cloud-error-codes"] == "deployments.deployment_not_found"
    assert [r.fault for r in emu.find_requests(operation_id="update-deployment")] == ["error"]
    assert emu.pending_faults() == []
    assert len(emu.deployment_plans(other)) == 1


def test_a_delayed_deployment_read(emu: EceEmulator, api: Api) -> None:
    deployment_id = emu.create_deployment("search")["id"]
    emu.script(Fault(delay=0.05), operation_id="get-deployment")

    assert api.get(deployment_id).status_code == 200
    assert [r.fault for r in emu.find_requests(deployment_id=deployment_id)] == ["delay"]


# -- the Python API and admin routes ------------------------------------------------------


def test_create_deployment_refuses_unknown_extensions(emu: EceEmulator) -> None:
    with pytest.raises(ValueError, match="no extension 42"):
        emu.create_deployment("search", plugins=["42"])
    with pytest.raises(ValueError, match="non-negative"):
        emu.create_deployment("search", plan_duration=-1)
    assert emu.list_deployments() == []


def test_reset_forgets_deployments(emu: EceEmulator, plugin: str) -> None:
    deployment_id = emu.create_deployment("search", plugins=[plugin])["id"]

    emu.reset()

    assert emu.list_deployments() == []
    assert emu.get_deployment(deployment_id) is None
    assert emu.deployment_plans() == []


def admin(emu: EceEmulator, method: str, route: str, body: object = None) -> requests.Response:
    return requests.request(method, f"{emu.url}/_emulator/{route}", json=body, timeout=TIMEOUT)


def test_admin_routes_drive_deployments(emu: EceEmulator, api: Api, plugin: str) -> None:
    created = admin(emu, "POST", "deployments", {"name": "search", "plugins": [plugin]})
    assert created.status_code == 201
    deployment_id = created.json()["id"]
    assert validate_response("get-deployment", 200, RESOURCE_HEADERS, created.json()) == []
    listed = admin(emu, "GET", "deployments").json()["deployments"]
    assert [d["id"] for d in listed] == [deployment_id]
    assert api.users_of(plugin) == [deployment_id]

    assert admin(emu, "PUT", "plan-duration", {"seconds": LONG_PLAN_SECONDS}).status_code == 200
    assert admin(emu, "POST", f"deployments/{deployment_id}/fail-next-plan", {}).ok
    assert api.put(deployment_id, api.no_op_update(deployment_id)).status_code == 200
    assert api.pending(deployment_id)
    assert admin(emu, "PUT", "plan-duration", {"seconds": 0, "deployment_id": deployment_id}).ok
    plans = admin(emu, "GET", f"deployment-plans?deployment_id={deployment_id}").json()["plans"]
    assert [p["outcome"] for p in plans] == ["success", "failed"]
    updates = admin(emu, "GET", "deployment-updates").json()["updates"]
    assert [u["validate_only"] for u in updates] == [False]
    assert admin(emu, "PUT", f"deployments/{deployment_id}/health", {"healthy": False}).ok
    assert emu.get_deployment(deployment_id)["healthy"] is False  # type: ignore[index]

    fault = {"status": 500, "operation_id": "get-deployment", "deployment_id": deployment_id}
    assert admin(emu, "POST", "faults", fault).status_code == 201
    assert api.get(deployment_id).status_code == 500


@pytest.mark.parametrize(
    ("method", "route", "body", "status"),
    [
        ("POST", "deployments", {}, 400),
        ("POST", "deployments", {"name": "d", "plugins": ["404"]}, 400),
        ("POST", "deployments", {"name": "d", "bundles": "x"}, 400),
        ("POST", "deployments", {"name": "d", "healthy": "yes"}, 400),
        ("POST", "deployments", {"name": "d", "plan_duration": "1"}, 400),
        ("POST", "deployments/nope/fail-next-plan", {}, 400),
        ("PUT", "deployments/nope/health", {"healthy": True}, 400),
        ("PUT", "plan-duration", {}, 400),
        ("PUT", "plan-duration", {"seconds": -1}, 400),
        ("PUT", "plan-duration", {"seconds": 1, "deployment_id": "nope"}, 400),
        ("GET", "deployments/nope/fail-next-plan", None, 405),
        ("GET", "deployments/nope/other", None, 404),
    ],
)
def test_admin_refuses_bad_deployment_requests(
    emu: EceEmulator, method: str, route: str, body: object, status: int
) -> None:
    response = admin(emu, method, route, body)

    assert response.status_code == status, response.text
    assert response.headers["x-cloud-error-codes"].startswith("emulator.")
