"""ECE deployments, for the operator's command line: read, re-apply the current plan, follow it.

Elastic documents that bundles and plugins are fetched only when a node starts:
after an extension's file is replaced, running nodes keep the old file and any
node that restarts takes the new one. Its advice, when the file of an extension
in use is replaced, is a no-op plan (the current plan, unchanged), which rolls
the deployment. This module holds the mechanics:

- :class:`DeploymentsClient`: the deployments that use an extension
  (``GET /deployments/extensions/{id}?include_deployments=true``), a deployment
  with its plans (``GET /deployments/{id}``), an update, validate-only or not
  (``PUT /deployments/{id}``). Authentication, TLS and error mapping are the
  function's (:mod:`extension_uploader.credentials`, :mod:`extension_uploader.ece`).
- :func:`noop_update`: the ``DeploymentUpdateRequest`` that re-applies each
  Elasticsearch resource's current plan, transient section dropped.
- :func:`plan_outcome`: whether the plan applied after a given moment ended
  failed, read from the plan history.
- :func:`wait_for_plans`: polls, gently, until no plan is pending.

Nothing here cancels a plan.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote

import requests
import urllib3

from extension_uploader import reasons
from extension_uploader.ece import (
    BACKOFF_BASE_SECONDS,
    CredentialSource,
    backoff_seconds,
    is_safe_extension_id,
    pem_file,
)
from extension_uploader.ece_errors import EceError, error_from_reply, network_errors

API_PREFIX = "/api/v1/deployments"
CONNECT_TIMEOUT_SECONDS = 10.0
READ_TIMEOUT_SECONDS = 60.0
MAX_ATTEMPTS = 4
# Reads and validations may be sent again on these; an applied plan only on the
# statuses that say it was not taken (a lost answer to a PUT may hide an accepted
# plan, and a second PUT would then be refused or, worse, queue a second roll).
RETRY_STATUSES = frozenset({429, 502, 503, 504})
APPLY_RETRY_STATUSES = frozenset({429, 503})
RESOURCE_VERSION_HEADER = "x-cloud-resource-version"
# How a deployment is read for a no-op plan: the plans as stored (no template
# enrichment, no defaults), without the transient section the spec says makes a
# plan unsafe to re-apply ("clear_transient ... making it safe to reapply").
PLAN_QUERY = {
    "show_plans": "true",
    "show_plan_history": "true",
    "show_plan_defaults": "false",
    "enrich_with_template": "false",
    "convert_legacy_plans": "false",
    "clear_transient": "true",
}
POLL_QUERY = {"show_plans": "true", "show_plan_history": "false", "enrich_with_template": "false"}
DEFAULT_POLL_SECONDS = 10.0
MAX_POLL_SECONDS = 60.0
POLL_GROWTH = 1.5


class PlanError(Exception):
    """When a deployment's current plan cannot be re-applied as it stands: look at it in ECE."""


class PlanTimeout(Exception):
    """When a plan was still pending at the end of the wait; it keeps running in ECE."""


# -- what a deployment says --------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    """One ``ElasticsearchClusterPlanInfo``: a plan attempt, current, pending or past."""

    attempt_id: str | None
    healthy: bool
    error: str | None = None  # ClusterPlanAttemptError.message, when it failed
    failure_type: str | None = None
    ended: str | None = None  # attempt_end_time

    @property
    def failed(self) -> bool:
        return not self.healthy or self.error is not None

    @classmethod
    def from_json(cls, document: object) -> Attempt | None:
        if not isinstance(document, dict):
            return None
        error = document.get("error")
        error = error if isinstance(error, dict) else None
        attempt_id = document.get("plan_attempt_id")
        ended = document.get("attempt_end_time")
        return cls(
            attempt_id=attempt_id if isinstance(attempt_id, str) else None,
            healthy=document.get("healthy") is not False,
            error=str(error.get("message") or "the plan failed") if error else None,
            failure_type=str(error["failure_type"]) if error and "failure_type" in error else None,
            ended=ended if isinstance(ended, str) else None,
        )


