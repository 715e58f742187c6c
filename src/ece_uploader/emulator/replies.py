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
# Documented by the spec for get-deployment and update-deployment (404).
DEPLOYMENT_NOT_FOUND = "deployments.deployment_not_found"
# update-deployment documents 400 "The deployment request had errors" with no
# codes; the emulator answers these two of the full spec's codes: a plan that
# cannot be applied, and a resource in a state that refuses a new plan (one is
# already pending; the spec says of this code "the command sent to a Resource
# found the Resource in an illegal state").
INVALID_PLAN = "clusters.cluster_invalid_plan"
PLAN_IN_PROGRESS = "deployments.deployment_resource_plan_change_error"
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
