"""ECE credentials from Secrets Manager: the contract's three secret formats, cached.

The secret's value never appears in a repr, a log line, a tag or an exception
message: :class:`Credentials` hides its fields, and parse errors say what is
wrong with the *shape* of the secret, never what it contains.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from extension_uploader import reasons

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

_HEADER_SAFE = re.compile(r"^[\x21-\x7e]+$")  # visible ASCII: nothing that could split a header


class SecretError(Exception):
    """When the credentials cannot be had; ``reason`` is the contract's code."""

    reason = reasons.SECRET_UNAVAILABLE
    transient = True


class SecretUnavailable(SecretError):
    """When Secrets Manager cannot be reached or refuses: retry, or fix permissions."""


class SecretInvalid(SecretError):
    """When the secret's value is not one of the supported formats: fix the secret."""

    reason = reasons.SECRET_INVALID
    transient = False


@dataclass(frozen=True)
class Credentials:
    kind: Literal["api_key", "basic"]
    authorization: str = field(repr=False)
    ca_bundle_pem: str | None = field(default=None, repr=False)


def parse_secret(value: str | bytes) -> Credentials:
    """A plain API key, ``{"api_key": ...}`` or ``{"username": ..., "password": ...}``.

    Any JSON form may add ``"ca_bundle"``: PEM text of CAs to trust.
    """
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    text = text.strip()
    if not text:
        raise SecretInvalid("the secret is empty")
    if not text.startswith("{"):
        return Credentials("api_key", _api_key_header(text))
    try:
        document = json.loads(text)
    except ValueError:
        raise SecretInvalid("the secret starts with '{' but is not valid JSON") from None
    if not isinstance(document, dict):
        raise SecretInvalid("the secret's JSON is not an object")
    ca_bundle = _ca_bundle(document.get("ca_bundle"))
    api_key = document.get("api_key")
    if api_key is not None:
        if not isinstance(api_key, str):
            raise SecretInvalid("the secret's api_key is not a string")
        return Credentials("api_key", _api_key_header(api_key.strip()), ca_bundle)
    username, password = document.get("username"), document.get("password")
    if isinstance(username, str) and isinstance(password, str) and username and password:
        if ":" in username:
            raise SecretInvalid("the secret's username must not contain ':'")
        token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        return Credentials("basic", f"Basic {token}", ca_bundle)
    raise SecretInvalid("the secret's JSON has neither api_key nor username and password")


def _api_key_header(key: str) -> str:
    if not key or not _HEADER_SAFE.match(key):
        raise SecretInvalid("the API key is empty or holds spaces or control characters")
    return f"ApiKey {key}"


def _ca_bundle(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or "-----BEGIN CERTIFICATE-----" not in value:
        raise SecretInvalid("the secret's ca_bundle is not PEM certificate text")
    return value


class CredentialStore:
    """Credentials for the ECE client, cached by Powertools.

    The cache lasts ``max_age`` seconds, by default ``POWERTOOLS_PARAMETERS_MAX_AGE``
    or Powertools' 300. ``get(refresh=True)`` bypasses it: the client calls it once
    after a 401 so that a rotated key is picked up without an outage.
    """

    def __init__(
        self, secret_id: str, provider: SecretsProvider, max_age: int | None = None
    ) -> None:
        self._secret_id = secret_id
        self._provider = provider
        self._max_age = max_age

    def get(self, *, refresh: bool = False) -> Credentials:
        # With the provider, not with this module: importing any part of Powertools'
        # parameters package imports every provider it has.
        from aws_lambda_powertools.utilities.parameters.exceptions import (
            GetParameterError,
            TransformParameterError,
        )

        try:
            value = self._provider.get(self._secret_id, max_age=self._max_age, force_fetch=refresh)
        except (GetParameterError, TransformParameterError) as exc:
            # Powertools' message quotes the SDK error (names, not values): keep only its type.
            cause = type(exc.__cause__).__name__ if exc.__cause__ else type(exc).__name__
            raise SecretUnavailable(f"could not read the ECE secret ({cause})") from None
        if not isinstance(value, str | bytes):
            raise SecretInvalid("the secret has no string value")
        return parse_secret(value)
