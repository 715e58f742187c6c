"""The S3 adapter against a scripted client: exact versions, bounded downloads, error kinds."""

from __future__ import annotations

import hashlib
import io
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from extension_uploader import reasons
from extension_uploader.events import ObjectRef
from extension_uploader.objects import (
    DOWNLOAD_CHUNK_BYTES,
    ObjectChanged,
    ObjectGone,
    ObjectInfo,
    ObjectStore,
    StorageError,
)

MODIFIED = datetime(2026, 11, 28, 9, 15, tzinfo=UTC)


class Body:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.closed = False
        self.chunk_sizes: list[int] = []

    def iter_chunks(self, size: int) -> Any:
        self.chunk_sizes.append(size)
        for start in range(0, len(self.data), 3):  # small pieces: several writes
            yield self.data[start : start + 3]

    def close(self) -> None:
        self.closed = True


class FakeS3:
    """Answers from a script; records every call with its arguments."""

    def __init__(self, **answers: Any) -> None:
        self.answers = answers
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def _answer(self, name: str, kwargs: dict[str, Any]) -> Any:
        self.calls.append((name, kwargs))
        answer = self.answers[name]
        if isinstance(answer, list):
            answer = answer.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def head_object(self, **kwargs: Any) -> Any:
        return self._answer("head_object", kwargs)

    def get_object_tagging(self, **kwargs: Any) -> Any:
        return self._answer("get_object_tagging", kwargs)

    def get_object(self, **kwargs: Any) -> Any:
        return self._answer("get_object", kwargs)

    def put_object_tagging(self, **kwargs: Any) -> Any:
        return self._answer("put_object_tagging", kwargs)


def client_error(code: str | None, status: int | None = None) -> ClientError:
    response: dict[str, Any] = {}
    if code is not None:
        response["Error"] = {"Code": code, "Message": "m"}
    if status is not None:
        response["ResponseMetadata"] = {"HTTPStatusCode": status}
    return ClientError(response, "HeadObject")  # type: ignore[arg-type]


def info(version_id: str | None = "v1", size: int = 6) -> ObjectInfo:
    return ObjectInfo(size, "etag1", version_id, {}, MODIFIED)


REF = ObjectRef("bucket", "a.zip", version_id="v1")
HEAD = {"ContentLength": 6, "ETag": '"etag1"', "VersionId": "v1", "LastModified": MODIFIED}
TAGS = {"TagSet": [{"Key": "ece-extension-id", "Value": "123"}, {"Key": "team", "Value": "s"}]}


def test_head_reads_size_etag_version_and_tags_of_the_exact_version() -> None:
    s3 = FakeS3(head_object=HEAD, get_object_tagging=TAGS)
    head = ObjectStore(s3).head(REF)  # type: ignore[arg-type]
    assert head == ObjectInfo(6, "etag1", "v1", {"ece-extension-id": "123", "team": "s"}, MODIFIED)
    assert s3.calls == [
        ("head_object", {"Bucket": "bucket", "Key": "a.zip", "VersionId": "v1"}),
        ("get_object_tagging", {"Bucket": "bucket", "Key": "a.zip", "VersionId": "v1"}),
    ]


def test_an_unversioned_object_is_addressed_by_key_alone() -> None:
    head = HEAD | {"VersionId": None}
    s3 = FakeS3(head_object=head, get_object_tagging={"TagSet": []})
    result = ObjectStore(s3).head(ObjectRef("bucket", "a.zip"))  # type: ignore[arg-type]
    assert result.version_id is None
    assert [kwargs for _, kwargs in s3.calls] == [{"Bucket": "bucket", "Key": "a.zip"}] * 2


def test_the_events_version_is_kept_when_head_does_not_say() -> None:
    head = {key: value for key, value in HEAD.items() if key != "VersionId"}
    s3 = FakeS3(head_object=head, get_object_tagging={"TagSet": []})
    assert ObjectStore(s3).head(REF).version_id == "v1"  # type: ignore[arg-type]


def test_latest_version_is_the_keys_current_one_or_none_once_deleted() -> None:
    s3 = FakeS3(head_object=[{"VersionId": "v2"}, {}, client_error("NoSuchKey", 404)])
    store = ObjectStore(s3)  # type: ignore[arg-type]
    assert store.latest_version_id(REF) == "v2"
    assert store.latest_version_id(REF) is None
    assert store.latest_version_id(REF) is None
    assert s3.calls[0] == ("head_object", {"Bucket": "bucket", "Key": "a.zip"})


def test_download_streams_the_version_seen_and_hashes_it() -> None:
    data = b"PK\x03\x04zz"
    body = Body(data)
    s3 = FakeS3(get_object={"Body": body})
    dest = io.BytesIO()
    download = ObjectStore(s3).download(REF, info(), dest)  # type: ignore[arg-type]
    assert dest.getvalue() == data
    assert (download.size, download.sha256) == (6, hashlib.sha256(data).hexdigest())
    assert body.closed
    assert body.chunk_sizes == [DOWNLOAD_CHUNK_BYTES]
    assert s3.calls == [
        (
            "get_object",
            {"Bucket": "bucket", "Key": "a.zip", "VersionId": "v1", "IfMatch": '"etag1"'},
        )
    ]


