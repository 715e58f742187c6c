"""The streamed upload bodies: exact bytes, a real length, bounded reads, never chunked."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
import requests

from ece_uploader.emulator.body import RequestBody, receive_multipart
from extension_uploader.multipart import (
    READ_BYTES,
    BodyShrankError,
    StreamingBody,
    multipart_file,
)


class CountingReader:
    """A file that records the size of every read asked of it."""

    def __init__(self, data: bytes) -> None:
        self._stream = io.BytesIO(data)
        self.asked: list[int] = []

    def read(self, size: int = -1, /) -> bytes:
        self.asked.append(size)
        return self._stream.read(size)


def _multipart(data: bytes, **options: object) -> tuple[StreamingBody, str]:
    return multipart_file(
        io.BytesIO(data),
        len(data),
        field="file",
        filename="extension.zip",
        content_type="application/zip",
        **options,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("size", [0, 1, 1000, READ_BYTES - 1, READ_BYTES, 3 * READ_BYTES + 17])
def test_the_emulators_parser_reads_back_the_part_and_its_headers(
    size: int, tmp_path: Path
) -> None:
    data = os.urandom(size)
    body, content_type = _multipart(data)
    encoded = b"".join(body)
    assert len(encoded) == len(body)
    boundary = content_type.removeprefix("multipart/form-data; boundary=")
    assert boundary != content_type and boundary.encode() not in data
    upload = receive_multipart(
        RequestBody(io.BytesIO(encoded), content_length=len(encoded), chunked=False),
        boundary.encode(),
        tmp_path,
    )
    assert upload.part_names == ("file",)
    assert (upload.filename, upload.content_type) == ("extension.zip", "application/zip")
    assert upload.file is not None
    assert upload.file.path.read_bytes() == data


def test_the_part_is_exactly_what_rfc_7578_asks_for() -> None:
    body, content_type = _multipart(b"PK\x03\x04zip", boundary="b0undary")
    assert content_type == "multipart/form-data; boundary=b0undary"
    assert b"".join(body) == (
        b"--b0undary\r\n"
        b'Content-Disposition: form-data; name="file"; filename="extension.zip"\r\n'
        b"Content-Type: application/zip\r\n"
        b"\r\n"
        b"PK\x03\x04zip"
        b"\r\n--b0undary--\r\n"
    )


def test_each_body_has_its_own_boundary() -> None:
    assert _multipart(b"x")[1] != _multipart(b"x")[1]


def test_the_file_is_read_in_large_bounded_pieces() -> None:
    data = os.urandom(5 * 65536 + 3)
    reader = CountingReader(data)
    body = StreamingBody(reader, len(data), read_bytes=65536)
    chunks = list(body)
    assert b"".join(chunks) == data
    assert reader.asked == [65536] * 5 + [3]  # never more than asked, never past the size
    assert max(len(chunk) for chunk in chunks) <= 65536


def test_a_raw_body_is_the_file_and_nothing_else() -> None:
    data = os.urandom(100_000)
    body = StreamingBody(io.BytesIO(data), len(data))
    assert len(body) == len(data) and b"".join(body) == data


def test_a_file_shorter_than_announced_is_an_error_not_a_short_body() -> None:
    body = StreamingBody(io.BytesIO(b"abc"), 10)
    with pytest.raises(BodyShrankError):
        b"".join(body)


def test_a_file_is_never_read_past_its_announced_size() -> None:
    body = StreamingBody(io.BytesIO(b"abcdef"), 4)
    assert b"".join(body) == b"abcd"


@pytest.mark.parametrize("mode", ["raw", "multipart"])
def test_requests_sends_it_with_a_content_length_never_chunked(mode: str) -> None:
    data = os.urandom(3 * READ_BYTES)
    if mode == "raw":
        body, content_type = StreamingBody(io.BytesIO(data), len(data)), "application/zip"
    else:
        body, content_type = _multipart(data)
    prepared = requests.Request(
        "PUT", "http://127.0.0.1/x", data=body, headers={"Content-Type": content_type}
    ).prepare()
    assert prepared.headers["Content-Length"] == str(len(body))
    assert "Transfer-Encoding" not in prepared.headers
    assert prepared.body is body  # streamed as it is, not copied into memory


@pytest.mark.parametrize(
    "option", [{"field": 'fi"le'}, {"filename": "a\r\nb.zip"}, {"content_type": ""}]
)
def test_values_that_would_break_the_part_header_are_refused(option: dict[str, str]) -> None:
    arguments = {"field": "file", "filename": "x.zip", "content_type": "application/zip"} | option
    with pytest.raises(ValueError, match="part header"):
        multipart_file(io.BytesIO(b""), 0, **arguments)


def test_the_part_headers_and_the_epilogue_travel_with_the_file() -> None:
    data = os.urandom(3 * 65536)
    body, _ = _multipart(data, read_bytes=65536)
    chunks = list(body)
    assert len(chunks) == 3  # one piece per read: no small packet either side of the file
    assert chunks[0].endswith(data[:65536]) and chunks[-1].startswith(data[-65536:])
    assert b"".join(chunks).count(data) == 1
