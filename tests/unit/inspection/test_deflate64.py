"""zipfile-deflate64 regression tests, and the bound on Deflate64 output.

zipfile-deflate64 patches private zipfile internals and ships a C decompressor; it is
pinned, and these tests must pass on every Python the project supports (3.11-3.13):
they read real 7-Zip Deflate64 archives (tests/fixtures/zips, see make_fixtures.sh)
and check contents and CRCs.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import pytest
import zipfile_deflate64  # noqa: F401 - patches zipfile for the canary test below
from zipfile_deflate64 import deflate64

from extension_uploader.inspection.streaming import DEFLATE64_STEP_BYTES, iter_entry_data

from .zipcraft import deflate64_bomb, deflate64_literals

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "zips"
DEFLATE64_FIXTURES = sorted(FIXTURES.glob("deflate64-*.zip"))


def _stream(path: Path, info: zipfile.ZipInfo) -> bytes:
    """An entry's content as the inspection reads it (our own streaming reader)."""
    with path.open("rb") as fh:
        fh.seek(info.header_offset + 26)
        name_size, extra_size = (
            int.from_bytes(fh.read(2), "little"),
            int.from_bytes(fh.read(2), "little"),
        )
        start = info.header_offset + 30 + name_size + extra_size
        return b"".join(iter_entry_data(fh, start, info.compress_size, info.compress_type))


def test_fixtures_are_present_and_small() -> None:
    assert len(DEFLATE64_FIXTURES) == 4
    assert all(path.stat().st_size < 200_000 for path in DEFLATE64_FIXTURES)


@pytest.mark.parametrize("path", DEFLATE64_FIXTURES, ids=lambda path: path.name)
def test_seven_zip_deflate64_entries_read_with_correct_crc(path: Path) -> None:
    with zipfile.ZipFile(path) as archive:
        deflate64_entries = [info for info in archive.infolist() if info.compress_type == 9]
        assert deflate64_entries, "the fixture must hold Deflate64 entries"
        for info in archive.infolist():
            data = _stream(path, info)
            assert len(data) == info.file_size
            assert zlib.crc32(data) == info.CRC


@pytest.mark.parametrize("path", DEFLATE64_FIXTURES, ids=lambda path: path.name)
def test_patched_zipfile_agrees_with_our_reader(path: Path) -> None:
    """Canary for the patch itself: if a Python release breaks zipfile-deflate64's
    monkey-patching, this fails first (the inspection uses only its decompressor)."""
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None
        for info in archive.infolist():
            assert archive.read(info) == _stream(path, info)


def test_known_contents() -> None:
    with zipfile.ZipFile(FIXTURES / "deflate64-window.zip") as archive:
        data = _stream(FIXTURES / "deflate64-window.zip", archive.getinfo("far-matches.bin"))
    # 40,000 random bytes three times: the matches are 40,000 bytes back, beyond
    # Deflate's 32 KiB window, so only a real Deflate64 decoder gets this right.
    assert len(data) == 120_000
    assert data == data[:40_000] * 3

    with zipfile.ZipFile(FIXTURES / "deflate64-plugin.zip") as archive:
        descriptor = _stream(
            FIXTURES / "deflate64-plugin.zip", archive.getinfo("plugin-descriptor.properties")
        )
    assert b"elasticsearch.version=8.15.0\n" in descriptor


def test_decompressor_accepts_input_in_pieces() -> None:
    data = b"split across many calls " * 500
    stream = deflate64_literals(data)
    decompressor = deflate64.Deflate64()

    out = b"".join(decompressor.decompress(stream[i : i + 7]) for i in range(0, len(stream), 7))

    assert out == data
    assert decompressor.eof


def test_upstream_decompressor_output_is_unbounded_per_call() -> None:
    """Why the inspection feeds Deflate64 in small steps: one call returns everything."""
    bomb = deflate64_bomb(300)  # about 1 KiB
    out = deflate64.Deflate64().decompress(bomb)
    assert len(out) > 10_000 * len(bomb)


def test_our_reader_bounds_each_chunk(tmp_path: Path) -> None:
    bomb = deflate64_bomb(40_000)  # 145 KB that would expand to 2.6 GB
    path = tmp_path / "bomb.bin"
    path.write_bytes(bomb)
    bound = DEFLATE64_STEP_BYTES * 8 // 29 * 65538 + 2 * 65536

    with path.open("rb") as fh:
        chunks = iter_entry_data(fh, 0, len(bomb), 9)
        sizes = [len(next(chunks)) for _ in range(3)]

    assert all(0 < size <= bound for size in sizes)
    assert bound < 20 * 1024 * 1024
