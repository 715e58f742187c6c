"""Deployments as the emulator keeps them: one Elasticsearch resource and its plans.

A deployment has a current plan and at most one pending plan. A plan applied
through ``PUT /deployments/{id}`` starts pending and ends ``plan_duration``
seconds later, successful (it becomes the current plan) or, when a failure was
asked for, failed (the current plan stays; the attempt ends in the history with
``healthy: false``, an ``error`` and an ``error`` step in its attempt log, and
the cluster's ``plan_info.healthy`` turns false until a plan succeeds). Time is
read, never waited for: whoever looks at a deployment settles its pending plan
first (:meth:`DeploymentState.settle`), so no thread runs plans.

The JSON built here follows the full spec's models: ``DeploymentGetResponse``,
``ElasticsearchResourceInfo``, ``ElasticsearchClusterInfo``,
``ElasticsearchClusterPlansInfo``, ``ElasticsearchClusterPlanInfo``,
``DeploymentUpdateResponse``.
"""

from __future__ import annotations

import copy
import datetime as dt
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .models import iso_time

PlanOutcome = Literal["pending", "success", "failed"]

DEFAULT_PLAN_DURATION_SECONDS = 0.5
DEFAULT_ELASTICSEARCH_VERSION = "8.15.0"
REGION = "ece-region"
ELASTICSEARCH_REF_ID = "main-elasticsearch"
EXTENSION_URL_PREFIX = "repo://"
DEFAULT_FAILURE_TYPE = "ClusterFailure:EmulatedPlanFailure"
DEFAULT_FAILURE_MESSAGE = "The plan failed (a failure the emulator was asked for)"
CREATE_ACTION = "deployments.create-deployment"
UPDATE_ACTION = "deployments.update-deployment"
# The kinds of resources DeploymentResources lists; the emulator fills only one.
RESOURCE_KINDS = (
    "elasticsearch",
    "kibana",
    "apm",
    "appsearch",
    "enterprise_search",
    "integrations_server",
)


@dataclass(frozen=True)
class GetOptions:
    """The query flags of ``get-deployment`` the emulator honours (the others are accepted)."""

    show_plans: bool = True
    show_plan_logs: bool = False
    show_plan_history: bool = False
    show_metadata: bool = False
    show_settings: bool = False
    show_system_alerts: int = 0
    clear_transient: bool = False

    @classmethod
    def from_query(cls, query: Mapping[str, list[str]]) -> GetOptions:
        def flag(name: str, default: bool) -> bool:
            values = query.get(name)
            return default if not values else values[-1] == "true"

        alerts = (query.get("show_system_alerts") or ["0"])[-1]
        return cls(
            show_plans=flag("show_plans", True),
            show_plan_logs=flag("show_plan_logs", False),
            show_plan_history=flag("show_plan_history", False),
            show_metadata=flag("show_metadata", False),
            show_settings=flag("show_settings", False),
            show_system_alerts=int(alerts) if alerts.lstrip("+-").isdigit() else 0,
            clear_transient=flag("clear_transient", False),
        )


# What the Python API and the admin routes show: every plan, logs included.
FULL_VIEW = GetOptions(show_plans=True, show_plan_logs=True, show_plan_history=True)


@dataclass(frozen=True)
class PlanFailure:
    """How the next plan to end fails."""

    message: str = DEFAULT_FAILURE_MESSAGE
    failure_type: str = DEFAULT_FAILURE_TYPE


@dataclass(frozen=True)
class PlanRecord:
    """One plan attempt of a deployment, for tests (``deployment_plans()``)."""

    deployment_id: str
    ref_id: str
    attempt_id: str
    action: str
    plan: dict[str, Any]
    outcome: PlanOutcome
    started_at: dt.datetime
    ended_at: dt.datetime | None
    error: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "deployment_id": self.deployment_id,
            "ref_id": self.ref_id,
            "attempt_id": self.attempt_id,
            "action": self.action,
            "plan": self.plan,
            "outcome": self.outcome,
            "started_at": iso_time(self.started_at),
            "ended_at": None if self.ended_at is None else iso_time(self.ended_at),
            "error": self.error,
        }


