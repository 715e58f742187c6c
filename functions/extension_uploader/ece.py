"""ECE extension API client: pre-flight, streaming upload, retries, error mapping.

What it does that Elastic's own clients do not: a pre-flight GET so a wrong id
never costs an upload, a streamed body with a real Content-Length (memory does
not grow with the file), retries with backoff and jitter that honour
``Retry-After`` and never run past the Lambda's remaining time, one forced secret
refresh on a 401 (key rotation), CA bundles for self-signed ECE, and a check that
ECE stored as many bytes as were sent.
"""

from __future__ import annotations

import os
import random
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Literal, Protocol
from urllib.parse import quote

from extension_uploader import reasons
from extension_uploader.credentials import Credentials
from extension_uploader.deadline import Deadline
from extension_uploader.ece_errors import EceError, error_from_reply, network_errors

if TYPE_CHECKING:
    import requests

# requests (with urllib3 and http.client) is imported with the first EceClient, not
# with this module: the handler's import stays close to boto3's own. The multipart
# body, the PEM file of a secret's CAs and HTTP-date parsing are imported when first
# needed.

API_PREFIX = "/api/v1/deployments/extensions"
CONNECT_TIMEOUT_SECONDS = 10.0
MAX_ATTEMPTS = 5
BACKOFF_BASE_SECONDS = 1.0
BACKOFF_CAP_SECONDS = 20.0
MAX_RETRY_AFTER_SECONDS = 120.0
# Below this, another attempt cannot finish anything useful.
MIN_ATTEMPT_SECONDS = 2.0
RETRY_STATUSES = frozenset({429, 502, 503, 504})
PERMANENT_FAILURE_STATUSES = frozenset({401, 403, 404, 413})
MULTIPART_FIELD = "file"
UPLOAD_FILENAME = "extension.zip"
ZIP_CONTENT_TYPE = "application/zip"
# The file goes to the socket in pieces this large; the deadline is checked before each.
UPLOAD_READ_BYTES = 1024 * 1024

# Real ids are server-generated strings such as "2536123203"; the spec gives no
# pattern. Allow what an id can plausibly be, and nothing that changes a URL path.
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")


def is_safe_extension_id(value: str) -> bool:
    return bool(_SAFE_ID.fullmatch(value)) and ".." not in value


class CredentialSource(Protocol):
    def get(self, *, refresh: bool = False) -> Credentials: ...


ExtensionType = Literal["plugin", "bundle"]


@dataclass(frozen=True)
class Extension:
    id: str
    name: str
    extension_type: ExtensionType | None  # None for a type this client does not know
    version: str
    file_size: int | None
    file_last_modified: str | None = None  # file_metadata.last_modified_date, as ECE wrote it
    deployments: tuple[str, ...] = ()  # the deployments using it (asked with include_deployments)

    @classmethod
    def from_json(cls, document: object) -> Extension:
        if not isinstance(document, dict):
            raise EceError(reasons.ECE_BAD_REPLY, server_message="reply is not a JSON object")
        try:
            metadata = document.get("file_metadata") or {}
            size = metadata.get("size")
            modified = metadata.get("last_modified_date")
            deployments = document.get("deployments") or []
            kind = document["extension_type"]
            return cls(
                id=str(document["id"]),
                name=str(document["name"]),
                extension_type=kind if kind in ("plugin", "bundle") else None,
                version=str(document["version"]),
                file_size=size if isinstance(size, int) else None,
                file_last_modified=modified if isinstance(modified, str) else None,
                deployments=tuple(str(d) for d in deployments if isinstance(d, str | int)),
            )
        except (KeyError, AttributeError):
            raise EceError(
                reasons.ECE_BAD_REPLY, server_message="reply is not an Extension"
            ) from None


