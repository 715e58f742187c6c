"""The ECE emulator over real sockets: operations, auth, uploads, accounting, faults, TLS, admin."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import ipaddress
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import tracemalloc
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography import x509

from ece_uploader.emulator import EceEmulator, Fault

pytestmark = pytest.mark.integration

API_KEY = "test-key-1"
BASIC_USER = ("admin", "s3cret-pw")
EXTENSIONS = "/api/v1/deployments/extensions"
CLIENT_TIMEOUT = 10


def make_zip(content: bytes = b"name=demo\n", entry: str = "plugin-descriptor.properties") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(entry, content)
    return buffer.getvalue()


def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll with backoff until ``predicate`` holds (no fixed sleeps)."""
    deadline = time.monotonic() + timeout
    delay = 0.001
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


@pytest.fixture
def emu() -> Iterator[EceEmulator]:
    with EceEmulator(api_keys={API_KEY}, basic_users=dict([BASIC_USER])) as emulator:
        yield emulator


@pytest.fixture
def client() -> Iterator[requests.Session]:
    session = requests.Session()
    session.headers["Authorization"] = f"ApiKey {API_KEY}"
    yield session
    session.close()


@pytest.fixture
def extension(emu: EceEmulator) -> dict[str, Any]:
    return emu.create_extension("my-plugin", "plugin", "8.15.0")


def url_of(emu: EceEmulator, extension_id: str | None = None) -> str:
    return emu.url + EXTENSIONS + (f"/{extension_id}" if extension_id else "")


def upload_multipart(
    client: requests.Session, emu: EceEmulator, extension_id: str, data: bytes
) -> requests.Response:
    files = {"file": ("Extension", data, "application/zip")}
    return client.put(url_of(emu, extension_id), files=files, timeout=CLIENT_TIMEOUT)


