"""S3 adapter: head an exact object version, download it with bounded memory, tag it.

Every call names the version the event named (when the bucket is versioned), so
the object checked is the object uploaded is the object tagged; downloads are
pinned to the ETag seen by :meth:`ObjectStore.head`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from extension_uploader import reasons
from extension_uploader.events import ObjectRef

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

DOWNLOAD_CHUNK_BYTES = 1024 * 1024

_GONE_CODES = {"NoSuchKey", "NoSuchVersion", "NotFound", "404", "405", "MethodNotAllowed"}
_CHANGED_CODES = {"PreconditionFailed", "412"}
_DENIED_CODES = {"AccessDenied", "403", "AllAccessDisabled", "InvalidAccessKeyId"}


class StorageError(Exception):
    """When S3 refused or failed a call: ``reason`` says which, ``transient`` whether to retry."""

    def __init__(self, reason: str, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.reason = reason
        self.transient = transient


class ObjectGone(StorageError):
    """When the object version no longer exists: nothing to do."""

    def __init__(self, message: str) -> None:
        super().__init__(reasons.OBJECT_DELETED, message, transient=False)


class ObjectChanged(StorageError):
    """When the object was overwritten since it was checked: its own event will come."""

    def __init__(self, message: str) -> None:
        super().__init__(reasons.OBJECT_CHANGED, message, transient=False)


class Sink(Protocol):
    """Where a download goes: a file, or anything that writes and flushes bytes."""

    def write(self, data: bytes, /) -> int: ...

    def flush(self) -> None: ...


@dataclass(frozen=True)
class ObjectInfo:
    size: int
    etag: str
    version_id: str | None
    tags: dict[str, str]
    last_modified: datetime


@dataclass(frozen=True)
class Download:
    size: int
    sha256: str


class ObjectStore:
    def __init__(self, client: S3Client) -> None:
        self._client = client

    def head(self, ref: ObjectRef) -> ObjectInfo:
        """Size, ETag and tags of the exact version the event named."""
        with _s3_errors("head"):
            head = self._client.head_object(**_address(ref))
        info = ObjectInfo(
            size=head["ContentLength"],
            etag=head["ETag"].strip('"'),
            version_id=head.get("VersionId") or ref.version_id,
            tags={},
            last_modified=head["LastModified"],
        )
        return replace(info, tags=self.read_tags(ref, info))

    def latest_version_id(self, ref: ObjectRef) -> str | None:
        """The key's current version, or None when the key is now deleted."""
        try:
            with _s3_errors("head latest"):
                head = self._client.head_object(Bucket=ref.bucket, Key=ref.key)
        except ObjectGone:
            return None
        return head.get("VersionId")

    def read_tags(self, ref: ObjectRef, info: ObjectInfo) -> dict[str, str]:
        with _s3_errors("read tags"):
            tagging = self._client.get_object_tagging(**_address(ref, info))
        return {tag["Key"]: tag["Value"] for tag in tagging["TagSet"]}

    def download(self, ref: ObjectRef, info: ObjectInfo, dest: Sink) -> Download:
        """Stream the version seen by :meth:`head` into ``dest``, hashing as it goes."""
        digest = hashlib.sha256()
        size = 0
        with _s3_errors("download"):
            response = self._client.get_object(**_address(ref, info), IfMatch=f'"{info.etag}"')
            body = response["Body"]
            try:
                for chunk in body.iter_chunks(DOWNLOAD_CHUNK_BYTES):
                    dest.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
            finally:
                body.close()
        if size != info.size:
            raise StorageError(
                reasons.S3_ERROR, f"download ended at {size} of {info.size} bytes", transient=True
            )
        dest.flush()
        return Download(size, digest.hexdigest())

    def read_tail(self, ref: ObjectRef, info: ObjectInfo, size: int) -> bytes:
        """The last ``size`` bytes of the version seen by :meth:`head` (all of it if smaller)."""
        with _s3_errors("read the tail"):
            response = self._client.get_object(
                **_address(ref, info), IfMatch=f'"{info.etag}"', Range=f"bytes=-{size}"
            )
            body = response["Body"]
            try:
                tail: bytes = body.read()
            finally:
                body.close()
        if len(tail) != min(size, info.size):
            raise StorageError(
                reasons.S3_ERROR, f"the tail read gave {len(tail)} bytes", transient=True
            )
        return tail

    def write_tags(self, ref: ObjectRef, info: ObjectInfo, tags: dict[str, str]) -> None:
        tag_set: list[Any] = [{"Key": key, "Value": value} for key, value in tags.items()]
        with _s3_errors("tag"):
            self._client.put_object_tagging(**_address(ref, info), Tagging={"TagSet": tag_set})


def _address(ref: ObjectRef, info: ObjectInfo | None = None) -> dict[str, Any]:
    version_id = info.version_id if info else ref.version_id
    address: dict[str, Any] = {"Bucket": ref.bucket, "Key": ref.key}
    if version_id:
        address["VersionId"] = version_id
    return address


@contextmanager
def _s3_errors(action: str) -> Iterator[None]:
    """Translate botocore errors into :class:`StorageError` kinds."""
    try:
        yield
    except ClientError as exc:
        raise _classify(exc, action) from exc
    except BotoCoreError as exc:
        message = f"S3 {action} failed: {type(exc).__name__}"
        raise StorageError(reasons.S3_ERROR, message, transient=True) from exc


def _classify(exc: ClientError, action: str) -> StorageError:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    status = str(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
    message = f"S3 {action} failed: {code or status}"
    if code in _GONE_CODES or status in ("404", "405"):
        return ObjectGone(message)
    if code in _CHANGED_CODES or status == "412":
        return ObjectChanged(message)
    if code in _DENIED_CODES or status == "403":
        return StorageError(reasons.S3_ACCESS_DENIED, message, transient=False)
    return StorageError(reasons.S3_ERROR, message, transient=True)
