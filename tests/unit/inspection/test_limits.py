"""The limits at their exact boundaries, and CRCs checked to the last byte.

Each test pins one side of a limit, so that loosening or tightening it by any factor
(or by one) fails a test: the ratio at 200:1 and 200:1 plus one byte, the 1 MiB
floor of the ratio rule, the total size and the entry count at equality and one more.
"""

from __future__ import annotations

import random
import struct
import zlib
from pathlib import Path

import pytest

from extension_uploader import reasons
from extension_uploader.inspection import Limits, inspect_archive
from extension_uploader.inspection.report import RATIO_MIN_BYTES
from extension_uploader.inspection.streaming import MAX_STEP_OUTPUT_BYTES, READ_BYTES

from .zipcraft import DEFLATED, DEFLATED64, STORED, Member, craft, deflate64_literals

DEFAULT_RATIO = Limits().max_compression_ratio


def deflate_exactly(size: int, compressed: int) -> tuple[bytes, bytes]:
    """(data, raw Deflate stream) with len(data) == size and len(stream) == compressed.

    Zeros compressed and flushed to a byte boundary, then one final stored block of
    more zeros whose length makes both sizes come out exact.
    """
    head = size - compressed
    for _ in range(50):
        compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
        prefix = compressor.compress(b"\0" * head) + compressor.flush(zlib.Z_FULL_FLUSH)
        tail = compressed - len(prefix) - 5
        if not 0 <= tail <= 0xFFFF:
            raise ValueError(f"cannot reach {compressed} bytes for {size}")
        if head + tail == size:
            stored = struct.pack("<BHH", 1, tail, tail ^ 0xFFFF) + b"\0" * tail
            stream = prefix + stored
            assert zlib.decompress(stream, -15) == b"\0" * size
            return b"\0" * size, stream
        head = size - tail
    raise ValueError("no fixed point")


def _inspect(tmp_path: Path, members: list[Member], limits: Limits = Limits()):  # type: ignore[no-untyped-def]  # noqa: B008
    path = tmp_path / "limits.zip"
    path.write_bytes(craft(members))
    return inspect_archive(path, limits)


def _ratio_entry(size: int, compressed: int) -> Member:
    data, stream = deflate_exactly(size, compressed)
    return Member("big.bin", data, payload=stream)


def test_the_default_ratio_limit_is_200() -> None:
    assert DEFAULT_RATIO == 200
    assert RATIO_MIN_BYTES == 1024 * 1024


def test_an_entry_at_exactly_the_ratio_limit_is_accepted(tmp_path: Path) -> None:
    compressed = RATIO_MIN_BYTES // DEFAULT_RATIO + 1
    report = _inspect(tmp_path, [_ratio_entry(compressed * DEFAULT_RATIO, compressed)])

    assert report.ok, report.problems


def test_an_entry_one_byte_over_the_ratio_limit_is_a_bomb(tmp_path: Path) -> None:
    compressed = RATIO_MIN_BYTES // DEFAULT_RATIO + 1
    report = _inspect(tmp_path, [_ratio_entry(compressed * DEFAULT_RATIO + 1, compressed)])

    assert report.reason == reasons.ZIP_BOMB
    assert "200:1" in report.problems[0].message


def test_a_configured_ratio_is_applied_exactly(tmp_path: Path) -> None:
    compressed = RATIO_MIN_BYTES // 50 + 1
    limits = Limits(max_compression_ratio=50)

    assert _inspect(tmp_path, [_ratio_entry(compressed * 50, compressed)], limits).ok
    over = _inspect(tmp_path, [_ratio_entry(compressed * 50 + 1, compressed)], limits)
    assert over.reason == reasons.ZIP_BOMB


def test_just_below_the_1_mib_floor_any_ratio_is_accepted(tmp_path: Path) -> None:
    compressed = 1100  # about 950:1
    report = _inspect(tmp_path, [_ratio_entry(RATIO_MIN_BYTES - 1, compressed)])

    assert report.ok, report.problems


def test_at_the_1_mib_floor_the_ratio_applies(tmp_path: Path) -> None:
    report = _inspect(tmp_path, [_ratio_entry(RATIO_MIN_BYTES, 1100)])

    assert report.reason == reasons.ZIP_BOMB


def _files(sizes: list[int]) -> list[Member]:
    rng = random.Random(7)
    return [Member(f"f{index}.bin", rng.randbytes(size)) for index, size in enumerate(sizes)]


def test_a_total_exactly_at_the_size_limit_is_accepted(tmp_path: Path) -> None:
    members = _files([70_000, 30_000, 1])

    report = _inspect(tmp_path, members, Limits(max_uncompressed_bytes=100_001))

    assert report.ok, report.problems
    assert report.uncompressed_bytes == 100_001


def test_a_total_one_byte_over_the_size_limit_is_a_bomb(tmp_path: Path) -> None:
    report = _inspect(tmp_path, _files([70_000, 30_000, 1]), Limits(max_uncompressed_bytes=100_000))

    # refused from the directory's declarations, before any byte is decompressed
    assert report.reason == reasons.ZIP_BOMB
    assert report.problems[0].message == (
        "the entries declare 100001 bytes in total; the limit is 100000"
    )


