"""repack_deflate64, header by header: what the rewritten archive says about itself.

test_repack.py checks that readers accept the output; these parse the output bytes
with ``struct`` and hold every field of every local header, central record and end
record against what the original said and against each other: offsets, sizes, CRCs,
counts, versions, flags, extra fields, comments, data descriptors and zip64 fields.
Sizes of 4 GiB and more are reached without gigabytes of data: the Deflate step is
replaced by a stand-in that writes a few bytes (the headers around it are the real
code), and the header writers are called with the large values directly.
"""

from __future__ import annotations

import io
import os
import stat
import struct
import subprocess
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, BinaryIO

import pytest
import zipfile_deflate64  # noqa: F401 - lets zipfile read the Deflate64 originals

from extension_uploader.inspection import RepackError, inspect_archive, repack, repack_deflate64
from extension_uploader.inspection.endrecord import EndRecord, read_end_record
from extension_uploader.inspection.report import Refusal
from extension_uploader.inspection.structure import CentralRecord, iter_central_records

from .tools import require
from .zipcraft import (
    CENTRAL,
    DEFLATED,
    DEFLATED64,
    DOS_DATE,
    DOS_TIME,
    EOCD,
    FILE_MODE,
    LOCAL,
    STORED,
    U32,
    ZIP64_EOCD,
    ZIP64_LOCATOR,
    Member,
    craft,
    deflate64_bomb,
    raw_deflate,
    zip64_extra,
)

U16 = 0xFFFF
DESCRIPTOR_SIGNATURE = b"PK\x07\x08"
#: Info-ZIP's extended timestamp: mtime and atime locally, only mtime centrally.
UT_LOCAL = b"UT\x09\x00\x03\x10\x20\x30\x40\x50\x60\x70\x00"
UT_CENTRAL = b"UT\x05\x00\x03\x10\x20\x30\x40"
#: The marker the JDK's jar tool puts on a jar's first entry (an id above 0x7FFF).
JAR_MARKER = b"\xfe\xca\x00\x00"
UNIX_UX = b"ux\x0b\x00\x01\x04\xe8\x03\x00\x00\x04\xe8\x03\x00\x00"


# --- reading an archive back, field by field -------------------------------------------


def _zip64_values(extra: bytes) -> list[int]:
    """The 8-byte values of the zip64 block of an extra field ([] without one)."""
    position = 0
    while position + 4 <= len(extra):
        header_id, size = struct.unpack_from("<2H", extra, position)
        if header_id == 1:
            assert size % 8 == 0, "a zip64 block of 8-byte values"
            return list(struct.unpack_from(f"<{size // 8}Q", extra, position + 4))
        position += 4 + size
    return []


def _blocks(extra: bytes) -> list[tuple[int, bytes]]:
    """(id, data) of each block of an extra field, which must be framed exactly."""
    blocks = []
    position = 0
    while position < len(extra):
        header_id, size = struct.unpack_from("<2H", extra, position)
        assert position + 4 + size <= len(extra), "an extra block runs past the field"
        blocks.append((header_id, extra[position + 4 : position + 4 + size]))
        position += 4 + size
    return blocks


def _without_zip64(extra: bytes) -> bytes:
    return b"".join(
        struct.pack("<2H", header_id, len(data)) + data
        for header_id, data in _blocks(extra)
        if header_id != 1
    )


@dataclass(frozen=True)
class Local:
    offset: int
    version: int
    version_high: int
    flags: int
    method: int
    time: int
    date: int
    crc: int
    csize: int  # as written: 0xFFFFFFFF when the zip64 block holds it
    usize: int
    name: bytes
    extra: bytes

    @property
    def data_start(self) -> int:
        return self.offset + LOCAL.size + len(self.name) + len(self.extra)

    def sizes(self) -> tuple[int, int]:
        """(compressed, uncompressed), from the zip64 block where the header says so."""
        if U32 in (self.csize, self.usize):
            usize, csize = _zip64_values(self.extra)[:2]
            return csize, usize
        return self.csize, self.usize


@dataclass(frozen=True)
class Central:
    made_by: int
    needed: int
    needed_high: int
    flags: int
    method: int
    time: int
    date: int
    crc: int
    csize: int  # as written
    usize: int
    disk: int
    internal: int
    external: int
    offset: int
    name: bytes
    extra: bytes
    comment: bytes

    def resolved(self) -> tuple[int, int, int]:
        """(uncompressed, compressed, offset), zip64 values in place of 0xFFFFFFFF."""
        wide = iter(_zip64_values(self.extra))
        values = (self.usize, self.csize, self.offset)
        usize, csize, offset = (next(wide) if value == U32 else value for value in values)
        return usize, csize, offset