def assert_error(response: requests.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["x-cloud-error-codes"] == code
    assert [e["code"] for e in response.json()["errors"]] == [code]


# -- operations ---------------------------------------------------------------


def test_list_shows_created_extensions(emu: EceEmulator, client: requests.Session) -> None:
    assert client.get(url_of(emu), timeout=CLIENT_TIMEOUT).json() == {"extensions": []}
    created = emu.create_extension("bundle-a", "bundle", "8.*")

    listed = client.get(url_of(emu), timeout=CLIENT_TIMEOUT).json()["extensions"]

    assert listed == [created]


def test_create_answers_201_with_a_server_generated_id(
    emu: EceEmulator, client: requests.Session
) -> None:
    body = {
        "name": "analysis-icu",
        "extension_type": "plugin",
        "version": "8.15.0",
        "description": "ICU",
    }

    response = client.post(url_of(emu), json=body, timeout=CLIENT_TIMEOUT)

    assert response.status_code == 201
    created = response.json()
    assert created["id"].isdigit() and len(created["id"]) == 10
    assert created == {**body, "id": created["id"], "url": f"repo://{created['id']}"}
    assert response.headers["x-cloud-resource-version"] == "1"
    created_at = dt.datetime.fromisoformat(response.headers["x-cloud-resource-created"])
    assert created_at.tzinfo is not None
    assert (
        response.headers["x-cloud-resource-last-modified"]
        == (response.headers["x-cloud-resource-created"])
    )
    assert emu.get_extension(created["id"]) == created


def test_created_ids_are_unique(emu: EceEmulator) -> None:
    ids = {emu.create_extension(f"e{i}")["id"] for i in range(50)}
    assert len(ids) == 50


def test_get_returns_the_extension_or_404(
    emu: EceEmulator, client: requests.Session, extension: dict[str, Any]
) -> None:
    found = client.get(url_of(emu, extension["id"]), timeout=CLIENT_TIMEOUT)
    with_deployments = client.get(
        url_of(emu, extension["id"]),
        params={"include_deployments": "true"},
        timeout=CLIENT_TIMEOUT,
    )
    missing = client.get(url_of(emu, "404404404"), timeout=CLIENT_TIMEOUT)

    assert found.status_code == 200
    assert found.json() == extension
    assert "deployments" not in found.json()
    assert with_deployments.json()["deployments"] == []
    assert_error(missing, 404, "extensions.not_found")


def test_update_replaces_metadata_and_bumps_the_resource_version(
    emu: EceEmulator, client: requests.Session
) -> None:
    created = emu.create_extension("old", "plugin", "8.14.0", description="kept")
    update = {"name": "new", "extension_type": "bundle", "version": "8.*"}

    response = client.post(url_of(emu, created["id"]), json=update, timeout=CLIENT_TIMEOUT)

    assert response.status_code == 200
    assert response.json() == {**created, **update}
    assert response.json()["description"] == "kept"
    assert response.headers["x-cloud-resource-version"] == "2"
    assert (
        response.headers["x-cloud-resource-last-modified"]
        > response.headers["x-cloud-resource-created"]
    )
    assert emu.get_extension(created["id"]) == response.json()


def test_update_of_unknown_extension_is_404(emu: EceEmulator, client: requests.Session) -> None:
    update = {"name": "x", "extension_type": "plugin", "version": "8.15.0"}
    response = client.post(url_of(emu, "1234567890"), json=update, timeout=CLIENT_TIMEOUT)
    assert_error(response, 404, "extensions.not_found")


def test_delete_answers_empty_object_then_404(
    emu: EceEmulator, client: requests.Session, extension: dict[str, Any]
) -> None:
    assert upload_multipart(client, emu, extension["id"], make_zip()).status_code == 200
    stored = emu.stored_path(extension["id"])
    assert stored is not None and stored.exists()

    deleted = client.delete(url_of(emu, extension["id"]), timeout=CLIENT_TIMEOUT)
    again = client.delete(url_of(emu, extension["id"]), timeout=CLIENT_TIMEOUT)

    assert deleted.status_code == 200
    assert deleted.json() == {}
    assert "x-cloud-resource-version" in deleted.headers
    assert_error(again, 404, "extensions.not_found")
    assert emu.get_extension(extension["id"]) is None
    assert not stored.exists()


def test_bad_json_and_schema_errors_are_400(emu: EceEmulator, client: requests.Session) -> None:
    headers = {"Content-Type": "application/json"}
    not_json = client.post(url_of(emu), data="{nope", headers=headers, timeout=CLIENT_TIMEOUT)
    missing = client.post(url_of(emu), json={"name": "x"}, timeout=CLIENT_TIMEOUT)
    bad_type = client.post(
        url_of(emu),
        json={"name": "x", "extension_type": "jar", "version": "1"},
        timeout=CLIENT_TIMEOUT,
    )

    assert_error(not_json, 400, "root.invalid_json_request")
    assert_error(missing, 400, "root.invalid_json_request")
    assert missing.json()["errors"][0]["fields"] == ["extension_type", "version"]
    assert_error(bad_type, 400, "root.invalid_json_request")
    assert bad_type.json()["errors"][0]["fields"] == ["extension_type"]
    assert emu.list_extensions() == []


def test_unknown_path_is_404_and_wrong_method_405_in_json(
    emu: EceEmulator, client: requests.Session
) -> None:
    unknown = client.get(emu.url + "/api/v1/deployment/extensions", timeout=CLIENT_TIMEOUT)
    outside = client.get(emu.url + "/", timeout=CLIENT_TIMEOUT)
    wrong = client.patch(url_of(emu), json={}, timeout=CLIENT_TIMEOUT)

    invented = client.request("FROB", url_of(emu), timeout=CLIENT_TIMEOUT)

    assert_error(unknown, 404, "root.resource_not_found")
    assert_error(outside, 404, "root.resource_not_found")
    assert_error(wrong, 405, "root.method_not_allowed")
    assert wrong.headers["Allow"] == "GET, POST"
    assert_error(invented, 405, "root.method_not_allowed")
    assert [r.status for r in emu.requests] == [404, 404, 405, 405]


@pytest.mark.parametrize(
    ("request_line", "status"),
    [
        ("GARBAGE", "400"),
        (f"GET {EXTENSIONS} HTTP/9.9", "505"),
        (f"GET {EXTENSIONS} HTTP/x", "400"),
    ],
)
def test_malformed_requests_get_a_json_error(
    emu: EceEmulator, request_line: str, status: str
) -> None:
    sock, reader = _raw_exchange(emu, f"{request_line}\r\n\r\n")
    with sock, reader:
        status_line, headers, body = _read_response(reader)

    assert status_line.split()[:2] == ["HTTP/1.1", status]
    assert headers["x-cloud-error-codes"] == "root.invalid_data"
    assert json.loads(body)["errors"][0]["code"] == "root.invalid_data"


# -- authentication -------------------------------------------------------------


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize(
    ("authorization", "status"),
    [
        (f"ApiKey {API_KEY}", 200),
        (f"apikey {API_KEY}", 200),
        (_basic(*BASIC_USER), 200),
        (None, 401),
        ("ApiKey wrong-key", 401),
        ("ApiKey ", 401),
        (_basic(BASIC_USER[0], "wrong"), 401),
        (_basic("nobody", BASIC_USER[1]), 401),
        ("Basic not-base64!", 401),
        (f"Bearer {API_KEY}", 401),
        (API_KEY, 401),
    ],
)
def test_authentication(emu: EceEmulator, authorization: str | None, status: int) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}

    response = requests.get(url_of(emu), headers=headers, timeout=CLIENT_TIMEOUT)

    assert response.status_code == status
    if status == 401:
        assert_error(response, 401, "root.unauthenticated")


def test_requests_auth_basic_works(emu: EceEmulator) -> None:
    response = requests.get(url_of(emu), auth=BASIC_USER, timeout=CLIENT_TIMEOUT)
    assert response.status_code == 200


def test_key_rotation_stops_the_old_key(emu: EceEmulator) -> None:
    def status(key: str) -> int:
        headers = {"Authorization": f"ApiKey {key}"}
        return requests.get(url_of(emu), headers=headers, timeout=CLIENT_TIMEOUT).status_code

    assert status(API_KEY) == 200
    emu.set_api_keys({"test-key-2"})
    assert (status(API_KEY), status("test-key-2")) == (401, 200)

    emu.set_basic_users({"other": "pw2"})
    assert requests.get(url_of(emu), auth=BASIC_USER, timeout=CLIENT_TIMEOUT).status_code == 401
    auth = ("other", "pw2")
    assert requests.get(url_of(emu), auth=auth, timeout=CLIENT_TIMEOUT).status_code == 200


