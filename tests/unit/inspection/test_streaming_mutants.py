"""Streaming entry data: each refusal's reason code and exact sentence, output bounded
per step, the read-size boundaries, and Deflate64 streams that end early or late."""

from __future__ import annotations

import io
import struct
import zlib
from typing import BinaryIO, cast

import pytest

from extension_uploader import reasons
from extension_uploader.inspection import inspect_stream
from extension_uploader.inspection.report import Problem, Refusal
from extension_uploader.inspection.streaming import (
    DEFLATE64_STEP_BYTES,
    MAX_STEP_OUTPUT_BYTES,
    READ_BYTES,
    Expected,
    iter_entry_data,
    verify_entry,
)

from .test_streaming import _expected
from .zipcraft import DEFLATED, DEFLATED64, STORED, Member, craft, deflate64_literals, raw_deflate

FOLLOWS = "data follows the end of the compressed stream"
TRUNCATED = "the compressed stream is truncated"
DAMAGED = "the compressed data is damaged"


def _fh(payload: bytes) -> BinaryIO:
    return cast(BinaryIO, io.BytesIO(payload))


def _chunks(payload: bytes, method: int) -> list[bytes]:
    return list(iter_entry_data(_fh(payload), 0, len(payload), method))


def _refusal(payload: bytes, method: int) -> Problem:
    with pytest.raises(Refusal) as caught:
        _chunks(payload, method)
    return caught.value.problem


def _verify_refusal(
    payload: bytes, expected: Expected, budget: int = 10**12, keep: int = 0
) -> Problem:
    with pytest.raises(Refusal) as caught:
        verify_entry(_fh(payload), expected, budget, keep)
    return caught.value.problem


def _stored_block(data: bytes, *, final: bool = True) -> bytes:
    """A Deflate stored (uncompressed) block: its compressed size is exact."""
    return struct.pack("<BHH", 1 if final else 0, len(data), len(data) ^ 0xFFFF) + data


# -- Deflate --------------------------------------------------------------------


def test_deflate_output_is_bounded_per_step() -> None:
    # Given 8 MiB of zeros, about 8 KB compressed: one read of input
    data = b"\0" * (8 * 1024 * 1024)
    payload = raw_deflate(data)
    assert len(payload) < READ_BYTES

    chunks = _chunks(payload, DEFLATED)

    assert max(len(chunk) for chunk in chunks) == MAX_STEP_OUTPUT_BYTES
    assert b"".join(chunks) == data


@pytest.mark.parametrize("extra", [1, 21, 32, 243, 1000])
def test_deflate_output_pending_after_the_last_input_is_drained(extra: int) -> None:
    # Given a stream whose last input byte leaves output pending inside zlib once
    # one step's worth has come out (zeros just over 256 KiB do this)
    data = b"\0" * (MAX_STEP_OUTPUT_BYTES + extra)
    payload = raw_deflate(data)

    chunks = _chunks(payload, DEFLATED)

    assert b"".join(chunks) == data
    assert max(len(chunk) for chunk in chunks) <= MAX_STEP_OUTPUT_BYTES
    assert verify_entry(_fh(payload), _expected(payload, data, DEFLATED), 10**12) == (
        len(data),
        None,
    )


def test_deflate_data_after_the_stream_in_the_same_read_is_corrupt() -> None:
    payload = raw_deflate(b"abc") + b"junk"

    assert _refusal(payload, DEFLATED) == Problem(reasons.ZIP_CORRUPT, None, FOLLOWS)


def test_deflate_data_after_a_stream_ending_on_a_read_boundary_is_corrupt() -> None:
    # Given a stream of exactly one read (a stored block of 64 KiB minus its header)
    data = b"s" * (READ_BYTES - 5)
    stream = _stored_block(data)
    assert len(stream) == READ_BYTES
    assert _chunks(stream, DEFLATED) == [data]

    # When anything follows it, in the next read, Then it is refused
    problem = _refusal(stream + b"x", DEFLATED)
    assert problem == Problem(reasons.ZIP_CORRUPT, None, FOLLOWS)


def test_a_truncated_deflate_stream_is_corrupt() -> None:
    payload = raw_deflate(b"abc" * 100)[:-3]

    assert _refusal(payload, DEFLATED) == Problem(reasons.ZIP_CORRUPT, None, TRUNCATED)


def test_undecodable_deflate_data_is_corrupt() -> None:
    # 0xff: final block of the reserved type 3
    assert _refusal(b"\xff\xff\xff", DEFLATED) == Problem(reasons.ZIP_CORRUPT, None, DAMAGED)


# -- Deflate64 ------------------------------------------------------------------


@pytest.mark.parametrize(
    "junk",
    [1, 2, 10, DEFLATE64_STEP_BYTES - 6, DEFLATE64_STEP_BYTES, DEFLATE64_STEP_BYTES + 1, 2000],
)
def test_deflate64_data_after_the_stream_is_corrupt(junk: int) -> None:
    # Whether the extra bytes share the stream's last step or come in later ones
    payload = deflate64_literals(b"d64") + b"\0" * junk

    assert _refusal(payload, DEFLATED64) == Problem(reasons.ZIP_CORRUPT, None, FOLLOWS)


