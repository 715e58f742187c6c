"""Hand-crafting zip archives byte by byte, for the hostile half of the corpus.

``zipfile`` only writes well-formed archives; these helpers write whatever a test
asks for: lying headers, overlaps, fake end records, Deflate64 streams and bombs.
Also used by bench/bench_inspection.py.
"""

from __future__ import annotations

import functools
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

LOCAL = struct.Struct("<4s2B4H3L2H")
CENTRAL = struct.Struct("<4s4B4H3L5H2L")
EOCD = struct.Struct("<4s4H2LH")
ZIP64_EOCD = struct.Struct("<4sQ2H2L4Q")
ZIP64_LOCATOR = struct.Struct("<4sLQL")
U32 = 0xFFFFFFFF

STORED, DEFLATED, DEFLATED64 = 0, 8, 9
FILE_MODE = 0o100644 << 16
DIR_MODE = (0o040755 << 16) | 0x10
DOS_TIME, DOS_DATE = 0x6000, 0x5B7C  # 2025-11-28 12:00:00


def raw_deflate(data: bytes, level: int = 9) -> bytes:
    compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


class BitWriter:
    """Deflate's bit order: values LSB first, Huffman codes MSB first."""

    def __init__(self) -> None:
        self.out = bytearray()
        self.value = 0
        self.count = 0

    def bits(self, value: int, count: int) -> None:
        self.value |= value << self.count
        self.count += count
        while self.count >= 8:
            self.out.append(self.value & 0xFF)
            self.value >>= 8
            self.count -= 8

    def code(self, code: int, length: int) -> None:
        self.bits(int(f"{code:0{length}b}"[::-1], 2), length)

    def getvalue(self) -> bytes:
        tail = self.value.to_bytes(1, "little") if self.count else b""
        return bytes(self.out) + tail


def _fixed_literal(writer: BitWriter, symbol: int) -> None:
    if symbol < 144:
        writer.code(0x30 + symbol, 8)
    elif symbol < 256:
        writer.code(0x190 + symbol - 144, 9)
    elif symbol < 280:
        writer.code(symbol - 256, 7)
    else:
        writer.code(0xC0 + symbol - 280, 8)


def deflate64_literals(data: bytes) -> bytes:
    """A valid Deflate64 stream of ``data`` (one fixed-Huffman block, literals only)."""
    writer = BitWriter()
    writer.bits(1, 1)  # final block
    writer.bits(1, 2)  # fixed Huffman codes
    for byte in data:
        _fixed_literal(writer, byte)
    _fixed_literal(writer, 256)
    return writer.getvalue()


def deflate64_bomb(matches: int) -> bytes:
    """Deflate64 stream of b"a" then ``matches`` copies of 65,538 bytes (29 bits each).

    Length symbol 285 means 3 + a 16-bit extra in Deflate64 (258 flat in Deflate), so
    each match costs 29 bits: ~18,000:1, and 65 KB expands to over 1 GB.
    """
    writer = BitWriter()
    writer.bits(1, 1)
    writer.bits(1, 2)
    _fixed_literal(writer, ord("a"))
    for _ in range(matches):
        _fixed_literal(writer, 285)
        writer.bits(0xFFFF, 16)
        writer.code(0, 5)  # distance code 0: distance 1
    _fixed_literal(writer, 256)
    return writer.getvalue()


def deflate64_bomb_size(matches: int) -> int:
    return 1 + matches * 65538


@dataclass
class Member:
    """One entry. Unset fields are derived from ``data``; ``cd`` and ``local`` override
    header fields (name, method, crc, csize, usize, flags, offset) on one side only."""

    name: str | bytes
    data: bytes = b""
    method: int = DEFLATED
    payload: bytes | None = None  # the compressed bytes, if not derived from data
    flags: int = 0
    create_system: int = 3
    external_attr: int | None = None
    crc: int | None = None
    usize: int | None = None
    descriptor: bool = False
    descriptor_signature: bool = True
    descriptor_zip64: bool | None = None  # 8-byte sizes in the descriptor; default: zip64
    zip64: bool = False
    extra: bytes = b""
    local_extra: bytes | None = None
    comment: bytes = b""
    cd: dict[str, Any] = field(default_factory=dict)
    local: dict[str, Any] = field(default_factory=dict)

    @property
    def raw_name(self) -> bytes:
        return self.name.encode("utf-8") if isinstance(self.name, str) else self.name

    def compressed(self) -> bytes:
        if self.payload is not None:
            return self.payload
        if self.method == DEFLATED:
            return raw_deflate(self.data)
        if self.method == DEFLATED64:
            return deflate64_literals(self.data)
        return self.data

    def attrs(self) -> int:
        if self.external_attr is not None:
            return self.external_attr
        return DIR_MODE if self.raw_name.endswith(b"/") else FILE_MODE