def test_credentials_never_reach_the_log(emu: EceEmulator, client: requests.Session) -> None:
    client.get(url_of(emu), timeout=CLIENT_TIMEOUT)
    requests.get(url_of(emu), auth=BASIC_USER, timeout=CLIENT_TIMEOUT)

    records = emu.requests

    assert [r.auth_scheme for r in records] == ["ApiKey", "Basic"]
    assert all("authorization" not in r.headers for r in records)
    dumped = repr(records) + json.dumps([r.to_json() for r in records])
    assert API_KEY not in dumped
    assert BASIC_USER[1] not in dumped
    assert base64.b64encode(f"{BASIC_USER[0]}:{BASIC_USER[1]}".encode()).decode() not in dumped


# -- uploads ----------------------------------------------------------------------


def test_multipart_upload_round_trip(
    emu: EceEmulator, client: requests.Session, extension: dict[str, Any]
) -> None:
    data = make_zip(os.urandom(50_000))
    before = dt.datetime.now(dt.UTC)

    response = upload_multipart(client, emu, extension["id"], data)

    assert response.status_code == 200
    metadata = response.json()["file_metadata"]
    assert metadata["size"] == len(data)
    modified = dt.datetime.fromisoformat(metadata["last_modified_date"])
    assert modified >= before.replace(microsecond=before.microsecond // 1000 * 1000)
    assert "." in metadata["last_modified_date"]  # sub-second precision
    assert metadata["url"].startswith(emu.url + "/")
    downloaded = requests.get(metadata["url"], timeout=CLIENT_TIMEOUT)
    assert downloaded.status_code == 200
    assert downloaded.content == data
    assert emu.stored_bytes(extension["id"]) == data
    [upload] = emu.uploads(extension["id"])
    assert (upload.size, upload.mode, upload.filename) == (len(data), "multipart", "Extension")
    assert upload.sha256 == hashlib.sha256(data).hexdigest()
    assert upload.content_type == "application/zip"
    assert client.get(url_of(emu, extension["id"]), timeout=CLIENT_TIMEOUT).json() == (
        response.json()
    )


def test_raw_zip_upload_round_trip(
    emu: EceEmulator, client: requests.Session, extension: dict[str, Any]
) -> None:
    data = make_zip(b"raw body")

    response = client.put(
        url_of(emu, extension["id"]),
        data=data,
        headers={"Content-Type": "application/zip"},
        timeout=CLIENT_TIMEOUT,
    )

    assert response.status_code == 200
    [upload] = emu.uploads(extension["id"])
    assert (upload.mode, upload.filename, upload.size) == ("raw", None, len(data))
    assert requests.get(response.json()["file_metadata"]["url"], timeout=10).content == data
    [record] = emu.find_requests("PUT")
    assert record.headers["content-length"] == str(len(data))
    assert record.body_size == len(data)


def test_chunked_raw_upload(
    emu: EceEmulator, client: requests.Session, extension: dict[str, Any]
) -> None:
    data = make_zip(os.urandom(300_000), entry="dictionaries/big.txt")
    pieces = [data[i : i + 7777] for i in range(0, len(data), 7777)]

    response = client.put(
        url_of(emu, extension["id"]),
        data=iter(pieces),
        headers={"Content-Type": "application/zip"},
        timeout=CLIENT_TIMEOUT,
    )

    assert response.status_code == 200
    assert emu.stored_bytes(extension["id"]) == data
    [record] = emu.find_requests("PUT")
    assert record.headers["transfer-encoding"] == "chunked"
    assert "content-length" not in record.headers


def _multipart_stream(
    boundary: str, chunk: bytes, count: int, head: bytes = b"PK\x03\x04"
) -> Iterator[bytes]:
    yield (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="file"; filename="big.zip"\r\n'
        "Content-Type: application/zip\r\n\r\n"
    ).encode()
    yield head
    for _ in range(count):
        yield chunk
    yield f"\r\n--{boundary}--\r\n".encode()


def test_large_chunked_multipart_upload_is_streamed_to_disk(
    emu: EceEmulator, client: requests.Session, extension: dict[str, Any]
) -> None:
    chunk = os.urandom(1024 * 1024)
    count = 48
    boundary = "emulator-test-boundary"
    expected = hashlib.sha256(b"PK\x03\x04" + chunk * count).hexdigest()

    tracemalloc.start()
    try:
        response = client.put(
            url_of(emu, extension["id"]),
            data=_multipart_stream(boundary, chunk, count),
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
            timeout=60,
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert response.status_code == 200, response.text
    [upload] = emu.uploads(extension["id"])
    assert upload.size == 4 + len(chunk) * count
    assert upload.sha256 == expected
    # 48 MiB went through the emulator; client and server together stayed small.
    assert peak < 12 * 1024 * 1024


def test_reupload_replaces_the_file_and_the_download_link(
    emu: EceEmulator, client: requests.Session, extension: dict[str, Any]
) -> None:
    first = upload_multipart(client, emu, extension["id"], make_zip(b"one")).json()
    second_data = make_zip(b"two, longer")
    second = upload_multipart(client, emu, extension["id"], second_data)

    assert second.status_code == 200
    meta_1, meta_2 = first["file_metadata"], second.json()["file_metadata"]
    assert meta_2["last_modified_date"] > meta_1["last_modified_date"]
    assert second.headers["x-cloud-resource-version"] == "3"
    assert emu.stored_bytes(extension["id"]) == second_data
    assert len(emu.uploads(extension["id"])) == 2
    old_link = requests.get(meta_1["url"], timeout=CLIENT_TIMEOUT)
    assert_error(old_link, 404, "root.resource_not_found")
    assert requests.get(meta_2["url"], timeout=CLIENT_TIMEOUT).content == second_data


def _multipart_body(parts: list[tuple[str, str | None, bytes]], boundary: str = "b0und") -> bytes:
    out = b""
    for name, filename, content in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()
        out += content + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


MULTIPART = "multipart/form-data; boundary=b0und"


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        pytest.param(
            MULTIPART, _multipart_body([("upload", "x.zip", make_zip())]), id="no-file-part"
        ),
        pytest.param(MULTIPART, _multipart_body([("file", "x.zip", b"")]), id="empty-part"),
        pytest.param("application/zip", b"", id="empty-raw"),
        pytest.param(MULTIPART, _multipart_body([("file", "x.txt", b"not a zip")]), id="not-a-zip"),
        pytest.param("application/zip", b"MZ\x90\x00 exe", id="raw-not-a-zip"),
        pytest.param("text/plain", make_zip(), id="unsupported-type"),
        pytest.param(MULTIPART, b"--b0und\r\nno headers end", id="malformed-multipart"),
        pytest.param("multipart/form-data", b"x", id="no-boundary"),
    ],
)
def test_refused_uploads_are_400_and_store_nothing(
    emu: EceEmulator,
    client: requests.Session,
    extension: dict[str, Any],
    content_type: str,
    body: bytes,
) -> None:
    response = client.put(
        url_of(emu, extension["id"]),
        data=body,
        headers={"Content-Type": content_type},
        timeout=CLIENT_TIMEOUT,
    )

    assert_error(response, 400, "extensions.request_execution_failed")
    assert response.json()["errors"][0]["message"].startswith(
        "Could not accept the extensions file"
    )
    assert emu.uploads() == []
    assert emu.stored_path(extension["id"]) is None
    assert "file_metadata" not in client.get(url_of(emu, extension["id"]), timeout=10).json()
    assert list((emu.storage_dir / "files").iterdir()) == []


