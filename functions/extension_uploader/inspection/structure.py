"""The central directory, the local headers, and how the entries tile the file.

Readers disagree in the gaps of the zip format, and archives that exploit those gaps
are how both smuggling (one reader sees a file another does not) and the
non-recursive "overlap" zip bombs work. So the rules here are strict on layout: every
local header must repeat what the central directory says, and the entries, their
data descriptors and the central directory must tile the file exactly, with no byte
unaccounted for and no byte used twice.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from extension_uploader import reasons

from .endrecord import (
    CENTRAL_HEADER_BYTES,
    CENTRAL_SIGNATURE,
    LOCAL_SIGNATURE,
    U16_MAX,
    U32_MAX,
    EndRecord,
    read_at,
)
from .names import decode_name, display_name
from .report import Problem, Refusal

CENTRAL_HEADER = struct.Struct("<4s4B4H3L5H2L")
LOCAL_HEADER = struct.Struct("<4s2B4H3L2H")
ZIP64_EXTRA_ID = 0x0001
DESCRIPTOR_SIGNATURE = b"PK\x07\x08"

FLAG_ENCRYPTED = 0x0001
FLAG_DATA_DESCRIPTOR = 0x0008
FLAG_STRONG_ENCRYPTION = 0x0040
FLAG_MASKED_HEADERS = 0x2000
ENCRYPTION_FLAGS = FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION | FLAG_MASKED_HEADERS

STORED = 0
DEFLATED = 8
DEFLATED64 = 9
AES_ENCRYPTED = 99
AES_EXTRA_ID = 0x9901


def name_digest(raw_name: bytes) -> bytes:
    """A short fingerprint of a name: local headers are compared against it, so the
    inspection does not keep every raw name of a large directory in memory."""
    return hashlib.blake2b(raw_name, digest_size=16).digest()


@dataclass(frozen=True, slots=True)
class CentralRecord:
    """One central directory record, with zip64 values already resolved."""

    index: int
    version_made_by: int
    version_needed: int
    flags: int
    method: int
    dos_time: int
    dos_date: int
    crc: int
    compressed_size: int
    file_size: int
    internal_attr: int
    external_attr: int
    header_offset: int
    raw_name: bytes
    extra: bytes
    comment: bytes

    @property
    def create_system(self) -> int:
        return self.version_made_by >> 8


@dataclass(frozen=True, slots=True)
class Extent:
    """Where one entry lies: local header start, data, and end (after any descriptor)."""

    index: int
    start: int
    data_start: int
    data_end: int
    end: int


def iter_extra(extra: bytes) -> Iterator[tuple[int, bytes]]:
    """(header id, data) pairs of an extra field. A ragged tail (padding some tools
    leave) ends the walk rather than failing it: only zip64 data is ever needed."""
    position = 0
    while position + 4 <= len(extra):
        header_id, size = struct.unpack_from("<2H", extra, position)
        if position + 4 + size > len(extra):
            return
        yield header_id, extra[position + 4 : position + 4 + size]
        position += 4 + size


def extra_problem(extra: bytes) -> str | None:
    """What is wrong with an extra field's framing, or None if it is sound.

    Each field is a 2-byte id, a 2-byte size and that many bytes. A field whose size
    runs past the end of the block is refused: CPython's zipfile, Rust's zip and
    Java's ZipFile refuse the archive (the JVM may not open it at all), while other
    readers skip the block, so they would not agree on what it holds. Fewer than 4
    bytes left over at the end are padding some writers leave, and every reader
    ignores them.
    """
    position = 0
    while position + 4 <= len(extra):
        header_id, size = struct.unpack_from("<2H", extra, position)
        remaining = len(extra) - position - 4
        if size > remaining:
            return (
                f"field 0x{header_id:04x} claims {size} bytes, but only {remaining} "
                f"remain in the {len(extra)}-byte block"
            )
        position += 4 + size
    return None


def zip64_block(extra: bytes) -> bytes | None:
    """The data of the zip64 extended information block, if the extra field has one."""
    for header_id, data in iter_extra(extra):
        if header_id == ZIP64_EXTRA_ID:
            return data
    return None


def zip64_values(extra: bytes, wanted: int) -> tuple[int, ...] | None:
    """The first ``wanted`` 8-byte values of the zip64 block, if it holds that many."""
    block = zip64_block(extra)
    if block is None or len(block) < 8 * wanted:
        return None
    return struct.unpack_from(f"<{wanted}Q", block)


def iter_central_records(fh: BinaryIO, end: EndRecord) -> Iterator[CentralRecord]:
    """Yield each record of the central directory, one at a time (bounded memory).

    Raises Refusal when the directory does not hold exactly ``end.entries`` records
    filling exactly ``end.cd_size`` bytes.
    """
    remaining = end.cd_size
    for index in range(end.entries):
        if remaining < CENTRAL_HEADER_BYTES:
            raise Refusal(reasons.ZIP_CORRUPT, "the central directory ends before its last entry")
        header = read_at(fh, end.cd_offset + end.cd_size - remaining, CENTRAL_HEADER.size)
        fields = CENTRAL_HEADER.unpack(header) if len(header) == CENTRAL_HEADER.size else None
        if fields is None or fields[0] != CENTRAL_SIGNATURE:
            raise Refusal(reasons.ZIP_CORRUPT, f"central directory record {index} is damaged")
        name_size, extra_size, comment_size = fields[12:15]
        record_size = CENTRAL_HEADER.size + name_size + extra_size + comment_size
        if record_size > remaining:
            raise Refusal(reasons.ZIP_CORRUPT, f"central directory record {index} is truncated")
        variable = fh.read(record_size - CENTRAL_HEADER.size)
        if len(variable) != record_size - CENTRAL_HEADER.size:
            raise Refusal(reasons.ZIP_CORRUPT, "the central directory is truncated")
        remaining -= record_size
        yield _record(index, fields, variable)
    if remaining:
        raise Refusal(
            reasons.ZIP_CORRUPT,
            f"{remaining} unaccounted bytes after the last central directory record",
        )


def _record(index: int, fields: tuple[Any, ...], variable: bytes) -> CentralRecord:
    (_, made_version, made_system, needed, _, flags, method, dos_time, dos_date) = fields[:9]
    crc, compressed, size = fields[9:12]
    name_size, extra_size, _, disk, internal, external, offset = fields[12:19]
    raw_name = variable[:name_size]
    extra = variable[name_size : name_size + extra_size]
    values = [size, compressed, offset]  # the order of the zip64 extra block
    wide = sum(1 for value in values if value == U32_MAX)
    if wide or disk == U16_MAX:
        # The block holds only the fields maxed out above: 8 bytes each, then the
        # disk number in 4 bytes.
        block = zip64_block(extra)
        if block is None or len(block) < 8 * wide + (4 if disk == U16_MAX else 0):
            raise Refusal(
                reasons.ZIP_CORRUPT,
                f"central directory record {index} lacks the zip64 sizes it announces",
            )
        taken = iter(struct.unpack_from(f"<{wide}Q", block))
        values = [next(taken) if value == U32_MAX else value for value in values]
        if disk == U16_MAX:
            disk = struct.unpack_from("<L", block, 8 * wide)[0]
    if disk != 0:
        raise Refusal(
            reasons.ZIP_CORRUPT, "split or spanned (multi-disk) archives are not supported"
        )
    return CentralRecord(
        index=index,
        version_made_by=made_system << 8 | made_version,
        version_needed=needed,
        flags=flags,
        method=method,
        dos_time=dos_time,
        dos_date=dos_date,
        crc=crc,
        compressed_size=values[1],
        file_size=values[0],
        internal_attr=internal,
        external_attr=external,
        header_offset=values[2],
        raw_name=raw_name,
        extra=extra,
        comment=variable[name_size + extra_size :],
    )


@dataclass(frozen=True, slots=True)
class Entry:
    """The compact view of a central record that the inspection keeps for each entry.

    No raw name, extra or comment: those can reach 192 KiB per record, and a
    directory of 10,000 records must stay cheap to hold.
    """

    index: int
    display: str  # printable, escaped: safe for messages and logs
    name: str | None  # decoded, or None when the name is not valid UTF-8
    is_dir: bool
    header_offset: int
    name_digest: bytes
    flags: int
    method: int
    crc: int
    compressed_size: int
    file_size: int
    encrypted: bool


def is_encrypted(record: CentralRecord) -> bool:
    """Whether the entry's data is encrypted: traditional PKWARE encryption (flag bit
    0), strong encryption (bit 6) or masked headers (bit 13), or WinZip AES (method 99,
    or its 0x9901 extra field, whatever the method says).

    Decided from the central record before anything else is judged: encryption
    changes what the other fields mean (a stored entry's compressed size counts the
    12-byte encryption header, AES adds salt and MAC, the CRC may be zero), so a
    check of sizes or CRC would misreport an encrypted archive as corrupt.
    """
    if record.flags & ENCRYPTION_FLAGS or record.method == AES_ENCRYPTED:
        return True
    return any(header_id == AES_EXTRA_ID for header_id, _ in iter_extra(record.extra))


def entry_from(record: CentralRecord) -> Entry:
    """The compact entry of a central record."""
    return Entry(
        index=record.index,
        display=display_name(record.raw_name),
        name=decode_name(record.raw_name),
        is_dir=record.raw_name.endswith(b"/"),
        header_offset=record.header_offset,
        name_digest=name_digest(record.raw_name),
        flags=record.flags,
        method=record.method,
        crc=record.crc,
        compressed_size=record.compressed_size,
        file_size=record.file_size,
        encrypted=is_encrypted(record),
    )


def read_extent(
    fh: BinaryIO, entry: Entry, cd_offset: int, file_size: int, problems: list[Problem]
) -> Extent | None:
    """Check an entry's local header against the central directory; find its extent.

    Disagreements go to ``problems``; an extent is returned whenever the header can be
    found, so that overlap detection sees every entry, even the lying ones.
    """

    def corrupt(message: str) -> None:
        problems.append(Problem(reasons.ZIP_CORRUPT, entry.display, message))

    if entry.header_offset >= file_size:
        corrupt("the local header offset points beyond the end of the file")
        return None
    if entry.header_offset + LOCAL_HEADER.size > cd_offset:
        problems.append(
            Problem(
                reasons.ZIP_OVERLAPPING_ENTRIES,
                entry.display,
                "the local header lies inside or after the central directory",
            )
        )
        return None
    header = read_at(fh, entry.header_offset, LOCAL_HEADER.size)
    fields = LOCAL_HEADER.unpack(header)
    if fields[0] != LOCAL_SIGNATURE:
        corrupt("no local header where the central directory points")
        return None
    (_, _, _, flags, method, _, _, crc, compressed, size, name_size, extra_size) = fields
    name_and_extra = fh.read(name_size + extra_size)
    if name_digest(name_and_extra[:name_size]) != entry.name_digest:
        corrupt("the local header names a different file than the central directory")
    if method != entry.method:
        corrupt("the local header and the central directory disagree on the compression method")
    if (flags ^ entry.flags) & ENCRYPTION_FLAGS:
        corrupt("the local header and the central directory disagree on encryption")
    local_extra = name_and_extra[name_size:]
    malformed = extra_problem(local_extra)
    if malformed:
        corrupt(f"the local header's extra field is malformed: {malformed}")
    if not entry.encrypted and not _local_values_agree(
        entry, flags, (crc, compressed, size), local_extra
    ):
        # (An encrypted entry is refused anyway; its local values may be masked.)
        corrupt("the local header and the central directory disagree on CRC or sizes")
    data_start = entry.header_offset + LOCAL_HEADER.size + name_size + extra_size
    data_end = data_start + entry.compressed_size
    end = data_end
    if flags & FLAG_DATA_DESCRIPTOR and data_end <= cd_offset:
        huge = max(entry.compressed_size, entry.file_size) >= U32_MAX
        wide = huge or zip64_block(local_extra) is not None
        descriptor = _descriptor_size(fh, entry, data_end, cd_offset, wide=wide)
        if descriptor is None:
            corrupt("the data descriptor is missing or disagrees with the central directory")
        end += descriptor or 0
    return Extent(entry.index, entry.header_offset, data_start, data_end, end)


def _local_values_agree(
    entry: Entry, flags: int, values: tuple[int, int, int], extra: bytes
) -> bool:
    """Local CRC and sizes must repeat the central ones. With a data descriptor (flag
    bit 3) the writer did not know them yet, so zeros are allowed there too."""
    crc, compressed, size = values
    if U32_MAX in (compressed, size):
        wide = zip64_values(extra, 2)
        if wide is None:
            return bool(flags & FLAG_DATA_DESCRIPTOR) and compressed == size == U32_MAX
        size, compressed = wide
    expected = (entry.crc, entry.compressed_size, entry.file_size)
    actual = (crc, compressed, size)
    if flags & FLAG_DATA_DESCRIPTOR:
        return all(value in (0, want) for value, want in zip(actual, expected, strict=True))
    return actual == expected


def _descriptor_size(
    fh: BinaryIO, entry: Entry, data_end: int, cd_offset: int, *, wide: bool
) -> int | None:
    """Length of the data descriptor after an entry's data, if one repeats its values.

    Its sizes are 8 bytes wide when the local header carries a zip64 extra field (the
    rule of APPNOTE 4.3.9, followed by CPython, Info-ZIP and Java's ZipInputStream),
    or when a size does not fit in 4 bytes (what Java and Go write for huge entries
    without that field); otherwise 4 bytes. The width is never guessed from the bytes:
    for an empty entry the 4-byte reading of an 8-byte descriptor also "matches",
    and would leave 8 of its bytes looking like data between entries. The signature
    is optional, so both forms are tried.
    """
    layout, width = ("<L2Q", 20) if wide else ("<3L", 12)
    raw = read_at(fh, data_end, min(4 + width, cd_offset - data_end))
    expected = (entry.crc, entry.compressed_size, entry.file_size)
    for start in (4, 0) if raw[:4] == DESCRIPTOR_SIGNATURE else (0,):
        if len(raw) >= start + width and struct.unpack_from(layout, raw, start) == expected:
            return start + width
    return None


#: Zero bytes allowed between the last entry and the central directory: writers that
#: align the directory pad it to at most a 4 KiB page.
MAX_DIRECTORY_PADDING_BYTES = 4096


def is_directory_padding(fh: BinaryIO, start: int, end: int) -> bool:
    """Whether the bytes from ``start`` to ``end`` (before the central directory) are
    alignment padding: short, and all zero.

    Every reader tested (unzip, CPython, Java's ZipFile and ZipInputStream) reads such
    an archive: the directory-based ones never look there, and ZipInputStream, which
    Elasticsearch's plugin installer uses, takes the zero bytes for "no more entries"
    after it has seen them all. Any other byte could hide a local header that a
    sequential reader would take for one more file, so it stays refused.
    """
    size = end - start
    return 0 < size <= MAX_DIRECTORY_PADDING_BYTES and not any(read_at(fh, start, size))


def check_layout(
    extents: list[Extent],
    displays: dict[int, str],
    cd_offset: int,
    problems: list[Problem],
    fh: BinaryIO | None = None,
) -> None:
    """The entries must tile the file from byte 0 up to the central directory; with
    ``fh``, zero padding before the directory is allowed (see is_directory_padding)."""
    ordered = sorted(extents, key=lambda extent: (extent.start, extent.index))
    position = 0
    previous: Extent | None = None
    for extent in ordered:
        name = displays[extent.index]
        if previous is not None and extent.start < position:
            problems.append(
                Problem(
                    reasons.ZIP_OVERLAPPING_ENTRIES,
                    name,
                    f"its bytes overlap those of {displays[previous.index]}",
                )
            )
        elif extent.start > position:
            where = "before the first entry" if previous is None else "between entries"
            problems.append(
                Problem(
                    reasons.ZIP_CORRUPT, name, f"{extent.start - position} bytes of data {where}"
                )
            )
        if extent.end > position:
            position, previous = extent.end, extent
    if position > cd_offset and previous is not None:
        problems.append(
            Problem(
                reasons.ZIP_OVERLAPPING_ENTRIES,
                displays[previous.index],
                "its data runs into the central directory",
            )
        )
    elif position < cd_offset and (extents or cd_offset):
        if extents and fh is not None and is_directory_padding(fh, position, cd_offset):
            return
        where = "before the central directory" if extents else "before the archive"
        problems.append(
            Problem(reasons.ZIP_CORRUPT, None, f"{cd_offset - position} bytes of data {where}")
        )