def zip64_extra(*values: int) -> bytes:
    return struct.pack(f"<2H{len(values)}Q", 1, 8 * len(values), *values)


def local_header(member: Member, payload: bytes) -> bytes:
    fields: dict[str, Any] = {
        "name": member.raw_name,
        "method": member.method,
        "crc": member.crc if member.crc is not None else zlib.crc32(member.data),
        "csize": len(payload),
        "usize": member.usize if member.usize is not None else len(member.data),
        "flags": member.flags | (0x08 if member.descriptor else 0),
    }
    if member.descriptor:
        fields.update(crc=0, csize=0, usize=0)
    fields.update(member.local)
    extra = member.local_extra if member.local_extra is not None else member.extra
    if member.zip64:
        extra = zip64_extra(fields["usize"], fields["csize"]) + extra
        fields.update(csize=U32, usize=U32)
    name: bytes = fields["name"]
    header = LOCAL.pack(
        b"PK\x03\x04", 45 if member.zip64 else 20, 0, fields["flags"], fields["method"],
        DOS_TIME, DOS_DATE, fields["crc"], fields["csize"], fields["usize"], len(name), len(extra),
    )  # fmt: skip
    return header + name + extra


def descriptor(member: Member, payload: bytes) -> bytes:
    crc = member.crc if member.crc is not None else zlib.crc32(member.data)
    usize = member.usize if member.usize is not None else len(member.data)
    wide = member.zip64 if member.descriptor_zip64 is None else member.descriptor_zip64
    sizes = struct.pack("<2Q" if wide else "<2L", len(payload), usize)
    return (b"PK\x07\x08" if member.descriptor_signature else b"") + struct.pack("<L", crc) + sizes


def central_header(member: Member, payload: bytes, offset: int) -> bytes:
    fields: dict[str, Any] = {
        "name": member.raw_name,
        "method": member.method,
        "crc": member.crc if member.crc is not None else zlib.crc32(member.data),
        "csize": len(payload),
        "usize": member.usize if member.usize is not None else len(member.data),
        "flags": member.flags | (0x08 if member.descriptor else 0),
        "offset": offset,
        "disk": 0,
        "external_attr": member.attrs(),
        "create_system": member.create_system,
    }
    fields.update(member.cd)
    extra = member.extra
    if member.zip64:
        extra = zip64_extra(fields["usize"], fields["csize"], fields["offset"]) + extra
        fields.update(csize=U32, usize=U32, offset=U32)
    name: bytes = fields["name"]
    header = CENTRAL.pack(
        b"PK\x01\x02", 45 if member.zip64 else 20, fields["create_system"],
        45 if member.zip64 else 20, 0, fields["flags"], fields["method"], DOS_TIME, DOS_DATE,
        fields["crc"], fields["csize"], fields["usize"], len(name), len(extra),
        len(member.comment), fields["disk"], 0, fields["external_attr"], fields["offset"],
    )  # fmt: skip
    return header + name + extra + member.comment


def end_record(
    count: int, size: int, offset: int, comment: bytes = b"", /, **overrides: int
) -> bytes:
    """An end record; ``overrides`` may set disk, cd_disk, disk_entries, entries,
    cd_size, cd_offset or comment_size to lie about any of them."""
    fields = {"disk": 0, "cd_disk": 0, "disk_entries": count, "entries": count}
    fields.update(cd_size=size, cd_offset=offset, comment_size=len(comment))
    fields.update(overrides)
    order = ("disk", "cd_disk", "disk_entries", "entries", "cd_size", "cd_offset", "comment_size")
    return EOCD.pack(b"PK\x05\x06", *(fields[key] for key in order)) + comment


def zip64_end(entries: int, cd_size: int, cd_offset: int, at: int) -> bytes:
    record = ZIP64_EOCD.pack(b"PK\x06\x06", 44, 45, 45, 0, 0, entries, entries, cd_size, cd_offset)
    return record + ZIP64_LOCATOR.pack(b"PK\x06\x07", 0, at, 1)


