"""The admin routes under ``/_emulator/``: scripting the emulator from another process.

No authentication, not recorded in the request log, JSON in and out (paths below
are under ``/_emulator/``):

========  ==============================  ====================================================
method    path                            does
========  ==============================  ====================================================
GET       health                          ``{"status": "ok"}``
POST      reset                           forget extensions, files, deployments, logs, faults
GET       extensions                      ``{"extensions": [Extension]}``
POST      extensions                      create: ``{"name", "extension_type"?, "version"?,
                                          "description"?}``, 201 ``Extension``
GET       deployments                     ``{"deployments": [DeploymentGetResponse]}``
                                          (every plan, history and log shown)
POST      deployments                     create: ``{"name", "bundles"?: [extension id],
                                          "plugins"?: [id], "healthy"?, "version"?,
                                          "plan_duration"?}``; 201 ``DeploymentGetResponse``
POST      deployments/ID/fail-next-plan   ``{"message"?, "failure_type"?}``: the pending
                                          plan, or else the next one, ends failed
PUT       deployments/ID/health           ``{"healthy": bool}``
PUT       plan-duration                   ``{"seconds", "deployment_id"?}``: how long plans
                                          run (all deployments, or one); reschedules a
                                          pending plan
GET       deployment-plans                ``{"plans": [...]}`` (``?deployment_id=`` filters)
GET       deployment-updates              ``{"updates": [...]}``: accepted PUTs, validate-only
                                          ones too (``?deployment_id=`` filters)
GET       uploads                         ``{"uploads": [...]}`` (``?extension_id=`` filters)
GET       requests                        ``{"requests": [...]}``
GET       spec-violations                 ``{"spec_violations": [...]}``
GET       faults                          ``{"faults": [...]}`` (pending)
POST      faults                          queue: the Fault fields plus ``method``,
                                          ``operation_id``, ``extension_id``,
                                          ``deployment_id``, ``times`` (null: always); 201
DELETE    faults                          clear the queue
PUT       credentials                     ``{"api_keys": [...]}`` and/or
                                          ``{"basic_users": {"name": "password"}}``
========  ==============================  ====================================================
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import replies
from .deployments import (
    DEFAULT_ELASTICSEARCH_VERSION,
    DEFAULT_FAILURE_MESSAGE,
    DEFAULT_FAILURE_TYPE,
    FULL_VIEW,
    PlanFailure,
)
from .faults import Fault
from .models import EXTENSION_TYPES
from .state import EmulatorState

ADMIN_PREFIX = "/_emulator/"
MAX_ADMIN_BODY_BYTES = 1024 * 1024
DEFAULT_VERSION = "8.15.0"

# Reads the request body, at most this many bytes (None when it is longer).
BodyReader = Callable[[int], bytes | None]


class AdminError(Exception):
    """When an admin request is malformed: answer 400 with the message."""


@dataclass(frozen=True)
class AdminRequest:
    """What an admin route needs of a request (no transport involved)."""

    method: str
    path: str
    query: Mapping[str, Sequence[str]]
    read_body: BodyReader


@dataclass(frozen=True)
class AdminReply:
    """The JSON answer to an admin request."""

    status: int
    value: object
    headers: Mapping[str, str] = field(default_factory=dict)


def _failure(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> AdminReply:
    all_headers = {**(headers or {}), replies.ERROR_CODES_HEADER: code}
    return AdminReply(status, replies.failed_reply(code, message), all_headers)


def _optional_str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise AdminError(f"{key} must be a string")
    return value


class AdminRoutes:
    """Answers ``/_emulator/...`` requests from the state alone.

    ``base_url`` gives the emulator's URL (known once it listens), for the links
    inside ``Extension`` bodies.
    """

    def __init__(self, state: EmulatorState, base_url: Callable[[], str]) -> None:
        self._state = state
        self._base_url = base_url
        self._routes: dict[tuple[str, str], Callable[[AdminRequest], tuple[int, object]]] = {
            ("GET", "health"): lambda request: (200, {"status": "ok"}),
            ("POST", "reset"): self._reset,
            ("GET", "extensions"): self._list_extensions,
            ("POST", "extensions"): self._create_extension,
            ("GET", "uploads"): self._uploads,
            ("GET", "requests"): self._requests,
            ("GET", "spec-violations"): self._violations,
            ("GET", "faults"): self._faults,
            ("POST", "faults"): self._add_fault,
            ("DELETE", "faults"): self._clear_faults,
            ("PUT", "credentials"): self._credentials,
            ("GET", "deployments"): self._list_deployments,
            ("POST", "deployments"): self._create_deployment,
            ("POST", "deployments/{id}/fail-next-plan"): self._fail_next_plan,
            ("PUT", "deployments/{id}/health"): self._deployment_health,
            ("PUT", "plan-duration"): self._plan_duration,
            ("GET", "deployment-plans"): self._deployment_plans,
            ("GET", "deployment-updates"): self._deployment_updates,
        }

    def handle(self, request: AdminRequest) -> AdminReply:
        route = _route_template(request.path[len(ADMIN_PREFIX) :].strip("/"))
        handler = self._routes.get((request.method, route))
        if handler is None:
            allowed = sorted(method for method, name in self._routes if name == route)
            if allowed:
                headers = {"Allow": ", ".join(allowed)}
                return _failure(405, "emulator.method_not_allowed", "", headers)
            return _failure(404, "emulator.not_found", f"No admin route {request.path}")
        try:
            status, value = handler(request)
        except AdminError as exc:
            return _failure(400, replies.ADMIN_BAD_REQUEST, str(exc))
        return AdminReply(status, value)

    def _body(self, request: AdminRequest) -> dict[str, Any]:
        raw = request.read_body(MAX_ADMIN_BODY_BYTES)
        if raw is None:
            raise AdminError("body too large")
        try:
            doc = json.loads(raw or b"{}")
        except ValueError as exc:
            raise AdminError("the body is not JSON") from exc
        if not isinstance(doc, dict):
            raise AdminError("the body must be a JSON object")
        return doc

    def _reset(self, request: AdminRequest) -> tuple[int, object]:
        self._state.reset()
        return 200, {}

    def _list_extensions(self, request: AdminRequest) -> tuple[int, object]:
        base = self._base_url()
        return 200, {"extensions": [e.to_json(base) for e in self._state.list_extensions()]}

    def _create_extension(self, request: AdminRequest) -> tuple[int, object]:
        doc = self._body(request)
        name = _optional_str(doc, "name")
        extension_type = _optional_str(doc, "extension_type") or "plugin"
        if not name:
            raise AdminError("name is required")
        if extension_type not in EXTENSION_TYPES:
            raise AdminError(f"extension_type must be one of {list(EXTENSION_TYPES)}")
        extension = self._state.create_extension(
            name=name,
            extension_type=extension_type,
            version=_optional_str(doc, "version") or DEFAULT_VERSION,
            description=_optional_str(doc, "description"),
        )
        return 201, extension.to_json(self._base_url())

    def _list_deployments(self, request: AdminRequest) -> tuple[int, object]:
        deployments = self._state.list_deployments()
        return 200, {"deployments": [d.to_json(FULL_VIEW) for d in deployments]}

    def _create_deployment(self, request: AdminRequest) -> tuple[int, object]:
        doc = self._body(request)
        name = _optional_str(doc, "name")
        if not name:
            raise AdminError("name is required")
        ids = {key: _str_list(doc, key) for key in ("bundles", "plugins")}
        healthy = doc.get("healthy", True)
        if not isinstance(healthy, bool):
            raise AdminError("healthy must be true or false")
        try:
            deployment = self._state.create_deployment(
                name=name,
                bundles=ids["bundles"],
                plugins=ids["plugins"],
                version=_optional_str(doc, "version") or DEFAULT_ELASTICSEARCH_VERSION,
                healthy=healthy,
                plan_duration=_optional_seconds(doc, "plan_duration"),
            )
        except (LookupError, ValueError) as exc:
            raise AdminError(str(exc).strip("'")) from exc
        return 201, deployment.to_json(FULL_VIEW)

    def _fail_next_plan(self, request: AdminRequest) -> tuple[int, object]:
        doc = self._body(request)
        failure = PlanFailure(
            _optional_str(doc, "message") or DEFAULT_FAILURE_MESSAGE,
            _optional_str(doc, "failure_type") or DEFAULT_FAILURE_TYPE,
        )
        deployment_id = _path_id(request)
        if not self._state.fail_next_plan(deployment_id, failure):
            raise AdminError(f"no deployment {deployment_id}")
        return 200, {}

    def _deployment_health(self, request: AdminRequest) -> tuple[int, object]:
        healthy = self._body(request).get("healthy")
        if not isinstance(healthy, bool):
            raise AdminError("healthy must be true or false")
        deployment_id = _path_id(request)
        if not self._state.set_deployment_health(deployment_id, healthy):
            raise AdminError(f"no deployment {deployment_id}")
        return 200, {}

    def _plan_duration(self, request: AdminRequest) -> tuple[int, object]:
        doc = self._body(request)
        seconds = _optional_seconds(doc, "seconds")
        if seconds is None:
            raise AdminError("seconds is required")
        deployment_id = _optional_str(doc, "deployment_id")
        try:
            known = self._state.set_plan_duration(seconds, deployment_id)
        except ValueError as exc:
            raise AdminError(str(exc)) from exc
        if not known:
            raise AdminError(f"no deployment {deployment_id}")
        return 200, {}

    def _deployment_plans(self, request: AdminRequest) -> tuple[int, object]:
        plans = self._state.deployment_plans(_query_value(request, "deployment_id"))
        return 200, {"plans": [p.to_json() for p in plans]}

    def _deployment_updates(self, request: AdminRequest) -> tuple[int, object]:
        updates = self._state.deployment_updates(_query_value(request, "deployment_id"))
        return 200, {"updates": [u.to_json() for u in updates]}

    def _uploads(self, request: AdminRequest) -> tuple[int, object]:
        extension_id = _query_value(request, "extension_id")
        uploads = self._state.uploads(extension_id)
        return 200, {"uploads": [u.to_json() for u in uploads]}

    def _requests(self, request: AdminRequest) -> tuple[int, object]:
        return 200, {"requests": [r.to_json() for r in self._state.requests()]}

    def _violations(self, request: AdminRequest) -> tuple[int, object]:
        return 200, {"spec_violations": self._state.violations()}

    def _faults(self, request: AdminRequest) -> tuple[int, object]:
        return 200, {"faults": [f.to_json() for f in self._state.faults.pending()]}

    def _add_fault(self, request: AdminRequest) -> tuple[int, object]:
        doc = self._body(request)
        targets = ("method", "operation_id", "extension_id", "deployment_id")
        aim = {key: _optional_str(doc, key) for key in targets}
        times = doc.get("times", 1)
        if times is not None and (isinstance(times, bool) or not isinstance(times, int)):
            raise AdminError("times must be an integer or null")
        fields = {k: v for k, v in doc.items() if k not in {*targets, "times"}}
        try:
            fault = Fault.from_json(fields)
            self._state.faults.add(
                fault,
                method=aim["method"],
                operation_id=aim["operation_id"],
                extension_id=aim["extension_id"],
                deployment_id=aim["deployment_id"],
                times=times,
            )
        except (TypeError, ValueError) as exc:
            raise AdminError(str(exc)) from exc
        return 201, {"faults": [f.to_json() for f in self._state.faults.pending()]}

    def _clear_faults(self, request: AdminRequest) -> tuple[int, object]:
        self._state.faults.clear()
        return 200, {}

    def _credentials(self, request: AdminRequest) -> tuple[int, object]:
        doc = self._body(request)
        keys = doc.get("api_keys")
        users = doc.get("basic_users")
        if keys is not None and (
            not isinstance(keys, list) or not all(isinstance(k, str) for k in keys)
        ):
            raise AdminError("api_keys must be a list of strings")
        if users is not None and (
            not isinstance(users, dict) or not all(isinstance(v, str) for v in users.values())
        ):
            raise AdminError("basic_users must map user names to passwords")
        if keys is None and users is None:
            raise AdminError("give api_keys, basic_users or both")
        if keys is not None:
            self._state.set_api_keys(keys)
        if users is not None:
            self._state.set_basic_users(users)
        return 200, {}


def _query_value(request: AdminRequest, name: str) -> str | None:
    values = request.query.get(name)
    return values[-1] if values else None


def _route_template(route: str) -> str:
    """``deployments/ID/health`` -> ``deployments/{id}/health``."""
    parts = route.split("/")
    if len(parts) == 3 and parts[0] == "deployments":
        parts[1] = "{id}"
    return "/".join(parts)


def _path_id(request: AdminRequest) -> str:
    return request.path[len(ADMIN_PREFIX) :].strip("/").split("/")[1]


def _str_list(data: Mapping[str, Any], key: str) -> list[str]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise AdminError(f"{key} must be a list of strings")
    return value


def _optional_seconds(data: Mapping[str, Any], key: str) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise AdminError(f"{key} must be a number of seconds")
    return float(value)