@dataclass(frozen=True)
class End:
    count: int
    cd_size: int
    cd_offset: int
    comment: bytes
    classic: tuple[Any, ...]  # the fields of the end record as written
    zip64: tuple[Any, ...] | None  # the zip64 end record's fields, if there is one
    locator: tuple[Any, ...] | None
    zip64_at: int | None


@dataclass(frozen=True)
class Layout:
    locals: list[Local]
    centrals: list[Central]
    end: End


def _end(data: bytes) -> End:
    position = data.rfind(b"PK\x05\x06")
    classic = EOCD.unpack_from(data, position)
    comment = data[position + EOCD.size :]
    assert classic[7] == len(comment), "the comment runs exactly to the end of the file"
    assert classic[1:3] == (0, 0), "one disk"
    locator_at = position - ZIP64_LOCATOR.size
    if locator_at < 0 or data[locator_at : locator_at + 4] != b"PK\x06\x07":
        assert U16 not in classic[3:5] and U32 not in classic[5:7], "maxed fields need zip64"
        assert classic[3] == classic[4]
        return End(classic[4], classic[5], classic[6], comment, classic, None, None, None)
    locator = ZIP64_LOCATOR.unpack_from(data, locator_at)
    zip64_at = locator[2]
    record = ZIP64_EOCD.unpack_from(data, zip64_at)
    assert record[0] == b"PK\x06\x06"
    assert zip64_at + 12 + record[1] == locator_at, "the zip64 end record ends at its locator"
    _, _, _, _, _, _, disk_entries, entries, cd_size, cd_offset = record
    assert disk_entries == entries
    wides = (entries, cd_size, cd_offset)
    for short, wide, maximum in zip(classic[4:7], wides, (U16, U32, U32), strict=True):
        assert short == min(wide, maximum)
    return End(entries, cd_size, cd_offset, comment, classic, record, locator, zip64_at)


def _local(data: bytes, offset: int) -> Local:
    fields = LOCAL.unpack_from(data, offset)
    assert fields[0] == b"PK\x03\x04", f"a local header at {offset}"
    name_at = offset + LOCAL.size
    extra_at = name_at + fields[10]
    _, version, version_high, flags, method, time, date, crc, csize, usize = fields[:10]
    return Local(
        offset, version, version_high, flags, method, time, date, crc, csize, usize,
        data[name_at:extra_at], data[extra_at : extra_at + fields[11]],
    )  # fmt: skip


def read_layout(data: bytes) -> Layout:
    """Every header of an archive, found as a directory-based reader finds them."""
    end = _end(data)
    centrals = []
    position = end.cd_offset
    for _ in range(end.count):
        fields = CENTRAL.unpack_from(data, position)
        assert fields[0] == b"PK\x01\x02", f"a central record at {position}"
        name_size, extra_size, comment_size = fields[12:15]
        name_at = position + CENTRAL.size
        extra_at = name_at + name_size
        comment_at = extra_at + extra_size
        made_version, made_system, needed, needed_high = fields[1:5]
        flags, method, time, date, crc, csize, usize = fields[5:12]
        disk, internal, external, offset = fields[15:19]
        centrals.append(
            Central(
                made_system << 8 | made_version, needed, needed_high, flags, method, time, date,
                crc, csize, usize, disk, internal, external, offset, data[name_at:extra_at],
                data[extra_at:comment_at], data[comment_at : comment_at + comment_size],
            )
        )  # fmt: skip
        position = comment_at + comment_size
    assert position == end.cd_offset + end.cd_size, "the directory is as long as announced"
    directory_end = end.zip64_at if end.zip64_at is not None else len(data) - EOCD.size
    if end.zip64_at is None:
        directory_end -= len(end.comment)
    assert position == directory_end, "the end record follows the directory"
    locals_ = [_local(data, central.resolved()[2]) for central in centrals]
    return Layout(locals_, centrals, end)


def _descriptor_length(data: bytes, local: Local, central: Central) -> int:
    usize, csize, _ = central.resolved()
    at = local.data_start + csize
    layout = "<L2Q" if _zip64_values(local.extra) else "<3L"
    start = 4 if data[at : at + 4] == DESCRIPTOR_SIGNATURE else 0
    assert struct.unpack_from(layout, data, at + start) == (central.crc, csize, usize)
    return start + struct.calcsize(layout)