def craft(
    members: Sequence[Member],
    *,
    comment: bytes = b"",
    prefix: bytes = b"",
    suffix: bytes = b"",
    gap: bytes = b"",
    padding: bytes = b"",
    zip64: bool = False,
    end: dict[str, int] | None = None,
) -> bytes:
    """An archive of ``members`` in order, with optional junk around or between
    (``padding`` goes between the last entry and the central directory)."""
    body = bytearray(prefix)
    directory = bytearray()
    for position, member in enumerate(members):
        if position:
            body += gap
        payload = member.compressed()
        offset = len(body)
        body += local_header(member, payload) + payload
        if member.descriptor:
            body += descriptor(member, payload)
        directory += central_header(member, payload, offset)
    body += padding
    cd_offset = len(body)
    trailer = b""
    if zip64:
        trailer = zip64_end(len(members), len(directory), cd_offset, cd_offset + len(directory))
    eocd = end_record(
        len(members) if not zip64 else 0xFFFF,
        len(directory) if not zip64 else U32,
        cd_offset if not zip64 else U32,
        comment,
        **(end or {}),
    )
    return bytes(body + directory + trailer + eocd + suffix)


def _gf2_times(matrix: list[int], vector: int) -> int:
    total = 0
    row = 0
    while vector:
        if vector & 1:
            total ^= matrix[row]
        vector >>= 1
        row += 1
    return total


def _gf2_square(matrix: list[int]) -> list[int]:
    return [_gf2_times(matrix, matrix[row]) for row in range(32)]


@functools.cache
def _zero_operators() -> list[list[int]]:
    """Operator k appends 2**k zero bytes to a CRC-32 register."""
    one_bit = [0xEDB88320] + [1 << row for row in range(31)]
    operator = _gf2_square(_gf2_square(_gf2_square(one_bit)))  # 8 bits: one byte
    operators = []
    for _ in range(64):
        operators.append(operator)
        operator = _gf2_square(operator)
    return operators


def crc32_combine(crc1: int, crc2: int, len2: int) -> int:
    """CRC-32 of A + B from crc(A), crc(B) and len(B), as zlib's crc32_combine."""
    for power, operator in enumerate(_zero_operators()):
        if len2 >> power == 0:
            break
        if len2 >> power & 1:
            crc1 = _gf2_times(operator, crc1)
    return crc1 ^ crc2


def quoted_overlap(count: int, kernel: bytes) -> bytes:
    """David Fifield's non-recursive "quoted overlap" zip bomb.

    Each file's data starts with a stored (non-compressed) Deflate block that quotes
    the next file's local header, then runs on into the next file's data; all files
    end in one shared, highly compressed kernel. File 0 expands to every later local
    header plus the kernel, file 1 to one header fewer, and so on: the output grows
    quadratically with the archive. ``kernel`` is a raw Deflate stream (final block).
    """
    names = [f"{index:08d}".encode() for index in range(count)]
    kernel_out = zlib.decompress(kernel, -15)
    headers: list[bytes] = [b""] * count
    sizes: list[tuple[int, int, int]] = [(0, 0, 0)] * count  # crc, csize, usize
    crc, csize, usize = zlib.crc32(kernel_out), len(kernel), len(kernel_out)
    for index in reversed(range(count)):
        if index + 1 < count:
            quoted = headers[index + 1]
            crc = crc32_combine(zlib.crc32(quoted), crc, usize)
            csize += 5 + len(quoted)
            usize += len(quoted)
        sizes[index] = (crc, csize, usize)
        headers[index] = (
            LOCAL.pack(b"PK\x03\x04", 20, 0, 0, DEFLATED, DOS_TIME, DOS_DATE, crc, csize, usize,
                       len(names[index]), 0)
            + names[index]
        )  # fmt: skip
    body = bytearray()
    directory = bytearray()
    for index in range(count):
        crc, csize, usize = sizes[index]
        directory += CENTRAL.pack(
            b"PK\x01\x02", 20, 3, 20, 0, 0, DEFLATED, DOS_TIME, DOS_DATE, crc, csize, usize,
            len(names[index]), 0, 0, 0, 0, FILE_MODE, len(body),
        ) + names[index]  # fmt: skip
        body += headers[index]
        if index + 1 < count:
            quoted_size = len(headers[index + 1])
            body += struct.pack("<BHH", 0, quoted_size, quoted_size ^ 0xFFFF)
    body += kernel
    return bytes(body + directory + end_record(count, len(directory), len(body)))
