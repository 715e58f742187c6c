"""An emulator of ECE's extensions and deployments API, faithful to its Swagger 2.0 spec.

A real HTTP(S) server (threaded, HTTP/1.1 keep-alive) for the integration tests,
the local sandbox and the demo::

    with EceEmulator(api_keys={"k1"}, basic_users={"admin": "pw"}) as emu:
        ext = emu.create_extension("my-plugin", "plugin", "8.15.0")
        dep = emu.create_deployment("search", plugins=[ext["id"]])
        ...  # point the client at emu.url (base URL, without /api/v1)
        assert len(emu.uploads(ext["id"])) == 1
        assert [p.outcome for p in emu.deployment_plans(dep["id"])] == ["success"]
        assert emu.spec_violations == []

``EceEmulator(*, api_keys=(), basic_users=None, tls=False, host="127.0.0.1",
port=0, storage_dir=None, require_zip=True, spec=None, plan_duration=0.5)``

- ``start() -> EceEmulator``, ``stop()``, context manager; ``running``
- ``url`` (``http://127.0.0.1:PORT``), ``api_url`` (``url + "/api/v1"``), ``port``
- TLS: ``ca_bundle_path`` (CA PEM file to pass as ``verify=``), ``ca_pem``,
  ``certificate_pem`` (the server's certificate, for 127.0.0.1/::1/localhost)
- ``create_extension(name, extension_type="plugin", version="8.15.0",
  description=None) -> dict``, ``get_extension(id)``, ``list_extensions()``
- ``create_deployment(name, *, bundles=(), plugins=(), healthy=True,
  version="8.15.0", plan_duration=None) -> dict`` (the ``DeploymentGetResponse``;
  ``bundles``/``plugins`` are extension ids, ValueError if one is unknown),
  ``get_deployment(id) -> dict | None``, ``list_deployments()`` (every plan,
  history and attempt log shown)
- ``deployment_plans(deployment_id=None) -> list[PlanRecord]`` (each deployment's
  creation plan, then every applied update; ``outcome`` ``pending``, ``success``
  or ``failed``), ``deployment_updates(deployment_id=None) ->
  list[DeploymentUpdateRecord]`` (accepted ``PUT`` requests with their body,
  ``validate_only`` ones too)
- ``set_plan_duration(seconds, deployment_id=None)`` (all deployments' default, or
  one's), ``fail_next_plan(deployment_id, message=None, failure_type=None)``,
  ``set_deployment_health(deployment_id, healthy)``
- ``set_api_keys(keys)``, ``set_basic_users({user: password})``: take effect at once
- ``uploads(extension_id=None) -> list[UploadRecord]`` (accepted uploads),
  ``stored_bytes(id) -> bytes``, ``stored_path(id) -> Path | None``
- ``requests -> list[RequestRecord]``, ``find_requests(method=None, *,
  extension_id=None, operation_id=None, deployment_id=None)``,
  ``spec_violations -> list[str]``
- ``script(Fault(...), *, method=None, extension_id=None, times=1,
  operation_id=None, deployment_id=None)`` (``times=None``: every matching
  request), ``pending_faults()``, ``clear_faults()``, ``reset()``

Behaviour:

- The spec is the served part of ECE's full API document (see
  :mod:`ece_uploader.emulator.spec_subset`): every
  ``/api/v1/deployments/extensions`` operation, and ``GET``/``PUT``
  ``/api/v1/deployments/{deployment_id}``.
- Extensions: list, create (201, ids like ``2536123203``), get, update, upload
  (PUT), delete. ``GET .../extensions/{id}?include_deployments=true`` lists in
  ``deployments`` the ids of the deployments whose current Elasticsearch plan
  names the extension (``repo://<id>`` in ``user_bundles``/``user_plugins``, at
  plan or topology level). Successes on one extension carry
  ``x-cloud-resource-version``/``-created``/``-last-modified``. Update and delete
  take no ``version`` query parameter (the spec declares none), so their 409 and
  every 401 ``extensions.*`` are reachable only through faults.
- Deployments (one Elasticsearch resource each, ``ref_id``
  ``main-elasticsearch``, region ``ece-region``): ``GET`` answers
  ``DeploymentGetResponse`` and accepts every query parameter the spec lists; it
  honours ``show_plans`` (default true: ``plan_info.current`` and, while a plan
  runs, ``plan_info.pending``), ``show_plan_history``, ``show_plan_logs``
  (``plan_attempt_log`` steps), ``show_metadata`` (``metadata.raw``),
  ``show_settings``, ``show_system_alerts`` and ``clear_transient`` (plans keep
  a ``transient`` section otherwise); unknown ids: 404
  ``deployments.deployment_not_found``. ``PUT`` takes a
  ``DeploymentUpdateRequest`` with at most the Elasticsearch resource:
  ``validate_only=true`` answers ``DeploymentUpdateResponse`` (with
  ``diagnostics``) and changes nothing; otherwise the plan turns pending
  (cluster ``status`` ``reconfiguring``) and ends ``plan_duration`` seconds
  later, becoming current. Refusals are 400: ``clusters.cluster_invalid_plan``
  (a ``ref_id``/``region`` the deployment lacks, other resource kinds, unknown
  ``repo://`` extensions) and ``deployments.deployment_resource_plan_change_error``
  (a plan is already pending; validate-only requests are not refused for that).
  The ``version`` query parameter is accepted, not checked.
- Failed plans (``fail_next_plan``): the pending plan disappears, the current
  plan stays, and the attempt ends in ``plan_info.history`` with ``healthy:
  false``, ``attempt_end_time``, ``plan_end_time``, an ``error``
  (``ClusterPlanAttemptError``) and an ``error`` step in ``plan_attempt_log``;
  ``plan_info.healthy``, the cluster's and the deployment's ``healthy`` turn
  false until a plan succeeds.
- Errors are ``BasicFailedReply`` with ``x-cloud-error-codes``. Unknown paths:
  404 ``root.resource_not_found``; wrong methods: 405 ``root.method_not_allowed``;
  bad JSON or schema: 400 ``root.invalid_json_request`` with ``fields``; missing
  or wrong credentials: 401 ``root.unauthenticated`` (every operation, the same
  ``ApiKey``/basic authentication).
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
- Faults: see :mod:`ece_uploader.emulator.faults` (they can aim at an operation
  id or a deployment id too); admin HTTP routes (no auth): see
  :mod:`ece_uploader.emulator.admin`.
- Standalone: ``python -m ece_uploader.emulator --port 0 --api-key K [--tls]
  [--plan-duration SECONDS]``
  prints its URLs as one JSON line and serves until SIGINT/SIGTERM.
"""

from __future__ import annotations

from collections.abc import Mapping

from .deployments import DeploymentUpdateRecord, PlanRecord
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
    "DeploymentUpdateRecord",
    "EceEmulator",
    "Fault",
    "Operation",
    "PlanRecord",
    "RequestRecord",
    "ScriptedFault",
    "UploadRecord",
    "default_spec",
    "load_spec",
    "validate_response",
]