def assert_sound(data: bytes) -> Layout:
    """Local headers repeat the directory, entries tile the file up to the directory,
    zip64 fields appear exactly where a value does not fit in 32 bits."""
    layout = read_layout(data)
    position = 0
    for local, central in zip(layout.locals, layout.centrals, strict=True):
        usize, csize, offset = central.resolved()
        assert offset == position, f"{central.name!r} starts where the previous entry ends"
        assert local.name == central.name
        assert (local.version, local.version_high) == (central.needed, central.needed_high)
        assert (local.flags, local.method) == (central.flags, central.method)
        assert (local.time, local.date) == (central.time, central.date)
        assert central.disk == 0
        wide = [value for value in (usize, csize, offset) if value >= U32]
        assert _zip64_values(central.extra) == wide, "zip64 values exactly for what is maxed"
        assert [central.usize, central.csize, central.offset] == [
            min(value, U32) for value in (usize, csize, offset)
        ]
        if wide or _zip64_values(local.extra):
            assert central.needed >= 45 or not wide
            assert local.version >= 45 or not _zip64_values(local.extra)
        position = local.data_start + csize
        if local.flags & 0x08:
            assert local.crc in (0, central.crc)
            announced = zip(local.sizes(), (csize, usize), strict=True)
            assert all(value in (0, want) for value, want in announced)
            position += _descriptor_length(data, local, central)
        else:
            assert local.crc == central.crc
            assert local.sizes() == (csize, usize)
    assert position == layout.end.cd_offset, "the directory follows the last entry"
    return layout


# --- the archives ----------------------------------------------------------------------


def _patch_versions(data: bytes, method: int, version: int) -> bytes:
    """``data`` with the entries of ``method`` saying ``version`` is needed, where they
    said 2.0 (Deflate64 writers say 2.1), locally and centrally."""
    patched = bytearray(data)
    layout = read_layout(data)
    position = layout.end.cd_offset
    for local, central in zip(layout.locals, layout.centrals, strict=True):
        if central.method == method and central.needed == 20:
            patched[position + 6] = version
            patched[local.offset + 4] = version
        position += CENTRAL.size + len(central.name) + len(central.extra) + len(central.comment)
    return bytes(patched)


def _rich_archive(*, stored_descriptor: bool = True) -> bytes:
    """Deflate64 entries with every kind of header detail, among entries to copy
    (one of them stored with a data descriptor, unless ``stored_descriptor`` is off:
    java.util.zip.ZipInputStream refuses that, as it is written, before any repack)."""
    members = [
        Member(
            "copied.txt", b"copied " * 60, extra=JAR_MARKER + UT_CENTRAL + UNIX_UX,
            local_extra=JAR_MARKER + UT_LOCAL, comment=b"a copied entry",
        ),
        Member(
            "d64/text.txt", b"re-encoded text\n" * 300, method=DEFLATED64, flags=0x0802,
            extra=UT_CENTRAL + UNIX_UX + JAR_MARKER, local_extra=UT_LOCAL + UNIX_UX,
            comment=b"was Deflate64", external_attr=(stat.S_IFREG | 0o640) << 16,
        ),
        Member("d64/streamed.bin", bytes(range(256)) * 20, method=DEFLATED64, descriptor=True,
               flags=0x0004, extra=UT_CENTRAL, local_extra=UT_LOCAL),
        Member("stored, streamed.txt", b"stored\n" * 9, method=STORED, descriptor=True),
        Member("d64/zip64.txt", b"small but zip64\n" * 40, method=DEFLATED64, zip64=True,
               extra=UT_CENTRAL, local_extra=UT_LOCAL),
        Member("d64/zip64-streamed.txt", b"streamed zip64\n" * 40, method=DEFLATED64,
               descriptor=True, zip64=True),
        Member("d64/empty.txt", b"", method=DEFLATED64, payload=b""),
        Member("dir/", method=STORED, extra=UNIX_UX),
        Member("d64/last.bin", b"\x00\x01" * 700, method=DEFLATED64),
    ]  # fmt: skip
    if not stored_descriptor:
        members = [member for member in members if member.method != STORED or not member.descriptor]
    return _patch_versions(craft(members, comment=b"the archive's comment"), DEFLATED64, 21)


