"""repack_deflate64: Deflate64 entries become Deflate; everything else is kept."""

from __future__ import annotations

import shutil
import stat
import struct
import subprocess
import zipfile
from pathlib import Path

import pytest
import zipfile_deflate64  # noqa: F401 - lets zipfile read the Deflate64 originals

from extension_uploader.inspection import RepackError, inspect_archive, repack_deflate64

from .tools import require
from .zipcraft import DEFLATED, DEFLATED64, STORED, Member, craft, deflate64_bomb

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "zips"


def _mixed_archive() -> bytes:
    """Deflate64 entries among others, with every attribute repack must keep."""
    text = b"the quick brown fox jumps over the lazy dog\n" * 400
    return craft(
        [
            Member("first.txt", b"stored first\n", method=STORED, comment=b"entry comment"),
            Member(
                "d64/big.txt",
                text,
                method=DEFLATED64,
                external_attr=(stat.S_IFREG | 0o640) << 16,
                extra=b"UT\x05\x00\x03\x10\x20\x30\x40",
                local_extra=b"UT\x05\x00\x03\x10\x20\x30\x40",
                comment=b"was deflate64",
            ),
            Member("d64/streamed.bin", bytes(range(256)) * 50, method=DEFLATED64, descriptor=True),
            Member("deflated.txt", b"deflated " * 100, method=DEFLATED, descriptor=True),
            Member("d64/empty.txt", b"", method=DEFLATED64),
            Member("d64/empty-no-stream.txt", b"", method=DEFLATED64, payload=b""),
            Member("dir/", method=STORED),
            Member(
                "bin/tool",
                b"#!/bin/sh\n",
                method=DEFLATED64,
                external_attr=(stat.S_IFREG | 0o755) << 16,
            ),
        ],
        comment=b"archive comment kept",
    )  # fmt: skip