def test_put_never_creates_an_extension(emu: EceEmulator, client: requests.Session) -> None:
    response = upload_multipart(client, emu, "1111111111", make_zip())

    assert_error(response, 404, "extensions.not_found")
    assert emu.list_extensions() == []
    assert emu.uploads() == []


def test_zip_check_can_be_disabled(client: requests.Session) -> None:
    with EceEmulator(api_keys={API_KEY}, require_zip=False) as emu:
        extension = emu.create_extension("any")
        response = upload_multipart(client, emu, extension["id"], b"plain text")
        assert response.status_code == 200
        assert emu.stored_bytes(extension["id"]) == b"plain text"


def _raw_exchange(emu: EceEmulator, head: str) -> tuple[socket.socket, io.BufferedReader]:
    sock = socket.create_connection(("127.0.0.1", emu.port), timeout=CLIENT_TIMEOUT)
    sock.sendall(head.encode())
    return sock, sock.makefile("rb")


def _read_response(reader: io.BufferedReader) -> tuple[str, dict[str, str], bytes]:
    status = reader.readline().decode().strip()
    headers: dict[str, str] = {}
    while (line := reader.readline().decode().strip()) != "":
        name, _, value = line.partition(":")
        headers[name.lower()] = value.strip()
    body = reader.read(int(headers.get("content-length", "0")))
    return status, headers, body


def test_expect_100_continue_is_answered_before_the_body(
    emu: EceEmulator, extension: dict[str, Any]
) -> None:
    data = make_zip(b"expect")
    head = (
        f"PUT {EXTENSIONS}/{extension['id']} HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: ApiKey {API_KEY}\r\nContent-Type: application/zip\r\n"
        f"Content-Length: {len(data)}\r\nExpect: 100-continue\r\n\r\n"
    )
    sock, reader = _raw_exchange(emu, head)
    with sock, reader:
        assert reader.readline() == b"HTTP/1.1 100 Continue\r\n"
        assert reader.readline() == b"\r\n"
        sock.sendall(data)
        status, _, _ = _read_response(reader)

    assert status.startswith("HTTP/1.1 200")
    [record] = emu.find_requests("PUT")
    assert record.expect_continue
    assert emu.stored_bytes(extension["id"]) == data