@pytest.fixture
def rich(tmp_path: Path) -> tuple[Path, Path]:
    source, target = tmp_path / "rich.zip", tmp_path / "repacked.zip"
    source.write_bytes(_rich_archive())
    assert inspect_archive(source).ok
    repack_deflate64(source, target)
    return source, target


# --- what the repacked headers say -----------------------------------------------------


def test_the_repacked_archive_is_exactly_consistent(rich: tuple[Path, Path]) -> None:
    _, target = rich

    layout = assert_sound(target.read_bytes())

    assert layout.end.zip64 is None  # nothing in it needs zip64 any more
    assert layout.end.count == 9
    assert layout.end.comment == b"the archive's comment"


def test_re_encoded_headers_keep_all_but_method_sizes_and_bookkeeping(
    rich: tuple[Path, Path],
) -> None:
    source, target = rich
    before, after = read_layout(source.read_bytes()), read_layout(target.read_bytes())

    pairs = zip(before.locals, before.centrals, after.locals, after.centrals, strict=True)
    for old_local, old, new_local, new in pairs:
        old_usize, old_csize, _ = old.resolved()
        new_usize, new_csize, _ = new.resolved()
        # Kept, centrally and locally
        assert (new.name, new.comment, new.made_by) == (old.name, old.comment, old.made_by)
        assert (new.time, new.date, new.crc, new_usize) == (old.time, old.date, old.crc, old_usize)
        assert (new.internal, new.external) == (old.internal, old.external)
        assert (new_local.time, new_local.date) == (old_local.time, old_local.date)
        assert new.extra == _without_zip64(old.extra)
        if old.method != DEFLATED64:
            assert (new.method, new.flags, new.needed, new_csize) == (
                old.method, old.flags, old.needed, old_csize,
            )  # fmt: skip
            continue
        # Re-encoded: Deflate at the normal level, sizes known up front, version 2.0
        assert (new.method, new_local.method) == (DEFLATED, DEFLATED)
        assert new.flags == new_local.flags == old.flags & ~0x000E
        assert (new.needed, new.needed_high) == (20, 0)
        assert (new_local.version, new_local.version_high) == (20, 0)
        assert new_local.extra == _without_zip64(old_local.extra)
        assert (new_local.crc, new_local.sizes()) == (old.crc, (new_csize, new_usize))
        assert not _zip64_values(new.extra)


def test_flags_are_cleared_only_where_they_no_longer_hold(rich: tuple[Path, Path]) -> None:
    _, target = rich
    flags = {central.name: central.flags for central in read_layout(target.read_bytes()).centrals}

    assert flags[b"d64/text.txt"] == 0x0800  # UTF-8 kept, compression option cleared
    assert flags[b"d64/streamed.bin"] == 0  # no data descriptor any more
    assert flags[b"stored, streamed.txt"] == 0x0008  # copied as it was, descriptor and all


def test_extra_fields_keep_their_order_and_every_block(rich: tuple[Path, Path]) -> None:
    _, target = rich
    layout = read_layout(target.read_bytes())
    centrals = {central.name: central for central in layout.centrals}
    locals_ = {local.name: local for local in layout.locals}

    assert centrals[b"copied.txt"].extra == JAR_MARKER + UT_CENTRAL + UNIX_UX
    assert locals_[b"copied.txt"].extra == JAR_MARKER + UT_LOCAL
    assert centrals[b"d64/text.txt"].extra == UT_CENTRAL + UNIX_UX + JAR_MARKER
    assert locals_[b"d64/text.txt"].extra == UT_LOCAL + UNIX_UX
    assert centrals[b"d64/zip64.txt"].extra == UT_CENTRAL  # the stale zip64 block dropped
    assert locals_[b"d64/zip64.txt"].extra == UT_LOCAL
    assert locals_[b"d64/zip64-streamed.txt"].extra == b""


def test_the_repacked_archive_reads_back_in_python(rich: tuple[Path, Path]) -> None:
    source, target = rich

    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target) as new:
        assert new.testzip() is None
        assert [(i.filename, i.CRC, i.file_size) for i in new.infolist()] == [
            (i.filename, i.CRC, i.file_size) for i in old.infolist()
        ]
        for name in old.namelist():
            assert new.read(name) == old.read(name)
    report = inspect_archive(target)
    assert report.ok, report.problems
    assert report.deflate64_entries == 0


