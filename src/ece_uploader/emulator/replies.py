"""Response bodies and codes shared by the API and the admin routes."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

JSON_TYPE = "application/json"
HTML_TYPE = "text/html; charset=utf-8"
ERROR_CODES_HEADER = "x-cloud-error-codes"

# Documented by the spec for the extension operations.
EXTENSION_NOT_FOUND = "extensions.not_found"
REQUEST_EXECUTION_FAILED = "extensions.request_execution_failed"
# Generic ECE codes (any operation): in the full ECE spec, or seen in Elastic's
# client test fixtures (invalid_json_request, resource_not_found).
UNAUTHENTICATED = "root.unauthenticated"
INVALID_JSON = "root.invalid_json_request"
RESOURCE_NOT_FOUND = "root.resource_not_found"
INVALID_DATA = "root.invalid_data"
# Chosen by the emulator: ECE's own codes for these are not documented.
METHOD_NOT_ALLOWED = "root.method_not_allowed"
INTERNAL_ERROR = "root.internal_server_error"
ADMIN_BAD_REQUEST = "emulator.bad_request"

FILE_NOT_ACCEPTED = "Could not accept the extensions file."
DOWNLOAD_FAILED = "Could not download the extension from the specified URL."


def json_bytes(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def failed_reply(code: str, message: str, fields: Sequence[str] | None = None) -> dict[str, Any]:
    """The spec's ``BasicFailedReply`` with one error."""
    error: dict[str, Any] = {"code": code, "message": message}
    if fields:
        error["fields"] = list(fields)
    return {"errors": [error]}