@dataclass(frozen=True)
class ElasticsearchResource:
    """One entry of ``resources.elasticsearch`` (``ElasticsearchResourceInfo``)."""

    ref_id: str
    id: str
    region: str
    healthy: bool | None
    status: str | None
    plans_healthy: bool | None  # plan_info.healthy: false when the last attempt failed
    current: Attempt | None
    pending: Attempt | None
    history: tuple[Attempt, ...] = ()
    current_plan: dict[str, Any] | None = field(default=None, repr=False)

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> ElasticsearchResource:
        info = _object(document.get("info"))
        plan_info = _object(info.get("plan_info"))
        current = plan_info.get("current")
        plan = current.get("plan") if isinstance(current, dict) else None
        history = plan_info.get("history")
        plans_healthy = plan_info.get("healthy")
        healthy = info.get("healthy")
        status = info.get("status")
        return cls(
            ref_id=str(document.get("ref_id", "")),
            id=str(document.get("id", "")),
            region=str(document.get("region", "")),
            healthy=healthy if isinstance(healthy, bool) else None,
            status=status if isinstance(status, str) else None,
            plans_healthy=plans_healthy if isinstance(plans_healthy, bool) else None,
            current=Attempt.from_json(current),
            pending=Attempt.from_json(plan_info.get("pending")),
            history=tuple(
                a
                for a in map(Attempt.from_json, history if isinstance(history, list) else [])
                if a is not None
            ),
            current_plan=copy.deepcopy(plan) if isinstance(plan, dict) else None,
        )


@dataclass(frozen=True)
class Deployment:
    """What ``GET /deployments/{id}`` says of a deployment and its Elasticsearch resources."""

    id: str
    name: str
    healthy: bool | None
    elasticsearch: tuple[ElasticsearchResource, ...]
    resource_version: str | None = None  # x-cloud-resource-version, for conflict checks
    document: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def pending(self) -> bool:
        return any(resource.pending is not None for resource in self.elasticsearch)

    def attempt_ids(self) -> frozenset[str]:
        """Every plan attempt the deployment shows (history, current, pending)."""
        ids: set[str] = set()
        for resource in self.elasticsearch:
            for attempt in (*resource.history, resource.current, resource.pending):
                if attempt is not None and attempt.attempt_id:
                    ids.add(attempt.attempt_id)
        return frozenset(ids)

    @classmethod
    def from_json(cls, document: object, resource_version: str | None = None) -> Deployment:
        if not isinstance(document, dict) or not isinstance(document.get("id"), str):
            raise EceError(reasons.ECE_BAD_REPLY, server_message="reply is not a deployment")
        resources = document.get("resources")
        entries = resources.get("elasticsearch") if isinstance(resources, dict) else None
        healthy = document.get("healthy")
        return cls(
            id=document["id"],
            name=str(document.get("name", "")),
            healthy=healthy if isinstance(healthy, bool) else None,
            elasticsearch=tuple(
                ElasticsearchResource.from_json(entry)
                for entry in (entries if isinstance(entries, list) else [])
                if isinstance(entry, dict)
            ),
            resource_version=resource_version,
            document=document,
        )


# -- the no-op plan ----------------------------------------------------------------

# ElasticsearchClusterPlan's required properties, and ElasticsearchPayload's.
PLAN_REQUIRED = ("cluster_topology", "elasticsearch")


def noop_update(deployment: Deployment | Mapping[str, Any]) -> dict[str, Any]:
    """The ``DeploymentUpdateRequest`` that re-applies each Elasticsearch current plan.

    Only what the spec requires: ``prune_orphans`` (false: resources not named
    stay as they are), and per Elasticsearch resource its ``ref_id``, ``region``
    and ``plan`` (the current one, its ``transient`` section dropped). No name,
    settings, metadata or other resource kinds: the request changes nothing
    but the plan it re-applies. PlanError when a resource has no current plan,
    or one without the fields the spec requires.
    """
    if not isinstance(deployment, Deployment):
        deployment = Deployment.from_json(dict(deployment))
    if not deployment.elasticsearch:
        raise PlanError(f"deployment {deployment.id} has no Elasticsearch resource")
    payloads = []
    for resource in deployment.elasticsearch:
        plan = copy.deepcopy(resource.current_plan)
        if plan is None:
            raise PlanError(f"Elasticsearch resource {resource.ref_id} shows no current plan")
        plan.pop("transient", None)
        missing = [name for name in PLAN_REQUIRED if name not in plan]
        if missing:
            raise PlanError(
                f"the current plan of {resource.ref_id} lacks {', '.join(missing)}"
                " (the spec requires them)"
            )
        if not resource.ref_id or not resource.region:
            raise PlanError(f"an Elasticsearch resource of {deployment.id} has no ref_id or region")
        payloads.append({"ref_id": resource.ref_id, "region": resource.region, "plan": plan})
    return {"prune_orphans": False, "resources": {"elasticsearch": payloads}}