def test_the_repacked_archive_passes_7zip_and_unzip(rich: tuple[Path, Path]) -> None:
    require("7zz", "unzip")  # skips where missing, fails in CI
    _, target = rich

    seven = subprocess.run(["7zz", "t", str(target)], capture_output=True, text=True)
    unzip = subprocess.run(["unzip", "-t", str(target)], capture_output=True, text=True)

    assert seven.returncode == 0, seven.stdout
    assert "Everything is Ok" in seven.stdout
    assert "Warnings" not in seven.stdout
    assert unzip.returncode == 0, unzip.stdout
    assert "No errors detected" in unzip.stdout


JAVA_READER = r"""
import java.io.*; import java.util.*; import java.util.zip.*;
public class ReadZip {
  public static void main(String[] args) throws Exception {
    try (ZipFile zip = new ZipFile(args[0])) {
      for (ZipEntry e : Collections.list(zip.entries())) {
        byte[] data = zip.getInputStream(e).readAllBytes();
        CRC32 crc = new CRC32(); crc.update(data);
        System.out.println("file " + e.getName() + " " + data.length + " " + crc.getValue());
      }
    }
    try (ZipInputStream in = new ZipInputStream(new FileInputStream(args[0]))) {
      for (ZipEntry e; (e = in.getNextEntry()) != null; ) {
        byte[] data = in.readAllBytes();
        CRC32 crc = new CRC32(); crc.update(data);
        System.out.println("stream " + e.getName() + " " + data.length + " " + crc.getValue());
      }
    }
  }
}
"""


def test_the_repacked_archive_reads_back_in_java(tmp_path: Path) -> None:
    # Elasticsearch reads plugins with java.util.zip: ZipFile, and ZipInputStream
    require("java")
    source, target = tmp_path / "rich.zip", tmp_path / "repacked.zip"
    source.write_bytes(_rich_archive(stored_descriptor=False))
    repack_deflate64(source, target)
    (tmp_path / "ReadZip.java").write_text(JAVA_READER)

    result = subprocess.run(
        ["java", str(tmp_path / "ReadZip.java"), str(target)], capture_output=True, text=True
    )

    assert result.returncode == 0, result.stderr
    with zipfile.ZipFile(source) as old:
        expected = [f"{i.filename} {i.file_size} {i.CRC}" for i in old.infolist()]
    assert len(expected) == 8
    assert result.stdout.splitlines() == [f"file {line}" for line in expected] + [
        f"stream {line}" for line in expected
    ]


# --- entries that need zip64 once re-encoded -------------------------------------------

#: The smallest declared size for which Deflate's worst case might not fit in 32 bits:
#: size + size // 1000 + 1024 reaches 0xFFFFFFFF here.
WIDE_FROM = 4_290_675_596
STAND_IN = raw_deflate(b"stands in for gigabytes of Deflate output")


def _stand_in_deflate(monkeypatch: pytest.MonkeyPatch, reported: int | None = None) -> None:
    """Replace the Deflate step: write a few bytes, report them (or ``reported``)."""

    def deflate(fh: BinaryIO, record: CentralRecord, data_start: int, out: BinaryIO) -> int:
        out.write(STAND_IN)
        return len(STAND_IN) if reported is None else reported

    monkeypatch.setattr(repack, "_deflate", deflate)


def _huge_source(path: Path, file_size: int) -> None:
    """A Deflate64 entry declaring ``file_size`` bytes, between two small entries."""
    members = [
        Member("before.txt", b"before\n" * 10),
        Member(
            "huge.bin", b"x", method=DEFLATED64, usize=file_size, zip64=file_size >= U32,
            extra=UT_CENTRAL, local_extra=UT_LOCAL + UNIX_UX, comment=b"huge",
        ),
        Member("after.txt", b"after\n" * 10, method=STORED),
    ]  # fmt: skip
    path.write_bytes(craft(members, comment=b"end"))


