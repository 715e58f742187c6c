"""The emulator's state: credentials, extensions, stored files, deployments, logs.

Every method is safe to call from any thread. Extensions and deployments handed
out are copies; deployments are settled (a pending plan whose time has come has
ended) before they are read.
"""

from __future__ import annotations

import base64
import binascii
import copy
import datetime as dt
import hmac
import math
import secrets
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, BinaryIO

from . import replies
from .body import SpooledFile
from .deployments import (
    CREATE_ACTION,
    DEFAULT_PLAN_DURATION_SECONDS,
    DeploymentState,
    DeploymentUpdateRecord,
    PlanAttempt,
    PlanFailure,
    PlanRecord,
    extension_ids,
    initial_plan,
)
from .faults import FaultScript
from .models import ExtensionState, RequestRecord, StoredFile, UploadMode, UploadRecord, utc_now

_ID_LOW = 10**9
_ID_SPAN = 9 * 10**9
_TICK = dt.timedelta(milliseconds=1)
# Passed to update_extension for a field the request left out.
KEEP = object()


class PlanRefused(Exception):
    """When an update names a deployment's resources wrongly or comes while a plan runs.

    Answer 400 with ``code`` and the message.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class UpdateResult:
    """What an accepted deployment update did: the deployment after it, the plan sent."""

    deployment: DeploymentState
    plan: dict[str, Any] | None


def _check_duration(seconds: float) -> float:
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError("a plan duration is a non-negative number of seconds")
    return float(seconds)


class EmulatorState:
    """Extensions, their files, credentials, faults and the request log."""

    def __init__(
        self,
        files_dir: Path,
        *,
        api_keys: Iterable[str] = (),
        basic_users: Mapping[str, str] | None = None,
    ) -> None:
        self.files_dir = files_dir
        self.faults = FaultScript()
        self._lock = threading.Lock()
        self._extensions: dict[str, ExtensionState] = {}
        self._uploads: list[UploadRecord] = []
        self._requests: list[RequestRecord] = []
        self._violations: list[str] = []
        self._deployments: dict[str, DeploymentState] = {}
        self._deployment_updates: list[DeploymentUpdateRecord] = []
        self._plan_duration = DEFAULT_PLAN_DURATION_SECONDS
        self._api_keys: tuple[bytes, ...] = ()
        self._basic_users: dict[str, bytes] = {}
        self.set_api_keys(api_keys)
        self.set_basic_users(basic_users or {})

    # -- credentials ------------------------------------------------------

    def set_api_keys(self, keys: Iterable[str]) -> None:
        """Replace the accepted API keys; the old ones stop working at once."""
        self._api_keys = tuple(key.encode() for key in keys if key)

    def set_basic_users(self, users: Mapping[str, str]) -> None:
        """Replace the accepted basic-auth users (name to password)."""
        self._basic_users = {name: password.encode() for name, password in users.items()}

    def authenticate(self, header: str | None) -> tuple[str | None, bool]:
        """(scheme shown in the log, accepted?) for an ``Authorization`` header."""
        if not header:
            return None, False
        scheme, _, value = header.strip().partition(" ")
        credentials = value.strip().encode()
        if scheme.lower() == "apikey":
            keys = self._api_keys
            return "ApiKey", any(hmac.compare_digest(credentials, key) for key in keys)
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(credentials, validate=True)
            except (ValueError, binascii.Error):
                return "Basic", False
            user, sep, password = decoded.partition(b":")
            expected = self._basic_users.get(user.decode("utf-8", "replace"))
            ok = bool(sep) and expected is not None and hmac.compare_digest(password, expected)
            return "Basic", ok
        return "unknown", False

    # -- extensions -------------------------------------------------------

    def create_extension(
        self,
        *,
        name: str,
        extension_type: str,
        version: str,
        description: str | None = None,
        download_url: str | None = None,
        file: SpooledFile | None = None,
    ) -> ExtensionState:
        with self._lock:
            extension_id = self._new_id()
            now = utc_now()
            extension = ExtensionState(
                id=extension_id,
                name=name,
                extension_type=extension_type,
                version=version,
                created=now,
                modified=now,
                description=description,
                download_url=download_url,
            )
            if file is not None:
                extension.file = self._store(extension_id, file, now)
            self._extensions[extension_id] = extension
            return replace(extension)

    def get_extension(self, extension_id: str) -> ExtensionState | None:
        with self._lock:
            extension = self._extensions.get(extension_id)
            return None if extension is None else replace(extension)

    def list_extensions(self) -> list[ExtensionState]:
        with self._lock:
            return [replace(e) for e in self._extensions.values()]

    def update_extension(
        self,
        extension_id: str,
        *,
        name: str,
        extension_type: str,
        version: str,
        description: str | object | None = KEEP,
        download_url: str | object | None = KEEP,
        file: SpooledFile | None = None,
    ) -> ExtensionState | None:
        """Replace the metadata; ``description``/``download_url`` left out are kept."""
        with self._lock:
            extension = self._extensions.get(extension_id)
            if extension is None:
                if file is not None:
                    file.discard()
                return None
            moment = _after(extension.modified)
            extension.name = name
            extension.extension_type = extension_type
            extension.version = version
            if description is not KEEP:
                extension.description = description if isinstance(description, str) else None
            if download_url is not KEEP:
                extension.download_url = download_url if isinstance(download_url, str) else None
            old = extension.file
            if file is not None:
                extension.file = self._store(extension_id, file, moment)
            extension.modified = moment
            extension.resource_version += 1
            result = replace(extension)
        if file is not None and old is not None:
            old.path.unlink(missing_ok=True)
        return result

    def commit_upload(
        self,
        extension_id: str,
        file: SpooledFile,
        *,
        mode: UploadMode,
        filename: str | None,
        content_type: str | None,
    ) -> ExtensionState | None:
        """Make ``file`` the extension's file; None (file dropped) if it is gone."""
        with self._lock:
            extension = self._extensions.get(extension_id)
            if extension is None:
                file.discard()
                return None
            moment = _after(extension.modified)
            old = extension.file
            extension.file = self._store(extension_id, file, moment)
            extension.modified = moment
            extension.resource_version += 1
            self._uploads.append(
                UploadRecord(
                    extension_id=extension_id,
                    size=file.size,
                    sha256=file.sha256,
                    mode=mode,
                    filename=filename,
                    content_type=content_type,
                    received_at=moment,
                )
            )
            result = replace(extension)
        if old is not None:
            old.path.unlink(missing_ok=True)
        return result

    def delete_extension(self, extension_id: str) -> ExtensionState | None:
        with self._lock:
            extension = self._extensions.pop(extension_id, None)
        if extension is not None and extension.file is not None:
            extension.file.path.unlink(missing_ok=True)
        return extension

    def open_file(self, extension_id: str, token: str | None = None) -> tuple[BinaryIO, int] | None:
        """An open handle on the extension's stored file and its size.

        With ``token``, only if it is the token of the current download URL.
        """
        with self._lock:
            extension = self._extensions.get(extension_id)
            stored = None if extension is None else extension.file
            if stored is None or (token is not None and token != stored.token):
                return None
            return stored.path.open("rb"), stored.size

    def stored_path(self, extension_id: str) -> Path | None:
        with self._lock:
            extension = self._extensions.get(extension_id)
            return None if extension is None or extension.file is None else extension.file.path

    def extension_deployments(self, extension_id: str) -> list[str]:
        """Ids of the deployments whose current plan uses the extension, oldest first."""
        with self._lock:
            self._settle()
            return [d.id for d in self._deployments.values() if extension_id in d.extension_ids()]

    # -- deployments ------------------------------------------------------

    def create_deployment(
        self,
        *,
        name: str,
        bundles: Iterable[str] = (),
        plugins: Iterable[str] = (),
        version: str,
        healthy: bool = True,
        plan_duration: float | None = None,
    ) -> DeploymentState:
        """A deployment whose current plan uses these extensions; LookupError if one is unknown."""
        if plan_duration is not None:
            plan_duration = _check_duration(plan_duration)
        with self._lock:
            entries: dict[str, list[dict[str, str]]] = {"bundles": [], "plugins": []}
            for kind, ids in (("bundles", bundles), ("plugins", plugins)):
                for extension_id in ids:
                    extension = self._extensions.get(extension_id)
                    if extension is None:
                        raise LookupError(f"no extension {extension_id}")
                    entries[kind].append(
                        {
                            "name": extension.name,
                            "url": f"repo://{extension.id}",
                            "elasticsearch_version": extension.version,
                        }
                    )
            now = utc_now()
            attempt = PlanAttempt(
                attempt_id=str(uuid.uuid4()),
                number=0,
                action=CREATE_ACTION,
                plan=initial_plan(version, entries["bundles"], entries["plugins"]),
                started=now,
                began=time.monotonic(),
                due=time.monotonic(),
                ends=now,
                outcome="success",
            )
            deployment = DeploymentState(
                id=self._new_deployment_id(),
                name=name,
                cluster_id=secrets.token_hex(16),
                created=now,
                modified=now,
                current=attempt,
                healthy=healthy,
                plan_duration=plan_duration,
                history=[attempt],
            )
            self._deployments[deployment.id] = deployment
            return copy.deepcopy(deployment)

    def get_deployment(self, deployment_id: str) -> DeploymentState | None:
        with self._lock:
            self._settle()
            deployment = self._deployments.get(deployment_id)
            return None if deployment is None else copy.deepcopy(deployment)

    def list_deployments(self) -> list[DeploymentState]:
        with self._lock:
            self._settle()
            return [copy.deepcopy(d) for d in self._deployments.values()]

    def update_deployment(
        self, deployment_id: str, body: Mapping[str, Any], *, validate_only: bool
    ) -> UpdateResult | None:
        """Check (and unless ``validate_only``, apply) a ``DeploymentUpdateRequest``.

        None when there is no such deployment; PlanRefused when the request
        cannot be carried out. Only the Elasticsearch resource is emulated.
        """
        with self._lock:
            self._settle()
            deployment = self._deployments.get(deployment_id)
            if deployment is None:
                return None
            resources = body.get("resources") or {}
            others = sorted(k for k, v in resources.items() if k != "elasticsearch" and v)
            if others:
                message = f"The emulator has no {', '.join(others)} resources to update"
                raise PlanRefused(replies.INVALID_PLAN, message)
            payloads = resources.get("elasticsearch") or []
            if len(payloads) > 1:
                message = "A deployment has one Elasticsearch resource"
                raise PlanRefused(replies.INVALID_PLAN, message)
            plan: dict[str, Any] | None = None
            if payloads:
                payload = payloads[0]
                if payload["ref_id"] != deployment.ref_id:
                    message = f"The deployment has no Elasticsearch resource [{payload['ref_id']}]"
                    raise PlanRefused(replies.INVALID_PLAN, message)
                if payload["region"] != deployment.region:
                    message = f"The Elasticsearch resource is in region [{deployment.region}]"
                    raise PlanRefused(replies.INVALID_PLAN, message)
                plan = copy.deepcopy(payload["plan"])
                unknown = sorted(extension_ids(plan) - set(self._extensions))
                if unknown:
                    message = f"The plan uses unknown extensions {unknown}"
                    raise PlanRefused(replies.INVALID_PLAN, message)
            if plan is not None and deployment.pending is not None and not validate_only:
                message = (
                    f"The Elasticsearch resource [{deployment.ref_id}] already has a pending "
                    "plan: wait for it to end before applying another"
                )
                raise PlanRefused(replies.PLAN_IN_PROGRESS, message)
            now = utc_now()
            self._deployment_updates.append(
                DeploymentUpdateRecord(deployment_id, validate_only, copy.deepcopy(dict(body)), now)
            )
            if not validate_only:
                if isinstance(body.get("name"), str):
                    deployment.name = body["name"]
                if plan is not None:
                    duration = deployment.plan_duration
                    if duration is None:
                        duration = self._plan_duration
                    deployment.start_plan(
                        copy.deepcopy(plan), duration=duration, now=time.monotonic(), at=now
                    )
                    deployment.settle(time.monotonic())
            return UpdateResult(copy.deepcopy(deployment), plan)

    def fail_next_plan(self, deployment_id: str, failure: PlanFailure) -> bool:
        """The deployment's pending plan, or else its next one, ends failed; False if unknown."""
        with self._lock:
            self._settle()
            deployment = self._deployments.get(deployment_id)
            if deployment is None:
                return False
            deployment.fail_next_plan(failure)
            return True

    def set_plan_duration(self, seconds: float, deployment_id: str | None = None) -> bool:
        """How long plans run: every deployment's default, or one deployment's own.

        A plan pending meanwhile is rescheduled: it lasts ``seconds`` from its start.
        """
        seconds = _check_duration(seconds)
        with self._lock:
            if deployment_id is None:
                self._plan_duration = seconds
                affected = [d for d in self._deployments.values() if d.plan_duration is None]
            else:
                deployment = self._deployments.get(deployment_id)
                if deployment is None:
                    return False
                deployment.plan_duration = seconds
                affected = [deployment]
            for deployment in affected:
                if deployment.pending is not None:
                    deployment.pending.reschedule(seconds)
            self._settle()
            return True

    def set_deployment_health(self, deployment_id: str, healthy: bool) -> bool:
        with self._lock:
            deployment = self._deployments.get(deployment_id)
            if deployment is None:
                return False
            deployment.healthy = healthy
            return True

    def deployment_plans(self, deployment_id: str | None = None) -> list[PlanRecord]:
        """Plan attempts (creation, applied updates), oldest first; pending ones included."""
        with self._lock:
            self._settle()
            return [
                record
                for d in self._deployments.values()
                if deployment_id in (None, d.id)
                for record in d.plan_records()
            ]

    def deployment_updates(self, deployment_id: str | None = None) -> list[DeploymentUpdateRecord]:
        with self._lock:
            return [u for u in self._deployment_updates if deployment_id in (None, u.deployment_id)]

    # -- logs -------------------------------------------------------------

    def record_request(self, record: RequestRecord) -> None:
        with self._lock:
            self._requests.append(record)

    def add_violations(self, violations: Iterable[str]) -> None:
        with self._lock:
            self._violations.extend(violations)

    def requests(self) -> list[RequestRecord]:
        with self._lock:
            return [
                replace(r, query=dict(r.query), headers=dict(r.headers)) for r in self._requests
            ]

    def violations(self) -> list[str]:
        with self._lock:
            return list(self._violations)

    def uploads(self, extension_id: str | None = None) -> list[UploadRecord]:
        with self._lock:
            return [u for u in self._uploads if extension_id in (None, u.extension_id)]

    def reset(self) -> None:
        """Forget extensions, files, deployments, logs and faults.

        Credentials and the default plan duration stay.
        """
        with self._lock:
            files = [e.file for e in self._extensions.values() if e.file is not None]
            self._extensions.clear()
            self._deployments.clear()
            self._deployment_updates.clear()
            self._uploads.clear()
            self._requests.clear()
            self._violations.clear()
        self.faults.clear()
        for stored in files:
            stored.path.unlink(missing_ok=True)

    # -- helpers (lock held) ----------------------------------------------

    def _settle(self) -> None:
        now = time.monotonic()
        for deployment in self._deployments.values():
            deployment.settle(now)

    def _new_deployment_id(self) -> str:
        while True:
            candidate = secrets.token_hex(16)
            if candidate not in self._deployments:
                return candidate

    def _new_id(self) -> str:
        while True:
            candidate = str(_ID_LOW + secrets.randbelow(_ID_SPAN))
            if candidate not in self._extensions:
                return candidate

    def _store(self, extension_id: str, file: SpooledFile, moment: dt.datetime) -> StoredFile:
        target = self.files_dir / f"{extension_id}-{secrets.token_hex(6)}.zip"
        file.path.replace(target)
        return StoredFile(target, file.size, file.sha256, moment, secrets.token_urlsafe(16))


def _after(previous: dt.datetime) -> dt.datetime:
    """Now, or a millisecond after ``previous`` if the clock has not moved past it."""
    now = utc_now()
    return now if now > previous else previous + _TICK