def test_expect_100_continue_refusal_skips_the_body(emu: EceEmulator) -> None:
    head = (
        f"PUT {EXTENSIONS}/999 HTTP/1.1\r\nHost: x\r\nAuthorization: ApiKey {API_KEY}\r\n"
        "Content-Type: application/zip\r\nContent-Length: 5000000\r\nExpect: 100-continue\r\n\r\n"
    )
    sock, reader = _raw_exchange(emu, head)
    with sock, reader:
        status, headers, body = _read_response(reader)

    assert status.startswith("HTTP/1.1 404")
    assert headers["connection"] == "close"
    assert json.loads(body)["errors"][0]["code"] == "extensions.not_found"
    [record] = emu.requests
    assert (record.expect_continue, record.body_size) == (True, 0)


# -- accounting -------------------------------------------------------------------


def test_request_log(emu: EceEmulator, client: requests.Session, extension: dict[str, Any]) -> None:
    data = make_zip()
    client.get(
        url_of(emu, extension["id"]),
        params={"include_deployments": "true"},
        timeout=CLIENT_TIMEOUT,
    )
    upload_multipart(client, emu, extension["id"], data)

    get, put = emu.requests

    assert (get.method, get.path, get.query) == (
        "GET",
        f"{EXTENSIONS}/{extension['id']}",
        {"include_deployments": ["true"]},
    )
    assert (get.operation_id, get.extension_id, get.status) == (
        "get-extension",
        extension["id"],
        200,
    )
    assert (put.operation_id, put.status, put.part_names) == ("upload-extension", 200, ("file",))
    assert put.content_type is not None and put.content_type.startswith("multipart/form-data")
    assert put.body_size == int(put.headers["content-length"]) > len(data)
    assert not put.expect_continue
    assert emu.find_requests("put", extension_id=extension["id"]) == [put]
    assert emu.find_requests("DELETE") == []


def test_keep_alive_connections_are_reused(emu: EceEmulator, client: requests.Session) -> None:
    for _ in range(3):
        assert client.get(url_of(emu), timeout=CLIENT_TIMEOUT).status_code == 200
    client.post(url_of(emu), data="{bad", timeout=CLIENT_TIMEOUT)  # errors keep it too
    client.get(url_of(emu), timeout=CLIENT_TIMEOUT)

    assert len({r.client for r in emu.requests}) == 1


def test_requests_are_served_concurrently(emu: EceEmulator, client: requests.Session) -> None:
    slow = emu.create_extension("slow")
    # Held until the emulator stops: only a server that serves connections side by
    # side answers the next request meanwhile. One at a time, that request would
    # wait behind the held one until its client timeout (the generous bound).
    emu.script(Fault(hang=True), method="GET", extension_id=slow["id"])
    outcome: list[object] = []

    def slow_get() -> None:
        try:
            response = requests.get(
                url_of(emu, slow["id"]),
                headers={"Authorization": f"ApiKey {API_KEY}"},
                timeout=CLIENT_TIMEOUT,
            )
            outcome.append(response.status_code)
        except requests.RequestException as exc:
            outcome.append(type(exc))

    worker = threading.Thread(target=slow_get)
    worker.start()
    wait_for(lambda: len(emu.requests) == 1)

    assert client.get(url_of(emu), timeout=CLIENT_TIMEOUT).status_code == 200
    assert worker.is_alive()
    assert outcome == []

    emu.stop()  # cuts the held connection
    worker.join(CLIENT_TIMEOUT)
    assert not worker.is_alive()
    assert len(outcome) == 1
    assert isinstance(outcome[0], type)
    assert issubclass(outcome[0], requests.ConnectionError)
    assert [r.status for r in emu.requests] == [None, 200]


# -- faults -----------------------------------------------------------------------


def test_fault_error_reply_with_retry_after(
    emu: EceEmulator, client: requests.Session, extension: dict[str, Any]
) -> None:
    emu.script(
        Fault(status=503, code="root.unavailable", message="try later", retry_after=7),
        method="PUT",
    )

    faulted = upload_multipart(client, emu, extension["id"], make_zip())
    normal = upload_multipart(client, emu, extension["id"], make_zip())

    assert_error(faulted, 503, "root.unavailable")
    assert faulted.headers["Retry-After"] == "7"
    assert faulted.json()["errors"][0]["message"] == "try later"
    assert normal.status_code == 200
    assert len(emu.uploads()) == 1
    assert [r.fault for r in emu.requests] == ["error", None]


def test_fault_codes_default_from_the_status(emu: EceEmulator, client: requests.Session) -> None:
    emu.script(Fault(status=404), method="GET")
    emu.script(Fault(status=500), method="GET")

    assert_error(client.get(url_of(emu), timeout=10), 404, "extensions.not_found")
    assert_error(client.get(url_of(emu), timeout=10), 500, "root.internal_server_error")


def test_fault_html_page(emu: EceEmulator, client: requests.Session) -> None:
    page = "<html><body><h1>413 Request Entity Too Large</h1></body></html>"
    emu.script(Fault(status=413, html=page), method="PUT")
    emu.script(Fault(html="<h1>Bad gateway</h1>"), method="GET")
    extension = emu.create_extension("x")

    too_large = upload_multipart(client, emu, extension["id"], make_zip())
    gateway = client.get(url_of(emu), timeout=CLIENT_TIMEOUT)

    assert too_large.status_code == 413
    assert too_large.headers["Content-Type"].startswith("text/html")
    assert "x-cloud-error-codes" not in too_large.headers
    assert too_large.text == page
    assert gateway.status_code == 502
    assert emu.uploads() == []


