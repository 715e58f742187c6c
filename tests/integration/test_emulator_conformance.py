"""The emulator against the Swagger spec it ships: every documented response, every check.

Each operation's test drives every status the spec documents for it (faults
produce those the emulator cannot reach naturally: ECE's ``no_user_id``,
``unauthorised`` and conflicts) with plain ``requests`` and validates each
response against the spec's schema and headers. Then the request side: what a
conformant client sends leaves ``spec_violations`` empty, and each kind of
non-conformant request is recorded.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from ece_uploader.emulator import EceEmulator, Fault, default_spec, load_spec, validate_response

pytestmark = pytest.mark.integration

API_KEY = "conformance-key"
AUTH = {"Authorization": f"ApiKey {API_KEY}"}
TIMEOUT = 10
EXTENSION_OPERATIONS = {
    "list-extensions",
    "create-extension",
    "get-extension",
    "update-extension",
    "upload-extension",
    "delete-extension",
}
DEPLOYMENT_OPERATIONS = {"get-deployment", "update-deployment"}


def make_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("plugin-descriptor.properties", "name=demo\n")
    return buffer.getvalue()


@pytest.fixture
def emu() -> Iterator[EceEmulator]:
    with EceEmulator(api_keys={API_KEY}) as emulator:
        yield emulator


class Driver:
    """Sends requests and checks each response against the spec."""

    def __init__(self, emu: EceEmulator) -> None:
        self.emu = emu
        self.seen: dict[str, set[int]] = {}

    def url(self, extension_id: str | None = None) -> str:
        base = self.emu.api_url + "/deployments/extensions"
        return base if extension_id is None else f"{base}/{extension_id}"

    def deployment_url(self, deployment_id: str) -> str:
        return f"{self.emu.api_url}/deployments/{deployment_id}"

    def call(
        self, operation_id: str, method: str, url: str, *, auth: bool = True, **kwargs: Any
    ) -> requests.Response:
        headers = {**(AUTH if auth else {}), **kwargs.pop("headers", {})}
        response = requests.request(method, url, headers=headers, timeout=TIMEOUT, **kwargs)
        problems = validate_response(
            operation_id, response.status_code, response.headers, response.content
        )
        assert problems == [], (operation_id, response.status_code, response.text)
        self.seen.setdefault(operation_id, set()).add(response.status_code)
        return response

    def assert_all_documented_statuses_seen(self, operation_id: str) -> None:
        documented = default_spec().operation(operation_id).statuses
        assert documented <= self.seen[operation_id], documented - self.seen[operation_id]


@pytest.fixture
def driver(emu: EceEmulator) -> Driver:
    return Driver(emu)


def test_the_packaged_spec_serves_extensions_and_deployments() -> None:
    spec = load_spec()
    assert spec["basePath"] == "/api/v1"
    assert set(default_spec().operations) == EXTENSION_OPERATIONS | DEPLOYMENT_OPERATIONS


def test_list_extensions_responses(driver: Driver) -> None:
    driver.emu.create_extension("a", "plugin", "8.15.0", description="d")
    listed = driver.call("list-extensions", "GET", driver.url())
    assert len(listed.json()["extensions"]) == 1
    assert driver.call("list-extensions", "GET", driver.url(), auth=False).status_code == 401
    driver.assert_all_documented_statuses_seen("list-extensions")


def test_create_extension_responses(driver: Driver) -> None:
    body = {"name": "icu", "extension_type": "plugin", "version": "8.15.0"}
    source = driver.emu.create_extension("source")
    requests.put(
        driver.url(source["id"]),
        headers=AUTH,
        files={"file": ("Extension", make_zip(), "application/zip")},
        timeout=TIMEOUT,
    )
    source_url = driver.emu.get_extension(source["id"])["file_metadata"]["url"]  # type: ignore[index]

    assert driver.call("create-extension", "POST", driver.url(), json=body).status_code == 201
    fetched = driver.call(
        "create-extension", "POST", driver.url(), json={**body, "download_url": source_url}
    )
    assert fetched.status_code == 201
    assert fetched.json()["file_metadata"]["size"] == len(make_zip())
    unreachable = {**body, "download_url": driver.emu.url + "/_emulator/files/0/none"}
    assert driver.call("create-extension", "POST", driver.url(), json=unreachable).status_code == (
        400
    )
    for status, code in [(404, "extensions.no_user_id"), (409, "extensions.id_already_exists")]:
        driver.emu.script(Fault(status=status, code=code), method="POST")
        assert driver.call("create-extension", "POST", driver.url(), json=body).status_code == (
            status
        )
    assert driver.call("create-extension", "POST", driver.url(), auth=False).status_code == 401
    driver.assert_all_documented_statuses_seen("create-extension")


def test_get_extension_responses(driver: Driver) -> None:
    extension = driver.emu.create_extension("a")
    url = driver.url(extension["id"])

    assert driver.call("get-extension", "GET", url).status_code == 200
    included = driver.call("get-extension", "GET", url, params={"include_deployments": "true"})
    assert included.json()["deployments"] == []
    assert driver.call("get-extension", "GET", driver.url("42")).status_code == 404
    assert driver.call("get-extension", "GET", url, auth=False).status_code == 401
    driver.assert_all_documented_statuses_seen("get-extension")


def test_update_extension_responses(driver: Driver) -> None:
    extension = driver.emu.create_extension("a")
    url = driver.url(extension["id"])
    body = {"name": "b", "extension_type": "bundle", "version": "8.*", "description": "new"}

    assert driver.call("update-extension", "POST", url, json=body).status_code == 200
    assert driver.call("update-extension", "POST", driver.url("42"), json=body).status_code == 404
    bad_download = {**body, "download_url": "ftp://example.invalid/x.zip"}
    assert driver.call("update-extension", "POST", url, json=bad_download).status_code == 400
    assert driver.call("update-extension", "POST", url, json={"name": "b"}).status_code == 400
    for status, code in [
        (401, "extensions.unauthorised"),
        (401, "extensions.no_user_id"),
        (409, "extensions.version_conflict"),
    ]:
        driver.emu.script(Fault(status=status, code=code), method="POST")
        assert driver.call("update-extension", "POST", url, json=body).status_code == status
    assert driver.call("update-extension", "POST", url, json=body, auth=False).status_code == 401
    driver.assert_all_documented_statuses_seen("update-extension")


def test_upload_extension_responses(driver: Driver) -> None:
    extension = driver.emu.create_extension("a")
    url = driver.url(extension["id"])
    files = {"file": ("Extension", make_zip(), "application/zip")}

    assert driver.call("upload-extension", "PUT", url, files=files).status_code == 200
    raw = {"Content-Type": "application/zip"}
    assert driver.call(
        "upload-extension", "PUT", url, data=make_zip(), headers=raw
    ).status_code == (200)
    not_zip = {"file": ("Extension", b"text", "text/plain")}
    assert driver.call("upload-extension", "PUT", url, files=not_zip).status_code == 400
    assert driver.call("upload-extension", "PUT", driver.url("42"), files=files).status_code == 404
    driver.emu.script(Fault(status=401, code="extensions.unauthorised"), method="PUT")
    assert driver.call("upload-extension", "PUT", url, files=files).status_code == 401
    assert driver.call("upload-extension", "PUT", url, files=files, auth=False).status_code == 401
    driver.assert_all_documented_statuses_seen("upload-extension")


def test_delete_extension_responses(driver: Driver) -> None:
    extension = driver.emu.create_extension("a")
    url = driver.url(extension["id"])

    driver.emu.script(Fault(status=409, code="extensions.version_conflict"), method="DELETE")
    assert driver.call("delete-extension", "DELETE", url).status_code == 409
    driver.emu.script(Fault(status=401, code="extensions.unauthorised"), method="DELETE")
    assert driver.call("delete-extension", "DELETE", url).status_code == 401
    assert driver.call("delete-extension", "DELETE", url).status_code == 200
    assert driver.call("delete-extension", "DELETE", url).status_code == 404
    driver.assert_all_documented_statuses_seen("delete-extension")


def deployment_with_plan(driver: Driver, **options: Any) -> tuple[str, dict[str, Any]]:
    """A deployment using an extension, and an update request re-applying its plan."""
    plugin = driver.emu.create_extension("analysis-demo", "plugin", "8.15.0")
    deployment = driver.emu.create_deployment("search", plugins=[plugin["id"]], **options)
    url = driver.deployment_url(deployment["id"])
    got = driver.call("get-deployment", "GET", url, params={"clear_transient": "true"})
    resource = got.json()["resources"]["elasticsearch"][0]
    payload = {
        "ref_id": resource["ref_id"],
        "region": resource["region"],
        "plan": resource["info"]["plan_info"]["current"]["plan"],
    }
    return deployment["id"], {"prune_orphans": False, "resources": {"elasticsearch": [payload]}}


def test_get_deployment_responses(driver: Driver) -> None:
    deployment_id, body = deployment_with_plan(driver, plan_duration=60)
    url = driver.deployment_url(deployment_id)
    every_flag = {
        "show_security": "true",
        "show_metadata": "true",
        "show_plans": "true",
        "show_plan_logs": "true",
        "show_plan_history": "true",
        "show_plan_defaults": "true",
        "convert_legacy_plans": "true",
        "show_system_alerts": "5",
        "show_settings": "true",
        "show_instance_configurations": "false",
        "enrich_with_template": "false",
        "force_all_plan_history": "true",
        "clear_transient": "true",
    }

    assert driver.call("get-deployment", "GET", url).status_code == 200
    assert driver.call("get-deployment", "GET", url, params=every_flag).status_code == 200
    assert driver.call("get-deployment", "GET", url, params={"show_plans": "false"}).ok
    assert driver.call("update-deployment", "PUT", url, json=body).status_code == 200
    pending = driver.call("get-deployment", "GET", url, params=every_flag)
    assert "pending" in pending.json()["resources"]["elasticsearch"][0]["info"]["plan_info"]
    driver.emu.fail_next_plan(deployment_id)
    driver.emu.set_plan_duration(0, deployment_id)
    failed = driver.call("get-deployment", "GET", url, params=every_flag)
    assert failed.json()["healthy"] is False
    assert driver.call("get-deployment", "GET", driver.deployment_url("f00")).status_code == 404
    assert driver.call("get-deployment", "GET", url, auth=False).status_code == 401
    driver.assert_all_documented_statuses_seen("get-deployment")
    assert driver.emu.spec_violations == []


def test_update_deployment_responses(driver: Driver) -> None:
    deployment_id, body = deployment_with_plan(driver, plan_duration=60)
    url = driver.deployment_url(deployment_id)
    validate = {"validate_only": "true"}

    assert driver.call("update-deployment", "PUT", url, json=body, params=validate).ok
    pruning = {**body, "prune_orphans": True}
    assert driver.call("update-deployment", "PUT", url, json=pruning, params=validate).ok
    assert driver.call("update-deployment", "PUT", url, json=body).status_code == 200
    assert driver.call("update-deployment", "PUT", url, json=body).status_code == 400
    assert driver.call("update-deployment", "PUT", url, json={"resources": {}}).status_code == 400
    missing = driver.deployment_url("f00")
    assert driver.call("update-deployment", "PUT", missing, json=body).status_code == 404
    assert driver.call("update-deployment", "PUT", url, json=body, auth=False).status_code == 401
    driver.emu.script(Fault(status=401, code="root.unauthorized"), operation_id="update-deployment")
    assert driver.call("update-deployment", "PUT", url, json=body).status_code == 401
    driver.emu.script(Fault(status=404), method="PUT", deployment_id=deployment_id)
    faulted = driver.call("update-deployment", "PUT", url, json=body)
    assert faulted.headers["x-cloud-error-codes"] == "deployments.deployment_not_found"
    driver.assert_all_documented_statuses_seen("update-deployment")


def test_every_operation_has_a_response_test() -> None:
    tested = {
        name.removeprefix("test_").removesuffix("_responses").replace("_", "-")
        for name in globals()
        if name.endswith("_responses")
    }
    assert tested == EXTENSION_OPERATIONS | DEPLOYMENT_OPERATIONS
    assert tested == set(default_spec().operations)


# -- the response checker itself ----------------------------------------------------------

EXTENSION = {"id": "1", "name": "n", "url": "repo://1", "extension_type": "plugin", "version": "8"}
RESOURCE_HEADERS = {
    "Content-Type": "application/json",
    "x-cloud-resource-version": "1",
    "x-cloud-resource-created": "2026-11-28T09:15:00.123Z",
    "x-cloud-resource-last-modified": "2026-11-28T09:15:00.123Z",
}
NOT_FOUND = {"errors": [{"code": "extensions.not_found", "message": "gone"}]}
ERROR_HEADERS = {"Content-Type": "application/json", "x-cloud-error-codes": "extensions.not_found"}


def test_a_conformant_response_passes() -> None:
    assert validate_response("get-extension", 200, RESOURCE_HEADERS, EXTENSION) == []
    assert validate_response("get-extension", 404, ERROR_HEADERS, NOT_FOUND) == []


@pytest.mark.parametrize(
    ("operation_id", "status", "headers", "body", "problem"),
    [
        pytest.param(
            "get-extension",
            200,
            RESOURCE_HEADERS,
            {k: v for k, v in EXTENSION.items() if k != "url"},
            "body url: is required",
            id="missing-required-field",
        ),
        pytest.param(
            "get-extension",
            200,
            RESOURCE_HEADERS,
            {**EXTENSION, "extension_type": "jar"},
            "'jar' is not one of",
            id="bad-enum",
        ),
        pytest.param(
            "get-extension",
            200,
            RESOURCE_HEADERS,
            {**EXTENSION, "file_metadata": {"size": 1, "url": "/relative"}},
            "is not a 'uri'",
            id="relative-file-url",
        ),
        pytest.param(
            "get-extension",
            200,
            RESOURCE_HEADERS,
            {**EXTENSION, "file_metadata": {"last_modified_date": "yesterday"}},
            "is not a 'date-time'",
            id="bad-date-time",
        ),
        pytest.param(
            "get-extension",
            200,
            {k: v for k, v in RESOURCE_HEADERS.items() if k != "x-cloud-resource-version"},
            EXTENSION,
            "header x-cloud-resource-version is missing",
            id="missing-resource-header",
        ),
        pytest.param(
            "get-extension",
            200,
            {**RESOURCE_HEADERS, "x-cloud-resource-created": "Tuesday"},
            EXTENSION,
            "not an ISO date-time",
            id="bad-created-header",
        ),
        pytest.param(
            "get-extension",
            200,
            {**RESOURCE_HEADERS, "Content-Type": "text/html"},
            EXTENSION,
            "Content-Type",
            id="wrong-content-type",
        ),
        pytest.param(
            "get-extension",
            404,
            {"Content-Type": "application/json"},
            NOT_FOUND,
            "header x-cloud-error-codes is missing",
            id="missing-error-codes-header",
        ),
        pytest.param(
            "get-extension",
            404,
            {**ERROR_HEADERS, "x-cloud-error-codes": "extensions.unauthorised"},
            {"errors": [{"code": "extensions.unauthorised", "message": "m"}]},
            "not documented for this response",
            id="undocumented-code",
        ),
        pytest.param(
            "get-extension",
            404,
            {**ERROR_HEADERS, "x-cloud-error-codes": "root.unauthenticated"},
            NOT_FOUND,
            "differs from the body",
            id="header-body-mismatch",
        ),
        pytest.param(
            "get-extension",
            404,
            ERROR_HEADERS,
            {"errors": [{"code": "x"}]},
            "message: is required",
            id="bad",
        ),
        pytest.param(
            "get-extension", 418, ERROR_HEADERS, NOT_FOUND, "not documented", id="odd-status"
        ),
        pytest.param("get-extension", 200, RESOURCE_HEADERS, b"<html>", "not JSON", id="html"),
    ],
)
def test_the_response_checker_finds(
    operation_id: str,
    status: int,
    headers: dict[str, str],
    body: object,
    problem: str,
) -> None:
    problems = validate_response(operation_id, status, headers, body)
    assert any(problem in p for p in problems), problems


def test_generic_errors_are_allowed_only_when_asked() -> None:
    headers = {"Content-Type": "application/json", "x-cloud-error-codes": "root.unauthenticated"}
    body = {"errors": [{"code": "root.unauthenticated", "message": "no"}]}

    assert validate_response("list-extensions", 401, headers, body) == []
    assert validate_response("list-extensions", 401, headers, body, allow_generic_errors=False)
    not_generic = {"errors": [{"code": "extensions.not_found", "message": "no"}]}
    assert validate_response("list-extensions", 404, ERROR_HEADERS, not_generic)


# -- the request checks -----------------------------------------------------------------------


def test_conformant_requests_record_no_violations(emu: EceEmulator) -> None:
    api = emu.api_url + "/deployments/extensions"
    session = requests.Session()
    session.headers.update(AUTH)
    body = {"name": "my_plugin-1.0", "extension_type": "plugin", "version": "8.15.0"}

    created = session.post(api, json={**body, "description": "d"}, timeout=TIMEOUT).json()
    url = f"{api}/{created['id']}"
    session.get(api, timeout=TIMEOUT)
    session.get(url, params={"include_deployments": "false"}, headers={"Accept": "*/*"})
    session.post(url, json={**body, "version": "8.15.1"}, timeout=TIMEOUT)
    files = {"file": ("Extension", make_zip(), "application/zip")}
    session.put(url, files=files, timeout=TIMEOUT)
    session.put(url, data=make_zip(), headers={"Content-Type": "application/zip"})
    session.put(url, data=iter([make_zip()]), headers={"Content-Type": "application/zip"})
    session.delete(url, timeout=TIMEOUT)

    assert [r.status for r in emu.requests] == [201, 200, 200, 200, 200, 200, 200, 200]
    assert emu.spec_violations == []


def _multipart(*parts: tuple[str, bytes]) -> dict[str, Any]:
    """``requests`` arguments for a hand-made multipart body."""
    body = b""
    for name, content in parts:
        body += (
            f'--xx\r\nContent-Disposition: form-data; name="{name}"; filename="f.zip"\r\n\r\n'
        ).encode()
        body += content + b"\r\n"
    body += b"--xx--\r\n"
    return {"data": body, "headers": {"Content-Type": "multipart/form-data; boundary=xx"}}


UPDATE = {"name": "n", "extension_type": "plugin", "version": "8.15.0"}
ZIP = make_zip()
EXTRA_PART = _multipart(("file", ZIP), ("meta", b"1"))
TWO_FILES = _multipart(("file", ZIP), ("file", ZIP))
TEXT_UPLOAD = {"data": ZIP, "headers": {"Content-Type": "text/plain"}}
NO_BOUNDARY = {"data": b"x", "headers": {"Content-Type": "multipart/form-data"}}
TRUNCATED = {"data": b"--xx\r\n", "headers": {"Content-Type": "multipart/form-data; boundary=xx"}}


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "expected"),
    [
        ("GET", "", {"params": {"include_deployments": "true"}}, "'include_deployments' is not"),
        ("GET", "/{id}", {"params": {"include_deployments": "yes"}}, "must be true or false"),
        ("GET", "/{id}", {"params": {"include_deployments": ["true", "true"]}}, "is repeated"),
        ("GET", "/{id}", {"headers": {"Accept": "text/html"}}, "Accept"),
        ("GET", "/{id}", {"data": b"unexpected"}, "takes no request body"),
        ("DELETE", "/{id}", {"json": {}}, "takes no request body"),
        ("POST", "", {"data": b"{}", "headers": {"Content-Type": "text/plain"}}, "Content-Type"),
        ("POST", "", {"json": {"name": "n", "extension_type": "plugin"}}, "version: is required"),
        ("POST", "", {"json": {**UPDATE, "extension_type": "jar"}}, "body extension_type"),
        ("POST", "", {"json": {**UPDATE, "colour": "red"}}, "colour: property is not declared"),
        ("POST", "", {"json": {**UPDATE, "name": "my plugin"}}, "ASCII alphanumeric"),
        ("POST", "", {"data": b"{", "headers": {"Content-Type": "application/json"}}, "not valid"),
        ("POST", "", {}, "the request has no body"),
        ("POST", "/{id}", {"json": UPDATE, "params": {"version": "3"}}, "'version' is not"),
        ("POST", "/{id}", {"json": {**UPDATE, "version": 8}}, "body version"),
        ("PUT", "/{id}", {"files": {"upload": ("f.zip", ZIP)}}, "'file' is required"),
        ("PUT", "/{id}", EXTRA_PART, "'meta' is not declared"),
        ("PUT", "/{id}", TWO_FILES, "more than once"),
        ("PUT", "/{id}", TEXT_UPLOAD, "Content-Type"),
        ("PUT", "/{id}", NO_BOUNDARY, "boundary"),
        ("PUT", "/{id}", TRUNCATED, "malformed multipart"),
        ("PATCH", "/{id}", {"json": UPDATE}, "method not in the spec"),
        ("GET", "/{id}/files", {}, "no such path"),
        ("GET", "/", {}, "no such path"),
    ],
)
def test_non_conformant_requests_are_recorded(
    emu: EceEmulator, method: str, path: str, kwargs: dict[str, Any], expected: str
) -> None:
    extension = emu.create_extension("target")
    url = emu.api_url + "/deployments/extensions" + path.format(id=extension["id"])
    arguments = dict(kwargs)
    headers = {**AUTH, **arguments.pop("headers", {})}

    requests.request(method, url, headers=headers, timeout=TIMEOUT, **arguments)

    violations = emu.spec_violations
    assert any(expected in v for v in violations), violations
    assert all(v.startswith(f"{method} /api/v1/deployments/extensions") for v in violations)


# -- the request checks on deployments --------------------------------------------------------


def test_conformant_deployment_requests_record_no_violations(emu: EceEmulator) -> None:
    plugin = emu.create_extension("analysis-demo")
    deployment = emu.create_deployment("search", plugins=[plugin["id"]], plan_duration=0)
    url = f"{emu.api_url}/deployments/{deployment['id']}"
    session = requests.Session()
    session.headers.update(AUTH)
    query = {"show_plans": "true", "clear_transient": "true", "show_system_alerts": "0"}

    got = session.get(url, params=query, timeout=TIMEOUT).json()
    resource = got["resources"]["elasticsearch"][0]
    payload = {
        "ref_id": resource["ref_id"],
        "region": resource["region"],
        "plan": resource["info"]["plan_info"]["current"]["plan"],
    }
    body = {"prune_orphans": False, "resources": {"elasticsearch": [payload]}}
    session.put(url, json=body, params={"validate_only": "true"}, timeout=TIMEOUT)
    session.put(url, json=body, params={"skip_snapshot": "false"}, timeout=TIMEOUT)
    session.get(f"{emu.api_url}/deployments/extensions/{plugin['id']}", timeout=TIMEOUT)

    assert [r.status for r in emu.requests] == [200, 200, 200, 200]
    assert emu.spec_violations == []


PLAN_BODY: dict[str, Any] = {
    "prune_orphans": False,
    "resources": {
        "elasticsearch": [
            {
                "ref_id": "main-elasticsearch",
                "region": "ece-region",
                "plan": {"cluster_topology": [], "elasticsearch": {"version": "8.15.0"}},
            }
        ]
    },
}
NO_PLAN = {
    "prune_orphans": False,
    "resources": {"elasticsearch": [{"ref_id": "main-elasticsearch", "region": "ece-region"}]},
}


@pytest.mark.parametrize(
    ("method", "kwargs", "expected"),
    [
        ("GET", {"params": {"show_plans": "yes"}}, "must be true or false"),
        ("GET", {"params": {"show_system_alerts": "many"}}, "must be an integer"),
        ("GET", {"params": {"include_deployments": "true"}}, "'include_deployments' is not"),
        ("GET", {"json": {}}, "takes no request body"),
        ("PUT", {}, "the request has no body"),
        ("PUT", {"json": {"resources": {}}}, "prune_orphans: is required"),
        ("PUT", {"json": NO_PLAN}, "resources.elasticsearch.0.plan: is required"),
        ("PUT", {"json": {**PLAN_BODY, "colour": "red"}}, "colour: property is not declared"),
        ("PUT", {"json": PLAN_BODY, "params": {"validate_only": "1"}}, "must be true or false"),
        ("PUT", {"data": b"{}", "headers": {"Content-Type": "text/plain"}}, "Content-Type"),
        ("DELETE", {}, "method not in the spec"),
        ("POST", {"json": PLAN_BODY}, "method not in the spec"),
    ],
)
def test_non_conformant_deployment_requests_are_recorded(
    emu: EceEmulator, method: str, kwargs: dict[str, Any], expected: str
) -> None:
    deployment = emu.create_deployment("search")
    arguments = dict(kwargs)
    headers = {**AUTH, **arguments.pop("headers", {})}

    requests.request(
        method,
        f"{emu.api_url}/deployments/{deployment['id']}",
        headers=headers,
        timeout=TIMEOUT,
        **arguments,
    )

    violations = emu.spec_violations
    assert any(expected in v for v in violations), violations
    assert all(v.startswith(f"{method} /api/v1/deployments/{deployment['id']}") for v in violations)
