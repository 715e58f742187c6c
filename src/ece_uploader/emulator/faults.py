"""Scripted misbehaviour: answers the emulator gives instead of the real one.

A :class:`Fault` is queued with :meth:`FaultScript.add` for a method and
optionally an operation id (``get-deployment``...), an extension id and a
deployment id, a number of times; each matching API request consumes one use, in
the order the faults were added.

Effects, applied in this order:

- ``delay``: wait this many seconds first (then carry on: with nothing else
  set, the request is served normally, only slower);
- ``reset_after_bytes``: read that many bytes of the request body, then close
  the socket abruptly (TCP RST), never answering;
- ``hang``: read the body, then never answer; the connection is held until the
  client closes it or the emulator stops;
- ``html``: answer ``status`` (default 502) with this HTML page, as a proxy or WAF
  in front of ECE would;
- ``status``: answer a ``BasicFailedReply`` with ``code`` and ``message`` (codes
  default from the status and the operation: ``extensions.*`` for extension
  operations, ``deployments.*``/``clusters.*`` for deployment ones) and
  ``x-cloud-error-codes``;
- ``retry_after``: add a ``Retry-After`` header to the answer;
- ``keep_bytes``: serve an upload normally but store (and report in
  ``file_metadata.size``) only its first bytes, as a proxy that cut the body
  short would leave it.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Literal

from . import replies

FaultKind = Literal["reset", "hang", "html", "error", "delay", "truncate"]

DEFAULT_HTML_STATUS = 502
_DEFAULT_CODES = {
    400: "extensions.request_execution_failed",
    401: "root.unauthenticated",
    403: "root.unauthorized.rbac",
    404: "extensions.not_found",
    409: "extensions.version_conflict",
}
# For operations on /deployments/{deployment_id}.
_DEFAULT_DEPLOYMENT_CODES = {
    400: replies.INVALID_PLAN,
    401: "root.unauthenticated",
    403: "root.unauthorized.rbac",
    404: replies.DEPLOYMENT_NOT_FOUND,
}
DEPLOYMENT_OPERATIONS = frozenset({"get-deployment", "update-deployment"})
_FALLBACK_CODE = replies.INTERNAL_ERROR


@dataclass(frozen=True)
class Fault:
    """One scripted misbehaviour (see the module docstring for the effects)."""

    status: int | None = None
    code: str | None = None
    message: str | None = None
    html: str | None = None
    retry_after: int | str | None = None
    delay: float = 0.0
    reset_after_bytes: int | None = None
    hang: bool = False
    keep_bytes: int | None = None

    def __post_init__(self) -> None:
        if self.status is not None and not 100 <= self.status <= 599:
            raise ValueError(f"status must be an HTTP status, not {self.status}")
        if not math.isfinite(self.delay) or self.delay < 0:
            raise ValueError("delay must be a non-negative number of seconds")
        if self.reset_after_bytes is not None and self.reset_after_bytes < 0:
            raise ValueError("reset_after_bytes must not be negative")
        if self.keep_bytes is not None and self.keep_bytes < 0:
            raise ValueError("keep_bytes must not be negative")
        answers = self.status is not None or self.html is not None
        if not answers and (self.code or self.message or self.retry_after is not None):
            raise ValueError("code, message and retry_after need a status or html")
        effects = (
            self.delay,
            self.hang,
            self.reset_after_bytes is not None,
            self.keep_bytes is not None,
        )
        if not (answers or any(effects)):
            raise ValueError(
                "a fault needs an effect: status, html, delay, reset, hang or keep_bytes"
            )

    @property
    def kind(self) -> FaultKind:
        if self.reset_after_bytes is not None:
            return "reset"
        if self.hang:
            return "hang"
        if self.html is not None:
            return "html"
        if self.status is not None:
            return "error"
        if self.keep_bytes is not None:
            return "truncate"
        return "delay"

    @property
    def answer_status(self) -> int | None:
        """The status to answer with, or None to serve the request normally."""
        if self.status is None and self.html is not None:
            return DEFAULT_HTML_STATUS
        return self.status

    @property
    def error_code(self) -> str:
        """The code answered to an extension operation."""
        return self.error_code_for(None)

    def error_code_for(self, operation_id: str | None) -> str:
        """The code answered to ``operation_id`` (``code``, or the status's default)."""
        if self.code:
            return self.code
        defaults = _DEFAULT_DEPLOYMENT_CODES if operation_id in DEPLOYMENT_OPERATIONS else None
        return (defaults or _DEFAULT_CODES).get(self.answer_status or 0, _FALLBACK_CODE)

    @property
    def error_message(self) -> str:
        return self.message or f"Injected fault (HTTP {self.answer_status})"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Fault:
        """A fault from its JSON form; unknown keys and wrong types raise ValueError."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}")
        checks: dict[str, tuple[type, ...]] = {
            "status": (int,),
            "code": (str,),
            "message": (str,),
            "html": (str,),
            "retry_after": (int, str),
            "delay": (int, float),
            "reset_after_bytes": (int,),
            "hang": (bool,),
            "keep_bytes": (int,),
        }
        for name, value in data.items():
            if value is None and name not in {"delay", "hang"}:
                continue
            wrong_bool = isinstance(value, bool) and bool not in checks[name]
            if wrong_bool or not isinstance(value, checks[name]):
                raise ValueError(f"fault field {name!r} has the wrong type")
        values = dict(data)
        if "delay" in values:
            values["delay"] = float(values["delay"])
        return cls(**values)


@dataclass
class ScriptedFault:
    """A queued fault and what it applies to."""

    fault: Fault
    method: str | None
    extension_id: str | None
    # None: every matching request until cleared.
    remaining: int | None
    operation_id: str | None = None
    deployment_id: str | None = None

    def matches(self, request: FaultTarget) -> bool:
        return (
            self.method in (None, request.method)
            and self.operation_id in (None, request.operation_id)
            and self.extension_id in (None, request.extension_id)
            and self.deployment_id in (None, request.deployment_id)
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "fault": self.fault.to_json(),
            "method": self.method,
            "operation_id": self.operation_id,
            "extension_id": self.extension_id,
            "deployment_id": self.deployment_id,
            "remaining": self.remaining,
        }


@dataclass(frozen=True)
class FaultTarget:
    """What a fault can be aimed at in an API request."""

    method: str
    operation_id: str | None = None
    extension_id: str | None = None
    deployment_id: str | None = None


class FaultScript:
    """The queue of scripted faults; safe to use from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[ScriptedFault] = []

    def add(
        self,
        fault: Fault,
        *,
        method: str | None = None,
        extension_id: str | None = None,
        times: int | None = 1,
        operation_id: str | None = None,
        deployment_id: str | None = None,
    ) -> None:
        if times is not None and times < 1:
            raise ValueError("times must be at least 1 (or None for every request)")
        entry = ScriptedFault(
            fault,
            method.upper() if method else None,
            extension_id,
            times,
            operation_id=operation_id,
            deployment_id=deployment_id,
        )
        with self._lock:
            self._entries.append(entry)

    def take(self, request: FaultTarget) -> Fault | None:
        """Consume one use of the first fault that matches the request."""
        request = FaultTarget(
            request.method.upper(),
            request.operation_id,
            request.extension_id,
            request.deployment_id,
        )
        with self._lock:
            for entry in self._entries:
                if entry.matches(request):
                    if entry.remaining is not None:
                        entry.remaining -= 1
                        if entry.remaining == 0:
                            self._entries.remove(entry)
                    return entry.fault
        return None

    def pending(self) -> list[ScriptedFault]:
        with self._lock:
            return [replace(e) for e in self._entries]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