@pytest.mark.parametrize("size", [1, 100, 600, 2000])
def test_deflate64_data_after_a_longer_stream_is_corrupt(size: int) -> None:
    payload = deflate64_literals(b"x" * size)

    assert _chunks(payload, DEFLATED64) != []
    assert _refusal(payload + b"\x01", DEFLATED64) == Problem(reasons.ZIP_CORRUPT, None, FOLLOWS)


def test_deflate64_data_after_a_stream_ending_on_a_read_boundary_is_corrupt() -> None:
    # Given a Deflate64 stream (stored blocks are the same as in Deflate) of exactly
    # one read, then one more byte in the next read
    data = b"s" * (READ_BYTES - 5)
    stream = _stored_block(data)
    assert _chunks(stream, DEFLATED64) == [data]

    problem = _refusal(stream + b"x", DEFLATED64)
    assert problem == Problem(reasons.ZIP_CORRUPT, None, FOLLOWS)


def test_a_truncated_deflate64_stream_is_corrupt() -> None:
    payload = deflate64_literals(b"hello world" * 10)[:-3]

    assert _refusal(payload, DEFLATED64) == Problem(reasons.ZIP_CORRUPT, None, TRUNCATED)


def test_undecodable_deflate64_data_is_corrupt() -> None:
    assert _refusal(b"\x07\0\0", DEFLATED64) == Problem(reasons.ZIP_CORRUPT, None, DAMAGED)


# -- reading ------------------------------------------------------------------


@pytest.mark.parametrize("size", [1, 2, READ_BYTES - 1, READ_BYTES, READ_BYTES + 1])
def test_stored_entries_around_the_read_size_are_read_whole(size: int) -> None:
    data = bytes(range(251)) * (size // 251) + bytes(range(size % 251))

    produced, kept = verify_entry(_fh(data), _expected(data, data, STORED), 10**12, size)

    assert (produced, kept) == (size, data)


def test_content_read_in_several_chunks_is_kept_whole() -> None:
    data = bytes(range(251)) * 300  # more than one read
    assert len(_chunks(data, STORED)) == 2

    assert verify_entry(_fh(data), _expected(data, data, STORED), 10**12, len(data)) == (
        len(data),
        data,
    )


def test_data_cut_short_by_the_end_of_file_is_corrupt() -> None:
    expected = _expected(b"short", b"short and more", STORED, compressed_size=14)

    assert _verify_refusal(b"short", expected) == Problem(
        reasons.ZIP_CORRUPT, None, "the entry's data is cut short by the end of file"
    )


def test_an_unsupported_method_names_the_method() -> None:
    assert _refusal(b"BZh9", 12) == Problem(
        reasons.ZIP_UNSUPPORTED_METHOD, None, "compression method 12"
    )


# -- verifying ----------------------------------------------------------------


def test_by_default_only_an_empty_entry_is_kept() -> None:
    assert verify_entry(_fh(b"x"), _expected(b"x", b"x", STORED), 10**12) == (1, None)
    assert verify_entry(_fh(b""), _expected(b"", b"", STORED), 10**12) == (0, b"")


@pytest.mark.parametrize("method", [STORED, DEFLATED, DEFLATED64])
def test_a_wrong_crc_is_corrupt(method: int) -> None:
    data = b"some content"
    payload = {STORED: data, DEFLATED: raw_deflate(data), DEFLATED64: deflate64_literals(data)}
    expected = _expected(payload[method], data, method, crc=zlib.crc32(data) ^ 1)

    assert _verify_refusal(payload[method], expected) == Problem(
        reasons.ZIP_CORRUPT, None, "the CRC-32 of the data does not match"
    )


@pytest.mark.parametrize(("budget", "accepted"), [(99, False), (100, True), (101, True)])
def test_the_budget_is_inclusive(budget: int, accepted: bool) -> None:
    data = b"b" * 100
    expected = _expected(data, data, STORED)

    if accepted:
        assert verify_entry(_fh(data), expected, budget) == (100, None)
    else:
        assert _verify_refusal(data, expected, budget) == Problem(
            reasons.ZIP_BOMB, None, "the archive expands beyond the size limit"
        )


def test_data_longer_than_declared_is_a_bomb() -> None:
    data = b"abcdef"
    payload = raw_deflate(data)

    assert _verify_refusal(payload, _expected(payload, b"abc", DEFLATED)) == Problem(
        reasons.ZIP_BOMB, None, "the data expands beyond its declared size of 3 bytes"
    )


def test_data_shorter_than_declared_is_corrupt() -> None:
    payload = raw_deflate(b"abc")

    assert _verify_refusal(payload, _expected(payload, b"abcdef", DEFLATED)) == Problem(
        reasons.ZIP_CORRUPT, None, "the data holds 3 bytes, not the declared 6"
    )


@pytest.mark.parametrize("hidden", [b"h", b"hidden data" * 40])
def test_an_archive_hiding_bytes_after_a_deflate64_stream_is_corrupt(hidden: bytes) -> None:
    # Given a Deflate64 entry whose compressed size also counts bytes after the
    # stream's end, short of one decoding step (they used to pass unseen)
    data = b"deflate64 content"
    member = Member("a.txt", data, method=DEFLATED64, payload=deflate64_literals(data) + hidden)
    archive = craft([member])

    report = inspect_stream(io.BytesIO(archive), len(archive))

    assert report.problems == (Problem(reasons.ZIP_CORRUPT, "a.txt", FOLLOWS),)