class EceClient:
    """One per warm container: the session keeps connections alive between objects."""

    def __init__(
        self,
        base_url: str,
        credentials: CredentialSource,
        *,
        timeout_seconds: float = 60.0,
        tls_verify: bool = True,
        ca_bundle: str | None = None,
        upload_mode: Literal["multipart", "raw"] = "multipart",
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        backoff_base_seconds: float = BACKOFF_BASE_SECONDS,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._credentials = credentials
        self._timeout = timeout_seconds
        self._tls_verify = tls_verify
        self._ca_bundle = ca_bundle
        self._upload_mode = upload_mode
        if session is None:
            import requests

            session = requests.Session()
        self._session = session
        self._session.trust_env = False  # a proxy from the environment must not see the key
        if not tls_verify:  # warned once per cold start by the caller, not once per request
            import urllib3

            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        self._sleep = sleep
        self._backoff_base = backoff_base_seconds

    def get_extension(self, extension_id: str, deadline: Deadline) -> Extension:
        """Pre-flight: does the extension exist, what type and version is it, who uses it?"""
        reply = self._call(
            "GET", extension_id, deadline, body=None, query="include_deployments=true"
        )
        return Extension.from_json(_json(reply))

    def upload(
        self,
        extension_id: str,
        path: Path,
        deadline: Deadline,
        before_attempt: Callable[[], None] | None = None,
    ) -> Extension:
        """Stream ``path`` to ECE; the body is replayed from the file on each retry.

        ``before_attempt`` runs before every PUT, retries included, and may raise
        to withdraw the upload (the caller's "is this still the newest?").
        """
        size = path.stat().st_size
        reply = self._call(
            "PUT",
            extension_id,
            deadline,
            body=lambda: self._body(path, deadline),
            before_attempt=before_attempt,
        )
        extension = Extension.from_json(_json(reply))
        if extension.file_size is not None and extension.file_size != size:
            raise EceError(
                reasons.ECE_SIZE_MISMATCH,
                status=reply.status_code,
                server_message=f"ECE stored {extension.file_size} bytes of {size} sent",
            )
        return extension

    @contextmanager
    def _body(self, path: Path, deadline: Deadline) -> Iterator[tuple[Any, dict[str, str]]]:
        """A fresh body per attempt, streamed from the file with a real Content-Length."""
        from extension_uploader.multipart import StreamingBody, multipart_file

        with path.open("rb", buffering=0) as opened:
            size = os.fstat(opened.fileno()).st_size
            stream = _DeadlineFile(opened, deadline)
            if self._upload_mode == "raw":
                body = StreamingBody(stream, size, read_bytes=UPLOAD_READ_BYTES)
                yield body, {"Content-Type": ZIP_CONTENT_TYPE}
            else:
                body, content_type = multipart_file(
                    stream,
                    size,
                    field=MULTIPART_FIELD,
                    filename=UPLOAD_FILENAME,
                    content_type=ZIP_CONTENT_TYPE,
                    read_bytes=UPLOAD_READ_BYTES,
                )
                yield body, {"Content-Type": content_type}

    def _call(
        self,
        method: str,
        extension_id: str,
        deadline: Deadline,
        body: Callable[[], Any] | None,
        *,
        before_attempt: Callable[[], None] | None = None,
        query: str = "",
    ) -> requests.Response:
        if not is_safe_extension_id(extension_id):
            raise EceError(reasons.TAG_INVALID_EXTENSION_ID, refused_file=True)
        url = f"{self._base_url}{API_PREFIX}/{quote(extension_id, safe='')}"
        if query:
            url += f"?{query}"
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            credentials = self._credentials.get(refresh=refreshed)
            if before_attempt is not None:
                before_attempt()
            try:
                return self._send(method, url, credentials, deadline, body)
            except EceError as error:
                if error.status == 401 and not refreshed:
                    refreshed = True  # the key may have been rotated: read it again, once
                    continue
                if not _retryable(error) or attempt >= MAX_ATTEMPTS:
                    raise
                delay = backoff_seconds(attempt, error.retry_after, self._backoff_base)
                if not deadline.allows(delay + MIN_ATTEMPT_SECONDS):
                    raise EceError(
                        reasons.LAMBDA_OUT_OF_TIME,
                        status=error.status,
                        transient=True,
                        server_message=f"gave up after {attempt} attempts: {error.reason}",
                    ) from error
                self._sleep(delay)

    def _send(
        self,
        method: str,
        url: str,
        credentials: Credentials,
        deadline: Deadline,
        body: Callable[[], Any] | None,
    ) -> requests.Response:
        remaining = deadline.remaining()
        if remaining < MIN_ATTEMPT_SECONDS:
            raise EceError(reasons.LAMBDA_OUT_OF_TIME, transient=True)
        timeout = (min(CONNECT_TIMEOUT_SECONDS, remaining), min(self._timeout, remaining))
        headers = {"Authorization": credentials.authorization, "Accept": "application/json"}
        with network_errors(), _out_of_time():
            if body is None:
                reply = self._session.request(
                    method, url, headers=headers, timeout=timeout, verify=self._verify(credentials)
                )
            else:
                with body() as (data, content_headers):
                    reply = self._session.request(
                        method,
                        url,
                        headers=headers | content_headers,
                        data=data,
                        timeout=timeout,
                        verify=self._verify(credentials),
                    )
        if reply.status_code in (200, 201):
            return reply
        raise error_from_reply(reply)

    def _verify(self, credentials: Credentials) -> bool | str:
        if not self._tls_verify:
            return False
        if credentials.ca_bundle_pem:
            return pem_file(credentials.ca_bundle_pem, self._ca_bundle)
        return self._ca_bundle or True


def _retryable(error: EceError) -> bool:
    if error.status is None:
        return error.reason in (reasons.ECE_TIMEOUT, reasons.ECE_UNREACHABLE)
    return error.status in RETRY_STATUSES


def backoff_seconds(attempt: int, retry_after: float | None, base: float) -> float:
    """How long to wait before attempt ``attempt + 1``: ECE's Retry-After (capped), or
    "full jitter" up to ``base * 2**attempt`` (capped)."""
    if retry_after is not None:
        return min(retry_after, MAX_RETRY_AFTER_SECONDS)
    # "full jitter": spreads the retries of many containers hitting one ECE
    return random.uniform(0, min(BACKOFF_CAP_SECONDS, base * 2**attempt))  # noqa: S311


def _json(reply: requests.Response) -> object:
    try:
        return reply.json()
    except ValueError:
        raise EceError(reasons.ECE_BAD_REPLY, status=reply.status_code, transient=True) from None


class _SendingOutOfTime(Exception):
    """Raised from inside the body's read() to abort a send that would outlive the deadline."""


class _DeadlineFile:
    """The file being sent, read only while the deadline allows.

    Sending has no timeout of its own (the read timeout bounds only the waits for
    the server), so a slow upload of a big file could otherwise run past the end
    of the invocation, leaving the object without its outcome tags.
    """

    def __init__(self, stream: BinaryIO, deadline: Deadline) -> None:
        self._stream = stream
        self._deadline = deadline

    def read(self, size: int = -1, /) -> bytes:
        if self._deadline.remaining() <= 0:
            raise _SendingOutOfTime
        return self._stream.read(size)


@contextmanager
def _out_of_time() -> Iterator[None]:
    try:
        yield
    except _SendingOutOfTime:
        raise EceError(
            reasons.LAMBDA_OUT_OF_TIME,
            transient=True,
            server_message="upload stopped at the deadline",
        ) from None


_pem_files: dict[tuple[str, str | None], str] = {}


def pem_file(pem: str, extra_bundle: str | None) -> str:
    """requests wants a path: write the secret's CAs (plus ECE_CA_BUNDLE) once per container."""
    key = (pem, extra_bundle)
    if key not in _pem_files:
        import tempfile

        extra = Path(extra_bundle).read_text() if extra_bundle else ""
        with tempfile.NamedTemporaryFile(
            "w", prefix="ece-ca-", suffix=".pem", delete=False
        ) as handle:
            handle.write(pem.strip() + "\n" + extra)
        _pem_files[key] = handle.name
    return _pem_files[key]
