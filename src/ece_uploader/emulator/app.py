"""The ECE API the emulator serves: routing, spec checks, faults, authentication, operations.

Order of work for a request under ``/api/v1``: record it; route it (404 or 405
JSON); check it against the spec (problems go to the violation list); apply a
scripted fault if one matches; authenticate (401 ``root.unauthenticated``); run
the operation. Requests under ``/_emulator/`` are the admin routes (no auth, not
recorded) except the file downloads of ``file_metadata.url`` (no auth, recorded).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, cast
from urllib.parse import unquote, urlsplit

import requests
from werkzeug.http import parse_options_header

from . import replies
from .admin import ADMIN_PREFIX, AdminRequest, AdminRoutes
from .body import (
    CHUNK_BYTES,
    MalformedMultipart,
    Spool,
    SpooledFile,
    receive_multipart,
    receive_raw,
    truncate,
)
from .deployments import GetOptions
from .faults import Fault, FaultTarget
from .models import DOWNLOAD_PREFIX, RequestRecord, UploadMode, utc_now
from .spec import ApiSpec, Operation
from .state import KEEP, EmulatorState, PlanRefused
from .transport import Exchange

MAX_JSON_BYTES = 1024 * 1024
DOWNLOAD_TIMEOUT_SECONDS = 10.0
RAW_UPLOAD_TYPE = "application/zip"
DOWNLOAD_OPERATION = "emulator-download"
# CreateExtensionRequest.name: "Only ASCII alphanumeric and [_.-] characters allowed".
NAME_PATTERN = re.compile(r"[A-Za-z0-9_.-]+")

_Handler = Callable[[Exchange, RequestRecord, Operation], None]


@dataclass(frozen=True)
class _Received:
    file: SpooledFile
    mode: UploadMode
    filename: str | None
    content_type: str | None


class EmulatorApp:
    """Answers the requests the transport hands over."""

    def __init__(
        self,
        state: EmulatorState,
        spec: ApiSpec,
        *,
        stopping: threading.Event,
        require_zip: bool = True,
    ) -> None:
        self.state = state
        self.spec = spec
        self.require_zip = require_zip
        self.base_url = ""
        self._stopping = stopping
        self._admin = AdminRoutes(state, lambda: self.base_url)
        self._operations: dict[str, _Handler] = {
            "list-extensions": self._list,
            "create-extension": self._create,
            "get-extension": self._get,
            "update-extension": self._update,
            "upload-extension": self._upload,
            "delete-extension": self._delete,
            "get-deployment": self._get_deployment,
            "update-deployment": self._update_deployment,
        }

    def handle(self, ex: Exchange) -> None:
        if ex.path.startswith(DOWNLOAD_PREFIX + "/"):
            self._download(ex, self._record(ex))
        elif ex.path.startswith(ADMIN_PREFIX) or ex.path == ADMIN_PREFIX.rstrip("/"):
            self._serve_admin(ex)
        else:
            self._api(ex, self._record(ex))

    def _serve_admin(self, ex: Exchange) -> None:
        request = AdminRequest(ex.method, ex.path, ex.query, ex.body.read_limited)
        answer = self._admin.handle(request)
        self.reply(ex, None, answer.status, answer.value, answer.headers)

    # -- pipeline -----------------------------------------------------------

    def _api(self, ex: Exchange, record: RequestRecord) -> None:
        match = self.spec.match(ex.method, ex.path)
        if match is None:
            self._violate(ex, ["no such path in the spec"])
            message = "The requested resource could not be found"
            self.fail(ex, record, 404, replies.RESOURCE_NOT_FOUND, message)
            return
        if match.operation is None:
            allowed = ", ".join(match.allowed_methods)
            self._violate(ex, [f"method not in the spec for this path (allowed: {allowed})"])
            message = f"The method {ex.method} is not allowed on this resource"
            self.fail(
                ex, record, 405, replies.METHOD_NOT_ALLOWED, message, headers={"Allow": allowed}
            )
            return
        operation = match.operation
        record.operation_id = operation.operation_id
        record.extension_id = match.path_params.get("extension_id")
        record.deployment_id = match.path_params.get("deployment_id")
        self._violate(ex, self._request_problems(ex, operation))

        target = FaultTarget(
            ex.method, operation.operation_id, record.extension_id, record.deployment_id
        )
        fault = self.state.faults.take(target)
        if fault is not None:
            record.fault = fault.kind
            if self._apply_fault(ex, record, fault):
                return

        record.auth_scheme, authenticated = self.state.authenticate(ex.header("Authorization"))
        if not authenticated:
            message = "The supplied authentication is invalid"
            self.fail(ex, record, 401, replies.UNAUTHENTICATED, message)
            return
        self._operations[operation.operation_id](ex, record, operation)

    def _request_problems(self, ex: Exchange, operation: Operation) -> list[str]:
        raw_allowed = (RAW_UPLOAD_TYPE,) if operation.operation_id == "upload-extension" else ()
        return [
            *self.spec.check_query(operation, ex.query),
            *self.spec.check_content_type(
                operation,
                ex.header("Content-Type"),
                has_body=ex.body.present,
                also_accepted=raw_allowed,
            ),
            *self.spec.check_accept(operation, ex.header("Accept")),
        ]

    def _apply_fault(self, ex: Exchange, record: RequestRecord, fault: Fault) -> bool:
        """Carry a fault out; False when the request is then to be served normally."""
        if fault.delay and self._stopping.wait(fault.delay):
            ex.reset()
            return True
        if fault.reset_after_bytes is not None:
            ex.body.skip_until(fault.reset_after_bytes)
            record.body_size = ex.body.bytes_read
            ex.reset()
            return True
        if fault.hang:
            ex.body.drain()
            record.body_size = ex.body.bytes_read
            ex.hold(self._stopping)
            return True
        status = fault.answer_status
        if status is None:
            ex.keep_bytes = fault.keep_bytes
            return False
        headers = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
        if fault.html is not None:
            payload = fault.html.encode()
            self._answer(
                ex, record, status, payload, content_type=replies.HTML_TYPE, headers=headers
            )
        else:
            code = fault.error_code_for(record.operation_id)
            self.fail(ex, record, status, code, fault.error_message, headers=headers)
        return True

    # -- operations ---------------------------------------------------------

    def _list(self, ex: Exchange, record: RequestRecord, operation: Operation) -> None:
        extensions = [e.to_json(self.base_url) for e in self.state.list_extensions()]
        self.reply(ex, record, 200, {"extensions": extensions})

    def _create(self, ex: Exchange, record: RequestRecord, operation: Operation) -> None:
        doc = self._json_body(ex, record, operation)
        if doc is None:
            return
        if not NAME_PATTERN.fullmatch(doc["name"]):
            self._violate(ex, ["body name: only ASCII alphanumeric and [_.-] characters allowed"])
        file = None
        download_url = doc.get("download_url")
        if download_url:
            file = self._fetch(download_url)
            if file is None:
                self.fail(
                    ex, record, 400, replies.REQUEST_EXECUTION_FAILED, replies.DOWNLOAD_FAILED
                )
                return
        extension = self.state.create_extension(
            name=doc["name"],
            extension_type=doc["extension_type"],
            version=doc["version"],
            description=doc.get("description"),
            download_url=download_url,
            file=file,
        )
        body = extension.to_json(self.base_url)
        self.reply(ex, record, 201, body, extension.resource_headers())

    def _get(self, ex: Exchange, record: RequestRecord, operation: Operation) -> None:
        extension = self.state.get_extension(cast(str, record.extension_id))
        if extension is None:
            self._not_found(ex, record)
            return
        deployments = None
        if _flag(ex.query, "include_deployments"):
            deployments = self.state.extension_deployments(extension.id)
        body = extension.to_json(self.base_url, deployments=deployments)
        self.reply(ex, record, 200, body, extension.resource_headers())

    def _update(self, ex: Exchange, record: RequestRecord, operation: Operation) -> None:
        doc = self._json_body(ex, record, operation)
        if doc is None:
            return
        extension_id = cast(str, record.extension_id)
        current = self.state.get_extension(extension_id)
        if current is None:
            self._not_found(ex, record)
            return
        file = None
        download_url = doc.get("download_url")
        if download_url and download_url != current.download_url:
            file = self._fetch(download_url)
            if file is None:
                self.fail(
                    ex, record, 400, replies.REQUEST_EXECUTION_FAILED, replies.DOWNLOAD_FAILED
                )
                return
        updated = self.state.update_extension(
            extension_id,
            name=doc["name"],
            extension_type=doc["extension_type"],
            version=doc["version"],
            description=doc.get("description") if "description" in doc else KEEP,
            download_url=download_url if "download_url" in doc else KEEP,
            file=file,
        )
        if updated is None:
            self._not_found(ex, record)
            return
        self.reply(ex, record, 200, updated.to_json(self.base_url), updated.resource_headers())

    def _upload(self, ex: Exchange, record: RequestRecord, operation: Operation) -> None:
        extension_id = cast(str, record.extension_id)
        if self.state.get_extension(extension_id) is None:
            self._not_found(ex, record)
            return
        content_type = ex.header("Content-Type")
        media, options = parse_options_header(content_type)
        received: _Received | None
        if media == "multipart/form-data":
            received = self._receive_multipart(ex, record, operation, options.get("boundary"))
        elif media == RAW_UPLOAD_TYPE:
            file = receive_raw(ex.body, self.state.files_dir)
            received = _Received(file, "raw", None, content_type)
        else:
            self._refuse_file(ex, record, f"unsupported Content-Type {media or 'none'}")
            return
        if received is None:
            return
        if received.file.size == 0:
            received.file.discard()
            self._refuse_file(ex, record, "the file is empty")
            return
        if self.require_zip and not received.file.looks_like_zip:
            received.file.discard()
            self._refuse_file(ex, record, None)
            return
        if ex.keep_bytes is not None:
            received = replace(received, file=truncate(received.file, ex.keep_bytes))
        extension = self.state.commit_upload(
            extension_id,
            received.file,
            mode=received.mode,
            filename=received.filename,
            content_type=received.content_type,
        )
        if extension is None:
            self._not_found(ex, record)
            return
        self.reply(ex, record, 200, extension.to_json(self.base_url), extension.resource_headers())

    def _delete(self, ex: Exchange, record: RequestRecord, operation: Operation) -> None:
        extension = self.state.delete_extension(cast(str, record.extension_id))
        if extension is None:
            self._not_found(ex, record)
            return
        self.reply(ex, record, 200, {}, extension.resource_headers())

    def _get_deployment(self, ex: Exchange, record: RequestRecord, operation: Operation) -> None:
        deployment = self.state.get_deployment(cast(str, record.deployment_id))
        if deployment is None:
            self._deployment_not_found(ex, record)
            return
        body = deployment.to_json(GetOptions.from_query(ex.query))
        self.reply(ex, record, 200, body, deployment.resource_headers())

    def _update_deployment(self, ex: Exchange, record: RequestRecord, operation: Operation) -> None:
        doc = self._json_body(ex, record, operation)
        if doc is None:
            return
        validate_only = _flag(ex.query, "validate_only")
        try:
            result = self.state.update_deployment(
                cast(str, record.deployment_id), doc, validate_only=validate_only
            )
        except PlanRefused as exc:
            self.fail(ex, record, 400, exc.code, str(exc))
            return
        if result is None:
            self._deployment_not_found(ex, record)
            return
        deployment = result.deployment
        body = deployment.update_response(
            validate_only=validate_only,
            prune_orphans=bool(doc.get("prune_orphans")),
            plan=result.plan,
        )
        self.reply(ex, record, 200, body, deployment.resource_headers())

    def _download(self, ex: Exchange, record: RequestRecord) -> None:
        record.operation_id = DOWNLOAD_OPERATION
        parts = ex.path[len(DOWNLOAD_PREFIX) + 1 :].split("/")
        if ex.method not in {"GET", "HEAD"}:
            self.fail(
                ex, record, 405, replies.METHOD_NOT_ALLOWED, "Use GET", headers={"Allow": "GET"}
            )
            return
        opened = None
        if len(parts) == 2:
            record.extension_id = unquote(parts[0])
            opened = self.state.open_file(record.extension_id, parts[1])
        if opened is None:
            message = "No such file (a new upload replaces the link)"
            self.fail(ex, record, 404, replies.RESOURCE_NOT_FOUND, message)
            return
        stream, size = opened
        with stream:
            ex.settle_body()
            record.status = 200
            disposition = {"Content-Disposition": 'attachment; filename="extension.zip"'}
            ex.respond_stream(200, stream, size, content_type=RAW_UPLOAD_TYPE, headers=disposition)

    # -- request bodies ------------------------------------------------------

    def _json_body(
        self, ex: Exchange, record: RequestRecord, operation: Operation
    ) -> dict[str, Any] | None:
        """The validated JSON body, or None after answering 400."""
        raw = ex.body.read_limited(MAX_JSON_BYTES)
        if raw is None:
            self.fail(ex, record, 400, replies.INVALID_JSON, "The request body is too large")
            return None
        try:
            doc = json.loads(raw)
        except ValueError:
            self._violate(ex, ["the body is not valid JSON"])
            message = "JSON request does not comply with schema: the body is not valid JSON"
            self.fail(ex, record, 400, replies.INVALID_JSON, message)
            return None
        problems = self.spec.check_body(operation, doc)
        self._violate(ex, [f"body {problem}" for problem in problems])
        refused = [problem for problem in problems if not problem.undeclared]
        if refused:
            message = "JSON request does not comply with schema: " + "; ".join(map(str, refused))
            fields = sorted({p.field for p in refused if p.field})
            self.fail(ex, record, 400, replies.INVALID_JSON, message, fields=fields)
            return None
        return cast(dict[str, Any], doc)

    def _receive_multipart(
        self, ex: Exchange, record: RequestRecord, operation: Operation, boundary: str | None
    ) -> _Received | None:
        if not boundary:
            self._violate(ex, ["multipart Content-Type without a boundary"])
            self._refuse_file(ex, record, "multipart body without a boundary")
            return None
        try:
            upload = receive_multipart(ex.body, boundary.encode(), self.state.files_dir)
        except MalformedMultipart as exc:
            self._violate(ex, [f"malformed multipart body: {exc}"])
            self._refuse_file(ex, record, "malformed multipart body")
            return None
        record.part_names = upload.part_names
        self._violate(ex, self.spec.check_form_parts(operation, upload.part_names))
        if upload.file is None:
            self._refuse_file(ex, record, "the multipart body has no part named 'file'")
            return None
        return _Received(upload.file, "multipart", upload.filename, upload.content_type)

    def _fetch(self, url: str) -> SpooledFile | None:
        """What ECE does with ``download_url``: fetch the file (None if that fails)."""
        if urlsplit(url).scheme not in {"http", "https"}:
            return None
        spool = Spool(self.state.files_dir)
        try:
            with requests.get(url, stream=True, timeout=DOWNLOAD_TIMEOUT_SECONDS) as response:
                if response.status_code != 200:
                    spool.discard()
                    return None
                for chunk in response.iter_content(CHUNK_BYTES):
                    spool.write(chunk)
        except requests.RequestException:
            spool.discard()
            return None
        except BaseException:
            spool.discard()
            raise
        file = spool.finish()
        if file.size == 0 or (self.require_zip and not file.looks_like_zip):
            file.discard()
            return None
        return file

    # -- answers ------------------------------------------------------------

    def _record(self, ex: Exchange) -> RequestRecord:
        record = RequestRecord(
            method=ex.method,
            path=ex.path,
            query=ex.query,
            headers=ex.loggable_headers(),
            client=ex.client,
            received_at=utc_now(),
            expect_continue=ex.expect_continue,
            content_type=ex.header("Content-Type"),
        )
        self.state.record_request(record)
        return record

    def _violate(self, ex: Exchange, problems: Sequence[str]) -> None:
        if problems:
            self.state.add_violations(f"{ex.method} {ex.path}: {p}" for p in problems)

    def _answer(
        self,
        ex: Exchange,
        record: RequestRecord | None,
        status: int,
        payload: bytes,
        *,
        content_type: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        ex.settle_body()
        if record is not None:
            record.body_size = ex.body.bytes_read
            record.status = status
        ex.respond(status, payload, content_type=content_type, headers=headers)

    def reply(
        self,
        ex: Exchange,
        record: RequestRecord | None,
        status: int,
        value: object,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        payload = replies.json_bytes(value)
        self._answer(ex, record, status, payload, content_type=replies.JSON_TYPE, headers=headers)

    def fail(
        self,
        ex: Exchange,
        record: RequestRecord | None,
        status: int,
        code: str,
        message: str,
        *,
        fields: Sequence[str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        all_headers = {**(headers or {}), replies.ERROR_CODES_HEADER: code}
        self.reply(ex, record, status, replies.failed_reply(code, message, fields), all_headers)

    def _not_found(self, ex: Exchange, record: RequestRecord) -> None:
        message = f"The extension [{record.extension_id}] could not be found"
        self.fail(ex, record, 404, replies.EXTENSION_NOT_FOUND, message)

    def _deployment_not_found(self, ex: Exchange, record: RequestRecord) -> None:
        message = f"The deployment [{record.deployment_id}] could not be found"
        self.fail(ex, record, 404, replies.DEPLOYMENT_NOT_FOUND, message)

    def _refuse_file(self, ex: Exchange, record: RequestRecord, reason: str | None) -> None:
        message = replies.FILE_NOT_ACCEPTED
        if reason:
            message = f"{message[:-1]}: {reason}."
        self.fail(ex, record, 400, replies.REQUEST_EXECUTION_FAILED, message)


def _flag(query: Mapping[str, Sequence[str]], name: str) -> bool:
    """A boolean query parameter (false when absent)."""
    values = query.get(name) or ()
    return bool(values) and values[-1] == "true"
