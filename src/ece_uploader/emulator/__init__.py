"""An emulator of ECE's extensions API, faithful to its Swagger 2.0 spec.

A real HTTP(S) server (threaded, HTTP/1.1 keep-alive) for the integration tests,
the local sandbox and the demo::

    with EceEmulator(api_keys={"k1"}, basic_users={"admin": "pw"}) as emu:
        ext = emu.create_extension("my-plugin", "plugin", "8.15.0")
        ...  # point the client at emu.url (base URL, without /api/v1)
        assert len(emu.uploads(ext["id"])) == 1
        assert emu.spec_violations == []

``EceEmulator(*, api_keys=(), basic_users=None, tls=False, host="127.0.0.1",
port=0, storage_dir=None, require_zip=True, spec=None)``

- ``start() -> EceEmulator``, ``stop()``, context manager; ``running``
- ``url`` (``http://127.0.0.1:PORT``), ``api_url`` (``url + "/api/v1"``), ``port``
- TLS: ``ca_bundle_path`` (CA PEM file to pass as ``verify=``), ``ca_pem``,
  ``certificate_pem`` (the server's certificate, for 127.0.0.1/::1/localhost)
- ``create_extension(name, extension_type="plugin", version="8.15.0",
  description=None) -> dict``, ``get_extension(id)``, ``list_extensions()``
- ``set_api_keys(keys)``, ``set_basic_users({user: password})``: take effect at once
- ``uploads(extension_id=None) -> list[UploadRecord]`` (accepted uploads),
  ``stored_bytes(id) -> bytes``, ``stored_path(id) -> Path | None``
- ``requests -> list[RequestRecord]``, ``find_requests(method=None, *,
  extension_id=None, operation_id=None)``, ``spec_violations -> list[str]``
- ``script(Fault(...), *, method=None, extension_id=None, times=1)`` (``times=None``:
  every matching request), ``pending_faults()``, ``clear_faults()``, ``reset()``

Behaviour:

- Every ``/api/v1/deployments/extensions`` operation: list, create (201, ids like
  ``2536123203``), get (``include_deployments``), update, upload (PUT), delete.
  Errors are ``BasicFailedReply`` with ``x-cloud-error-codes``; successes on one
  extension carry ``x-cloud-resource-version``/``-created``/``-last-modified``.
  Unknown paths: 404 ``root.resource_not_found``; wrong methods: 405
  ``root.method_not_allowed``; bad JSON or schema: 400 ``root.invalid_json_request``
  with ``fields``; missing or wrong credentials: 401 ``root.unauthenticated``.
  Update and delete take no ``version`` query parameter (the spec declares none),
  so their 409 and every 401 ``extensions.*`` are reachable only through faults.
- Authentication: ``Authorization: ApiKey <key>`` or HTTP basic.
- Upload: ``multipart/form-data`` with a part ``file``, or a raw
  ``application/zip`` body; Content-Length or chunked; streamed to disk. Empty,
  non-zip (``require_zip``) or ``file``-less uploads: 400
  ``extensions.request_execution_failed``. ``file_metadata.url`` is an absolute
  URL under ``/_emulator/files/`` serving the exact bytes (no auth; a new upload
  replaces the link). ``download_url`` on create/update is fetched, as ECE does.
- ``Expect: 100-continue`` is honoured lazily (refusals skip the body).
- Spec checks: each request's path, method, query, content types and bodies are
  checked against the spec; departures go to ``spec_violations``. Raw
  ``application/zip`` uploads are accepted as conformant (the product's
  ``UPLOAD_MODE=raw``). :func:`validate_response` checks a response against the
  spec (used by the conformance tests).
- Faults: see :mod:`ece_uploader.emulator.faults`; admin HTTP routes (no auth):
  see :mod:`ece_uploader.emulator.admin`.
- Standalone: ``python -m ece_uploader.emulator --port 0 --api-key K [--tls]``
  prints its URLs as one JSON line and serves until SIGINT/SIGTERM.
"""

from __future__ import annotations

from collections.abc import Mapping

from .faults import Fault, ScriptedFault
from .models import RequestRecord, UploadRecord
from .server import EceEmulator
from .spec import ApiSpec, Operation, default_spec, load_spec


def validate_response(
    operation_id: str,
    status: int,
    headers: Mapping[str, str],
    body: bytes | str | object,
    *,
    allow_generic_errors: bool = True,
) -> list[str]:
    """Problems of a response to ``operation_id`` against the packaged spec ([] if none).

    ``headers`` is any mapping of header names to values (``requests``'
    case-insensitive ``response.headers`` works).
    """
    return default_spec().validate_response(
        operation_id,
        status,
        dict(headers),
        body,
        allow_generic_errors=allow_generic_errors,
    )


__all__ = [
    "ApiSpec",
    "EceEmulator",
    "Fault",
    "Operation",
    "RequestRecord",
    "ScriptedFault",
    "UploadRecord",
    "default_spec",
    "load_spec",
    "validate_response",
]