@pytest.mark.parametrize(
    ("file_size", "local_zip64", "central_zip64"),
    [
        (WIDE_FROM - 1, False, False),
        (WIDE_FROM, True, False),
        (U32 - 1, True, False),
        (U32, True, True),
        (2**32 + 5, True, True),
        (2**63 + 5, True, True),  # zip64 sizes are unsigned
    ],
)
def test_zip64_is_used_exactly_where_the_sizes_may_not_fit(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    file_size: int,
    local_zip64: bool,
    central_zip64: bool,
) -> None:
    source, target = tmp_path / "huge.zip", tmp_path / "repacked.zip"
    _huge_source(source, file_size)
    _stand_in_deflate(monkeypatch)
    original = source.read_bytes()

    repack_deflate64(source, target)

    data = target.read_bytes()
    layout = assert_sound(data)
    before, huge, after = layout.locals
    central = layout.centrals[1]
    # The local header: zip64 sizes (in a block that comes first) when they may not fit
    version = 45 if local_zip64 else 20
    assert (huge.version, huge.version_high, huge.method) == (version, 0, DEFLATED)
    assert (huge.time, huge.date, huge.crc) == (DOS_TIME, DOS_DATE, zlib.crc32(b"x"))
    if local_zip64:
        assert (huge.csize, huge.usize) == (U32, U32)
        assert huge.extra == zip64_extra(file_size, len(STAND_IN)) + UT_LOCAL + UNIX_UX
    else:
        assert (huge.csize, huge.usize) == (len(STAND_IN), file_size)
        assert huge.extra == UT_LOCAL + UNIX_UX
    assert data[huge.data_start : huge.data_start + len(STAND_IN)] == STAND_IN
    # The central record: zip64 only for the value that does not fit
    assert central.resolved() == (file_size, len(STAND_IN), huge.offset)
    assert (central.needed, central.needed_high) == (version, 0)
    expected_extra = (zip64_extra(file_size) if central_zip64 else b"") + UT_CENTRAL
    assert central.extra == expected_extra
    assert central.comment == b"huge"
    # The entries around it are copied as they were
    first = read_layout(original).locals
    assert data[: huge.offset] == original[: first[1].offset]
    assert after.offset == huge.data_start + len(STAND_IN)
    with zipfile.ZipFile(target) as archive:
        assert archive.getinfo("huge.bin").file_size == file_size
        assert archive.read("after.txt") == b"after\n" * 10
    assert before.name == b"before.txt"


@pytest.mark.parametrize("reported", [U32 - 1, 2**31 + 1])
def test_a_re_encoded_size_just_under_4_gib_fits_in_32_bits(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, reported: int
) -> None:
    source, target = tmp_path / "a.zip", tmp_path / "repacked.zip"
    source.write_bytes(craft([Member("a.bin", b"a" * 100, method=DEFLATED64)]))
    _stand_in_deflate(monkeypatch, reported=reported)

    repack_deflate64(source, target)

    layout = read_layout(target.read_bytes())
    assert (layout.locals[0].csize, layout.locals[0].usize) == (reported, 100)
    assert layout.locals[0].extra == b""
    assert layout.centrals[0].resolved() == (100, reported, 0)
    assert layout.centrals[0].needed == 20


def test_an_entry_that_grows_to_4_gib_unannounced_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Deflate's worst case stays within the margin; should it ever not, refuse
    source, target = tmp_path / "a.zip", tmp_path / "repacked.zip"
    source.write_bytes(craft([Member("a.bin", b"a" * 100, method=DEFLATED64)]))
    _stand_in_deflate(monkeypatch, reported=U32)

    with pytest.raises(RepackError) as caught:
        repack_deflate64(source, target)

    assert str(caught.value) == "an entry grew past 4 GiB when re-encoded"
    assert not target.exists()


# --- the central directory record, at and past the 32-bit limits -------------------------


def _record(file_size: int, compressed_size: int, version_needed: int = 20) -> CentralRecord:
    return CentralRecord(
        index=0, version_made_by=3 << 8 | 63, version_needed=version_needed, flags=0x0800,
        method=DEFLATED, dos_time=DOS_TIME, dos_date=DOS_DATE, crc=0x1234ABCD,
        compressed_size=compressed_size, file_size=file_size, internal_attr=1,
        external_attr=FILE_MODE, header_offset=77, raw_name=b"big/file.bin",
        extra=zip64_extra(1, 2, 3) + UT_CENTRAL + JAR_MARKER, comment=b"a comment",
    )  # fmt: skip


def _read_back(header: bytes) -> CentralRecord:
    """The record as the inspection's own reader reads it."""
    end = EndRecord(1, 0, len(header), len(header), len(header), b"", zip64=False)
    (record,) = iter_central_records(io.BytesIO(header), end)
    return record


