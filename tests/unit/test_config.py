"""Settings: contract defaults, validation with messages that name the variable."""

from __future__ import annotations

import pytest

from extension_uploader.config import ConfigError, Settings

BASE = {
    "ECE_API_URL": "https://ece.example.com:12443/",
    "ECE_SECRET_ID": "ece/key",
    "LEDGER_TABLE": "ledger",
    "ALLOWED_EXTENSION_IDS": "*",
}


def test_contract_defaults() -> None:
    settings = Settings.from_env(BASE)
    assert settings.ece_api_url == "https://ece.example.com:12443"
    assert settings.extension_id_tag == "ece-extension-id"
    assert settings.max_zip_bytes == 209_715_200
    assert settings.limits.max_entries == 10_000
    assert settings.limits.max_uncompressed_bytes == 4_294_967_296
    assert settings.limits.max_compression_ratio == 200
    assert settings.limits.deflate64_policy == "repack"
    assert settings.upload_mode == "multipart"
    assert settings.tls_verify is True and settings.ca_bundle is None
    assert settings.timeout_seconds == 60 and settings.dry_run is False


def test_every_setting_is_read() -> None:
    settings = Settings.from_env(
        BASE
        | {
            "EXTENSION_ID_TAG": "target",
            "MAX_ZIP_BYTES": "100",
            "MAX_ENTRIES": "5",
            "MAX_UNCOMPRESSED_BYTES": "1000",
            "MAX_COMPRESSION_RATIO": "50",
            "DEFLATE64_POLICY": "reject",
            "UPLOAD_MODE": "raw",
            "ECE_CA_BUNDLE": "/etc/ece-ca.pem",
            "ECE_TLS_VERIFY": "false",
            "ECE_TIMEOUT_SECONDS": "7.5",
            "DRY_RUN": "true",
        }
    )
    assert settings.extension_id_tag == "target" and settings.max_zip_bytes == 100
    assert settings.limits.max_entries == 5 and settings.limits.max_uncompressed_bytes == 1000
    assert (
        settings.limits.max_compression_ratio == 50 and settings.limits.deflate64_policy == "reject"
    )
    assert settings.upload_mode == "raw" and settings.ca_bundle == "/etc/ece-ca.pem"
    assert settings.tls_verify is False and settings.timeout_seconds == 7.5 and settings.dry_run


def test_empty_values_mean_the_default() -> None:
    # SAM passes parameters left blank as empty strings.
    settings = Settings.from_env(BASE | {"ECE_CA_BUNDLE": "", "ECE_TLS_VERIFY": "", "DRY_RUN": ""})
    assert settings.ca_bundle is None and settings.tls_verify and not settings.dry_run


@pytest.mark.parametrize(
    ("overrides", "names"),
    [
        ({"ECE_API_URL": ""}, "ECE_API_URL"),
        ({"ECE_API_URL": "ftp://ece"}, "ECE_API_URL"),
        ({"ECE_API_URL": "https://user:pw@ece"}, "ECE_API_URL"),
        ({"ECE_SECRET_ID": " "}, "ECE_SECRET_ID"),
        ({"MAX_ZIP_BYTES": "-1"}, "MAX_ZIP_BYTES"),
        ({"MAX_ENTRIES": "lots"}, "MAX_ENTRIES"),
        ({"DEFLATE64_POLICY": "ignore"}, "DEFLATE64_POLICY"),
        ({"UPLOAD_MODE": "ftp"}, "UPLOAD_MODE"),
        ({"ECE_TLS_VERIFY": "maybe"}, "ECE_TLS_VERIFY"),
        ({"ECE_TIMEOUT_SECONDS": "0"}, "ECE_TIMEOUT_SECONDS"),
        ({"ECE_TIMEOUT_SECONDS": "nan"}, "ECE_TIMEOUT_SECONDS"),
        ({"LEDGER_TABLE": ""}, "LEDGER_TABLE is required: the DynamoDB table"),
        ({"ALLOWED_EXTENSION_IDS": ""}, "ALLOWED_EXTENSION_IDS is required: comma-separated"),
        ({"ALLOWED_EXTENSION_IDS": ","}, "ALLOWED_EXTENSION_IDS names no extension id"),
        ({"EXTENSION_ROUTES": "{"}, "EXTENSION_ROUTES is not JSON"),
        ({"ECE_API_URL": "http://ece:12400"}, "travel in clear.*ECE_ALLOW_HTTP=true"),
        ({"ECE_ALLOW_HTTP": "sometimes"}, "ECE_ALLOW_HTTP"),
    ],
)
def test_bad_settings_fail_with_the_variable_named(overrides: dict[str, str], names: str) -> None:
    with pytest.raises(ConfigError, match=names):
        Settings.from_env(BASE | overrides)


def test_plain_http_needs_the_opt_in() -> None:
    settings = Settings.from_env(
        BASE | {"ECE_API_URL": "http://ece:12400", "ECE_ALLOW_HTTP": "true"}
    )
    assert settings.ece_api_url == "http://ece:12400" and settings.allow_http


def test_the_allow_list_and_routes_are_read_once() -> None:
    settings = Settings.from_env(
        BASE | {"ALLOWED_EXTENSION_IDS": "111,222", "EXTENSION_ROUTES": '{"a/": ["222"]}'}
    )
    assert settings.targets.permits("a/x.zip", "222")
    assert not settings.targets.permits("a/x.zip", "111")
    assert settings.ledger_table == "ledger"


@pytest.mark.parametrize("key", ["aws:owner", "ece-upload-status", "bad#key", "k" * 129])
def test_the_extension_id_tag_must_be_a_tag_key_the_function_does_not_write(key: str) -> None:
    with pytest.raises(ConfigError, match="EXTENSION_ID_TAG"):
        Settings.from_env(BASE | {"EXTENSION_ID_TAG": key})