def test_fault_delay_then_normal_answer(emu: EceEmulator, client: requests.Session) -> None:
    emu.script(Fault(delay=0.3), method="GET")

    started = time.monotonic()
    response = client.get(url_of(emu), timeout=CLIENT_TIMEOUT)

    assert time.monotonic() - started >= 0.3
    assert response.status_code == 200


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_fault_reset_in_the_middle_of_the_body(tls: bool) -> None:
    with EceEmulator(api_keys={API_KEY}, tls=tls) as emu:
        extension = emu.create_extension("x")
        emu.script(Fault(reset_after_bytes=1000), method="PUT")
        verify = str(emu.ca_bundle_path) if tls else True
        headers = {"Authorization": f"ApiKey {API_KEY}", "Content-Type": "application/zip"}

        def put(data: bytes) -> requests.Response:
            return requests.put(
                url_of(emu, extension["id"]),
                data=data,
                headers=headers,
                verify=verify,
                timeout=CLIENT_TIMEOUT,
            )

        with pytest.raises(requests.ConnectionError):  # SSLError is one too
            put(make_zip(os.urandom(4 * 1024 * 1024)))

        [record] = emu.requests
        assert (record.fault, record.status, record.body_size) == ("reset", None, 1000)
        assert emu.uploads() == []
        assert put(make_zip()).status_code == 200


def test_fault_hang_until_the_client_gives_up(emu: EceEmulator, client: requests.Session) -> None:
    emu.script(Fault(hang=True), method="GET")

    with pytest.raises(requests.ReadTimeout):
        client.get(url_of(emu), timeout=(CLIENT_TIMEOUT, 0.3))

    assert client.get(url_of(emu), timeout=CLIENT_TIMEOUT).status_code == 200
    assert [(r.fault, r.status) for r in emu.requests] == [("hang", None), (None, 200)]


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_stop_is_prompt_with_a_held_connection(tls: bool) -> None:
    emu = EceEmulator(api_keys={API_KEY}, tls=tls).start()
    emu.script(Fault(hang=True))
    sock = socket.create_connection(("127.0.0.1", emu.port), timeout=CLIENT_TIMEOUT)
    if tls:
        context = ssl.create_default_context(cafile=str(emu.ca_bundle_path))
        sock = context.wrap_socket(sock, server_hostname="127.0.0.1")
    with sock:
        head = f"GET {EXTENSIONS} HTTP/1.1\r\nHost: x\r\nAuthorization: ApiKey {API_KEY}\r\n\r\n"
        sock.sendall(head.encode())
        wait_for(lambda: len(emu.requests) == 1)
        started = time.monotonic()
        emu.stop()
        assert time.monotonic() - started < 2.0
        assert sock.recv(100) == b""  # closed without an answer


def test_stop_is_prompt_with_idle_keep_alive_connections(client: requests.Session) -> None:
    emu = EceEmulator(api_keys={API_KEY}).start()
    assert client.get(url_of(emu), timeout=CLIENT_TIMEOUT).status_code == 200

    started = time.monotonic()
    emu.stop()

    assert time.monotonic() - started < 2.0
    assert not emu.running
    assert not emu.storage_dir.exists()


def test_fault_matching_by_method_extension_and_times(
    emu: EceEmulator, client: requests.Session
) -> None:
    one, two = emu.create_extension("one"), emu.create_extension("two")
    emu.script(Fault(status=409), method="GET", extension_id=one["id"], times=2)
    emu.script(Fault(status=502), method="DELETE", times=None)

    def get(extension_id: str) -> int:
        return client.get(url_of(emu, extension_id), timeout=CLIENT_TIMEOUT).status_code

    assert [get(two["id"]), get(one["id"]), get(one["id"]), get(one["id"])] == [200, 409, 409, 200]
    assert client.get(url_of(emu), timeout=CLIENT_TIMEOUT).status_code == 200
    for _ in range(3):
        assert client.delete(url_of(emu, two["id"]), timeout=CLIENT_TIMEOUT).status_code == 502
    [pending] = emu.pending_faults()
    assert (pending.method, pending.remaining) == ("DELETE", None)
    emu.clear_faults()
    assert client.delete(url_of(emu, two["id"]), timeout=CLIENT_TIMEOUT).status_code == 200


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"code": "x.y"},
        {"retry_after": 5},
        {"status": 99},
        {"delay": -1.0},
        {"reset_after_bytes": -5},
    ],
)
def test_meaningless_faults_are_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        Fault(**kwargs)


# -- HTTPS --------------------------------------------------------------------------


@pytest.fixture
def tls_emu() -> Iterator[EceEmulator]:
    with EceEmulator(api_keys={API_KEY}, tls=True) as emulator:
        yield emulator


