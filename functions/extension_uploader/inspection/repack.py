"""Re-encode Deflate64 entries as Deflate, changing nothing else.

Elasticsearch reads zips with ``java.util.zip``, which cannot inflate Deflate64
(method 9, what Windows Explorer writes for large files). Rather than refuse those
archives, the pipeline rewrites them: each Deflate64 entry is decompressed (bounded,
CRC-checked) and compressed again as Deflate; every other entry is copied byte for
byte, local header, data and data descriptor included. Names, order, timestamps,
attributes, extra fields and comments are kept; only the method, sizes, offsets and
the zip64 bookkeeping that follows from them change.

``zipfile.ZipFile`` cannot copy an entry's compressed bytes as they are, so this is
a small writer of its own. Call it on an archive :func:`inspect_archive` accepted.
"""

from __future__ import annotations

import os
import shutil
import struct
import tempfile
import zlib
from dataclasses import replace
from pathlib import Path
from typing import BinaryIO

from .endrecord import (
    CENTRAL_SIGNATURE,
    EOCD,
    EOCD_SIGNATURE,
    LOCAL_SIGNATURE,
    U16_MAX,
    U32_MAX,
    ZIP64_EOCD,
    ZIP64_EOCD_SIGNATURE,
    ZIP64_LOCATOR,
    ZIP64_LOCATOR_SIGNATURE,
    EndRecord,
    check_directory_bounds,
    read_at,
    read_end_record,
)
from .report import Problem, Refusal
from .streaming import Expected, iter_content
from .structure import (
    CENTRAL_HEADER,
    DEFLATED,
    DEFLATED64,
    FLAG_DATA_DESCRIPTOR,
    LOCAL_HEADER,
    ZIP64_EXTRA_ID,
    CentralRecord,
    entry_from,
    iter_central_records,
    iter_extra,
    read_extent,
)

COPY_BYTES = 1024 * 1024
DEFLATE_LEVEL = 6
_LEVEL_FLAGS = 0x0006  # bits 1-2: the compression option of Deflate/Deflate64
_VERSION_DEFLATE = 20
_VERSION_ZIP64 = 45
_SPOOL_BYTES = 16 * 1024 * 1024


class RepackError(ValueError):
    """When an archive cannot be repacked because it is not sound; inspect it first."""