def extension_uses(plan: Mapping[str, Any] | None, extension_id: str) -> list[str]:
    """Where a plan names ``repo://<extension_id>``: ``user_bundles``/``user_plugins`` entries."""
    if not plan:
        return []
    url = f"repo://{extension_id}"
    places: list[tuple[str, Any]] = [("plan", plan.get("elasticsearch"))]
    topology = plan.get("cluster_topology")
    for element in topology if isinstance(topology, list) else []:
        if isinstance(element, dict):
            places.append((f"topology {element.get('id', '?')}", element.get("elasticsearch")))
    found = []
    for where, configuration in places:
        if not isinstance(configuration, dict):
            continue
        for key, kind in (("user_bundles", "bundle"), ("user_plugins", "plugin")):
            entries = configuration.get(key)
            for entry in entries if isinstance(entries, list) else []:
                if isinstance(entry, dict) and entry.get("url") == url:
                    found.append(f"{kind} {entry.get('name', '?')} ({where})")
    return found


# -- how a plan ended --------------------------------------------------------------

PlanStatus = Literal["success", "failed", "unknown"]


@dataclass(frozen=True)
class PlanOutcome:
    status: PlanStatus
    detail: str


def plan_outcome(before: Deployment, after: Deployment) -> PlanOutcome:
    """How the plan applied between ``before`` and ``after`` (no plan pending) ended.

    Ours is the attempt the history gained since ``before`` (the newest one, per
    Elasticsearch resource). It failed when that attempt is unhealthy or carries
    an ``error``; ``plan_info.healthy: false`` says the same. When the history
    gained nothing, success only if the current attempt changed and is healthy.
    """
    known = before.attempt_ids()
    problems: list[str] = []
    unknown: list[str] = []
    for resource in after.elasticsearch:
        new = [a for a in resource.history if a.attempt_id and a.attempt_id not in known]
        ours = new[-1] if new else None
        if ours is None and resource.current and resource.current.attempt_id not in known:
            ours = resource.current
        if ours is not None and ours.failed:
            kind = f" [{ours.failure_type}]" if ours.failure_type else ""
            problems.append(
                f"{resource.ref_id}: {ours.error or 'the plan attempt is unhealthy'}{kind}"
            )
        elif resource.plans_healthy is False:
            problems.append(f"{resource.ref_id}: ECE reports the last plan attempt failed")
        elif ours is None:
            unknown.append(resource.ref_id)
    if problems:
        return PlanOutcome("failed", "; ".join(problems))
    if unknown:
        return PlanOutcome("unknown", f"no new plan attempt shown for {', '.join(unknown)}")
    return PlanOutcome("success", "the plan was applied")


# -- polling -----------------------------------------------------------------------


def poll_delays(first: float, cap: float = MAX_POLL_SECONDS) -> Iterator[float]:
    """``first``, then half as long again each time, up to ``cap`` (or ``first`` if longer)."""
    delay, cap = first, max(cap, first)
    while True:
        yield delay
        delay = min(cap, delay * POLL_GROWTH)


def wait_for_plans(
    read: Callable[[], Deployment],
    *,
    timeout_seconds: float,
    poll_seconds: float = DEFAULT_POLL_SECONDS,
    max_poll_seconds: float = MAX_POLL_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    on_wait: Callable[[Deployment, float], None] | None = None,
) -> Deployment:
    """Read until no plan is pending; PlanTimeout after ``timeout_seconds``.

    ``on_wait(deployment, seconds)`` is told before each pause.
    """
    end = clock() + timeout_seconds
    for delay in poll_delays(poll_seconds, max_poll_seconds):
        deployment = read()
        if not deployment.pending:
            return deployment
        left = end - clock()
        if left <= 0:
            raise PlanTimeout(f"a plan was still pending after {timeout_seconds:g} s")
        pause = min(delay, left)
        if on_wait is not None:
            on_wait(deployment, pause)
        sleep(pause)
    raise AssertionError("unreachable")  # pragma: no cover


# -- HTTP ----------------------------------------------------------------------------