@pytest.mark.parametrize(
    ("file_size", "compressed_size", "offset", "wide"),
    [
        (U32 - 1, U32 - 1, U32 - 1, []),
        (U32, 10, 0, [U32]),
        (10, U32, 20, [U32]),
        (10, 20, U32, [U32]),
        (2**33, 2**32 + 1, 2**34, [2**33, 2**32 + 1, 2**34]),
        (10, 2**32, 2**32 + 7, [2**32, 2**32 + 7]),
        (2**32 + 3, 20, 2**40, [2**32 + 3, 2**40]),
    ],
)
def test_a_central_record_has_zip64_values_for_what_does_not_fit(
    file_size: int, compressed_size: int, offset: int, wide: list[int]
) -> None:
    record = _record(file_size, compressed_size)

    header = repack._central_header(record, offset)

    fields = CENTRAL.unpack_from(header)
    extra = (zip64_extra(*wide) if wide else b"") + UT_CENTRAL + JAR_MARKER
    needed = 45 if wide else 20
    assert fields[1:5] == (63, 3, needed, 0)
    assert fields[10:12] == (min(compressed_size, U32), min(file_size, U32))
    assert fields[12:15] == (len(b"big/file.bin"), len(extra), len(b"a comment"))
    assert fields[15:19] == (0, 1, FILE_MODE, min(offset, U32))
    assert header[CENTRAL.size :] == b"big/file.bin" + extra + b"a comment"
    assert _read_back(header) == replace(
        record, header_offset=offset, extra=extra, version_needed=needed
    )


def test_a_central_record_never_lowers_the_version_needed() -> None:
    header = repack._central_header(_record(2**32, 10, version_needed=63), 0)

    assert CENTRAL.unpack_from(header)[3:5] == (63, 0)


# --- the end records ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "cd_offset", "cd_size", "zip64"),
    [
        (U16 - 1, U32 - 1, U32 - 1, False),
        (U16, 1000, 46 * U16, True),
        (U16 + 2, 1000, 46 * (U16 + 2), True),
        (3, U32, 200, True),
        (3, 2**35, 200, True),
        (3, 1000, U32, True),
        (3, 1000, 2**33, True),
    ],
)
def test_the_end_records_use_zip64_exactly_when_a_value_does_not_fit(
    count: int, cd_offset: int, cd_size: int, zip64: bool
) -> None:
    out = io.BytesIO()
    out.write(b"\0" * 300)  # the entries and the directory (not read here)

    repack._write_end(out, count, cd_offset, cd_size, b"the comment")

    data = out.getvalue()
    tail = data[300:]
    eocd = EOCD.unpack_from(data, len(data) - EOCD.size - len(b"the comment"))
    assert eocd == (
        b"PK\x05\x06", 0, 0, min(count, U16), min(count, U16), min(cd_size, U32),
        min(cd_offset, U32), len(b"the comment"),
    )  # fmt: skip
    assert data.endswith(b"the comment")
    if zip64:
        assert len(tail) == ZIP64_EOCD.size + ZIP64_LOCATOR.size + EOCD.size + 11
        record = ZIP64_EOCD.unpack_from(tail)
        assert record == (b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, cd_size, cd_offset)
        locator = ZIP64_LOCATOR.unpack_from(tail, ZIP64_EOCD.size)
        assert locator == (b"PK\x06\x07", 0, 300, 1)
    else:
        assert len(tail) == EOCD.size + 11
    end = read_end_record(io.BytesIO(data), len(data))  # as the inspection reads it
    assert (end.entries, end.cd_offset, end.cd_size, end.zip64) == (
        count, cd_offset, cd_size, zip64,
    )  # fmt: skip
    assert end.comment == b"the comment"


# --- refusals: the message says what is wrong, and nothing is left behind ---------------


def _refusal(source: Path, tmp_path: Path) -> str:
    target = tmp_path / "repacked.zip"
    with pytest.raises(RepackError) as caught:
        repack_deflate64(source, target)
    assert not target.exists()
    return str(caught.value)


@pytest.mark.parametrize("method", [DEFLATED64, STORED])
def test_a_local_header_naming_another_file_is_refused(tmp_path: Path, method: int) -> None:
    source = tmp_path / "lying.zip"
    source.write_bytes(craft([Member("a.txt", b"a" * 10, method=method, local={"name": b"b.txt"})]))

    assert _refusal(source, tmp_path) == (
        "a.txt: the local header names a different file than the central directory"
    )


def test_the_first_of_several_header_problems_is_reported(tmp_path: Path) -> None:
    source = tmp_path / "lying.zip"
    member = Member("a.txt", b"a", method=DEFLATED64, local={"name": b"b.txt", "method": 8})
    source.write_bytes(craft([Member("ok.txt", b"ok"), member]))

    assert _refusal(source, tmp_path) == (
        "a.txt: the local header names a different file than the central directory"
    )


