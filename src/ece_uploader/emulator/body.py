"""Request bodies: Content-Length or chunked framing, uploads streamed to disk.

Memory stays at one chunk whatever the size of the body: files are written to a
spool file as they arrive, hashed on the way.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartDecoder, NeedData

CHUNK_BYTES = 1024 * 1024
MULTIPART_READ_BYTES = 64 * 1024
MULTIPART_BUFFER_BYTES = 1024 * 1024
ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
_MAX_LINE_BYTES = 4096
_MAX_TRAILER_LINES = 64
_HEX = re.compile(rb"[0-9A-Fa-f]{1,16}")
_HEAD_BYTES = 8


class BodyError(Exception):
    """When a request body cannot be read (bad framing, client gone): close the connection."""


class MalformedMultipart(Exception):
    """When a multipart/form-data body cannot be parsed: answer 400."""


class RequestBody:
    """The body of one request, read incrementally.

    ``on_first_read`` runs before the first byte is read: the place to send
    ``100 Continue`` to a client that asked for it.
    """

    def __init__(
        self,
        rfile: BinaryIO,
        *,
        content_length: int | None,
        chunked: bool,
        on_first_read: Callable[[], None] | None = None,
    ) -> None:
        self._rfile = rfile
        self._chunked = chunked
        self._remaining = 0 if chunked else (content_length or 0)
        self._chunk_left = 0
        self._on_first_read = on_first_read
        self.present = chunked or self._remaining > 0
        self.started = False
        self.finished = not self.present
        self.bytes_read = 0

    def read(self, size: int = CHUNK_BYTES) -> bytes:
        """Up to ``size`` bytes; ``b""`` once the body is complete."""
        if self.finished:
            return b""
        if not self.started:
            self.started = True
            if self._on_first_read is not None:
                self._on_first_read()
        data = self._read_chunked(size) if self._chunked else self._read_sized(size)
        self.bytes_read += len(data)
        return data

    def skip_until(self, total: int) -> None:
        """Read (and drop) the body until ``total`` bytes have been read or it ends."""
        while self.bytes_read < total and self.read(min(CHUNK_BYTES, total - self.bytes_read)):
            pass

    def drain(self) -> None:
        while self.read():
            pass

    def read_limited(self, limit: int) -> bytes | None:
        """The whole body, or None (and the body drained) if it exceeds ``limit``."""
        parts: list[bytes] = []
        kept = 0
        while data := self.read(min(CHUNK_BYTES, limit + 1)):
            kept += len(data)
            if kept > limit:
                self.drain()
                return None
            parts.append(data)
        return b"".join(parts)

    def _read_sized(self, size: int) -> bytes:
        data = self._rfile.read(min(size, self._remaining))
        if not data:
            raise BodyError("the client closed the connection before the end of the body")
        self._remaining -= len(data)
        self.finished = self._remaining == 0
        return data

    def _read_chunked(self, size: int) -> bytes:
        if self._chunk_left == 0:
            line = self._read_line()
            size_field = line.split(b";", 1)[0].strip()
            if not _HEX.fullmatch(size_field):
                raise BodyError("bad chunk size")
            length = int(size_field, 16)
            if length == 0:
                self._read_trailers()
                self.finished = True
                return b""
            self._chunk_left = length
        data = self._rfile.read(min(size, self._chunk_left))
        if not data:
            raise BodyError("the client closed the connection in the middle of a chunk")
        self._chunk_left -= len(data)
        if self._chunk_left == 0 and self._read_line().strip():
            raise BodyError("a chunk is longer than its size")
        return data

    def _read_line(self) -> bytes:
        line = self._rfile.readline(_MAX_LINE_BYTES)
        if not line.endswith(b"\n"):
            raise BodyError("truncated or over-long line in a chunked body")
        return line

    def _read_trailers(self) -> None:
        for _ in range(_MAX_TRAILER_LINES):
            if not self._read_line().strip():
                return
        raise BodyError("too many trailer lines")


@dataclass(frozen=True)
class SpooledFile:
    """A body (or part) saved to disk."""

    path: Path
    size: int
    sha256: str
    head: bytes

    @property
    def looks_like_zip(self) -> bool:
        return self.head.startswith(ZIP_SIGNATURES)

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)


def truncate(file: SpooledFile, keep_bytes: int) -> SpooledFile:
    """The first ``keep_bytes`` of ``file``, rehashed (for the "truncate" fault)."""
    digest = hashlib.sha256()
    with file.path.open("r+b") as handle:
        handle.truncate(min(keep_bytes, file.size))
        handle.seek(0)
        while chunk := handle.read(CHUNK_BYTES):
            digest.update(chunk)
        size = handle.tell()
    return SpooledFile(file.path, size, digest.hexdigest(), file.head[:keep_bytes])


class Spool:
    """A file being written in ``directory``, hashed and counted on the way."""

    def __init__(self, directory: Path) -> None:
        fd, name = tempfile.mkstemp(prefix="incoming-", suffix=".part", dir=directory)
        self._file = os.fdopen(fd, "wb")
        self._path = Path(name)
        self._hash = hashlib.sha256()
        self._size = 0
        self._head = b""

    def write(self, data: bytes) -> None:
        if len(self._head) < _HEAD_BYTES:
            self._head += data[: _HEAD_BYTES - len(self._head)]
        self._hash.update(data)
        self._file.write(data)
        self._size += len(data)

    def finish(self) -> SpooledFile:
        self._file.close()
        return SpooledFile(self._path, self._size, self._hash.hexdigest(), self._head)

    def discard(self) -> None:
        self._file.close()
        self._path.unlink(missing_ok=True)


def receive_raw(body: RequestBody, directory: Path) -> SpooledFile:
    """Save the whole body to a file."""
    spool = Spool(directory)
    try:
        while data := body.read():
            spool.write(data)
    except BaseException:
        spool.discard()
        raise
    return spool.finish()


@dataclass(frozen=True)
class MultipartUpload:
    """What a multipart/form-data body held."""

    part_names: tuple[str, ...]
    # The first part named after the file field, saved to disk; None if absent.
    file: SpooledFile | None
    filename: str | None
    content_type: str | None


class _MultipartReceiver:
    def __init__(self, directory: Path, file_field: str) -> None:
        self.directory = directory
        self.file_field = file_field
        self.names: list[str] = []
        self.current: Spool | None = None
        self.kept: SpooledFile | None = None
        self.filename: str | None = None
        self.content_type: str | None = None

    def on_part(self, event: Field | File) -> None:
        self.names.append(event.name)
        if event.name == self.file_field and self.kept is None and self.current is None:
            self.current = Spool(self.directory)
            self.filename = event.filename if isinstance(event, File) else None
            self.content_type = event.headers.get("content-type")

    def on_data(self, event: Data) -> None:
        if self.current is None:
            return
        self.current.write(event.data)
        if not event.more_data:
            self.kept = self.current.finish()
            self.current = None

    def cleanup(self) -> None:
        if self.current is not None:
            self.current.discard()
        if self.kept is not None:
            self.kept.discard()


def receive_multipart(
    body: RequestBody, boundary: bytes, directory: Path, *, file_field: str = "file"
) -> MultipartUpload:
    """Parse a multipart/form-data body, saving the ``file_field`` part to disk.

    Other parts are read and dropped (their names are kept).
    """
    decoder = MultipartDecoder(boundary, max_form_memory_size=MULTIPART_BUFFER_BYTES)
    receiver = _MultipartReceiver(directory, file_field)
    try:
        finished = False
        while not finished:
            data = body.read(MULTIPART_READ_BYTES)
            decoder.receive_data(data or None)
            event = decoder.next_event()
            while not isinstance(event, NeedData | Epilogue):
                if isinstance(event, Field | File):
                    receiver.on_part(event)
                elif isinstance(event, Data):
                    receiver.on_data(event)
                event = decoder.next_event()
            finished = isinstance(event, Epilogue) or not data
        body.drain()
    except (ValueError, RequestEntityTooLarge) as exc:
        receiver.cleanup()
        raise MalformedMultipart(str(exc) or "malformed multipart body") from exc
    except BaseException:
        receiver.cleanup()
        raise
    return MultipartUpload(
        tuple(receiver.names), receiver.kept, receiver.filename, receiver.content_type
    )
