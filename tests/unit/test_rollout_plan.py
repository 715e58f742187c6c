"""The no-op plan built from a ``DeploymentGetResponse``, how a plan ended, and the polling."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ece_uploader.deployments import (
    Deployment,
    PlanError,
    PlanTimeout,
    extension_uses,
    noop_update,
    plan_outcome,
    poll_delays,
    wait_for_plans,
)
from ece_uploader.emulator import default_spec, validate_response

PLUGIN = "2536123203"
BUNDLE = "1122334455"
WHEN = "2026-03-02T10:15:00.000Z"
LATER = "2026-03-02T10:21:40.000Z"


def _attempt(attempt_id: str, plan: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "plan_attempt_id": attempt_id,
        "healthy": True,
        "attempt_start_time": WHEN,
        "attempt_end_time": LATER,
        "plan": copy.deepcopy(plan),
        "plan_attempt_log": [],
        "source": {
            "facilitator": "adminconsole",
            "action": "deployments.update-deployment",
            "date": WHEN,
        },
        "warnings": [],
    } | extra


ES_PLAN: dict[str, Any] = {
    "cluster_topology": [
        {
            "id": "hot_content",
            "node_roles": ["master", "ingest", "data_hot", "data_content", "transform"],
            "zone_count": 2,
            "instance_configuration_id": "data.default",
            "size": {"value": 8192, "resource": "memory"},
            "elasticsearch": {
                "node_attributes": {"data": "hot"},
                "user_bundles": [
                    {"name": "synonyms", "url": f"repo://{BUNDLE}", "elasticsearch_version": "*"}
                ],
            },
        },
        {
            "id": "warm",
            "node_roles": ["data_warm", "remote_cluster_client"],
            "zone_count": 1,
            "instance_configuration_id": "data.highstorage",
            "size": {"value": 0, "resource": "memory"},
            "elasticsearch": {"node_attributes": {"data": "warm"}},
        },
    ],
    "elasticsearch": {
        "version": "8.15.0",
        "user_settings_yaml": "action.auto_create_index: true",
        "user_plugins": [
            {"name": "analysis-demo", "url": f"repo://{PLUGIN}", "elasticsearch_version": "8.15.0"}
        ],
    },
    "deployment_template": {"id": "default"},
    "autoscaling_enabled": False,
    "transient": {
        "strategy": {"rolling": {"group_by": "__zone__"}},
        "plan_configuration": {"skip_snapshot": True, "timeout": 4096},
    },
}

KIBANA_PLAN: dict[str, Any] = {
    "cluster_topology": [{"zone_count": 1, "size": {"value": 1024, "resource": "memory"}}],
    "kibana": {"version": "8.15.0"},
    "transient": {"strategy": {"autodetect": {}}},
}


def _es_resource(
    ref_id: str, plan: dict[str, Any], history: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "ref_id": ref_id,
        "id": "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6",
        "region": "ece-region",
        "info": {
            "cluster_id": "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6",
            "cluster_name": "search",
            "deployment_id": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
            "healthy": True,
            "status": "started",
            "plan_info": {
                "healthy": True,
                "current": _attempt("attempt-2", plan),
                "history": history,
            },
            "elasticsearch": {
                "healthy": True,
                "shard_info": {
                    "healthy": True,
                    "available_shards": [],
                    "unavailable_shards": [],
                    "unavailable_replicas": [],
                },
                "master_info": {"healthy": True, "masters": [], "instances_with_no_master": []},
                "blocking_issues": {"healthy": True, "cluster_level": [], "index_level": []},
            },
            "metadata": {"version": 42, "last_modified": LATER},
            "topology": {"healthy": True, "instances": []},
            "snapshots": {"healthy": True, "count": 12, "recent_success": True},
            "external_links": [],
            "associated_kibana_clusters": [],
            "associated_apm_clusters": [],
            "associated_appsearch_clusters": [],
            "associated_enterprise_search_clusters": [],
        },
    }


def recorded_response() -> dict[str, Any]:
    """A ``DeploymentGetResponse`` as ``show_plans=true&show_plan_history=true`` returns it."""
    history = [
        _attempt(
            "attempt-1", {**ES_PLAN, "elasticsearch": {"version": "8.14.3"}}, plan_end_time=LATER
        ),
        _attempt("attempt-2", ES_PLAN),
    ]
    return {
        "id": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
        "name": "search",
        "alias": "search",
        "healthy": True,
        "resources": {
            "elasticsearch": [_es_resource("main-elasticsearch", ES_PLAN, history)],
            "kibana": [
                {
                    "ref_id": "main-kibana",
                    "elasticsearch_cluster_ref_id": "main-elasticsearch",
                    "id": "ffeeddccbbaa99887766554433221100",
                    "region": "ece-region",
                    "info": {
                        "cluster_id": "ffeeddccbbaa99887766554433221100",
                        "cluster_name": "search",
                        "elasticsearch_cluster": {
                            "elasticsearch_id": "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6"
                        },
                        "healthy": True,
                        "status": "started",
                        "plan_info": {
                            "healthy": True,
                            "current": _attempt("k-1", KIBANA_PLAN),
                            "history": [],
                        },
                        "metadata": {"version": 7, "last_modified": LATER},
                        "topology": {"healthy": True, "instances": []},
                        "external_links": [],
                    },
                }
            ],
            "apm": [],
            "appsearch": [],
            "enterprise_search": [],
            "integrations_server": [],
        },
        "settings": {
            "observability": {"logging": {"destination": {"deployment_id": "self"}}},
            "auto_ops": {"status": "not_connected"},
        },
        "metadata": {"last_modified": LATER, "system_owned": False, "hidden": False},
    }


RESOURCE_HEADERS = {
    "Content-Type": "application/json",
    "x-cloud-resource-version": "42",
    "x-cloud-resource-created": WHEN,
    "x-cloud-resource-last-modified": LATER,
}


def test_the_recorded_response_is_what_the_spec_documents() -> None:
    assert validate_response("get-deployment", 200, RESOURCE_HEADERS, recorded_response()) == []


def test_the_no_op_request_holds_only_the_elasticsearch_current_plan_without_transient() -> None:
    recorded = recorded_response()
    untouched = copy.deepcopy(recorded)

    request = noop_update(recorded)

    expected_plan = {k: v for k, v in ES_PLAN.items() if k != "transient"}
    assert request == {
        "prune_orphans": False,
        "resources": {
            "elasticsearch": [
                {"ref_id": "main-elasticsearch", "region": "ece-region", "plan": expected_plan}
            ]
        },
    }
    # Unchanged otherwise: the zero-sized tier, autoscaling, template and settings stay.
    assert request["resources"]["elasticsearch"][0]["plan"]["cluster_topology"][1]["id"] == "warm"
    assert recorded == untouched  # the response is not modified


def test_the_no_op_request_is_a_valid_deployment_update_request() -> None:
    spec = default_spec()
    operation = spec.operation("update-deployment")
    request = noop_update(recorded_response())

    assert spec.check_body(operation, request) == []
    definition = spec.document["definitions"]
    assert set(definition["DeploymentUpdateRequest"]["required"]) <= set(request)
    [payload] = request["resources"]["elasticsearch"]
    assert set(definition["ElasticsearchPayload"]["required"]) <= set(payload)
    assert set(definition["ElasticsearchClusterPlan"]["required"]) <= set(payload["plan"])


def test_every_elasticsearch_resource_is_re_applied() -> None:
    recorded = recorded_response()
    second = _es_resource("second-elasticsearch", ES_PLAN, [])
    recorded["resources"]["elasticsearch"].append(second)

    request = noop_update(Deployment.from_json(recorded))

    assert [p["ref_id"] for p in request["resources"]["elasticsearch"]] == [
        "main-elasticsearch",
        "second-elasticsearch",
    ]


def test_a_plan_read_without_transient_is_sent_as_it_is() -> None:
    recorded = recorded_response()
    plan_info = recorded["resources"]["elasticsearch"][0]["info"]["plan_info"]
    del plan_info["current"]["plan"]["transient"]  # as clear_transient=true returns it

    [payload] = noop_update(recorded)["resources"]["elasticsearch"]

    assert payload["plan"] == {k: v for k, v in ES_PLAN.items() if k != "transient"}


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda info: info["plan_info"].pop("current"), "shows no current plan"),
        (
            lambda info: info["plan_info"]["current"]["plan"].pop("cluster_topology"),
            "lacks cluster_topology",
        ),
        (
            lambda info: info["plan_info"]["current"]["plan"].pop("elasticsearch"),
            "lacks elasticsearch",
        ),
    ],
)
def test_a_plan_that_cannot_be_re_applied_is_refused(damage: Any, message: str) -> None:
    recorded = recorded_response()
    damage(recorded["resources"]["elasticsearch"][0]["info"])

    with pytest.raises(PlanError, match=message):
        noop_update(recorded)


def test_a_deployment_without_elasticsearch_is_refused() -> None:
    recorded = recorded_response()
    recorded["resources"]["elasticsearch"] = []
    with pytest.raises(PlanError, match="no Elasticsearch resource"):
        noop_update(recorded)


def test_where_a_plan_uses_the_extension() -> None:
    plan = recorded_response()["resources"]["elasticsearch"][0]["info"]["plan_info"]["current"]
    assert extension_uses(plan["plan"], PLUGIN) == ["plugin analysis-demo (plan)"]
    assert extension_uses(plan["plan"], BUNDLE) == ["bundle synonyms (topology hot_content)"]
    assert extension_uses(plan["plan"], "999") == []


# -- how a plan ended -------------------------------------------------------------


def _after(*, new: dict[str, Any] | None, plans_healthy: bool = True) -> Deployment:
    recorded = recorded_response()
    plan_info = recorded["resources"]["elasticsearch"][0]["info"]["plan_info"]
    plan_info["healthy"] = plans_healthy
    if new is not None:
        plan_info["history"].append(new)
        if new["healthy"]:
            plan_info["current"] = new
    return Deployment.from_json(recorded)


def test_a_new_healthy_attempt_is_a_success() -> None:
    before = Deployment.from_json(recorded_response())
    after = _after(new=_attempt("attempt-3", ES_PLAN))
    assert plan_outcome(before, after).status == "success"


def test_a_new_attempt_with_an_error_is_a_failure() -> None:
    before = Deployment.from_json(recorded_response())
    error = {
        "timestamp": LATER,
        "message": "Instance ran out of disk",
        "details": {},
        "failure_type": "ClusterFailure:InsufficientCapacity",
    }
    after = _after(
        new=_attempt("attempt-3", ES_PLAN, healthy=False, error=error), plans_healthy=False
    )

    outcome = plan_outcome(before, after)

    assert outcome.status == "failed"
    assert outcome.detail == (
        "main-elasticsearch: Instance ran out of disk [ClusterFailure:InsufficientCapacity]"
    )


def test_an_unhealthy_attempt_without_an_error_is_a_failure() -> None:
    before = Deployment.from_json(recorded_response())
    after = _after(new=_attempt("attempt-3", ES_PLAN, healthy=False))
    assert plan_outcome(before, after).status == "failed"


def test_no_new_attempt_cannot_be_called_a_success() -> None:
    before = Deployment.from_json(recorded_response())
    assert plan_outcome(before, _after(new=None)).status == "unknown"
    assert plan_outcome(before, _after(new=None, plans_healthy=False)).status == "failed"


# -- polling ------------------------------------------------------------------------


def test_pauses_grow_to_a_minute() -> None:
    delays = poll_delays(10)
    assert [round(next(delays), 2) for _ in range(7)] == [10, 15, 22.5, 33.75, 50.62, 60, 60]
    assert next(poll_delays(90)) == 90 and next(poll_delays(90)) == 90


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.pauses: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.now += seconds


def _reads(pending_reads: int) -> Any:
    running = recorded_response()
    plan_info = running["resources"]["elasticsearch"][0]["info"]["plan_info"]
    plan_info["pending"] = _attempt("attempt-3", ES_PLAN)
    done = recorded_response()
    answers = [Deployment.from_json(running)] * pending_reads + [Deployment.from_json(done)]
    return iter(answers).__next__


def test_waiting_reads_until_no_plan_is_pending() -> None:
    clock = FakeClock()
    seen: list[float] = []

    result = wait_for_plans(
        _reads(3),
        timeout_seconds=3600,
        poll_seconds=10,
        sleep=clock.sleep,
        clock=clock,
        on_wait=lambda deployment, pause: seen.append(pause),
    )

    assert not result.pending
    assert clock.pauses == seen == [10, 15, 22.5]


def test_waiting_gives_up_at_the_timeout() -> None:
    clock = FakeClock()
    with pytest.raises(PlanTimeout, match="still pending after 30 s"):
        wait_for_plans(
            _reads(100), timeout_seconds=30, poll_seconds=10, sleep=clock.sleep, clock=clock
        )
    assert clock.pauses == [10, 15, 5]  # the last pause ends at the timeout
