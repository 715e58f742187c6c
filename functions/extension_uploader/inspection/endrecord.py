"""Finding and checking the end of central directory record (and its zip64 twin).

This is the first thing read, and deliberately the only thing read before the entry
count is known: an archive announcing 200,000 entries is refused from its last 22
bytes, without ``zipfile.ZipFile`` ever parsing (and allocating) its directory.

The end record also pins down where the central directory must sit. Everything
between the last entry and the end record is accounted for, and the archive comment
must run exactly to the end of the file, so bytes appended after the archive or
prepended before it (a self-extractor stub, a polyglot) are refused as corrupt.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO

from extension_uploader import reasons

from .report import Refusal

EOCD_SIGNATURE = b"PK\x05\x06"
ZIP64_LOCATOR_SIGNATURE = b"PK\x06\x07"
ZIP64_EOCD_SIGNATURE = b"PK\x06\x06"
LOCAL_SIGNATURE = b"PK\x03\x04"
CENTRAL_SIGNATURE = b"PK\x01\x02"

EOCD = struct.Struct("<4s4H2LH")
ZIP64_LOCATOR = struct.Struct("<4sLQL")
ZIP64_EOCD = struct.Struct("<4sQ2H2L4Q")

MAX_COMMENT_BYTES = 0xFFFF
CENTRAL_HEADER_BYTES = 46
MAX_CENTRAL_RECORD_BYTES = CENTRAL_HEADER_BYTES + 3 * 0xFFFF
U16_MAX = 0xFFFF
U32_MAX = 0xFFFFFFFF


@dataclass(frozen=True)
class EndRecord:
    """Where the central directory is, how big, and how many entries it holds."""

    entries: int
    cd_offset: int
    cd_size: int
    cd_end: int  # where the directory must end: the zip64 end record or the end record
    eocd_offset: int
    comment: bytes
    zip64: bool


def read_at(fh: BinaryIO, offset: int, size: int) -> bytes:
    """Read up to ``size`` bytes at ``offset`` (fewer only at the end of the file)."""
    fh.seek(offset)
    parts: list[bytes] = []
    while size > 0:
        part = fh.read(size)
        if not part:
            break
        parts.append(part)
        size -= len(part)
    return b"".join(parts)


def read_end_record(fh: BinaryIO, file_size: int) -> EndRecord:
    """Locate the end records and check them against each other (Refusal if they
    cannot be trusted); :func:`check_directory_bounds` then checks the directory."""
    tail_size = min(file_size, EOCD.size + MAX_COMMENT_BYTES)
    tail_offset = file_size - tail_size
    tail = read_at(fh, tail_offset, tail_size)
    position = _find_eocd(fh, tail, file_size)
    eocd_offset = tail_offset + position
    (_, disk, cd_disk, disk_entries, entries, cd_size, cd_offset, _) = EOCD.unpack_from(
        tail, position
    )
    comment = tail[position + EOCD.size :]
    if EOCD_SIGNATURE in comment:
        # A comment holding another end record makes readers disagree on what the
        # archive contains (the ones scanning backwards stop at the fake one).
        raise Refusal(reasons.ZIP_CORRUPT, "the archive comment contains an end record signature")
    end = EndRecord(entries, cd_offset, cd_size, eocd_offset, eocd_offset, comment, zip64=False)
    locator_offset = eocd_offset - ZIP64_LOCATOR.size
    if locator_offset >= 0:
        locator = read_at(fh, locator_offset, ZIP64_LOCATOR.size)
        if locator[:4] == ZIP64_LOCATOR_SIGNATURE:
            end = _read_zip64(fh, end, locator, locator_offset, (disk, cd_disk))
            disk = cd_disk = 0
            disk_entries = end.entries
    if disk != 0 or cd_disk != 0 or disk_entries != end.entries:
        raise Refusal(
            reasons.ZIP_CORRUPT, "split or spanned (multi-disk) archives are not supported"
        )
    return end


def _find_eocd(fh: BinaryIO, tail: bytes, file_size: int) -> int:
    """Position in ``tail`` of the one end record whose comment reaches the end of file.

    Two records that both fit (one hidden in the other's comment) mean readers can
    disagree on the archive's contents, so that is refused rather than guessed.
    """
    matches: list[int] = []
    search_from = len(tail)
    seen_signature = False
    while len(matches) < 2:
        position = tail.rfind(EOCD_SIGNATURE, 0, search_from)
        if position < 0:
            break
        seen_signature = True
        if position + EOCD.size <= len(tail):
            comment_size = struct.unpack_from("<H", tail, position + 20)[0]
            if position + EOCD.size + comment_size == len(tail):
                matches.append(position)
        search_from = position
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise Refusal(reasons.ZIP_CORRUPT, "the archive has two end of central directory records")
    if seen_signature:
        raise Refusal(
            reasons.ZIP_CORRUPT,
            "the end of central directory record does not end the file "
            "(data after the archive, or a truncated comment)",
        )
    head = read_at(fh, 0, 4)
    if head == LOCAL_SIGNATURE and file_size > len(LOCAL_SIGNATURE):
        raise Refusal(reasons.ZIP_CORRUPT, "the archive is truncated: it has no end record")
    raise Refusal(reasons.ZIP_NOT_A_ZIP, "the file is not a zip archive")


def _read_zip64(
    fh: BinaryIO,
    end: EndRecord,
    locator: bytes,
    locator_offset: int,
    classic_disks: tuple[int, int],
) -> EndRecord:
    """Read the zip64 end record the locator points at; it must sit right before it."""
    _, locator_disk, record_offset, total_disks = ZIP64_LOCATOR.unpack(locator)
    if locator_disk != 0 or total_disks > 1:
        raise Refusal(
            reasons.ZIP_CORRUPT, "split or spanned (multi-disk) archives are not supported"
        )
    raw = read_at(fh, record_offset, ZIP64_EOCD.size) if record_offset < locator_offset else b""
    if len(raw) < ZIP64_EOCD.size or raw[:4] != ZIP64_EOCD_SIGNATURE:
        raise Refusal(reasons.ZIP_CORRUPT, "the zip64 end record is missing or damaged")
    fields = ZIP64_EOCD.unpack(raw)
    (_, record_size, _, _, disk, cd_disk, disk_entries, entries, cd_size, cd_offset) = fields
    if record_offset + 12 + record_size != locator_offset:
        raise Refusal(reasons.ZIP_CORRUPT, "unaccounted data around the zip64 end record")
    if disk != 0 or cd_disk != 0 or disk_entries != entries:
        raise Refusal(
            reasons.ZIP_CORRUPT, "split or spanned (multi-disk) archives are not supported"
        )
    classic = (end.entries, end.cd_size, end.cd_offset)
    wide = (entries, cd_size, cd_offset)
    for short, long_, maximum in zip(classic, wide, (U16_MAX, U32_MAX, U32_MAX), strict=True):
        if short not in (long_, maximum):
            raise Refusal(reasons.ZIP_CORRUPT, "the zip64 end record contradicts the end record")
    if any(value not in (0, U16_MAX) for value in classic_disks):
        raise Refusal(
            reasons.ZIP_CORRUPT, "split or spanned (multi-disk) archives are not supported"
        )
    return EndRecord(
        entries=entries,
        cd_offset=cd_offset,
        cd_size=cd_size,
        cd_end=record_offset,
        eocd_offset=end.eocd_offset,
        comment=end.comment,
        zip64=True,
    )


def check_directory_bounds(fh: BinaryIO, end: EndRecord) -> None:
    """The directory must end exactly where the end record (or zip64 record) begins.

    Checked after the entry count, so that a huge count is refused as such.
    """
    if end.entries == 0 and end.cd_size != 0:
        raise Refusal(reasons.ZIP_CORRUPT, "the central directory has bytes but no entries")
    if end.cd_size < end.entries * CENTRAL_HEADER_BYTES:
        raise Refusal(
            reasons.ZIP_CORRUPT,
            f"the central directory ({end.cd_size} bytes) is too small for {end.entries} entries",
        )
    if end.cd_size > end.entries * MAX_CENTRAL_RECORD_BYTES:
        raise Refusal(reasons.ZIP_CORRUPT, "the central directory is larger than its entries")
    directory_end = end.cd_offset + end.cd_size
    if directory_end == end.cd_end:
        return
    actual_start = end.cd_end - end.cd_size
    if directory_end < end.cd_end and (
        end.entries == 0 or read_at(fh, actual_start, 4) == CENTRAL_SIGNATURE
    ):
        raise Refusal(
            reasons.ZIP_CORRUPT,
            f"{actual_start - end.cd_offset} bytes of data before the archive "
            "(a self-extractor stub or prepended data)",
        )
    raise Refusal(
        reasons.ZIP_CORRUPT,
        "the central directory is not where the end record says it is",
    )