def test_https_verifies_with_the_ca_bundle_only(
    tls_emu: EceEmulator, client: requests.Session
) -> None:
    assert tls_emu.url.startswith("https://127.0.0.1:")
    assert tls_emu.ca_bundle_path is not None and tls_emu.ca_bundle_path.is_file()
    extension = tls_emu.create_extension("secure")
    data = make_zip(b"over tls")

    with pytest.raises(requests.exceptions.SSLError):
        client.get(url_of(tls_emu), timeout=CLIENT_TIMEOUT)
    # A pool keeps the TLS settings it was made with; REQUESTS_CA_BUNDLE, if
    # set, would override Session.verify unless trust_env is off.
    client = requests.Session()
    client.headers["Authorization"] = f"ApiKey {API_KEY}"
    client.trust_env = False
    client.verify = str(tls_emu.ca_bundle_path)
    response = upload_multipart(client, tls_emu, extension["id"], data)
    localhost = tls_emu.url.replace("127.0.0.1", "localhost") + EXTENSIONS

    assert response.status_code == 200
    link = response.json()["file_metadata"]["url"]
    assert link.startswith("https://")
    assert client.get(link, timeout=CLIENT_TIMEOUT).content == data
    assert client.get(localhost, timeout=CLIENT_TIMEOUT).status_code == 200