@dataclass(frozen=True)
class DeploymentUpdateRecord:
    """One accepted ``PUT /deployments/{id}`` (validate-only ones included)."""

    deployment_id: str
    validate_only: bool
    body: dict[str, Any]
    received_at: dt.datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "deployment_id": self.deployment_id,
            "validate_only": self.validate_only,
            "body": self.body,
            "received_at": iso_time(self.received_at),
        }


@dataclass
class PlanAttempt:
    """One attempt to apply a plan to the Elasticsearch resource."""

    attempt_id: str
    number: int
    action: str
    plan: dict[str, Any]
    started: dt.datetime
    # When the attempt began and ends, on the monotonic clock; when it ends in UTC.
    began: float
    due: float
    ends: dt.datetime
    outcome: PlanOutcome = "pending"
    failure: PlanFailure | None = None
    # When the plan stopped being current or pending (superseded, or failed).
    plan_end: dt.datetime | None = None

    def reschedule(self, duration: float) -> None:
        """A pending attempt now lasts ``duration`` seconds from its start."""
        if self.outcome == "pending":
            self.due = self.began + duration
            self.ends = self.started + dt.timedelta(seconds=duration)

    def to_json(self, options: GetOptions, *, in_history: bool = False) -> dict[str, Any]:
        """The spec's ``ElasticsearchClusterPlanInfo``."""
        plan = copy.deepcopy(self.plan)
        if options.clear_transient:
            plan.pop("transient", None)
        body: dict[str, Any] = {
            "plan_attempt_id": self.attempt_id,
            "healthy": self.outcome != "failed",
            "attempt_start_time": iso_time(self.started),
            "plan": plan,
            "plan_attempt_log": self._log() if options.show_plan_logs else [],
            "source": {"facilitator": "api", "action": self.action, "date": iso_time(self.started)},
            "warnings": [],
        }
        if in_history:
            body["plan_attempt_name"] = f"attempt-{self.number:010d}"
        if self.outcome != "pending":
            body["attempt_end_time"] = iso_time(self.ends)
        if self.plan_end is not None:
            body["plan_end_time"] = iso_time(self.plan_end)
        if self.outcome == "failed" and self.failure is not None:
            body["error"] = {
                "timestamp": iso_time(self.ends),
                "message": self.failure.message,
                "details": {},
                "failure_type": self.failure.failure_type,
            }
        return body

    def _log(self) -> list[dict[str, Any]]:
        """``ClusterPlanStepInfo`` steps: started, applied (or not yet), completed."""
        steps = [_step("plan-started", self.started, self.started, "success", "Plan started")]
        if self.outcome == "pending":
            steps.append(_step("apply-plan", self.started, None, "pending", "Applying the plan"))
            return steps
        failed = self.outcome == "failed"
        message = self.failure.message if failed and self.failure else "The plan was applied"
        apply_step = _step("apply-plan", self.started, self.ends, "error" if failed else "success")
        apply_step["info_log"][-1]["message"] = message
        if failed and self.failure is not None:
            apply_step["info_log"][-1]["failure_type"] = self.failure.failure_type
        steps.append(apply_step)
        status = "error" if failed else "success"
        steps.append(_step("plan-completed", self.ends, self.ends, status, "Plan completed"))
        return steps


def _step(
    step_id: str,
    started: dt.datetime,
    completed: dt.datetime | None,
    status: str,
    message: str = "",
) -> dict[str, Any]:
    stage = "in_progress" if completed is None else "completed"
    moment = completed or started
    step: dict[str, Any] = {
        "step_id": step_id,
        "started": iso_time(started),
        "status": status,
        "stage": stage,
        "info_log": [
            {"timestamp": iso_time(moment), "stage": stage, "message": message, "details": {}}
        ],
    }
    if completed is not None:
        step["completed"] = iso_time(completed)
        step["duration_in_millis"] = int((completed - started).total_seconds() * 1000)
    return step