@pytest.fixture(params=["crafted", *sorted(path.name for path in FIXTURES.glob("deflate64-*.zip"))])
def original(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    path = tmp_path / "original.zip"
    if request.param == "crafted":
        path.write_bytes(_mixed_archive())
    else:
        shutil.copyfile(FIXTURES / request.param, path)
    return path


def _raw_entry(path: Path, info: zipfile.ZipInfo, following: int) -> bytes:
    with path.open("rb") as fh:
        fh.seek(info.header_offset)
        return fh.read(following - info.header_offset)


def _entry_spans(path: Path) -> dict[str, bytes]:
    """Each entry's bytes from its local header to the next header (or the directory)."""
    with zipfile.ZipFile(path) as archive:
        infos = sorted(archive.infolist(), key=lambda info: info.header_offset)
        ends = [info.header_offset for info in infos[1:]] + [archive.start_dir]
    return {
        info.filename: _raw_entry(path, info, end) for info, end in zip(infos, ends, strict=True)
    }


def test_repacked_archive_is_accepted_without_deflate64(original: Path, tmp_path: Path) -> None:
    repacked = tmp_path / "repacked.zip"

    repack_deflate64(original, repacked)

    before, after = inspect_archive(original), inspect_archive(repacked)
    assert before.ok and before.deflate64_entries > 0
    assert after.ok, after.problems
    assert after.deflate64_entries == 0
    assert (after.entries, after.files, after.uncompressed_bytes) == (
        before.entries,
        before.files,
        before.uncompressed_bytes,
    )


def test_everything_but_the_method_is_kept(original: Path, tmp_path: Path) -> None:
    repacked = tmp_path / "repacked.zip"
    repack_deflate64(original, repacked)

    with zipfile.ZipFile(original) as old, zipfile.ZipFile(repacked) as new:
        assert new.comment == old.comment
        assert [info.filename for info in new.infolist()] == [
            info.filename for info in old.infolist()
        ]
        for was, now in zip(old.infolist(), new.infolist(), strict=True):
            assert now.date_time == was.date_time
            assert now.external_attr == was.external_attr
            assert now.create_system == was.create_system
            assert now.comment == was.comment
            assert now.CRC == was.CRC
            assert now.file_size == was.file_size
            assert new.read(now) == old.read(was)
            expected_method = DEFLATED if was.compress_type == DEFLATED64 else was.compress_type
            assert now.compress_type == expected_method
            if was.compress_type == DEFLATED64:
                assert not now.flag_bits & 0x08
            else:
                assert now.flag_bits == was.flag_bits
        assert new.testzip() is None


def test_other_entries_are_copied_byte_for_byte(original: Path, tmp_path: Path) -> None:
    repacked = tmp_path / "repacked.zip"
    repack_deflate64(original, repacked)

    with zipfile.ZipFile(original) as old:
        kept = [info.filename for info in old.infolist() if info.compress_type != DEFLATED64]
    old_spans, new_spans = _entry_spans(original), _entry_spans(repacked)
    for name in kept:
        assert new_spans[name] == old_spans[name]


def test_repacked_archive_passes_unzip(original: Path, tmp_path: Path) -> None:
    require("unzip")  # skips where unzip is missing, fails in CI
    repacked = tmp_path / "repacked.zip"
    repack_deflate64(original, repacked)

    result = subprocess.run(["unzip", "-tq", str(repacked)], capture_output=True, check=False)

    assert result.returncode == 0, result.stdout


def test_an_archive_without_deflate64_is_copied_unchanged(tmp_path: Path) -> None:
    source, target = tmp_path / "plain.zip", tmp_path / "copy.zip"
    source.write_bytes(
        craft([Member("a.txt", b"a" * 100), Member("b/", method=STORED)], comment=b"c")
    )

    repack_deflate64(source, target)

    assert target.read_bytes() == source.read_bytes()


def test_zip64_fields_are_rebuilt(tmp_path: Path) -> None:
    source, target = tmp_path / "z64.zip", tmp_path / "out.zip"
    source.write_bytes(
        craft(
            [
                Member("z.txt", b"zip64 sized\n" * 20, method=DEFLATED, zip64=True),
                Member("d.txt", b"deflate64 with zip64\n" * 20, method=DEFLATED64, zip64=True),
            ],
            zip64=True,
        )
    )

    repack_deflate64(source, target)

    report = inspect_archive(target)
    assert report.ok, report.problems
    with zipfile.ZipFile(target) as archive:
        assert archive.read("d.txt") == b"deflate64 with zip64\n" * 20


def test_a_damaged_deflate64_entry_is_refused_and_nothing_left_behind(tmp_path: Path) -> None:
    source, target = tmp_path / "bad.zip", tmp_path / "out.zip"
    source.write_bytes(
        craft([Member("bomb.bin", method=DEFLATED64, payload=deflate64_bomb(500), usize=10, crc=0)])
    )

    with pytest.raises(RepackError):
        repack_deflate64(source, target)

    assert not target.exists()


def test_a_corrupt_archive_is_refused(tmp_path: Path) -> None:
    source, target = tmp_path / "bad.zip", tmp_path / "out.zip"
    data = bytearray(craft([Member("a.txt", b"x" * 50, method=DEFLATED64)]))
    struct.pack_into("<L", data, data.rfind(b"PK\x05\x06") + 16, 3)  # directory offset
    source.write_bytes(bytes(data))

    with pytest.raises(RepackError):
        repack_deflate64(source, target)
    assert not target.exists()


def test_source_and_destination_must_differ(tmp_path: Path) -> None:
    source = tmp_path / "a.zip"
    source.write_bytes(craft([Member("a.txt", b"x", method=DEFLATED64)]))

    with pytest.raises(ValueError, match="different"):
        repack_deflate64(source, source)


def test_an_accepted_archive_with_quirks_repacks_to_an_accepted_one(tmp_path: Path) -> None:
    # Given what inspection accepts besides Deflate64: a zip64 descriptor on an empty
    # entry, zero padding before the directory, a setgid folder
    members = [
        Member("shared/", method=STORED, external_attr=(stat.S_IFDIR | 0o2775) << 16),
        Member("shared/empty.txt", b"", payload=b"", descriptor=True, zip64=True),
        Member("shared/d64.txt", b"deflate64 " * 300, method=DEFLATED64),
    ]
    original = tmp_path / "original.zip"
    original.write_bytes(craft(members, padding=b"\0" * 64))
    assert inspect_archive(original).ok

    # When repacked, Then the result is accepted, without Deflate64 and without padding
    repacked = tmp_path / "repacked.zip"
    repack_deflate64(original, repacked)
    report = inspect_archive(repacked)
    assert report.ok, report.problems
    assert report.deflate64_entries == 0
    with zipfile.ZipFile(repacked) as archive:
        assert archive.read("shared/d64.txt") == b"deflate64 " * 300
        start_dir = archive.start_dir
    assert repacked.read_bytes()[start_dir - 64 : start_dir] != b"\0" * 64