def test_a_download_cut_short_is_a_transient_s3_error_and_the_body_is_closed() -> None:
    body = Body(b"PK\x03")
    s3 = FakeS3(get_object={"Body": body})
    with pytest.raises(StorageError) as raised:
        ObjectStore(s3).download(REF, info(size=6), io.BytesIO())  # type: ignore[arg-type]
    assert (raised.value.reason, raised.value.transient) == (reasons.S3_ERROR, True)
    assert str(raised.value) == "download ended at 3 of 6 bytes"
    assert body.closed


def test_write_tags_sends_the_whole_set_to_the_version() -> None:
    s3 = FakeS3(put_object_tagging={})
    ObjectStore(s3).write_tags(REF, info(), {"a": "1", "b": "2"})  # type: ignore[arg-type]
    assert s3.calls == [
        (
            "put_object_tagging",
            {
                "Bucket": "bucket",
                "Key": "a.zip",
                "VersionId": "v1",
                "Tagging": {"TagSet": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]},
            },
        )
    ]


@pytest.mark.parametrize(
    ("code", "status", "kind", "reason", "transient"),
    [
        ("NoSuchKey", 404, ObjectGone, reasons.OBJECT_DELETED, False),
        ("NoSuchVersion", 404, ObjectGone, reasons.OBJECT_DELETED, False),
        ("NotFound", None, ObjectGone, reasons.OBJECT_DELETED, False),
        ("404", None, ObjectGone, reasons.OBJECT_DELETED, False),
        ("405", None, ObjectGone, reasons.OBJECT_DELETED, False),
        ("MethodNotAllowed", None, ObjectGone, reasons.OBJECT_DELETED, False),
        (None, 404, ObjectGone, reasons.OBJECT_DELETED, False),
        (None, 405, ObjectGone, reasons.OBJECT_DELETED, False),
        ("PreconditionFailed", None, ObjectChanged, reasons.OBJECT_CHANGED, False),
        ("412", None, ObjectChanged, reasons.OBJECT_CHANGED, False),
        (None, 412, ObjectChanged, reasons.OBJECT_CHANGED, False),
        ("AccessDenied", None, StorageError, reasons.S3_ACCESS_DENIED, False),
        ("403", None, StorageError, reasons.S3_ACCESS_DENIED, False),
        ("AllAccessDisabled", None, StorageError, reasons.S3_ACCESS_DENIED, False),
        ("InvalidAccessKeyId", None, StorageError, reasons.S3_ACCESS_DENIED, False),
        (None, 403, StorageError, reasons.S3_ACCESS_DENIED, False),
        ("SlowDown", 503, StorageError, reasons.S3_ERROR, True),
        ("InternalError", 500, StorageError, reasons.S3_ERROR, True),
        (None, None, StorageError, reasons.S3_ERROR, True),
    ],
)
def test_s3_errors_are_classified_by_code_or_status(
    code: str | None, status: int | None, kind: type, reason: str, transient: bool
) -> None:
    s3 = FakeS3(head_object=client_error(code, status))
    with pytest.raises(StorageError) as raised:
        ObjectStore(s3).head(REF)  # type: ignore[arg-type]
    assert type(raised.value) is kind
    assert (raised.value.reason, raised.value.transient) == (reason, transient)
    assert str(raised.value) == f"S3 head failed: {code or status or ''}"


def test_a_connection_failure_is_transient_and_named() -> None:
    failure = EndpointConnectionError(endpoint_url="https://s3.example")
    s3 = FakeS3(get_object_tagging=failure)
    with pytest.raises(StorageError) as raised:
        ObjectStore(s3).read_tags(REF, info())  # type: ignore[arg-type]
    assert (raised.value.reason, raised.value.transient) == (reasons.S3_ERROR, True)
    assert str(raised.value) == "S3 read tags failed: EndpointConnectionError"


def test_every_call_after_head_names_the_version_head_saw() -> None:
    """The event named no version: the one checked is the one downloaded and tagged."""
    seen = HEAD | {"VersionId": "v7"}
    s3 = FakeS3(
        head_object=seen,
        get_object_tagging=[{"TagSet": []}, {"TagSet": []}],
        get_object={"Body": Body(b"PK\x03\x04zz")},
        put_object_tagging={},
    )
    store = ObjectStore(s3)  # type: ignore[arg-type]
    unversioned = ObjectRef("bucket", "a.zip")
    head = store.head(unversioned)
    store.read_tags(unversioned, head)
    store.download(unversioned, head, io.BytesIO())
    store.write_tags(unversioned, head, {})
    assert head.version_id == "v7"
    addressed = [(name, kwargs.get("VersionId")) for name, kwargs in s3.calls]
    assert addressed == [
        ("head_object", None),
        ("get_object_tagging", "v7"),
        ("get_object_tagging", "v7"),
        ("get_object", "v7"),
        ("put_object_tagging", "v7"),
    ]


@pytest.mark.parametrize(
    ("call", "action"),
    [
        (lambda store: store.latest_version_id(REF), "head latest"),
        (lambda store: store.download(REF, info(), io.BytesIO()), "download"),
        (lambda store: store.write_tags(REF, info(), {}), "tag"),
    ],
)
def test_an_s3_error_names_the_call_that_failed(call: Any, action: str) -> None:
    failure = client_error("InternalError", 500)
    s3 = FakeS3(head_object=failure, get_object=failure, put_object_tagging=failure)
    with pytest.raises(StorageError) as raised:
        call(ObjectStore(s3))  # type: ignore[arg-type]
    assert str(raised.value) == f"S3 {action} failed: InternalError"
