"""What the emulator keeps: extensions with their stored file, uploads and requests.

Deployments and their plans are in :mod:`ece_uploader.emulator.deployments`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

UploadMode = Literal["multipart", "raw"]

EXTENSION_TYPES = ("plugin", "bundle")
DOWNLOAD_PREFIX = "/_emulator/files"


def utc_now() -> dt.datetime:
    """Now, in UTC, to the millisecond (the precision ECE shows)."""
    now = dt.datetime.now(dt.UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def iso_time(moment: dt.datetime) -> str:
    """``2026-11-28T09:15:00.123Z``."""
    text = moment.astimezone(dt.UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


@dataclass(frozen=True)
class UploadRecord:
    """One accepted upload of an extension file."""

    extension_id: str
    size: int
    sha256: str
    mode: UploadMode
    # The part's file name (multipart) or None (raw body).
    filename: str | None
    # The part's Content-Type (multipart) or the body's (raw).
    content_type: str | None
    received_at: dt.datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "extension_id": self.extension_id,
            "size": self.size,
            "sha256": self.sha256,
            "mode": self.mode,
            "filename": self.filename,
            "content_type": self.content_type,
            "received_at": iso_time(self.received_at),
        }


@dataclass
class RequestRecord:
    """One request the emulator received (admin routes excluded).

    ``headers`` holds every request header by lower-case name except
    ``authorization``, ``proxy-authorization`` and ``cookie``; ``auth_scheme`` is
    ``ApiKey``, ``Basic``, ``unknown`` or None (no header). ``status`` is None when
    the emulator never answered (an injected reset or hang).
    """

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    client: str
    received_at: dt.datetime
    expect_continue: bool
    content_type: str | None
    operation_id: str | None = None
    extension_id: str | None = None
    deployment_id: str | None = None
    auth_scheme: str | None = None
    body_size: int = 0
    part_names: tuple[str, ...] = ()
    status: int | None = None
    fault: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": self.headers,
            "client": self.client,
            "received_at": iso_time(self.received_at),
            "expect_continue": self.expect_continue,
            "content_type": self.content_type,
            "operation_id": self.operation_id,
            "extension_id": self.extension_id,
            "deployment_id": self.deployment_id,
            "auth_scheme": self.auth_scheme,
            "body_size": self.body_size,
            "part_names": list(self.part_names),
            "status": self.status,
            "fault": self.fault,
        }


@dataclass(frozen=True)
class StoredFile:
    """The bytes of an extension's last upload, on disk."""

    path: Path
    size: int
    sha256: str
    last_modified: dt.datetime
    # Part of the download URL; a new upload makes the old URL stop working.
    token: str


@dataclass
class ExtensionState:
    """An extension as the emulator stores it."""

    id: str
    name: str
    extension_type: str
    version: str
    created: dt.datetime
    modified: dt.datetime
    description: str | None = None
    download_url: str | None = None
    resource_version: int = 1
    file: StoredFile | None = field(default=None, repr=False)

    def to_json(self, base_url: str, *, deployments: list[str] | None = None) -> dict[str, Any]:
        """The spec's ``Extension`` model (``deployments``: ids of those using it)."""
        body: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "url": f"repo://{self.id}",
            "extension_type": self.extension_type,
            "version": self.version,
        }
        if self.description is not None:
            body["description"] = self.description
        if self.download_url is not None:
            body["download_url"] = self.download_url
        if deployments is not None:
            body["deployments"] = list(deployments)
        if self.file is not None:
            body["file_metadata"] = {
                "size": self.file.size,
                "last_modified_date": iso_time(self.file.last_modified),
                "url": f"{base_url}{download_path(self.id, self.file.token)}",
            }
        return body

    def resource_headers(self) -> dict[str, str]:
        return {
            "x-cloud-resource-version": str(self.resource_version),
            "x-cloud-resource-created": iso_time(self.created),
            "x-cloud-resource-last-modified": iso_time(self.modified),
        }


def download_path(extension_id: str, token: str) -> str:
    return f"{DOWNLOAD_PREFIX}/{quote(extension_id, safe='')}/{token}"
