"""Pure parts of the ECE client: id safety, error mapping, Retry-After."""

from __future__ import annotations

import json

import pytest
import requests

from extension_uploader import reasons
from extension_uploader.ece import is_safe_extension_id
from extension_uploader.ece_errors import error_from_reply, retry_after_seconds


def reply(status: int, body: str | bytes, content_type: str, **headers: str) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = body.encode() if isinstance(body, str) else body
    response.headers["Content-Type"] = content_type
    response.headers.update(headers)
    return response


def failed_reply(status: int, code: str) -> requests.Response:
    body = json.dumps({"errors": [{"code": code, "message": "server says no"}]})
    return reply(status, body, "application/json", **{"x-cloud-error-codes": code})


@pytest.mark.parametrize("value", ["2536123203", "abc-DEF_1.2", "a" * 128])
def test_safe_ids(value: str) -> None:
    assert is_safe_extension_id(value)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "../users",
        "a/b",
        "x?y",
        "%2e%2e",
        "..",
        "a..b",
        ".hidden",
        "a b",
        "a#b",
        "é",
        "a" * 129,
        "a\n",
    ],
)
def test_unsafe_ids(value: str) -> None:
    assert not is_safe_extension_id(value)


def test_basic_failed_reply_becomes_ece_code() -> None:
    error = error_from_reply(failed_reply(404, "extensions.not_found"))
    assert error.reason == reasons.ECE_EXTENSION_NOT_FOUND
    assert not error.transient and not error.refused_file
    assert error.server_message == "server says no"


def test_request_execution_failed_is_ece_refusing_the_file() -> None:
    error = error_from_reply(failed_reply(400, "extensions.request_execution_failed"))
    assert error.reason == reasons.ECE_REQUEST_EXECUTION_FAILED and error.refused_file


@pytest.mark.parametrize("status", [403, 413, 502])
def test_html_from_a_proxy_becomes_http_status(status: int) -> None:
    error = error_from_reply(
        reply(status, "<html><body>Request blocked</body></html>", "text/html")
    )
    assert error.reason == f"ece.http_{status}"
    assert error.transient is (status >= 500)
    assert "blocked" not in error.reason


def test_json_that_is_not_a_failed_reply_becomes_http_status() -> None:
    assert error_from_reply(reply(500, '{"oops": 1}', "application/json")).reason == "ece.http_500"


def test_retry_after_is_read_from_the_reply() -> None:
    error = error_from_reply(reply(503, "busy", "text/plain", **{"Retry-After": "7"}))
    assert error.transient and error.retry_after == 7


def test_retry_after_forms() -> None:
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("3") == 3
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0  # in the past
    assert retry_after_seconds("soon") is None