def test_a_single_entry_at_the_size_limit_is_accepted_and_one_more_is_not(
    tmp_path: Path,
) -> None:
    members = _files([4096])

    assert _inspect(tmp_path, members, Limits(max_uncompressed_bytes=4096)).ok
    over = _inspect(tmp_path, members, Limits(max_uncompressed_bytes=4095))
    assert over.reason == reasons.ZIP_BOMB


def test_the_streaming_budget_stops_at_one_byte_over() -> None:
    import io
    from typing import BinaryIO, cast

    from extension_uploader.inspection.report import Refusal
    from extension_uploader.inspection.streaming import Expected, verify_entry

    data = random.Random(3).randbytes(3 * READ_BYTES)
    expected = Expected(0, len(data), len(data), STORED, zlib.crc32(data))

    assert verify_entry(cast(BinaryIO, io.BytesIO(data)), expected, len(data))[0] == len(data)
    with pytest.raises(Refusal) as caught:
        verify_entry(cast(BinaryIO, io.BytesIO(data)), expected, len(data) - 1)
    assert caught.value.problem.code == reasons.ZIP_BOMB


def test_the_default_entry_limit_is_10000_inclusive(tmp_path: Path) -> None:
    members = [Member(f"f{index}", b"", method=STORED) for index in range(10_000)]

    report = _inspect(tmp_path, members)

    assert report.ok, report.problems[:3]
    assert report.entries == 10_000


def test_a_configured_entry_limit_is_inclusive(tmp_path: Path) -> None:
    members = _files([1] * 5)

    assert _inspect(tmp_path, members, Limits(max_entries=5)).ok
    over = _inspect(tmp_path, members, Limits(max_entries=4))
    assert over.reason == reasons.ZIP_TOO_MANY_ENTRIES


# -- CRCs: every byte, every method -----------------------------------------------------

# Several read and decompression steps. Deflate64 is decoded 512 input bytes at a
# time, so a smaller entry spans as many steps (and the test encoder is slow).
BIG = 3 * MAX_STEP_OUTPUT_BYTES + 12_345
SIZES = {STORED: BIG, DEFLATED: BIG, DEFLATED64: 3 * READ_BYTES + 123}


def _payload(method: int, data: bytes) -> bytes:
    if method == DEFLATED:
        compressor = zlib.compressobj(1, zlib.DEFLATED, -15)
        return compressor.compress(data) + compressor.flush()
    if method == DEFLATED64:
        return deflate64_literals(data)
    return data


METHODS = pytest.mark.parametrize(
    "method", [STORED, DEFLATED, DEFLATED64], ids=["stored", "deflate", "deflate64"]
)


@METHODS
@pytest.mark.parametrize("back", [None, 2, 0], ids=["first", "near-end", "last"])
def test_a_flipped_byte_anywhere_in_a_multi_chunk_entry_fails_its_crc(
    tmp_path: Path, method: int, back: int | None
) -> None:
    # Given an entry spanning many chunks whose data has one byte flipped
    size = SIZES[method]
    where = 0 if back is None else size - 1 - back
    original = random.Random(where).randbytes(size)
    damaged = bytearray(original)
    damaged[where] ^= 0x01
    member = Member("big.bin", bytes(damaged), method=method, crc=zlib.crc32(original))
    member.payload = _payload(method, bytes(damaged))
    assert len(member.payload) > 3 * READ_BYTES

    # When inspected, Then the CRC mismatch is found
    report = _inspect(tmp_path, [member])

    assert report.reason == reasons.ZIP_CORRUPT
    assert "CRC-32" in report.problems[0].message


@METHODS
def test_an_intact_multi_chunk_entry_passes(tmp_path: Path, method: int) -> None:
    data = random.Random(11).randbytes(SIZES[method])
    member = Member("big.bin", data, method=method, payload=_payload(method, data))

    assert _inspect(tmp_path, [member]).ok


def test_a_small_deflate64_entry_with_a_wrong_crc_is_corrupt(tmp_path: Path) -> None:
    data = b"deflate64 content\n" * 20
    member = Member("d64.txt", data, method=DEFLATED64, crc=zlib.crc32(data) ^ 1)

    report = _inspect(tmp_path, [member])

    assert report.reason == reasons.ZIP_CORRUPT
    assert "CRC-32" in report.problems[0].message


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"max_entries": -1}, "limits must not be negative"),
        ({"max_uncompressed_bytes": -1}, "limits must not be negative"),
        ({"max_compression_ratio": 0}, "max_compression_ratio must be at least 1"),
        ({"deflate64_policy": "keep"}, "unknown deflate64_policy 'keep'"),
    ],
)
def test_impossible_limits_are_refused(settings: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError) as caught:
        Limits(**settings)  # type: ignore[arg-type]
    assert str(caught.value) == message


def test_the_smallest_limits_are_allowed() -> None:
    limits = Limits(max_entries=0, max_uncompressed_bytes=0, max_compression_ratio=1)
    assert (limits.max_entries, limits.max_uncompressed_bytes, limits.max_compression_ratio) == (
        0,
        0,
        1,
    )
    assert Limits(deflate64_policy="reject").deflate64_policy == "reject"