def test_certificate_passes_strict_verification(tls_emu: EceEmulator) -> None:
    assert tls_emu.certificate_pem is not None and tls_emu.ca_pem is not None
    certificate = x509.load_pem_x509_certificate(tls_emu.certificate_pem.encode())
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in names.get_values_for_type(x509.DNSName)
    assert ipaddress.ip_address("127.0.0.1") in names.get_values_for_type(x509.IPAddress)
    assert tls_emu.ca_bundle_path is not None
    assert tls_emu.ca_bundle_path.read_text() == tls_emu.ca_pem

    context = ssl.create_default_context(cafile=str(tls_emu.ca_bundle_path))
    context.verify_flags |= ssl.VERIFY_X509_STRICT
    with (
        socket.create_connection(("127.0.0.1", tls_emu.port), timeout=CLIENT_TIMEOUT) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        assert tls.version() in {"TLSv1.2", "TLSv1.3"}


def test_a_failed_handshake_does_not_disturb_the_server(tls_emu: EceEmulator) -> None:
    with socket.create_connection(("127.0.0.1", tls_emu.port), timeout=CLIENT_TIMEOUT) as raw:
        raw.sendall(b"GET / HTTP/1.1\r\n\r\n")  # plain HTTP to a TLS port
        try:
            answer = raw.recv(100)
        except ConnectionResetError:
            answer = b""
    assert not answer.startswith(b"HTTP/1.1 2")
    headers = {"Authorization": f"ApiKey {API_KEY}"}
    response = requests.get(
        url_of(tls_emu),
        headers=headers,
        verify=str(tls_emu.ca_bundle_path),
        timeout=CLIENT_TIMEOUT,
    )
    assert response.status_code == 200


# -- admin endpoint -------------------------------------------------------------------


def admin(emu: EceEmulator, method: str, route: str, body: Any = None) -> requests.Response:
    return requests.request(
        method, f"{emu.url}/_emulator/{route}", json=body, timeout=CLIENT_TIMEOUT
    )


def test_admin_creates_and_lists_extensions(emu: EceEmulator, client: requests.Session) -> None:
    assert admin(emu, "GET", "health").json() == {"status": "ok"}

    created = admin(emu, "POST", "extensions", {"name": "via-admin", "extension_type": "bundle"})

    assert created.status_code == 201
    assert created.json()["version"] == "8.15.0"
    assert client.get(url_of(emu), timeout=10).json()["extensions"] == [created.json()]
    assert admin(emu, "GET", "extensions").json()["extensions"] == [created.json()]
    # admin calls are not in the log
    assert [r.operation_id for r in emu.requests] == ["list-extensions"]


def test_admin_scripts_faults(emu: EceEmulator, client: requests.Session) -> None:
    extension = emu.create_extension("x")
    scripted = admin(
        emu,
        "POST",
        "faults",
        {"method": "PUT", "extension_id": extension["id"], "status": 502, "html": "<h1>BG</h1>"},
    )
    assert scripted.status_code == 201
    assert admin(emu, "GET", "faults").json()["faults"][0]["remaining"] == 1

    response = upload_multipart(client, emu, extension["id"], make_zip())

    assert (response.status_code, response.text) == (502, "<h1>BG</h1>")
    assert admin(emu, "GET", "faults").json() == {"faults": []}
    admin(emu, "POST", "faults", {"status": 503, "times": None})
    assert admin(emu, "DELETE", "faults").status_code == 200
    assert client.get(url_of(emu), timeout=CLIENT_TIMEOUT).status_code == 200


def test_admin_reset_forget_the_state(
    emu: EceEmulator, client: requests.Session, extension: dict[str, Any]
) -> None:
    data = make_zip()
    upload_multipart(client, emu, extension["id"], data)
    client.get(url_of(emu), params={"bogus": "1"}, timeout=CLIENT_TIMEOUT)

    uploads = admin(emu, "GET", f"uploads?extension_id={extension['id']}").json()["uploads"]
    logged = admin(emu, "GET", "requests").json()["requests"]
    violations = admin(emu, "GET", "spec-violations").json()["spec_violations"]
    assert [(u["sha256"], u["mode"]) for u in uploads] == [
        (hashlib.sha256(data).hexdigest(), "multipart")
    ]
    assert [r["method"] for r in logged] == ["PUT", "GET"]
    assert len(violations) == 1 and "bogus" in violations[0]

    assert admin(emu, "POST", "reset").status_code == 200

    assert emu.list_extensions() == [] and emu.uploads() == []
    assert emu.requests == [] and emu.spec_violations == []
    assert list((emu.storage_dir / "files").iterdir()) == []
    assert client.get(url_of(emu), timeout=CLIENT_TIMEOUT).status_code == 200  # keys kept


def test_admin_rotates_credentials(emu: EceEmulator) -> None:
    response = admin(emu, "PUT", "credentials", {"api_keys": ["rotated-key"]})

    assert response.status_code == 200
    assert "rotated-key" not in response.text
    old = requests.get(url_of(emu), headers={"Authorization": f"ApiKey {API_KEY}"}, timeout=10)
    new = requests.get(url_of(emu), headers={"Authorization": "ApiKey rotated-key"}, timeout=10)
    assert (old.status_code, new.status_code) == (401, 200)


@pytest.mark.parametrize(
    ("method", "route", "body", "status"),
    [
        ("POST", "faults", {"status": "503"}, 400),
        ("POST", "faults", {"status": 503, "explode": True}, 400),
        ("POST", "faults", {}, 400),
        ("POST", "faults", {"status": 503, "times": 0}, 400),
        ("POST", "extensions", {"extension_type": "plugin"}, 400),
        ("POST", "extensions", {"name": "x", "extension_type": "jar"}, 400),
        ("PUT", "credentials", {"api_keys": "not-a-list"}, 400),
        ("GET", "nothing-here", None, 404),
        ("DELETE", "health", None, 405),
    ],
)
def test_admin_refuses_bad_requests(
    emu: EceEmulator, method: str, route: str, body: Any, status: int
) -> None:
    response = admin(emu, method, route, body)

    assert response.status_code == status
    assert response.json()["errors"][0]["code"].startswith("emulator.")
    assert emu.pending_faults() == []


# -- lifecycle and standalone process ---------------------------------------------------


def test_url_needs_a_started_emulator(tmp_path: Path) -> None:
    emu = EceEmulator(storage_dir=tmp_path)
    with pytest.raises(RuntimeError):
        _ = emu.url
    emu.start()
    emu.stop()
    assert tmp_path.exists()  # a given storage dir is left in place
    with pytest.raises(RuntimeError):
        emu.start()


def test_standalone_process_serves_until_sigterm(tmp_path: Path) -> None:
    secret = "standalone-key"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ece_uploader.emulator",
            "--port",
            "0",
            "--api-key",
            secret,
            "--extension",
            "demo:bundle:8.*",
            "--storage-dir",
            str(tmp_path),
            "--plan-duration",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        info = json.loads(line)
        assert secret not in line
        assert info["api_url"] == info["url"] + "/api/v1"
        listed = requests.get(
            info["api_url"] + "/deployments/extensions",
            headers={"Authorization": f"ApiKey {secret}"},
            timeout=CLIENT_TIMEOUT,
        ).json()["extensions"]
        assert [(e["name"], e["extension_type"], e["version"]) for e in listed] == [
            ("demo", "bundle", "8.*")
        ]
        assert info["extensions"] == listed
        assert requests.get(info["admin_url"] + "/health", timeout=10).status_code == 200
        deployment = requests.post(
            info["admin_url"] + "/deployments", json={"name": "d"}, timeout=CLIENT_TIMEOUT
        ).json()
        resource = deployment["resources"]["elasticsearch"][0]
        plan = resource["info"]["plan_info"]["current"]["plan"]
        payload = {"ref_id": resource["ref_id"], "region": resource["region"], "plan": plan}
        applied = requests.put(
            f"{info['api_url']}/deployments/{deployment['id']}",
            json={"prune_orphans": False, "resources": {"elasticsearch": [payload]}},
            headers={"Authorization": f"ApiKey {secret}"},
            timeout=CLIENT_TIMEOUT,
        )
        assert applied.status_code == 200
        plans = requests.get(info["admin_url"] + "/deployment-plans", timeout=10).json()["plans"]
        assert [p["outcome"] for p in plans] == ["success", "success"]  # --plan-duration 0
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=CLIENT_TIMEOUT)
    assert process.returncode == 0, stderr
    assert secret not in stderr


def test_truncate_fault_stores_and_reports_only_the_first_bytes(
    emu: EceEmulator, client: requests.Session, extension: dict[str, Any]
) -> None:
    data = make_zip(b"x" * 5000)
    emu.script(Fault(keep_bytes=64), method="PUT")

    reply = upload_multipart(client, emu, extension["id"], data)

    assert reply.status_code == 200
    assert reply.json()["file_metadata"]["size"] == 64
    assert emu.stored_bytes(extension["id"]) == data[:64]
    [upload] = emu.uploads(extension["id"])
    assert (upload.size, upload.sha256) == (64, hashlib.sha256(data[:64]).hexdigest())
    assert emu.find_requests("PUT")[0].fault == "truncate"
