"""Settings from the Lambda environment, validated once per cold start.

Every name here is part of the public contract (README, ``template.yaml``). A bad
value fails loudly at start with a message that names the variable, never later in
the middle of an upload.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

from extension_uploader.access import AccessConfigError, TargetPolicy
from extension_uploader.inspection import Limits
from extension_uploader.outcome import OUTCOME_TAG_PREFIX

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB

DEFAULT_EXTENSION_ID_TAG = "ece-extension-id"
DEFAULT_MAX_ZIP_BYTES = 200 * MiB
DEFAULT_MAX_ENTRIES = 10_000
DEFAULT_MAX_UNCOMPRESSED_BYTES = 4 * GiB
DEFAULT_MAX_COMPRESSION_RATIO = 200
DEFAULT_TIMEOUT_SECONDS = 60.0

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class ConfigError(ValueError):
    """When a setting is missing or malformed: fix the function's environment."""


@dataclass(frozen=True)
class Settings:
    ece_api_url: str
    ece_secret_id: str
    ledger_table: str
    targets: TargetPolicy
    extension_id_tag: str = DEFAULT_EXTENSION_ID_TAG
    max_zip_bytes: int = DEFAULT_MAX_ZIP_BYTES
    limits: Limits = field(default_factory=Limits)
    upload_mode: Literal["multipart", "raw"] = "multipart"
    ca_bundle: str | None = None
    tls_verify: bool = True
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    dry_run: bool = False
    allow_http: bool = False
    in_use_policy: Literal["allow", "refuse"] = "allow"
    outcome_event_bus: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        api_url = _required(env, "ECE_API_URL").rstrip("/")
        parts = urlsplit(api_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError("ECE_API_URL must be an http(s) URL such as https://ece:12443")
        if parts.query or parts.fragment or parts.username or parts.password:
            raise ConfigError("ECE_API_URL must not carry a query, fragment or credentials")
        allow_http = _bool(env, "ECE_ALLOW_HTTP", default=False)
        if parts.scheme == "http" and not allow_http:
            raise ConfigError(
                "ECE_API_URL is plain http://, so the API key would travel in clear: use"
                " https://, or set ECE_ALLOW_HTTP=true for a network you trust"
            )
        try:
            targets = TargetPolicy.parse(
                _required(env, "ALLOWED_EXTENSION_IDS"), env.get("EXTENSION_ROUTES")
            )
        except AccessConfigError as exc:
            raise ConfigError(str(exc)) from None
        max_zip_bytes, limits = archive_limits(env)
        return cls(
            ece_api_url=api_url,
            ece_secret_id=_required(env, "ECE_SECRET_ID"),
            ledger_table=_required(env, "LEDGER_TABLE"),
            targets=targets,
            extension_id_tag=_tag_key(env, "EXTENSION_ID_TAG", DEFAULT_EXTENSION_ID_TAG),
            max_zip_bytes=max_zip_bytes,
            limits=limits,
            upload_mode=(
                "raw"
                if _choice(env, "UPLOAD_MODE", ("multipart", "raw"), "multipart") == "raw"
                else "multipart"
            ),
            ca_bundle=env.get("ECE_CA_BUNDLE") or None,
            tls_verify=_bool(env, "ECE_TLS_VERIFY", default=True),
            timeout_seconds=_positive_float(env, "ECE_TIMEOUT_SECONDS", DEFAULT_TIMEOUT_SECONDS),
            dry_run=_bool(env, "DRY_RUN", default=False),
            allow_http=allow_http,
            in_use_policy=(
                "refuse"
                if _choice(env, "IN_USE_POLICY", ("allow", "refuse"), "allow") == "refuse"
                else "allow"
            ),
            outcome_event_bus=env.get("OUTCOME_EVENT_BUS", "").strip() or None,
        )


def archive_limits(env: Mapping[str, str]) -> tuple[int, Limits]:
    """``MAX_ZIP_BYTES`` and the archive limits (also what ``publish`` checks with)."""
    policy = _choice(env, "DEFLATE64_POLICY", ("repack", "reject"), "repack")
    limits = Limits(
        max_entries=_positive_int(env, "MAX_ENTRIES", DEFAULT_MAX_ENTRIES),
        max_uncompressed_bytes=_positive_int(
            env, "MAX_UNCOMPRESSED_BYTES", DEFAULT_MAX_UNCOMPRESSED_BYTES
        ),
        max_compression_ratio=_positive_int(
            env, "MAX_COMPRESSION_RATIO", DEFAULT_MAX_COMPRESSION_RATIO
        ),
        deflate64_policy="repack" if policy == "repack" else "reject",
    )
    return _positive_int(env, "MAX_ZIP_BYTES", DEFAULT_MAX_ZIP_BYTES), limits


_REQUIRED_HINTS = {
    "ALLOWED_EXTENSION_IDS": ": comma-separated extension ids, or * for every id the key reaches",
    "LEDGER_TABLE": ": the DynamoDB table of what is live in each extension",
}


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(f"{name} is required{_REQUIRED_HINTS.get(name, '')}")
    return value


_TAG_KEY = re.compile(r"[\w +\-=.:/@]{1,128}")


def _tag_key(env: Mapping[str, str], name: str, default: str) -> str:
    """A key S3 accepts for a tag, and not one of the outcome tags the function writes."""
    value = env.get(name, "").strip() or default
    if not _TAG_KEY.fullmatch(value) or value.lower().startswith("aws:"):
        raise ConfigError(f"{name} must be an S3 tag key (1-128 characters), got {value!r}")
    if value.startswith(OUTCOME_TAG_PREFIX):
        raise ConfigError(f"{name} must not start with {OUTCOME_TAG_PREFIX}: those are outcomes")
    return value


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"{name} must be positive, got {value}")
    return value


def _positive_float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {raw!r}") from None
    if not value > 0:
        raise ConfigError(f"{name} must be positive, got {raw!r}")
    return value


def _bool(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    raw = env.get(name, "")
    lowered = raw.strip().lower()
    if not lowered:
        return default
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def _choice(env: Mapping[str, str], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = (env.get(name) or default).strip().lower()
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return value
