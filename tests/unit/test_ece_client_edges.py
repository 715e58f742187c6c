"""The ECE client's edges, with a recording session in place of the network."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import requests

from extension_uploader.credentials import Credentials
from extension_uploader.deadline import Deadline
from extension_uploader.ece import EceClient, error_from_reply

EXTENSION = {"id": "123", "name": "synonyms", "extension_type": "bundle", "version": "*"}


def json_reply(status: int, document: object) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = json.dumps(document).encode()
    response.headers["Content-Type"] = "application/json"
    return response


class RecordingSession:
    """Answers every request with the extension, and keeps what each was asked with."""

    def __init__(self) -> None:
        self.trust_env = True
        self.calls: list[dict[str, Any]] = []

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        self.calls.append({"method": method, "url": url, **kwargs})
        return json_reply(200, EXTENSION)


class Rotating:
    """Credentials whose CA bundle the operator replaces between two calls."""

    def __init__(self, *pems: str) -> None:
        self.pems = list(pems)

    def get(self, *, refresh: bool = False) -> Credentials:
        pem = self.pems.pop(0) if len(self.pems) > 1 else self.pems[0]
        return Credentials("api_key", "ApiKey k", ca_bundle_pem=pem)


def test_429_is_transient() -> None:
    error = error_from_reply(json_reply(429, {"errors": [{"code": "root.too_many_requests"}]}))
    assert error.transient
    assert error.status == 429


def test_the_secrets_cas_and_the_configured_bundle_are_both_trusted(tmp_path: Path) -> None:
    bundle = tmp_path / "corporate.pem"
    bundle.write_text("CORPORATE CA\n")
    session = RecordingSession()
    client = EceClient(
        "https://ece.example:12443",
        Rotating("SECRET CA"),
        ca_bundle=str(bundle),
        session=session,  # type: ignore[arg-type]
    )
    client.get_extension("123", Deadline.after(60))
    [call] = session.calls
    trusted = Path(call["verify"]).read_text()
    assert "SECRET CA" in trusted
    assert "CORPORATE CA" in trusted


def test_a_ca_rotated_in_the_secret_is_trusted_from_the_next_call() -> None:
    session = RecordingSession()
    client = EceClient(
        "https://ece.example:12443",
        Rotating("OLD CA", "NEW CA"),
        session=session,  # type: ignore[arg-type]
    )
    client.get_extension("123", Deadline.after(60))
    client.get_extension("123", Deadline.after(60))
    first, second = (Path(call["verify"]).read_text() for call in session.calls)
    assert "OLD CA" in first and "NEW CA" not in first
    assert "NEW CA" in second and "OLD CA" not in second


def test_only_request_execution_failed_is_a_verdict_on_the_file() -> None:
    error = error_from_reply(json_reply(400, {"errors": [{"code": "root.invalid_json"}]}))
    assert error.reason == "ece.root.invalid_json"
    assert not error.refused_file


def test_an_error_reply_without_a_content_type_is_mapped_by_status() -> None:
    response = requests.Response()
    response.status_code = 502
    response._content = b""
    error = error_from_reply(response)
    assert (error.reason, error.transient, error.server_message) == ("ece.http_502", True, None)


def test_ece_s_message_is_kept_for_the_log_up_to_500_characters() -> None:
    long = json_reply(404, {"errors": [{"code": "extensions.not_found", "message": "m" * 600}]})
    assert error_from_reply(long).server_message == "m" * 500
    bare = json_reply(404, {"errors": [{"code": "extensions.not_found"}]})
    assert error_from_reply(bare).server_message == ""
