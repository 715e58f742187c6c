"""The emulator as a Python object: start, script, inspect, stop."""

from __future__ import annotations

import ipaddress
import shutil
import tempfile
import threading
import weakref
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from .app import EmulatorApp
from .deployments import (
    DEFAULT_ELASTICSEARCH_VERSION,
    DEFAULT_FAILURE_MESSAGE,
    DEFAULT_FAILURE_TYPE,
    DEFAULT_PLAN_DURATION_SECONDS,
    FULL_VIEW,
    DeploymentUpdateRecord,
    PlanFailure,
    PlanRecord,
)
from .faults import Fault, ScriptedFault
from .models import EXTENSION_TYPES, RequestRecord, UploadRecord
from .spec import ApiSpec, default_spec
from .state import EmulatorState
from .tls import TlsMaterial, create_tls_material
from .transport import EmulatorServer

STOP_WAIT_SECONDS = 5.0

# How often the accept loop looks for a stop request (stop() waits up to this).
_POLL_SECONDS = 0.01


def _url_host(host: str) -> str:
    """The host to put in URLs: loopback for a wildcard bind, IPv6 in brackets."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if address.is_unspecified:
        address = ipaddress.ip_address("::1" if address.version == 6 else "127.0.0.1")
    return f"[{address}]" if address.version == 6 else str(address)


class EceEmulator:
    """A real HTTP(S) server that behaves like ECE's extensions API.

    See the package docstring for the whole interface.
    """

    def __init__(
        self,
        *,
        api_keys: Iterable[str] = (),
        basic_users: Mapping[str, str] | None = None,
        tls: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
        storage_dir: str | Path | None = None,
        require_zip: bool = True,
        spec: ApiSpec | None = None,
        plan_duration: float = DEFAULT_PLAN_DURATION_SECONDS,
    ) -> None:
        self._host = host
        self._port = port
        self._tls = tls
        self._cleanup: Callable[[], object] | None = None
        if storage_dir is None:
            self.storage_dir = Path(tempfile.mkdtemp(prefix="ece-emulator-"))
            self._cleanup = weakref.finalize(self, shutil.rmtree, self.storage_dir, True)
        else:
            self.storage_dir = Path(storage_dir)
        files_dir = self.storage_dir / "files"
        files_dir.mkdir(parents=True, exist_ok=True)
        self.spec = spec or default_spec()
        self._state = EmulatorState(files_dir, api_keys=api_keys, basic_users=basic_users)
        self._state.set_plan_duration(plan_duration)
        self._stopping = threading.Event()
        self._app = EmulatorApp(
            self._state, self.spec, stopping=self._stopping, require_zip=require_zip
        )
        self._tls_material: TlsMaterial | None = None
        self._server: EmulatorServer | None = None
        self._thread: threading.Thread | None = None
        self._url: str | None = None

    # -- lifecycle ----------------------------------------------------------

    def start(self) -> Self:
        if self._server is not None or self._stopping.is_set():
            raise RuntimeError("an emulator starts once")
        context = None
        if self._tls:
            self._tls_material = create_tls_material(self.storage_dir / "tls", [self._host])
            context = self._tls_material.context
        self._server = EmulatorServer((self._host, self._port), self._app.handle, context)
        port = self._server.server_address[1]
        scheme = "https" if self._tls else "http"
        self._url = f"{scheme}://{_url_host(self._host)}:{port}"
        self._app.base_url = self._url
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": _POLL_SECONDS},
            name=f"ece-emulator-{port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; open connections (held ones included) are cut."""
        self._stopping.set()
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.close_connections()
            server.server_close()
            server.wait_idle(STOP_WAIT_SECONDS)
        if self._thread is not None:
            self._thread.join(STOP_WAIT_SECONDS)
        if self._cleanup is not None:
            self._cleanup()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (no ``/api/v1``)."""
        if self._url is None:
            raise RuntimeError("the emulator is not started")
        return self._url

    @property
    def api_url(self) -> str:
        return self.url + self.spec.base_path

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    @property
    def ca_bundle_path(self) -> Path | None:
        """The CA certificate to trust (PEM file); None without TLS."""
        return None if self._tls_material is None else self._tls_material.ca_path

    @property
    def ca_pem(self) -> str | None:
        return None if self._tls_material is None else self._tls_material.ca_pem

    @property
    def certificate_pem(self) -> str | None:
        """The server's certificate (PEM), signed by the CA of ``ca_bundle_path``."""
        return None if self._tls_material is None else self._tls_material.certificate_pem

    # -- extensions ---------------------------------------------------------

    def create_extension(
        self,
        name: str,
        extension_type: str = "plugin",
        version: str = "8.15.0",
        description: str | None = None,
    ) -> dict[str, Any]:
        """Create an extension directly (no request recorded); its ``Extension`` JSON."""
        if extension_type not in EXTENSION_TYPES:
            raise ValueError(f"extension_type must be one of {EXTENSION_TYPES}")
        extension = self._state.create_extension(
            name=name, extension_type=extension_type, version=version, description=description
        )
        return extension.to_json(self._app.base_url)

    def get_extension(self, extension_id: str) -> dict[str, Any] | None:
        extension = self._state.get_extension(extension_id)
        return None if extension is None else extension.to_json(self._app.base_url)

    def list_extensions(self) -> list[dict[str, Any]]:
        return [e.to_json(self._app.base_url) for e in self._state.list_extensions()]

    # -- deployments --------------------------------------------------------

    def create_deployment(
        self,
        name: str,
        *,
        bundles: Iterable[str] = (),
        plugins: Iterable[str] = (),
        healthy: bool = True,
        version: str = DEFAULT_ELASTICSEARCH_VERSION,
        plan_duration: float | None = None,
    ) -> dict[str, Any]:
        """Create a deployment directly (no request recorded); its ``DeploymentGetResponse``.

        Its Elasticsearch resource's current plan lists the extensions of
        ``bundles`` and ``plugins`` (ids) as ``user_bundles``/``user_plugins`` with
        ``repo://<id>`` URLs; ValueError if one is unknown. ``plan_duration``
        overrides the emulator's for this deployment's plans.
        """
        try:
            deployment = self._state.create_deployment(
                name=name,
                bundles=list(bundles),
                plugins=list(plugins),
                version=version,
                healthy=healthy,
                plan_duration=plan_duration,
            )
        except LookupError as exc:
            raise ValueError(str(exc)) from exc
        return deployment.to_json(FULL_VIEW)

    def get_deployment(self, deployment_id: str) -> dict[str, Any] | None:
        """The ``DeploymentGetResponse`` with every plan, history and logs included."""
        deployment = self._state.get_deployment(deployment_id)
        return None if deployment is None else deployment.to_json(FULL_VIEW)

    def list_deployments(self) -> list[dict[str, Any]]:
        return [d.to_json(FULL_VIEW) for d in self._state.list_deployments()]

    def deployment_plans(self, deployment_id: str | None = None) -> list[PlanRecord]:
        """Plan attempts, oldest first: each deployment's creation, then applied updates."""
        return self._state.deployment_plans(deployment_id)

    def deployment_updates(self, deployment_id: str | None = None) -> list[DeploymentUpdateRecord]:
        """Accepted ``PUT /deployments/{id}`` requests (validate-only ones too), oldest first."""
        return self._state.deployment_updates(deployment_id)

    def fail_next_plan(
        self,
        deployment_id: str,
        message: str | None = None,
        failure_type: str | None = None,
    ) -> None:
        """Make the deployment's pending plan, or else its next one, end failed."""
        failure = PlanFailure(
            message or DEFAULT_FAILURE_MESSAGE, failure_type or DEFAULT_FAILURE_TYPE
        )
        if not self._state.fail_next_plan(deployment_id, failure):
            raise LookupError(f"no deployment {deployment_id}")

    def set_plan_duration(self, seconds: float, deployment_id: str | None = None) -> None:
        """How long plans run (seconds): the emulator's default, or one deployment's."""
        if not self._state.set_plan_duration(seconds, deployment_id):
            raise LookupError(f"no deployment {deployment_id}")

    def set_deployment_health(self, deployment_id: str, healthy: bool) -> None:
        """Mark the deployment's Elasticsearch instances healthy or not."""
        if not self._state.set_deployment_health(deployment_id, healthy):
            raise LookupError(f"no deployment {deployment_id}")

    # -- credentials --------------------------------------------------------

    def set_api_keys(self, keys: Iterable[str]) -> None:
        """Replace the accepted API keys; the old ones stop working at once."""
        self._state.set_api_keys(keys)

    def set_basic_users(self, users: Mapping[str, str]) -> None:
        self._state.set_basic_users(users)

    # -- accounting ---------------------------------------------------------

    def uploads(self, extension_id: str | None = None) -> list[UploadRecord]:
        """Accepted uploads, oldest first (refused ones are only in ``requests``)."""
        return self._state.uploads(extension_id)

    def stored_path(self, extension_id: str) -> Path | None:
        return self._state.stored_path(extension_id)

    def stored_bytes(self, extension_id: str) -> bytes:
        """The bytes of the extension's last upload; LookupError if it has none."""
        opened = self._state.open_file(extension_id)
        if opened is None:
            raise LookupError(f"extension {extension_id} has no stored file")
        stream, _ = opened
        with stream:
            return stream.read()

    @property
    def requests(self) -> list[RequestRecord]:
        """Every request received (admin routes excluded), oldest first."""
        return self._state.requests()

    def find_requests(
        self,
        method: str | None = None,
        *,
        extension_id: str | None = None,
        operation_id: str | None = None,
        deployment_id: str | None = None,
    ) -> list[RequestRecord]:
        return [
            r
            for r in self._state.requests()
            if (method is None or r.method == method.upper())
            and (extension_id is None or r.extension_id == extension_id)
            and (operation_id is None or r.operation_id == operation_id)
            and (deployment_id is None or r.deployment_id == deployment_id)
        ]

    @property
    def spec_violations(self) -> list[str]:
        """How received requests departed from the spec, one sentence each."""
        return self._state.violations()

    # -- faults -------------------------------------------------------------

    def script(
        self,
        fault: Fault,
        *,
        method: str | None = None,
        extension_id: str | None = None,
        times: int | None = 1,
        operation_id: str | None = None,
        deployment_id: str | None = None,
    ) -> None:
        """Queue ``fault`` for the next ``times`` matching API requests (None: all).

        A request matches when it has each of the given ``method``,
        ``operation_id`` (e.g. ``update-deployment``), ``extension_id`` and
        ``deployment_id``.
        """
        self._state.faults.add(
            fault,
            method=method,
            extension_id=extension_id,
            times=times,
            operation_id=operation_id,
            deployment_id=deployment_id,
        )

    def pending_faults(self) -> list[ScriptedFault]:
        return self._state.faults.pending()

    def clear_faults(self) -> None:
        self._state.faults.clear()

    def reset(self) -> None:
        """Forget extensions, files, deployments, logs, violations and faults.

        Credentials and the default plan duration stay.
        """
        self._state.reset()
