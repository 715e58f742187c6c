"""Request bodies streamed from a file with a known length: raw, or one multipart part.

``requests`` sends an object that has ``__iter__`` and ``__len__`` (and no
``read``) with ``Content-Length: len(body)``, never chunked, and urllib3 hands
each item the iterator yields to one ``sendall``: the file goes out in
``read_bytes`` pieces (large, so few system calls) with flat memory, whatever its
size. A file-like body, by contrast, is read 16 KiB at a time.

The multipart form is a preamble, the file, and an epilogue: the bytes the
``multipart/form-data`` grammar (RFC 7578) asks for, and no more.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Protocol

READ_BYTES = 1024 * 1024
_FORBIDDEN_IN_HEADER = frozenset('"\r\n\\')


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class BodyShrankError(Exception):
    """The file ended before the length the body was announced with."""


class StreamingBody:
    """``prefix``, then ``size`` bytes read from ``stream``, then ``suffix``.

    One-shot: it reads ``stream`` from where it is. Build a new one (from a newly
    opened file) for each attempt.
    """

    def __init__(
        self,
        stream: Readable,
        size: int,
        *,
        prefix: bytes = b"",
        suffix: bytes = b"",
        read_bytes: int = READ_BYTES,
    ) -> None:
        if size < 0 or read_bytes <= 0:
            raise ValueError("size must be >= 0 and read_bytes > 0")
        self._stream = stream
        self._size = size
        self._prefix = prefix
        self._suffix = suffix
        self._read_bytes = read_bytes

    def __len__(self) -> int:
        """The whole body's length: requests turns it into the Content-Length header."""
        return len(self._prefix) + self._size + len(self._suffix)

    def __iter__(self) -> Iterator[bytes]:
        # The prefix goes out with the first piece and the suffix with the last: no
        # small packet of its own either side of the file.
        pending = self._prefix
        left = self._size
        while left > 0:
            chunk = self._stream.read(min(self._read_bytes, left))
            if not chunk:
                raise BodyShrankError(f"the file ended {left} bytes short of its length")
            left -= len(chunk)
            if pending:
                chunk, pending = pending + chunk, b""
            if left == 0 and self._suffix:
                chunk += self._suffix
                pending = b""
            yield chunk
        if self._size == 0 and (pending or self._suffix):
            yield pending + self._suffix


def new_boundary() -> str:
    """A boundary no file will contain by chance: 32 random hex digits."""
    return secrets.token_hex(16)


def multipart_file(
    stream: Readable,
    size: int,
    *,
    field: str,
    filename: str,
    content_type: str,
    boundary: str | None = None,
    read_bytes: int = READ_BYTES,
) -> tuple[StreamingBody, str]:
    """A ``multipart/form-data`` body of one file part, and its Content-Type header."""
    for value in (field, filename, content_type):
        if not value or _FORBIDDEN_IN_HEADER.intersection(value) or not value.isascii():
            raise ValueError(f"cannot put {value!r} in a part header")
    boundary = boundary or new_boundary()
    prefix = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
        f"Content-Type: {content_type}\r\n"
        "\r\n"
    ).encode("ascii")
    suffix = f"\r\n--{boundary}--\r\n".encode("ascii")
    body = StreamingBody(stream, size, prefix=prefix, suffix=suffix, read_bytes=read_bytes)
    return body, f"multipart/form-data; boundary={boundary}"