def test_a_local_header_beyond_the_file_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "lying.zip"
    source.write_bytes(craft([Member("a.txt", b"a" * 10, method=DEFLATED64, cd={"offset": 10**6})]))

    assert _refusal(source, tmp_path) == (
        "a.txt: the local header offset points beyond the end of the file"
    )


def test_an_entry_running_past_the_end_of_the_file_is_refused(tmp_path: Path) -> None:
    # Local header and directory agree on a size the file does not have
    source = tmp_path / "short.zip"
    source.write_bytes(
        craft(
            [Member("a.txt", b"a" * 10, method=STORED, local={"csize": 10**6}, cd={"csize": 10**6})]
        )
    )

    assert _refusal(source, tmp_path) == "the archive ends inside an entry"


def test_a_deflate64_entry_larger_than_declared_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "bomb.zip"
    bomb = deflate64_bomb(50)
    source.write_bytes(craft([Member("bomb.bin", method=DEFLATED64, payload=bomb, usize=10)]))

    assert _refusal(source, tmp_path) == "an entry expands beyond its declared size"


@pytest.mark.parametrize(
    ("crc", "usize"),
    [
        (0x0BADF00D, None),  # the right size, the wrong CRC
        (None, 4001),  # the right CRC, a byte short
    ],
)
def test_a_deflate64_entry_not_matching_its_crc_or_size_is_refused(
    tmp_path: Path, crc: int | None, usize: int | None
) -> None:
    source = tmp_path / "damaged.zip"
    member = Member("a.txt", b"0123" * 1000, method=DEFLATED64, crc=crc, usize=usize)
    source.write_bytes(craft([member]))

    assert _refusal(source, tmp_path) == "an entry's data does not match its size or CRC"


def test_a_file_that_is_no_zip_is_refused_with_the_inspection_message(tmp_path: Path) -> None:
    source = tmp_path / "notes.txt"
    source.write_bytes(b"just some text, not an archive\n" * 10)

    with pytest.raises(RepackError, match=r"^the file is not a zip archive$") as caught:
        repack_deflate64(source, tmp_path / "out.zip")

    assert isinstance(caught.value.__cause__, Refusal)
    assert not (tmp_path / "out.zip").exists()


def test_the_same_file_as_destination_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    source = tmp_path / "a.zip"
    source.write_bytes(craft([Member("a.txt", b"x", method=DEFLATED64)]))

    with pytest.raises(ValueError) as caught:
        repack_deflate64(source, source)

    assert str(caught.value) == "repack_deflate64 needs a destination different from its source"


@pytest.mark.parametrize(
    ("error", "reported"),
    [
        (Refusal("zip.corrupt", "damaged"), RepackError),
        (RepackError("damaged"), RepackError),
        (OSError("disk full"), OSError),
    ],
)
def test_the_error_is_reported_even_if_the_destination_is_already_gone(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, error: Exception, reported: type[Exception]
) -> None:
    # Say a /tmp cleaner removed the half-written file: the caller still learns why
    # the repack failed, not that the clean-up found nothing to remove
    def fail(fh: BinaryIO, file_size: int, out: BinaryIO) -> None:
        os.unlink(out.name)
        raise error

    monkeypatch.setattr(repack, "_repack", fail)
    source = tmp_path / "a.zip"
    source.write_bytes(craft([Member("a.txt", b"x", method=DEFLATED64)]))

    with pytest.raises(reported, match=r"^(damaged|disk full)$"):
        repack_deflate64(source, tmp_path / "out.zip")


# --- memory -------------------------------------------------------------------------------


def test_a_large_central_directory_is_spooled_to_disk(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The rewritten directory is held until the entries are written: past the spool
    # size it must go to a file, not stay in the Lambda's memory
    rollovers: list[int] = []

    class Spool(tempfile.SpooledTemporaryFile[bytes]):
        def rollover(self) -> None:
            rollovers.append(self.tell())
            super().rollover()

    monkeypatch.setattr(repack, "_SPOOL_BYTES", 200)
    monkeypatch.setattr(tempfile, "SpooledTemporaryFile", Spool)
    source, target = tmp_path / "a.zip", tmp_path / "repacked.zip"
    source.write_bytes(_rich_archive())

    repack_deflate64(source, target)

    assert len(rollovers) == 1
    assert_sound(target.read_bytes())
