"""Reason codes of the public contract: the value of the ``ece-upload-reason`` tag.

Defined once here; every module that decides an outcome names its reason through
these constants. ECE error codes are dynamic (``ece.<code from the reply>``) and are
built with :func:`ece_reason`.
"""

from __future__ import annotations

import re

OK = "ok"

# object and tags
OBJECT_TOO_LARGE = "object.too_large"
OBJECT_EMPTY = "object.empty"
OBJECT_DELETED = "object.deleted"
OBJECT_CHANGED = "object.changed"
TAG_MISSING_EXTENSION_ID = "tag.missing_extension_id"
TAG_INVALID_EXTENSION_ID = "tag.invalid_extension_id"
TAG_EXTENSION_NOT_ALLOWED = "tag.extension_not_allowed"
EXTENSION_IN_USE = "extension.in_use"

# archive
ZIP_NOT_A_ZIP = "zip.not_a_zip"
ZIP_CORRUPT = "zip.corrupt"
ZIP_ENCRYPTED = "zip.encrypted"
ZIP_UNSUPPORTED_METHOD = "zip.unsupported_method"
ZIP_TOO_MANY_ENTRIES = "zip.too_many_entries"
ZIP_BOMB = "zip.bomb"
ZIP_OVERLAPPING_ENTRIES = "zip.overlapping_entries"
ZIP_UNSAFE_PATH = "zip.unsafe_path"
ZIP_BAD_NAME = "zip.bad_name"
ZIP_LINK_OR_SPECIAL = "zip.link_or_special"
ZIP_DUPLICATE_ENTRY = "zip.duplicate_entry"
ZIP_NO_FILES = "zip.no_files"

# plugin and bundle rules
PLUGIN_MISSING_DESCRIPTOR = "plugin.missing_descriptor"
PLUGIN_MULTIPLE_DESCRIPTORS = "plugin.multiple_descriptors"
PLUGIN_LEGACY_LAYOUT = "plugin.legacy_layout"
PLUGIN_BAD_DESCRIPTOR = "plugin.bad_descriptor"
PLUGIN_VERSION_MISMATCH = "plugin.version_mismatch"
PLUGIN_NO_JARS = "plugin.no_jars"
BUNDLE_BAD_GEOIP_NAME = "bundle.bad_geoip_name"

# ECE (besides ece.<code> from a BasicFailedReply)
ECE_EXTENSION_NOT_FOUND = "ece.extensions.not_found"
ECE_REQUEST_EXECUTION_FAILED = "ece.extensions.request_execution_failed"
ECE_TIMEOUT = "ece.timeout"
ECE_UNREACHABLE = "ece.unreachable"
ECE_TLS = "ece.tls"
ECE_SIZE_MISMATCH = "ece.size_mismatch"
ECE_BAD_REPLY = "ece.bad_reply"

# platform
SECRET_UNAVAILABLE = "secret.unavailable"
SECRET_INVALID = "secret.invalid"
S3_ACCESS_DENIED = "s3.access_denied"
S3_ERROR = "s3.error"
LAMBDA_OUT_OF_TIME = "lambda.out_of_time"
LEDGER_UNAVAILABLE = "ledger.unavailable"
LEDGER_BUSY = "ledger.busy"

# logs and metrics only, never tags: an event the function cannot read (raised,
# so it reaches the on-failure destination) and a bug (raised, so it is retried)
EVENT_MALFORMED = "event.malformed"
INTERNAL_ERROR = "internal.error"

# skips
UPLOAD_DUPLICATE = "upload.duplicate"
UPLOAD_SUPERSEDED = "upload.superseded"
UPLOAD_DRY_RUN = "upload.dry_run"

# An ECE error code becomes part of a tag value: keep it to S3's tag character set
# and a sane length, whatever the server sent.
_UNSAFE_CODE_CHARS = re.compile(r"[^A-Za-z0-9._-]")
_MAX_CODE_CHARS = 120


def ece_reason(code: str) -> str:
    """``ece.<code>`` for an error code taken from an ECE ``BasicFailedReply``."""
    cleaned = _UNSAFE_CODE_CHARS.sub("_", code)[:_MAX_CODE_CHARS] or "unknown"
    return f"ece.{cleaned}"


def ece_http_reason(status: int) -> str:
    """``ece.http_<status>`` for an error reply that carried no JSON error body."""
    return f"ece.http_{status}"
