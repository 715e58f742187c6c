"""Building the warm container's runtime: whose clients it uses, what it warns about, reuse."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from extension_uploader import app
from extension_uploader.config import Settings

ENV = {
    "ECE_API_URL": "https://ece.example:12443",
    "ECE_SECRET_ID": "ece/api-key",
    "LEDGER_TABLE": "ledger",
    "ALLOWED_EXTENSION_IDS": "*",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
}


class Clients:
    """Stands in for boto3.client: remembers which services were asked for."""

    def __init__(self) -> None:
        self.services: list[str] = []

    def __call__(self, service: str) -> Any:
        import boto3

        self.services.append(service)
        return boto3.client(service, region_name="us-east-1")  # type: ignore[call-overload]


@pytest.fixture
def warnings() -> Iterator[Callable[[], list[str]]]:
    from extension_uploader.telemetry import logger

    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    try:
        yield lambda: [
            json.loads(line)["message"]
            for line in buffer.getvalue().splitlines()
            if line and json.loads(line)["level"] == "WARNING"
        ]
    finally:
        handler.setStream(previous)


def test_every_aws_client_comes_from_the_callers_factory() -> None:
    clients = Clients()
    app.build_runtime(Settings.from_env(ENV | {"OUTCOME_EVENT_BUS": "bus"}), aws_client=clients)
    assert sorted(clients.services) == ["dynamodb", "events", "s3", "secretsmanager"]


def test_a_safe_configuration_warns_about_nothing(warnings: Callable[[], list[str]]) -> None:
    app.build_runtime(Settings.from_env(ENV), aws_client=Clients())
    assert warnings() == []


def test_tls_verification_off_is_warned_about(warnings: Callable[[], list[str]]) -> None:
    app.build_runtime(Settings.from_env(ENV | {"ECE_TLS_VERIFY": "false"}), aws_client=Clients())
    assert warnings() == ["ECE_TLS_VERIFY is false: the ECE certificate is not checked"]


def test_plain_http_is_warned_about(warnings: Callable[[], list[str]]) -> None:
    env = ENV | {"ECE_API_URL": "http://ece.example:12400", "ECE_ALLOW_HTTP": "true"}
    app.build_runtime(Settings.from_env(env), aws_client=Clients())
    assert warnings() == ["ECE_ALLOW_HTTP is true: the ECE API key travels in clear over http://"]


def test_the_runtime_is_kept_while_the_settings_stay_the_same(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(app, "_runtime", None)
    first = app._get_runtime()
    assert app._get_runtime() is first
    monkeypatch.setenv("LEDGER_TABLE", "another")
    other = app._get_runtime()
    assert other is not first
    assert other.settings.ledger_table == "another"


class Recorder:
    """An AWS client or HTTP session that only records what it is asked."""

    def __init__(self) -> None:
        self.trust_env = True
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def get_secret_value(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("get_secret_value", kwargs))
        return {"SecretString": "an-api-key", "VersionId": "1"}

    def put_events(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("put_events", kwargs))
        return {"FailedEntryCount": 0, "Entries": [{"EventId": "e"}]}

    def request(self, method: str, url: str, **kwargs: Any) -> Any:
        import requests

        self.calls.append((method, kwargs))
        reply = requests.Response()
        reply.status_code = 200
        reply._content = json.dumps(
            {"id": "1", "name": "n", "extension_type": "bundle", "version": "*"}
        ).encode()
        return reply


def test_the_outcome_bus_is_the_one_configured_and_only_when_configured() -> None:
    events = Recorder()

    def clients(service: str) -> Any:
        return events if service == "events" else Clients()(service)

    runtime = app.build_runtime(Settings.from_env(ENV | {"OUTCOME_EVENT_BUS": "ops"}), clients)
    assert runtime.events is not None
    runtime.events.publish({"status": "uploaded"})
    [(_, sent)] = events.calls
    assert sent["Entries"][0]["EventBusName"] == "ops"
    assert app.build_runtime(Settings.from_env(ENV), Clients()).events is None


def test_the_ece_client_follows_the_settings(tmp_path: Any) -> None:
    from extension_uploader.deadline import Deadline

    bundle = tmp_path / "ca.pem"
    bundle.write_text("CA")
    archive = tmp_path / "a.zip"
    archive.write_bytes(b"PK\x05\x06" + bytes(18))
    env = ENV | {
        "ECE_TIMEOUT_SECONDS": "7",
        "ECE_CA_BUNDLE": str(bundle),
        "UPLOAD_MODE": "raw",
    }
    session = Recorder()
    runtime = app.build_runtime(Settings.from_env(env), with_secret, session=session)
    runtime.ece.upload("1", archive, Deadline(lambda: 600_000, reserve_seconds=0))
    [(method, sent)] = session.calls
    assert method == "PUT"
    assert sent["verify"] == str(bundle)
    assert sent["timeout"] == (10.0, 7.0)
    assert sent["headers"]["Content-Type"] == "application/zip"
    plain = Recorder()
    insecure = app.build_runtime(
        Settings.from_env(ENV | {"ECE_TLS_VERIFY": "false"}), with_secret, session=plain
    )
    insecure.ece.get_extension("1", Deadline.after(60))
    [(_, sent)] = plain.calls
    assert sent["verify"] is False


def with_secret(service: str) -> Any:
    """Secrets Manager answers with an API key; the other clients are real but unused."""
    return Recorder() if service == "secretsmanager" else Clients()(service)