def initial_plan(
    version: str,
    bundles: Iterable[Mapping[str, str]],
    plugins: Iterable[Mapping[str, str]],
) -> dict[str, Any]:
    """An ``ElasticsearchClusterPlan`` like a small default deployment's.

    ``bundles``/``plugins`` are ``ElasticsearchUserBundle``/``ElasticsearchUserPlugin``
    values (``name``, ``url``, ``elasticsearch_version``).
    """
    elasticsearch: dict[str, Any] = {"version": version}
    if bundles:
        elasticsearch["user_bundles"] = [dict(b) for b in bundles]
    if plugins:
        elasticsearch["user_plugins"] = [dict(p) for p in plugins]
    return {
        "cluster_topology": [
            {
                "id": "hot_content",
                "node_roles": [
                    "master",
                    "ingest",
                    "data_hot",
                    "data_content",
                    "remote_cluster_client",
                    "transform",
                ],
                "zone_count": 1,
                "instance_configuration_id": "data.default",
                "size": {"value": 4096, "resource": "memory"},
                "elasticsearch": {"node_attributes": {"data": "hot"}},
            }
        ],
        "elasticsearch": elasticsearch,
        "deployment_template": {"id": "default"},
        "transient": {"strategy": {"autodetect": {}}},
    }


def extension_ids(plan: Mapping[str, Any]) -> set[str]:
    """The extension ids a plan uses (``repo://<id>`` URLs of bundles and plugins)."""
    return {url.removeprefix(EXTENSION_URL_PREFIX) for url in _extension_urls(plan)}


def _extension_urls(plan: Mapping[str, Any]) -> Iterator[str]:
    configurations = [plan.get("elasticsearch")]
    topology = plan.get("cluster_topology")
    if isinstance(topology, list):
        configurations.extend(e.get("elasticsearch") for e in topology if isinstance(e, dict))
    for configuration in configurations:
        if not isinstance(configuration, dict):
            continue
        for key in ("user_bundles", "user_plugins"):
            entries = configuration.get(key)
            for entry in entries if isinstance(entries, list) else ():
                url = entry.get("url") if isinstance(entry, dict) else None
                if isinstance(url, str) and url.startswith(EXTENSION_URL_PREFIX):
                    yield url


