"""The three secret formats, and no secret value in any message or repr."""

from __future__ import annotations

import base64
import json

import pytest

from extension_uploader.credentials import SecretInvalid, parse_secret

PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
KEY = "essu_c2VjcmV0LWtleS12YWx1ZQ=="


def test_plain_string_is_an_api_key() -> None:
    credentials = parse_secret(f"  {KEY}\n")
    assert credentials.kind == "api_key"
    assert credentials.authorization == f"ApiKey {KEY}"
    assert credentials.ca_bundle_pem is None


def test_json_api_key_with_ca_bundle() -> None:
    credentials = parse_secret(json.dumps({"api_key": KEY, "ca_bundle": PEM}))
    assert credentials.authorization == f"ApiKey {KEY}"
    assert credentials.ca_bundle_pem == PEM


def test_json_username_password_is_basic_auth() -> None:
    credentials = parse_secret(json.dumps({"username": "admin", "password": "p:w d"}))
    assert credentials.kind == "basic"
    token = credentials.authorization.removeprefix("Basic ")
    assert base64.b64decode(token) == b"admin:p:w d"


def test_bytes_secret() -> None:
    assert parse_secret(KEY.encode()).authorization == f"ApiKey {KEY}"


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "key with spaces",
        "key\r\nX-Injected: 1",
        "{not json",
        "[1, 2]",
        json.dumps({"api_key": 5}),
        json.dumps({"api_key": ""}),
        json.dumps({"username": "admin"}),
        json.dumps({"username": "a:b", "password": "x"}),
        json.dumps({"api_key": KEY, "ca_bundle": "not a pem"}),
        json.dumps({"token": KEY}),
    ],
)
def test_invalid_secrets_are_refused_without_echoing_the_value(value: str) -> None:
    with pytest.raises(SecretInvalid) as caught:
        parse_secret(value)
    assert KEY not in str(caught.value)
    if len(value.strip()) > 3:
        assert value.strip() not in str(caught.value)


def test_repr_hides_the_secret() -> None:
    credentials = parse_secret(json.dumps({"api_key": KEY, "ca_bundle": PEM}))
    assert KEY not in repr(credentials) and "MIIB" not in repr(credentials)
