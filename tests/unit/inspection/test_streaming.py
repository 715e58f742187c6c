"""Streaming verification: exact sizes, CRCs, and reading that stops early."""

from __future__ import annotations

import io
import random
import zlib
from pathlib import Path
from typing import BinaryIO, cast

import pytest

from extension_uploader import reasons
from extension_uploader.inspection.report import Refusal
from extension_uploader.inspection.streaming import READ_BYTES, Expected, verify_entry

from .zipcraft import deflate64_bomb, raw_deflate


class CountingReader(io.BytesIO):
    """A file that counts how many bytes were read from it."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.bytes_read = 0

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        self.bytes_read += len(data)
        return data


def _expected(payload: bytes, data: bytes, method: int = 8, **changes: int) -> Expected:
    fields = {
        "offset": 0,
        "compressed_size": len(payload),
        "file_size": len(data),
        "crc": zlib.crc32(data),
    }
    fields.update(changes)
    return Expected(method=method, **fields)


def _verify(
    payload: bytes, expected: Expected, budget: int = 10**12, keep: int = 0
) -> tuple[int, bytes | None]:
    return verify_entry(cast(BinaryIO, CountingReader(payload)), expected, budget, keep)


@pytest.mark.parametrize("method", [0, 8, 9])
def test_a_good_entry_verifies(method: int) -> None:
    from .zipcraft import deflate64_literals

    data = b"content " * 1000
    payload = {0: data, 8: raw_deflate(data), 9: deflate64_literals(data)}[method]

    produced, kept = _verify(payload, _expected(payload, data, method), keep=len(data))

    assert produced == len(data)
    assert kept == data


def test_content_is_only_kept_when_small_enough() -> None:
    data = b"x" * 100
    payload = raw_deflate(data)
    assert _verify(payload, _expected(payload, data), keep=99)[1] is None


def test_a_lying_bomb_is_stopped_after_one_read() -> None:
    # Given 30 MB of zeros (fast level: about 130 KB compressed) declaring 1,000 bytes
    payload = raw_deflate(b"\0" * (30 * 1024 * 1024), level=1)
    assert len(payload) > 2 * READ_BYTES
    reader = CountingReader(payload)
    expected = _expected(payload, b"\0" * 1000)

    # When it is verified, Then it is a bomb, found within the first read
    with pytest.raises(Refusal) as caught:
        verify_entry(cast(BinaryIO, reader), expected, 10**12)
    assert caught.value.problem.code == reasons.ZIP_BOMB
    assert reader.bytes_read <= READ_BYTES


def test_a_deflate64_bomb_is_stopped_after_one_read() -> None:
    payload = deflate64_bomb(200_000)  # 725 KB that would expand to 13 GB
    reader = CountingReader(payload)

    with pytest.raises(Refusal) as caught:
        verify_entry(cast(BinaryIO, reader), _expected(payload, b"a" * 5000, 9, crc=0), 10**12)
    assert caught.value.problem.code == reasons.ZIP_BOMB
    assert reader.bytes_read <= READ_BYTES


def test_the_running_total_stops_at_the_budget() -> None:
    data = random.Random(1).randbytes(1024 * 1024)  # incompressible: 1 MiB to read
    payload = raw_deflate(data)
    reader = CountingReader(payload)

    with pytest.raises(Refusal) as caught:
        verify_entry(cast(BinaryIO, reader), _expected(payload, data), budget=300_000)
    assert caught.value.problem.code == reasons.ZIP_BOMB
    assert reader.bytes_read <= 6 * READ_BYTES


@pytest.mark.parametrize(
    ("payload", "data", "changes", "fragment"),
    [
        (b"short", b"short and more", {"compressed_size": 14}, "cut short"),
        (raw_deflate(b"abc"), b"abc", {"crc": 1}, "CRC"),
        (raw_deflate(b"abc"), b"abcdef", {}, "not the declared"),
        (raw_deflate(b"abc") + b"junk", b"abc", {}, "follows the end"),
        (raw_deflate(b"abc" * 100)[:-3], b"abc" * 100, {}, "truncated"),
        (b"\xff\xff\xff", b"abc", {}, "damaged"),
    ],
)
def test_damaged_data_is_corrupt(
    payload: bytes, data: bytes, changes: dict[str, int], fragment: str
) -> None:
    expected = _expected(payload, data, **changes)

    with pytest.raises(Refusal) as caught:
        _verify(payload, expected)

    assert caught.value.problem.code == reasons.ZIP_CORRUPT
    assert fragment in caught.value.problem.message


def test_deflate64_trailing_data_is_corrupt() -> None:
    from .zipcraft import deflate64_literals

    data = b"d64" * 10
    payload = deflate64_literals(data) + b"\0" * 2000

    with pytest.raises(Refusal) as caught:
        _verify(payload, _expected(payload, data, 9))
    assert caught.value.problem.code == reasons.ZIP_CORRUPT


def test_unsupported_method_cannot_be_streamed(tmp_path: Path) -> None:
    with pytest.raises(Refusal) as caught:
        _verify(b"BZh9", _expected(b"BZh9", b"x", 12))
    assert caught.value.problem.code == reasons.ZIP_UNSUPPORTED_METHOD