class DeploymentsClient:
    """ECE's deployments API, with the function's credentials, TLS and error mapping."""

    def __init__(
        self,
        base_url: str,
        credentials: CredentialSource,
        *,
        timeout_seconds: float = READ_TIMEOUT_SECONDS,
        tls_verify: bool = True,
        ca_bundle: str | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        backoff_base_seconds: float = BACKOFF_BASE_SECONDS,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._credentials = credentials
        self._timeout = timeout_seconds
        self._tls_verify = tls_verify
        self._ca_bundle = ca_bundle
        self._session = session or requests.Session()
        self._session.trust_env = False  # a proxy from the environment must not see the key
        if not tls_verify:
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        self._sleep = sleep
        self._backoff_base = backoff_base_seconds

    def extension_deployments(self, extension_id: str) -> list[str]:
        """Ids of the deployments that use the extension (``include_deployments=true``)."""
        reply = self._call(
            "GET",
            f"/extensions/{_segment(extension_id)}",
            params={"include_deployments": "true"},
        )
        document = _json(reply)
        ids = document.get("deployments") if isinstance(document, dict) else None
        if ids is None:
            return []
        if not isinstance(ids, list):
            raise EceError(reasons.ECE_BAD_REPLY, server_message="deployments is not a list")
        return [str(i) for i in ids]

    def get_deployment(self, deployment_id: str, *, for_plan: bool = True) -> Deployment:
        """The deployment, its plans read for re-applying (``for_plan``) or just to poll."""
        reply = self._call(
            "GET",
            f"/{_segment(deployment_id)}",
            params=PLAN_QUERY if for_plan else POLL_QUERY,
        )
        return Deployment.from_json(_json(reply), reply.headers.get(RESOURCE_VERSION_HEADER))

    def update(
        self,
        deployment_id: str,
        body: Mapping[str, Any],
        *,
        validate_only: bool,
        version: str | None = None,
    ) -> dict[str, Any]:
        """``PUT /deployments/{id}``: the ``DeploymentUpdateResponse``.

        ``version`` (the ``x-cloud-resource-version`` read with the plan) makes
        ECE refuse the update if the deployment changed since.
        """
        params = {"validate_only": "true" if validate_only else "false"}
        if version:
            params["version"] = version
        reply = self._call(
            "PUT",
            f"/{_segment(deployment_id)}",
            params=params,
            body=body,
            retry_statuses=RETRY_STATUSES if validate_only else APPLY_RETRY_STATUSES,
            retry_lost_answers=validate_only,
        )
        document = _json(reply)
        return document if isinstance(document, dict) else {}

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str],
        body: Mapping[str, Any] | None = None,
        retry_statuses: frozenset[int] = RETRY_STATUSES,
        retry_lost_answers: bool = True,
    ) -> requests.Response:
        url = f"{self._base_url}{API_PREFIX}{path}"
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            credentials = self._credentials.get(refresh=refreshed)
            headers = {"Authorization": credentials.authorization, "Accept": "application/json"}
            try:
                with network_errors():
                    reply = self._session.request(
                        method,
                        url,
                        params=dict(params),
                        json=body,
                        headers=headers,
                        timeout=(CONNECT_TIMEOUT_SECONDS, self._timeout),
                        verify=self._verify(credentials.ca_bundle_pem),
                    )
                if reply.status_code == 200:
                    return reply
                raise error_from_reply(reply)
            except EceError as error:
                if error.status == 401 and not refreshed:
                    refreshed = True  # the key may have been rotated: read it again, once
                    continue
                lost = error.status is None and error.reason in (
                    reasons.ECE_TIMEOUT,
                    reasons.ECE_UNREACHABLE,
                )
                retryable = (error.status in retry_statuses) or (lost and retry_lost_answers)
                if not retryable or attempt >= MAX_ATTEMPTS:
                    raise
                self._sleep(backoff_seconds(attempt, error.retry_after, self._backoff_base))

    def _verify(self, ca_bundle_pem: str | None) -> bool | str:
        if not self._tls_verify:
            return False
        if ca_bundle_pem:
            return pem_file(ca_bundle_pem, self._ca_bundle)
        return self._ca_bundle or True


def _object(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _segment(identifier: str) -> str:
    if not is_safe_extension_id(identifier):
        raise ValueError(f"not an ECE id: {identifier!r}")
    return quote(identifier, safe="")


def _json(reply: requests.Response) -> Any:
    try:
        return reply.json()
    except ValueError:
        raise EceError(reasons.ECE_BAD_REPLY, status=reply.status_code) from None