def repack_deflate64(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
    """Write to ``dst`` a copy of the zip at ``src`` with Deflate64 entries as Deflate.

    Raises RepackError if ``src`` is damaged (its data must match its CRCs and sizes);
    ``dst`` is removed in that case.
    """
    if Path(dst).exists() and Path(dst).samefile(src):
        raise ValueError("repack_deflate64 needs a destination different from its source")
    with open(src, "rb") as fh, open(dst, "wb") as out:  # noqa: PTH123
        try:
            _repack(fh, os.fstat(fh.fileno()).st_size, out)
        except Refusal as refusal:
            out.close()
            Path(dst).unlink(missing_ok=True)
            raise RepackError(refusal.problem.message) from refusal
        except BaseException:
            out.close()
            Path(dst).unlink(missing_ok=True)
            raise


def _repack(fh: BinaryIO, file_size: int, out: BinaryIO) -> None:
    end = read_end_record(fh, file_size)
    check_directory_bounds(fh, end)
    with tempfile.SpooledTemporaryFile(_SPOOL_BYTES) as central:
        count = 0
        for record in iter_central_records(fh, end):
            offset = out.tell()
            written = record
            if record.method == DEFLATED64:
                written = _reencode(fh, record, end, file_size, out)
            else:
                _copy_entry(fh, record, end, file_size, out)
            central.write(_central_header(written, offset))
            count += 1
        cd_offset = out.tell()
        central.seek(0)
        shutil.copyfileobj(central, out, COPY_BYTES)
        _write_end(out, count, cd_offset, out.tell() - cd_offset, end.comment)


def _extent_of(
    fh: BinaryIO, record: CentralRecord, end: EndRecord, file_size: int
) -> tuple[int, int, int]:
    """(start, data start, end) of an entry, refusing anything the inspection would."""
    problems: list[Problem] = []
    extent = read_extent(fh, entry_from(record), end.cd_offset, file_size, problems)
    if problems or extent is None:
        message = problems[0].message if problems else "unreadable local header"
        raise RepackError(f"{entry_from(record).display}: {message}")
    return extent.start, extent.data_start, extent.end


def _copy_entry(
    fh: BinaryIO, record: CentralRecord, end: EndRecord, file_size: int, out: BinaryIO
) -> None:
    start, _, stop = _extent_of(fh, record, end, file_size)
    fh.seek(start)
    remaining = stop - start
    while remaining:
        chunk = fh.read(min(COPY_BYTES, remaining))
        if not chunk:
            raise RepackError("the archive ends inside an entry")
        out.write(chunk)
        remaining -= len(chunk)


def _reencode(
    fh: BinaryIO, record: CentralRecord, end: EndRecord, file_size: int, out: BinaryIO
) -> CentralRecord:
    """Write the entry again as Deflate; return its central record as it now is."""
    start, data_start, _ = _extent_of(fh, record, end, file_size)
    local = LOCAL_HEADER.unpack(read_at(fh, start, LOCAL_HEADER.size))
    name_size, extra_size = local[10], local[11]
    local_extra = read_at(fh, start + LOCAL_HEADER.size + name_size, extra_size)
    wide = record.file_size + record.file_size // 1000 + 1024 >= U32_MAX
    flags = local[3] & ~(FLAG_DATA_DESCRIPTOR | _LEVEL_FLAGS)
    version = _VERSION_ZIP64 if wide else _VERSION_DEFLATE
    extra = (_zip64_block([0, 0]) if wide else b"") + _without_zip64(local_extra)
    header_at = out.tell()
    out.write(
        LOCAL_HEADER.pack(
            LOCAL_SIGNATURE,
            version,
            0,
            flags,
            DEFLATED,
            local[5],
            local[6],
            record.crc,
            0,
            0,
            len(record.raw_name),
            len(extra),
        )
    )
    out.write(record.raw_name)
    out.write(extra)
    compressed = _deflate(fh, record, data_start, out)
    data_end = out.tell()
    if wide:
        out.seek(header_at + 18)
        out.write(struct.pack("<2L", U32_MAX, U32_MAX))
        out.seek(header_at + LOCAL_HEADER.size + len(record.raw_name) + 4)
        out.write(struct.pack("<2Q", record.file_size, compressed))
    elif compressed >= U32_MAX:
        raise RepackError("an entry grew past 4 GiB when re-encoded")
    else:
        out.seek(header_at + 18)
        out.write(struct.pack("<2L", compressed, record.file_size))
    out.seek(data_end)
    return replace(
        record,
        version_needed=version,
        flags=record.flags & ~(FLAG_DATA_DESCRIPTOR | _LEVEL_FLAGS),
        method=DEFLATED,
        compressed_size=compressed,
    )


def _deflate(fh: BinaryIO, record: CentralRecord, data_start: int, out: BinaryIO) -> int:
    """Stream the Deflate64 data into Deflate; check size and CRC; return bytes written."""
    compressor = zlib.compressobj(DEFLATE_LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
    produced = written = crc = 0
    expected = Expected(
        data_start, record.compressed_size, record.file_size, DEFLATED64, record.crc
    )
    for chunk in iter_content(fh, expected):
        produced += len(chunk)
        if produced > record.file_size:
            raise RepackError("an entry expands beyond its declared size")
        crc = zlib.crc32(chunk, crc)
        packed = compressor.compress(chunk)
        out.write(packed)
        written += len(packed)
    packed = compressor.flush()
    out.write(packed)
    written += len(packed)
    if produced != record.file_size or crc != record.crc:
        raise RepackError("an entry's data does not match its size or CRC")
    return written


def _without_zip64(extra: bytes) -> bytes:
    """The extra field minus its zip64 block (rebuilt from the new values)."""
    kept = [
        struct.pack("<2H", header_id, len(data)) + data
        for header_id, data in iter_extra(extra)
        if header_id != ZIP64_EXTRA_ID
    ]
    return b"".join(kept)


def _zip64_block(values: list[int]) -> bytes:
    return struct.pack(f"<2H{len(values)}Q", ZIP64_EXTRA_ID, 8 * len(values), *values)


def _central_header(record: CentralRecord, offset: int) -> bytes:
    wide = [
        value for value in (record.file_size, record.compressed_size, offset) if value >= U32_MAX
    ]
    extra = _without_zip64(record.extra)
    if wide:
        extra = _zip64_block(wide) + extra
    needed = max(record.version_needed, _VERSION_ZIP64) if wide else record.version_needed
    return (
        CENTRAL_HEADER.pack(
            CENTRAL_SIGNATURE,
            record.version_made_by & 0xFF,
            record.version_made_by >> 8,
            needed & 0xFF,
            needed >> 8,
            record.flags,
            record.method,
            record.dos_time,
            record.dos_date,
            record.crc,
            min(record.compressed_size, U32_MAX),
            min(record.file_size, U32_MAX),
            len(record.raw_name),
            len(extra),
            len(record.comment),
            0,
            record.internal_attr,
            record.external_attr,
            min(offset, U32_MAX),
        )
        + record.raw_name
        + extra
        + record.comment
    )


def _write_end(out: BinaryIO, count: int, cd_offset: int, cd_size: int, comment: bytes) -> None:
    if count >= U16_MAX or cd_offset >= U32_MAX or cd_size >= U32_MAX:
        record_at = out.tell()
        out.write(
            ZIP64_EOCD.pack(
                ZIP64_EOCD_SIGNATURE,
                ZIP64_EOCD.size - 12,
                _VERSION_ZIP64,
                _VERSION_ZIP64,
                0,
                0,
                count,
                count,
                cd_size,
                cd_offset,
            )
        )
        out.write(ZIP64_LOCATOR.pack(ZIP64_LOCATOR_SIGNATURE, 0, record_at, 1))
    out.write(
        EOCD.pack(
            EOCD_SIGNATURE,
            0,
            0,
            min(count, U16_MAX),
            min(count, U16_MAX),
            min(cd_size, U32_MAX),
            min(cd_offset, U32_MAX),
            len(comment),
        )
    )
    out.write(comment)
