"""The ECE client's edges, with a recording session in place of the network."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests

from extension_uploader import reasons
from extension_uploader.credentials import Credentials
from extension_uploader.deadline import Deadline
from extension_uploader.ece import EceClient, Extension
from extension_uploader.ece_errors import EceError, error_from_reply

EXTENSION = {"id": "123", "name": "synonyms", "extension_type": "bundle", "version": "*"}


def json_reply(status: int, document: object) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = json.dumps(document).encode()
    response.headers["Content-Type"] = "application/json"
    return response


class RecordingSession:
    """Answers every request with ``reply`` (the extension), and keeps what each was asked with."""

    def __init__(self, reply: requests.Response | None = None) -> None:
        self.trust_env = True
        self.calls: list[dict[str, Any]] = []
        self.reply = reply

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        self.calls.append({"method": method, "url": url, **kwargs})
        return self.reply if self.reply is not None else json_reply(200, EXTENSION)


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


def test_an_extension_is_read_from_every_field_ece_sends() -> None:
    extension = Extension.from_json(
        {
            "id": 2536123203,
            "name": "analysis",
            "extension_type": "plugin",
            "version": "8.15.0",
            "file_metadata": {"size": 4096, "last_modified_date": "2026-11-28T09:15:00.000Z"},
            "deployments": ["abc", 42, None, {"id": "x"}],
        }
    )
    assert extension == Extension(
        id="2536123203",
        name="analysis",
        extension_type="plugin",
        version="8.15.0",
        file_size=4096,
        file_last_modified="2026-11-28T09:15:00.000Z",
        deployments=("abc", "42"),
    )


def test_fields_of_an_unknown_kind_are_dropped() -> None:
    extension = Extension.from_json(
        {
            "id": "1",
            "name": "n",
            "extension_type": "script",
            "version": "*",
            "file_metadata": {"size": "12", "last_modified_date": 5},
        }
    )
    assert (extension.extension_type, extension.file_size) == (None, None)
    assert (extension.file_last_modified, extension.deployments) == (None, ())


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (["not", "an", "object"], "reply is not a JSON object"),
        ({"id": "1", "extension_type": "bundle", "version": "*"}, "reply is not an Extension"),
    ],
)
def test_a_reply_that_is_not_an_extension_is_a_bad_reply(document: object, message: str) -> None:
    with pytest.raises(EceError) as raised:
        Extension.from_json(document)
    assert raised.value.reason == reasons.ECE_BAD_REPLY
    assert raised.value.server_message == message


def test_the_preflight_asks_which_deployments_use_the_extension() -> None:
    session = RecordingSession()
    client = EceClient(
        "https://ece.example:12443/", Rotating("CA"), tls_verify=False, session=session
    )  # type: ignore[arg-type]
    extension = client.get_extension("123", Deadline.after(60))
    assert extension.name == "synonyms"
    [call] = session.calls
    assert call["method"].upper() == "GET"
    assert call["url"] == (
        "https://ece.example:12443/api/v1/deployments/extensions/123?include_deployments=true"
    )
    assert call["verify"] is False


def test_a_success_that_is_not_json_is_a_transient_bad_reply() -> None:
    html = requests.Response()
    html.status_code = 200
    html._content = b"<html>maintenance</html>"
    html.headers["Content-Type"] = "text/html"
    client = EceClient("https://ece.example", Rotating("CA"), session=RecordingSession(html))  # type: ignore[arg-type]
    with pytest.raises(EceError) as raised:
        client.get_extension("123", Deadline.after(60))
    assert (raised.value.reason, raised.value.status) == (reasons.ECE_BAD_REPLY, 200)
    assert raised.value.transient


def test_an_error_says_its_http_status_when_there_was_one() -> None:
    assert str(EceError(reasons.ECE_TIMEOUT)) == reasons.ECE_TIMEOUT
    assert str(EceError("ece.http_503", status=503)) == "ece.http_503 (HTTP 503)"


class Withdrawn(Exception):
    pass


def test_before_attempt_can_withdraw_an_upload_before_anything_is_sent(tmp_path: Path) -> None:
    archive = tmp_path / "a.zip"
    archive.write_bytes(b"PK\x05\x06" + bytes(18))
    session = RecordingSession()
    client = EceClient("https://ece.example", Rotating("CA"), session=session)  # type: ignore[arg-type]

    def newer_exists() -> None:
        raise Withdrawn

    with pytest.raises(Withdrawn):
        client.upload("123", archive, Deadline.after(60), before_attempt=newer_exists)
    assert session.calls == []


def test_a_size_ece_got_wrong_names_the_reply_status(tmp_path: Path) -> None:
    archive = tmp_path / "a.zip"
    archive.write_bytes(bytes(100))
    stored = EXTENSION | {"file_metadata": {"size": 60}}
    session = RecordingSession(json_reply(200, stored))
    client = EceClient("https://ece.example", Rotating("CA"), session=session)  # type: ignore[arg-type]
    with pytest.raises(EceError) as raised:
        client.upload("123", archive, Deadline.after(60))
    assert (raised.value.reason, raised.value.status) == (reasons.ECE_SIZE_MISMATCH, 200)
    assert raised.value.server_message == "ECE stored 60 bytes of 100 sent"


def test_an_attempt_starts_with_exactly_the_minimum_time_left_and_not_less() -> None:
    enough = RecordingSession()
    EceClient("https://ece.example", Rotating("CA"), session=enough).get_extension(  # type: ignore[arg-type]
        "123", Deadline(lambda: 2000, reserve_seconds=0)
    )
    assert len(enough.calls) == 1
    short = RecordingSession()
    with pytest.raises(EceError) as raised:
        EceClient("https://ece.example", Rotating("CA"), session=short).get_extension(  # type: ignore[arg-type]
            "123", Deadline(lambda: 1999, reserve_seconds=0)
        )
    assert (raised.value.reason, raised.value.transient) == (reasons.LAMBDA_OUT_OF_TIME, True)
    assert short.calls == []


class ReadingSession(RecordingSession):
    """Sends the body as requests would: reads it all."""

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        if "data" in kwargs:
            kwargs["sent"] = b"".join(kwargs["data"])
        return super().request(method, url, **kwargs)


def test_a_send_goes_on_while_any_time_is_left(tmp_path: Path) -> None:
    archive = tmp_path / "a.zip"
    archive.write_bytes(bytes(100))
    answers = iter([5000])

    def remaining_ms() -> int:
        return next(answers, 500)  # 5 s when the attempt starts, half a second while sending

    session = ReadingSession(json_reply(200, EXTENSION | {"file_metadata": {"size": 100}}))
    client = EceClient("https://ece.example", Rotating("CA"), upload_mode="raw", session=session)  # type: ignore[arg-type]
    client.upload("123", archive, Deadline(remaining_ms, reserve_seconds=0))
    [call] = session.calls
    assert call["sent"] == bytes(100)


def test_a_network_error_is_described_for_the_log_in_at_most_300_characters() -> None:
    class Unreachable(RecordingSession):
        def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
            raise requests.ConnectionError("refused " + "x" * 400)

    client = EceClient(
        "https://ece.example",
        Rotating("CA"),
        session=Unreachable(),  # type: ignore[arg-type]
        sleep=lambda _: None,
    )
    with pytest.raises(EceError) as raised:
        client.get_extension("123", Deadline.after(600))
    message = raised.value.server_message or ""
    assert raised.value.reason == reasons.ECE_UNREACHABLE
    assert message.startswith("ConnectionError: refused x")
    assert len(message) == 300


@pytest.mark.parametrize("extension_id", ["../deployments", "a/b", ""])
def test_an_id_that_would_change_the_path_is_refused_as_the_files_fault(extension_id: str) -> None:
    session = RecordingSession()
    client = EceClient("https://ece.example", Rotating("CA"), session=session)  # type: ignore[arg-type]
    with pytest.raises(EceError) as raised:
        client.get_extension(extension_id, Deadline.after(60))
    assert raised.value.reason == reasons.TAG_INVALID_EXTENSION_ID
    assert raised.value.refused_file
    assert session.calls == []


def test_tls_is_verified_unless_turned_off() -> None:
    session = RecordingSession()
    client = EceClient("https://ece.example", Rotating(""), session=session)  # type: ignore[arg-type]
    client.get_extension("123", Deadline.after(60))
    [call] = session.calls
    assert call["verify"] is True


def test_a_retry_that_could_not_finish_in_time_is_not_waited_for() -> None:
    busy = requests.Response()
    busy.status_code = 503
    busy._content = b"busy"
    busy.headers.update({"Content-Type": "text/plain", "Retry-After": "5"})
    waits: list[float] = []
    client = EceClient(
        "https://ece.example",
        Rotating(""),
        session=RecordingSession(busy),  # type: ignore[arg-type]
        sleep=waits.append,
    )
    # 6.9 s left: a 5 s wait leaves less than the 2 s an attempt needs.
    with pytest.raises(EceError) as raised:
        client.get_extension("123", Deadline(lambda: 6900, reserve_seconds=0))
    assert waits == []
    error = raised.value
    assert (error.reason, error.status, error.transient) == (reasons.LAMBDA_OUT_OF_TIME, 503, True)
    assert error.server_message == "gave up after 1 attempts: ece.http_503"


def test_each_request_asks_for_json_within_the_time_left() -> None:
    session = RecordingSession()
    client = EceClient("https://ece.example", Rotating(""), timeout_seconds=30, session=session)  # type: ignore[arg-type]
    client.get_extension("123", Deadline(lambda: 600_000, reserve_seconds=0))
    client.get_extension("123", Deadline(lambda: 4_000, reserve_seconds=0))
    roomy, tight = session.calls
    assert roomy["headers"]["Accept"] == "application/json"
    assert roomy["headers"]["Authorization"] == "ApiKey k"
    assert roomy["timeout"] == (10.0, 30)
    assert tight["timeout"] == (4.0, 4.0)


def test_201_created_is_a_success() -> None:
    session = RecordingSession(json_reply(201, EXTENSION))
    client = EceClient("https://ece.example", Rotating(""), session=session)  # type: ignore[arg-type]
    assert client.get_extension("123", Deadline.after(60)).id == "123"


def test_proxy_settings_from_the_environment_never_apply_to_ece_calls() -> None:
    session = RecordingSession()
    assert session.trust_env
    EceClient("https://ece.example", Rotating(""), session=session)  # type: ignore[arg-type]
    assert session.trust_env is False
