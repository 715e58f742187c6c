"""Reading entry data in bounded chunks: decompression, CRC and exact sizes.

Nothing here ever holds a whole entry. Compressed bytes are read 64 KiB at a time and
every decompression step has a hard ceiling on its output, so a bomb costs at most
one step's worth of memory before the caller sees that it outgrew its declared size.

Deflate64 needs care: the decompressor of ``zipfile_deflate64`` has no
``max_length``; one ``decompress`` call returns everything its input expands to.
Deflate64 matches reach 65,538 bytes for about 18 bits of input, so a crafted stream
expands up to ~29,000 times (65 KB of input to well over 1 GB of output). It is
therefore fed :data:`DEFLATE64_STEP_BYTES` of input per call, which caps one call's
output at ~15 MB whatever the stream contains.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, Protocol

from extension_uploader import reasons

from .report import Refusal
from .structure import DEFLATED, DEFLATED64, STORED

READ_BYTES = 64 * 1024
MAX_STEP_OUTPUT_BYTES = 256 * 1024
DEFLATE64_STEP_BYTES = 512


class _Deflate64(Protocol):
    eof: bool

    def decompress(self, data: bytes | memoryview) -> bytes: ...


def _new_deflate64() -> _Deflate64:
    # zipfile_deflate64 patches the private internals of zipfile when imported; this
    # package is the only place in the project that imports it, and only for its
    # decompressor object, not for the patched ZipFile.
    from zipfile_deflate64 import deflate64

    decompressor: _Deflate64 = deflate64.Deflate64()
    return decompressor


def _read_chunks(fh: BinaryIO, offset: int, size: int) -> Iterator[bytes]:
    fh.seek(offset)
    remaining = size
    while remaining > 0:
        chunk = fh.read(min(READ_BYTES, remaining))
        if not chunk:
            raise Refusal(reasons.ZIP_CORRUPT, "the entry's data is cut short by the end of file")
        remaining -= len(chunk)
        yield chunk


def _stored(chunks: Iterator[bytes]) -> Iterator[bytes]:
    yield from chunks


def _deflated(chunks: Iterator[bytes]) -> Iterator[bytes]:
    decompressor = zlib.decompressobj(-zlib.MAX_WBITS)
    for chunk in chunks:
        if decompressor.eof:
            raise Refusal(reasons.ZIP_CORRUPT, "data follows the end of the compressed stream")
        data = chunk
        while data and not decompressor.eof:
            out = decompressor.decompress(data, MAX_STEP_OUTPUT_BYTES)
            if out:
                yield out
            data = decompressor.unconsumed_tail
        if decompressor.unused_data:
            raise Refusal(reasons.ZIP_CORRUPT, "data follows the end of the compressed stream")
    while not decompressor.eof:
        # Input is exhausted but output may still be pending inside zlib.
        out = decompressor.decompress(b"", MAX_STEP_OUTPUT_BYTES)
        if not out:
            raise Refusal(reasons.ZIP_CORRUPT, "the compressed stream is truncated")
        yield out


def _deflated64(chunks: Iterator[bytes]) -> Iterator[bytes]:
    decompressor = _new_deflate64()
    for step in _deflate64_steps(chunks):
        if decompressor.eof:
            raise Refusal(reasons.ZIP_CORRUPT, "data follows the end of the compressed stream")
        try:
            out = decompressor.decompress(step)
        except ValueError as exc:  # what the Deflate64 decoder raises for bad data
            raise Refusal(reasons.ZIP_CORRUPT, "the compressed data is damaged") from exc
        if out:
            yield out
    if not decompressor.eof:
        raise Refusal(reasons.ZIP_CORRUPT, "the compressed stream is truncated")


_DECODERS = {STORED: _stored, DEFLATED: _deflated, DEFLATED64: _deflated64}


def iter_entry_data(fh: BinaryIO, offset: int, size: int, method: int) -> Iterator[bytes]:
    """Decompressed chunks of an entry whose ``size`` compressed bytes start at ``offset``.

    Raises Refusal(zip.corrupt) for damaged streams: undecodable, truncated, or with
    bytes left over after the stream's end (hidden data). The caller counts the output
    and stops iterating as soon as it has seen too much.
    """
    decoder = _DECODERS.get(method)
    if decoder is None:
        raise Refusal(reasons.ZIP_UNSUPPORTED_METHOD, f"compression method {method}")
    try:
        yield from decoder(_read_chunks(fh, offset, size))
    except zlib.error as exc:
        raise Refusal(reasons.ZIP_CORRUPT, "the compressed data is damaged") from exc


@dataclass(frozen=True)
class Expected:
    """What the central directory promises about an entry's content."""

    offset: int
    compressed_size: int
    file_size: int
    method: int
    crc: int


def iter_content(fh: BinaryIO, expected: Expected) -> Iterator[bytes]:
    """:func:`iter_entry_data` for an entry as the directory describes it."""
    if expected.compressed_size == expected.file_size == 0:
        # Some writers store an empty file as zero bytes whatever the method, not as
        # an empty Deflate stream: there is nothing to decode (the CRC is still checked).
        return iter(())
    return iter_entry_data(fh, expected.offset, expected.compressed_size, expected.method)


def verify_entry(
    fh: BinaryIO, expected: Expected, budget: int, keep_bytes: int = 0
) -> tuple[int, bytes | None]:
    """Stream an entry, checking that it expands to exactly its declared size and CRC.

    ``budget`` is how many bytes may still be produced before the archive as a whole
    passes its size limit; reading stops as soon as it would. Returns the byte count
    and, if the entry is at most ``keep_bytes`` long, its content (for a descriptor).
    Raises Refusal: ``zip.bomb`` when the data outgrows its declaration or the budget,
    ``zip.corrupt`` when it falls short, fails its CRC, or cannot be decoded.
    """
    produced = 0
    crc = 0
    keep = expected.file_size <= keep_bytes
    kept: list[bytes] = []
    data = iter_content(fh, expected)
    for chunk in data:
        produced += len(chunk)
        if produced > expected.file_size:
            raise Refusal(
                reasons.ZIP_BOMB,
                f"the data expands beyond its declared size of {expected.file_size} bytes",
            )
        if produced > budget:
            raise Refusal(reasons.ZIP_BOMB, "the archive expands beyond the size limit")
        crc = zlib.crc32(chunk, crc)
        if keep:
            kept.append(chunk)
    if produced != expected.file_size:
        raise Refusal(
            reasons.ZIP_CORRUPT,
            f"the data holds {produced} bytes, not the declared {expected.file_size}",
        )
    if crc != expected.crc:
        raise Refusal(reasons.ZIP_CORRUPT, "the CRC-32 of the data does not match")
    return produced, b"".join(kept) if keep else None


def _deflate64_steps(chunks: Iterator[bytes]) -> Iterator[memoryview]:
    """The input in steps of :data:`DEFLATE64_STEP_BYTES`, the last step a byte at a time.

    The Deflate64 decoder does not tell how much of its input it used: bytes after the
    end of the stream in the same step would pass unseen. A stream that ends before
    the last step is followed by another step (refused); one that ends in the last
    step is found exactly, since that step is fed byte by byte.
    """
    last: memoryview | None = None
    for chunk in chunks:
        view = memoryview(chunk)
        for start in range(0, len(view), DEFLATE64_STEP_BYTES):
            if last is not None:
                yield last
            last = view[start : start + DEFLATE64_STEP_BYTES]
    if last is not None:
        for start in range(len(last)):
            yield last[start : start + 1]
