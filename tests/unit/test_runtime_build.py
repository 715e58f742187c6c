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