@dataclass
class DeploymentState:
    """A deployment with one Elasticsearch resource, its plans and its health."""

    id: str
    name: str
    cluster_id: str
    created: dt.datetime
    modified: dt.datetime
    current: PlanAttempt
    ref_id: str = ELASTICSEARCH_REF_ID
    region: str = REGION
    healthy: bool = True
    plan_duration: float | None = None
    resource_version: int = 1
    pending: PlanAttempt | None = None
    history: list[PlanAttempt] = field(default_factory=list)
    fail_next: PlanFailure | None = None

    # -- plans ----------------------------------------------------------------

    def settle(self, now: float) -> None:
        """End the pending plan if its time has come (``now``: monotonic seconds)."""
        attempt = self.pending
        if attempt is None or now < attempt.due:
            return
        self.pending = None
        if attempt.failure is not None:
            attempt.outcome = "failed"
            attempt.plan_end = attempt.ends
        else:
            attempt.outcome = "success"
            self.current.plan_end = attempt.ends
            self.current = attempt
        self.history.append(attempt)
        self.modified = max(self.modified, attempt.ends)

    def start_plan(
        self, plan: dict[str, Any], *, duration: float, now: float, at: dt.datetime
    ) -> PlanAttempt:
        """Make ``plan`` pending; it ends ``duration`` seconds from ``now``/``at``."""
        attempt = PlanAttempt(
            attempt_id=str(uuid.uuid4()),
            number=len(self.history),
            action=UPDATE_ACTION,
            plan=plan,
            started=at,
            began=now,
            due=now + duration,
            ends=at + dt.timedelta(seconds=duration),
            failure=self.fail_next,
        )
        self.fail_next = None
        self.pending = attempt
        self.modified = at
        self.resource_version += 1
        return attempt

    def fail_next_plan(self, failure: PlanFailure) -> None:
        """The pending plan, or else the next one started, ends failed."""
        if self.pending is not None:
            self.pending.failure = failure
        else:
            self.fail_next = failure

    @property
    def plans_healthy(self) -> bool:
        """False when the last plan attempt that ended failed."""
        return not self.history or self.history[-1].outcome != "failed"

    def extension_ids(self) -> set[str]:
        return extension_ids(self.current.plan)

    def plan_records(self) -> list[PlanRecord]:
        attempts = [*self.history, *([self.pending] if self.pending else [])]
        return [
            PlanRecord(
                deployment_id=self.id,
                ref_id=self.ref_id,
                attempt_id=a.attempt_id,
                action=a.action,
                plan=copy.deepcopy(a.plan),
                outcome=a.outcome,
                started_at=a.started,
                ended_at=None if a.outcome == "pending" else a.ends,
                error=a.failure.message if a.outcome == "failed" and a.failure else None,
            )
            for a in attempts
        ]

    # -- JSON -----------------------------------------------------------------

    def to_json(self, options: GetOptions | None = None) -> dict[str, Any]:
        """The spec's ``DeploymentGetResponse``."""
        options = options or GetOptions()
        healthy = self.healthy and self.plans_healthy
        resources: dict[str, list[Any]] = {kind: [] for kind in RESOURCE_KINDS}
        resources["elasticsearch"] = [
            {
                "ref_id": self.ref_id,
                "id": self.cluster_id,
                "region": self.region,
                "info": self._cluster_info(options),
            }
        ]
        return {
            "id": self.id,
            "name": self.name,
            "healthy": healthy,
            "resources": resources,
            "metadata": {
                "last_modified": iso_time(self.modified),
                "last_resource_plan_modified": iso_time(self.modified),
                "system_owned": False,
                "hidden": False,
            },
        }

    def _cluster_info(self, options: GetOptions) -> dict[str, Any]:
        """The spec's ``ElasticsearchClusterInfo``."""
        healthy = self.healthy and self.plans_healthy
        version = str(self.current.plan.get("elasticsearch", {}).get("version", ""))
        plan_info: dict[str, Any] = {"healthy": self.plans_healthy, "history": []}
        if options.show_plans:
            plan_info["current"] = self.current.to_json(options)
            if self.pending is not None:
                plan_info["pending"] = self.pending.to_json(options)
            if options.show_plan_history:
                plan_info["history"] = [a.to_json(options, in_history=True) for a in self.history]
        metadata: dict[str, Any] = {
            "version": self.resource_version,
            "last_modified": iso_time(self.modified),
            "endpoint": f"{self.cluster_id}.{self.region}.ece.local",
        }
        if options.show_metadata:
            metadata["raw"] = {"deployment_id": self.id, "cluster_name": self.name}
        info: dict[str, Any] = {
            "cluster_id": self.cluster_id,
            "cluster_name": self.name,
            "deployment_id": self.id,
            "healthy": healthy,
            "status": "reconfiguring" if self.pending is not None else "started",
            "plan_info": plan_info,
            "elasticsearch": {
                "healthy": self.healthy,
                "shard_info": {
                    "healthy": self.healthy,
                    "available_shards": [],
                    "unavailable_shards": [],
                    "unavailable_replicas": [],
                },
                "master_info": {"healthy": True, "masters": [], "instances_with_no_master": []},
                "blocking_issues": {"healthy": True, "cluster_level": [], "index_level": []},
            },
            "metadata": metadata,
            "topology": {
                "healthy": self.healthy,
                "instances": [
                    {
                        "instance_name": "instance-0000000000",
                        "healthy": self.healthy,
                        "container_started": True,
                        "service_running": self.healthy,
                        "maintenance_mode": False,
                        "service_version": version,
                        "zone": f"{self.region}-zone-1",
                    }
                ],
            },
            "snapshots": {"healthy": True, "count": 0, "recent_success": False},
            "external_links": [],
            "associated_kibana_clusters": [],
            "associated_apm_clusters": [],
            "associated_appsearch_clusters": [],
            "associated_enterprise_search_clusters": [],
            "region": self.region,
        }
        if options.show_system_alerts > 0:
            info["system_alerts"] = []
        if options.show_settings:
            info["settings"] = {"metadata": {"name": self.name}}
        return info

    def update_response(
        self, *, validate_only: bool, prune_orphans: bool, plan: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        """The spec's ``DeploymentUpdateResponse``."""
        body: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "resources": [
                {
                    "ref_id": self.ref_id,
                    "id": self.cluster_id,
                    "kind": "elasticsearch",
                    "region": self.region,
                }
            ],
        }
        if prune_orphans:
            body["shutdown_resources"] = {kind: [] for kind in RESOURCE_KINDS}
        if validate_only and plan is not None:
            backend = {"ref_id": self.ref_id, "display_name": self.name, "backend_plan": plan}
            body["diagnostics"] = {"updates": {"elasticsearch": [backend]}}
        return body

    def resource_headers(self) -> dict[str, str]:
        return {
            "x-cloud-resource-version": str(self.resource_version),
            "x-cloud-resource-created": iso_time(self.created),
            "x-cloud-resource-last-modified": iso_time(self.modified),
        }
