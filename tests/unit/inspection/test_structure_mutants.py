"""The structure rules, each with the reason code, the entry and the exact sentence an
operator reads: the central directory's records and their zip64 values, extra fields,
local headers against the directory, data descriptors, and how the entries must tile
the file (gaps, overlaps, padding before the directory).

Archives are crafted with exactly the header values a case needs (zipcraft); zip64
thresholds (0xFFFF, 0xFFFFFFFF) are written into the headers rather than reached with
gigabytes of data. A few cases call the structure functions directly, where the state
they guard against cannot be put in a complete file (a directory cut short by the end
of the file, an entry nested inside another one).
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Sequence

import pytest

from extension_uploader import reasons
from extension_uploader.inspection import Limits, Problem, Report, inspect_stream
from extension_uploader.inspection.endrecord import EndRecord, read_end_record
from extension_uploader.inspection.report import Refusal
from extension_uploader.inspection.structure import (
    Extent,
    check_layout,
    entry_from,
    extra_problem,
    iter_central_records,
    read_extent,
)

from .zipcraft import (
    STORED,
    U32,
    Member,
    central_header,
    craft,
    end_record,
    raw_deflate,
    zip64_extra,
)

Triple = tuple[str, str | None, str]

CORRUPT = reasons.ZIP_CORRUPT
OVERLAP = reasons.ZIP_OVERLAPPING_ENTRIES
U16 = 0xFFFF
LOCAL_HEADER_BYTES = 30
CENTRAL_HEADER_BYTES = 46

NO_ZIP64 = "central directory record 0 lacks the zip64 sizes it announces"
MULTI_DISK = "split or spanned (multi-disk) archives are not supported"
DISAGREE_SIZES = "the local header and the central directory disagree on CRC or sizes"
NO_DESCRIPTOR = "the data descriptor is missing or disagrees with the central directory"
INSIDE_DIRECTORY = "the local header lies inside or after the central directory"


def _inspect(data: bytes, limits: Limits = Limits()) -> Report:  # noqa: B008 - frozen
    return inspect_stream(io.BytesIO(data), len(data), limits)


def _triples(problems: Sequence[Problem]) -> list[Triple]:
    return [(problem.code, problem.entry, problem.message) for problem in problems]


def _problems(data: bytes) -> list[Triple]:
    return _triples(_inspect(data).problems)


def _central_at(data: bytes, index: int) -> int:
    """Where the ``index``-th central directory record starts."""
    position = data.index(b"PK\x01\x02")
    for _ in range(index):
        position = data.index(b"PK\x01\x02", position + 1)
    return position


def _patch(data: bytes, at: int, fmt: str, *values: int | bytes) -> bytes:
    patched = bytearray(data)
    struct.pack_into(fmt, patched, at, *values)
    return bytes(patched)


def _set_offset(data: bytes, index: int, offset: int) -> bytes:
    """The archive with the ``index``-th record's local header offset changed."""
    return _patch(data, _central_at(data, index) + 42, "<L", offset)


def _cd_offset(data: bytes) -> int:
    eocd = data.rindex(b"PK\x05\x06")
    return int(struct.unpack_from("<L", data, eocd + 16)[0])


def _extents(data: bytes) -> tuple[list[Extent], list[Triple]]:
    """What read_extent finds for each entry of a (complete) archive."""
    fh = io.BytesIO(data)
    end = read_end_record(fh, len(data))
    problems: list[Problem] = []
    extents = []
    for record in iter_central_records(fh, end):
        extent = read_extent(fh, entry_from(record), end.cd_offset, len(data), problems)
        if extent is not None:
            extents.append(extent)
    return extents, _triples(problems)


def _with_crc(data: bytes, target: int) -> bytes:
    """``data`` plus 4 bytes chosen so that the CRC-32 of the whole is ``target``.

    For a fixed length the CRC is affine over GF(2) in the message bits: solve for the
    32 appended bits by Gaussian elimination.
    """
    base = zlib.crc32(data + bytes(4))
    basis: dict[int, tuple[int, int]] = {}  # top bit -> (vector, which input bits)
    for bit in range(32):
        vector = zlib.crc32(data + (1 << bit).to_bytes(4, "little")) ^ base
        mask = 1 << bit
        while vector:
            top = vector.bit_length() - 1
            if top not in basis:
                basis[top] = (vector, mask)
                break
            vector ^= basis[top][0]
            mask ^= basis[top][1]
    want, chosen = target ^ base, 0
    while want:
        vector, mask = basis[want.bit_length() - 1]
        want ^= vector
        chosen ^= mask
    forged = data + chosen.to_bytes(4, "little")
    assert zlib.crc32(forged) == target
    return forged


# -- the central directory's records ------------------------------------------------


def test_a_damaged_record_signature_names_the_record() -> None:
    data = craft([Member("a.txt", b"a"), Member("b.txt", b"b")])
    damaged = _patch(data, _central_at(data, 1), "<4s", b"PK\x01\x09")

    assert _problems(damaged) == [(CORRUPT, None, "central directory record 1 is damaged")]


def test_a_directory_with_fewer_records_than_announced() -> None:
    # One record of 46 + 50 bytes fills a directory big enough for the two announced.
    data = craft([Member("n" * 46 + ".txt", b"a")], end={"entries": 2, "disk_entries": 2})

    assert _problems(data) == [(CORRUPT, None, "the central directory ends before its last entry")]


def test_a_record_longer_than_the_directory_is_truncated() -> None:
    data = craft([Member("a.txt", b"a")])
    extra_length_at = _central_at(data, 0) + 30

    truncated = _patch(data, extra_length_at, "<H", 1)

    assert _problems(truncated) == [(CORRUPT, None, "central directory record 0 is truncated")]


@pytest.mark.parametrize("junk", [1, 3, 46])
def test_bytes_after_the_last_record_are_counted(junk: int) -> None:
    data = craft([Member("a.txt", b"a")])
    eocd = data.rindex(b"PK\x05\x06")
    cd_size, cd_offset = struct.unpack_from("<2L", data, eocd + 12)
    padded = data[:eocd] + b"\x07" * junk + end_record(1, cd_size + junk, cd_offset)

    assert _problems(padded) == [
        (CORRUPT, None, f"{junk} unaccounted bytes after the last central directory record")
    ]


def _record_bytes(name: bytes) -> bytes:
    return central_header(Member(name, b"a"), raw_deflate(b"a"), 0)


@pytest.mark.parametrize(
    ("available", "message"),
    [
        (45, "central directory record 0 is damaged"),  # the fixed header cut short
        (CENTRAL_HEADER_BYTES + 4, "the central directory is truncated"),  # the name cut short
    ],
)
def test_a_directory_cut_short_by_the_end_of_the_file_is_refused(
    available: int, message: str
) -> None:
    record = _record_bytes(b"a.txt")
    end = EndRecord(1, 0, len(record), len(record), len(record), b"", zip64=False)

    with pytest.raises(Refusal) as caught:
        list(iter_central_records(io.BytesIO(record[:available]), end))

    assert caught.value.problem == Problem(CORRUPT, None, message)


def test_a_directory_read_to_its_last_byte_yields_the_record() -> None:
    record = _record_bytes(b"a.txt")
    end = EndRecord(1, 0, len(record), len(record), len(record), b"", zip64=False)

    (parsed,) = iter_central_records(io.BytesIO(record), end)

    assert (parsed.raw_name, parsed.extra, parsed.comment) == (b"a.txt", b"", b"")


# -- zip64 values and the disk number in a central record ---------------------------


def _zip64_member(*, wide: Sequence[str], disk: int | None, block: bytes | None = None) -> Member:
    """A member whose central record sets ``wide`` fields (of usize, csize, offset, in
    the order of the zip64 block) to 0xFFFFFFFF and its disk number to 0xFFFF when
    ``disk`` is given (the disk number then follows in the block)."""
    data = b"zip64 data\n"
    payload = raw_deflate(data)
    real = {"usize": len(data), "csize": len(payload), "offset": 0}
    order = [field for field in ("usize", "csize", "offset") if field in wide]
    if block is None:
        block = struct.pack(f"<{len(order)}Q", *(real[field] for field in order))
        if disk is not None:
            block += struct.pack("<L", disk)
    cd: dict[str, int] = dict.fromkeys(order, U32)
    if disk is not None:
        cd["disk"] = U16
    extra = struct.pack("<2H", 1, len(block)) + block
    return Member("a.txt", data, extra=extra, local_extra=b"", cd=cd)


@pytest.mark.parametrize(
    "wide",
    [(), ("offset",), ("usize",), ("usize", "csize"), ("usize", "csize", "offset")],
)
def test_a_disk_number_of_0xffff_is_read_from_the_zip64_block(wide: tuple[str, ...]) -> None:
    report = _inspect(craft([_zip64_member(wide=wide, disk=0)]))

    assert report.ok, report.problems
    assert report.uncompressed_bytes == len(b"zip64 data\n")


@pytest.mark.parametrize("wide", [(), ("offset",), ("usize", "csize", "offset")])
@pytest.mark.parametrize("disk", [1, 0xFFFF, 0xFFFFFFFF])
def test_a_zip64_disk_number_other_than_0_is_a_split_archive(
    wide: tuple[str, ...], disk: int
) -> None:
    data = craft([_zip64_member(wide=wide, disk=disk)])

    assert _problems(data) == [(CORRUPT, None, MULTI_DISK)]


@pytest.mark.parametrize("disk", [1, 0xFFFE])
def test_a_record_on_another_disk_is_a_split_archive(disk: int) -> None:
    data = craft([Member("a.txt", b"a", cd={"disk": disk})])

    assert _problems(data) == [(CORRUPT, None, MULTI_DISK)]


@pytest.mark.parametrize(
    ("wide", "block"),
    [
        ((), b""),  # only the disk number announced, none given
        ((), b"\0\0\0"),  # one byte short of the 4-byte disk number
        (("offset",), bytes(8)),  # the offset, but no disk number
        (("offset",), bytes(11)),
        (("usize", "csize"), bytes(8 + 4)),  # one size short, with a disk number
    ],
)
def test_a_zip64_block_too_short_for_the_disk_number_is_corrupt(
    wide: tuple[str, ...], block: bytes
) -> None:
    data = craft([_zip64_member(wide=wide, disk=0, block=block)])

    assert _problems(data) == [(CORRUPT, None, NO_ZIP64)]


@pytest.mark.parametrize(
    ("wide", "block"),
    [
        (("offset",), bytes(7)),
        (("usize", "csize"), bytes(15)),
        (("usize", "csize", "offset"), bytes(23)),
    ],
)
def test_a_zip64_block_too_short_for_the_sizes_is_corrupt(
    wide: tuple[str, ...], block: bytes
) -> None:
    member = _zip64_member(wide=wide, disk=None, block=block)

    assert _problems(craft([member])) == [(CORRUPT, None, NO_ZIP64)]


def test_a_zip64_block_overrunning_its_extra_field_is_not_read() -> None:
    # The block claims 16 bytes; the 8 there would hold the size the record announces.
    data = b"zip64 data\n"
    extra = struct.pack("<2HQ", 1, 16, len(data))
    member = Member("a.txt", data, extra=extra, local_extra=b"", cd={"usize": U32})

    assert _problems(craft([member])) == [(CORRUPT, None, NO_ZIP64)]


# -- extra fields --------------------------------------------------------------------


def test_a_zip64_block_after_another_field_is_found() -> None:
    data = b"zip64 data\n"
    payload = raw_deflate(data)
    timestamp = struct.pack("<2HB4s", 0x5455, 5, 1, b"\x00\x00\x00\x60")
    extra = timestamp + zip64_extra(len(data), len(payload))
    member = Member("a.txt", data, extra=extra, local_extra=b"", cd={"usize": U32, "csize": U32})

    report = _inspect(craft([member]))

    assert report.ok, report.problems
    assert report.uncompressed_bytes == len(data)


def test_a_unicode_path_field_followed_by_another_field_names_the_same_file() -> None:
    name = "résumé.txt".encode()
    unicode_data = b"\x01" + struct.pack("<L", zlib.crc32(name)) + name
    unicode_field = struct.pack("<2H", 0x7075, len(unicode_data)) + unicode_data
    timestamp = struct.pack("<2HB4s", 0x5455, 5, 1, b"\x00\x00\x00\x60")

    report = _inspect(craft([Member(name, b"a", extra=unicode_field + timestamp)]))

    assert report.ok, report.problems


@pytest.mark.parametrize(
    "extra",
    [
        struct.pack("<2H", 0x9901, 0),  # an empty AES field, the whole extra block
        struct.pack("<2HB4s", 0x5455, 5, 1, b"\0\0\0\x60") + struct.pack("<2H", 0x9901, 0),
        struct.pack("<2H", 0x9901, 7) + b"\x02\x00AE\x03\x08\x00",
    ],
)
def test_an_aes_extra_field_marks_the_entry_encrypted(extra: bytes) -> None:
    data = craft([Member("a.txt", b"a", extra=extra)])

    assert _problems(data) == [(reasons.ZIP_ENCRYPTED, "a.txt", "the entry is encrypted")]


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        (b"", None),
        (b"\x01", None),  # 1 to 3 bytes of padding are ignored
        (b"\x01\x00\x00", None),
        (b"\x34\x12\x00\x00", None),  # an empty field: 4 bytes exactly
        (b"\x34\x12\x02\x00ab", None),  # a field filling the block exactly
        (b"\x34\x12\x02\x00ab\0\0\0", None),  # then 3 bytes of padding
        (b"\x34\x12\x01\x00", "field 0x1234 claims 1 bytes, but only 0 remain in the 4-byte block"),
        (
            b"\x34\x12\x03\x00ab",
            "field 0x1234 claims 3 bytes, but only 2 remain in the 6-byte block",
        ),
        (
            b"\x34\x12\x02\x00ab" + b"\xcd\xab\x05\x00abcd",
            "field 0xabcd claims 5 bytes, but only 4 remain in the 14-byte block",
        ),
        (
            b"\x34\x12\x02\x00ab" + b"\xcd\xab\x01\x00",
            "field 0xabcd claims 1 bytes, but only 0 remain in the 10-byte block",
        ),
    ],
)
def test_extra_field_framing(extra: bytes, problem: str | None) -> None:
    assert extra_problem(extra) == problem


@pytest.mark.parametrize(
    ("side", "prefix"),
    [("central", "the central directory's"), ("local", "the local header's")],
)
def test_a_field_header_claiming_bytes_at_the_very_end_is_malformed(side: str, prefix: str) -> None:
    field = b"\x34\x12\x01\x00"
    extra, local_extra = (field, b"") if side == "central" else (b"", field)
    data = craft([Member("a.txt", b"a", extra=extra, local_extra=local_extra)])

    assert _problems(data) == [
        (
            CORRUPT,
            "a.txt",
            f"{prefix} extra field is malformed: field 0x1234 claims 1 bytes, "
            "but only 0 remain in the 4-byte block",
        )
    ]


# -- local headers against the central directory -------------------------------------


def test_an_offset_at_the_end_of_the_file_points_beyond_it() -> None:
    data = craft([Member("a.txt", b"a")])

    at_end = _set_offset(data, 0, len(data))
    after_end = _set_offset(data, 0, len(data) + 1)

    expected = [(CORRUPT, "a.txt", "the local header offset points beyond the end of the file")]
    assert _problems(at_end) == expected
    assert _problems(after_end) == expected


@pytest.mark.parametrize("offset", ["cd", "cd-29", "last"])
def test_a_local_header_inside_the_directory_overlaps_it(offset: str) -> None:
    data = craft([Member("a.txt", b"a")])
    cd_offset = _cd_offset(data)
    value = {"cd": cd_offset, "cd-29": cd_offset - 29, "last": len(data) - 1}[offset]

    assert _problems(_set_offset(data, 0, value)) == [(OVERLAP, "a.txt", INSIDE_DIRECTORY)]


def test_a_local_header_ending_exactly_at_the_directory_is_read() -> None:
    # An empty stored entry with an empty name: its local header is 30 bytes exactly.
    data = craft([Member("a.txt", b"a"), Member("", b"", method=STORED)])

    assert _problems(data) == [(reasons.ZIP_BAD_NAME, "", "the name is empty")]


def test_an_offset_missing_the_local_header() -> None:
    data = _set_offset(craft([Member("a.txt", b"a")]), 0, 1)

    assert _problems(data) == [
        (CORRUPT, "a.txt", "no local header where the central directory points")
    ]


@pytest.mark.parametrize(
    ("member", "message"),
    [
        (
            Member("a.txt", b"a", local={"name": b"b.txt"}),
            "the local header names a different file than the central directory",
        ),
        (
            Member("a.txt", b"a", local={"method": STORED}),
            "the local header and the central directory disagree on the compression method",
        ),
        (
            Member("a.txt", b"a", local={"flags": 0x0001}),
            "the local header and the central directory disagree on encryption",
        ),
        (
            Member("a.txt", b"a", local={"flags": 0x2000}),
            "the local header and the central directory disagree on encryption",
        ),
        (Member("a.txt", b"a", local={"crc": 0}), DISAGREE_SIZES),
        (Member("a.txt", b"a", local={"csize": 0}), DISAGREE_SIZES),
        (Member("a.txt", b"a", local={"usize": 0}), DISAGREE_SIZES),
        (Member("a.txt", b"a", local={"usize": 2}), DISAGREE_SIZES),
        # 0xFFFFFFFF placeholders need a zip64 block or a data descriptor
        (Member("a.txt", b"a", local={"csize": U32, "usize": U32}), DISAGREE_SIZES),
        (Member("a.txt", b"a", local={"csize": U32}), DISAGREE_SIZES),
        # with a descriptor, both sizes are placeholders or neither is
        (Member("a.txt", b"a", descriptor=True, local={"usize": U32}), DISAGREE_SIZES),
        (Member("a.txt", b"a", descriptor=True, local={"csize": U32}), DISAGREE_SIZES),
        (Member("a.txt", b"a", descriptor=True, local={"csize": U32, "usize": 1}), DISAGREE_SIZES),
        # a zip64 block holding only one of the two sizes
        (
            Member("a.txt", b"a", local={"csize": U32, "usize": U32}, local_extra=zip64_extra(1)),
            DISAGREE_SIZES,
        ),
    ],
)
def test_a_local_header_contradicting_the_directory(member: Member, message: str) -> None:
    assert _problems(craft([member])) == [(CORRUPT, "a.txt", message)]


@pytest.mark.parametrize(
    "member",
    [
        # a data descriptor: zeros where the writer did not know the values yet
        Member("a.txt", b"a", descriptor=True),
        Member("a.txt", b"a", descriptor=True, local={"crc": zlib.crc32(b"a")}),
        Member("a.txt", b"a", descriptor=True, local={"csize": 3, "usize": 1}),
        # ... or 0xFFFFFFFF in both sizes, without a zip64 block (what Java writes)
        Member("a.txt", b"a", descriptor=True, local={"csize": U32, "usize": U32}),
        # a zip64 block with both sizes
        Member("a.txt", b"a", zip64=True),
    ],
)
def test_a_local_header_repeating_the_directory(member: Member) -> None:
    report = _inspect(craft([member]))

    assert report.ok, report.problems


def test_read_extent_finds_where_the_entry_lies() -> None:
    plain, _ = _extents(craft([Member("a.txt", b"aaaa", method=STORED)]))
    streamed, _ = _extents(
        craft([Member("b.txt", b"", method=STORED), Member("a.txt", b"aaaa", descriptor=True)])
    )

    assert plain == [Extent(0, 0, 35, 39, 39)]
    payload = len(raw_deflate(b"aaaa"))
    assert streamed[1] == Extent(1, 35, 70, 70 + payload, 70 + payload + 16)


# -- data descriptors ----------------------------------------------------------------


def test_junk_before_a_data_descriptor_is_not_taken_for_its_signature() -> None:
    data = craft([Member("a.txt", b"a", descriptor=True)]).replace(b"PK\x07\x08", b"JUNK")

    assert _problems(data) == [
        (CORRUPT, "a.txt", NO_DESCRIPTOR),
        (CORRUPT, None, "16 bytes of data before the central directory"),
    ]


@pytest.mark.parametrize("last", [True, False])
def test_a_descriptor_whose_crc_looks_like_its_signature(last: bool) -> None:
    # Without its optional signature, a descriptor whose CRC is 0x08074b50 starts with
    # the bytes of a signature: it is read at both places.
    data = _with_crc(b"some data", 0x08074B50)
    member = Member("a.txt", data, method=STORED, descriptor=True, descriptor_signature=False)
    members = [member] if last else [member, Member("b.txt", b"b")]

    report = _inspect(craft(members))

    assert report.ok, report.problems


def test_a_descriptor_cut_short_by_the_directory_is_missing() -> None:
    # Its last 4 bytes are where the directory starts: they are not the descriptor's.
    member = Member("a.txt", b"", descriptor=True, descriptor_signature=False)
    full = craft([member])
    cd_offset = _cd_offset(full)
    eocd = full.rindex(b"PK\x05\x06")
    cd_size = eocd - cd_offset
    directory = full[cd_offset:eocd]
    # The directory says usize is "PK\x01\x02": the bytes that now follow the 8.
    usize = struct.unpack("<L", b"PK\x01\x02")[0]
    directory = _patch(directory, 24, "<L", usize)
    body = full[: cd_offset - 4]
    data = body + directory + end_record(1, cd_size, len(body))

    assert _problems(data) == [
        (CORRUPT, "a.txt", NO_DESCRIPTOR),
        (CORRUPT, None, "8 bytes of data before the central directory"),
        (reasons.ZIP_BOMB, "a.txt", f"the entry expands {usize // 2}:1; the limit is 200:1"),
    ]


def _huge_member(usize: int, *, wide_descriptor: bool) -> Member:
    """A 1-byte Deflate stream declared to expand to ``usize`` bytes, written with a
    data descriptor and no zip64 block in its local header (as Java and Go do)."""
    extra = zip64_extra(usize) if usize >= U32 else b""
    return Member(
        "big.bin",
        b"x",
        usize=usize,
        descriptor=True,
        descriptor_zip64=wide_descriptor,
        extra=extra,
        local_extra=b"",
        cd={"usize": U32} if usize >= U32 else {},
    )


@pytest.mark.parametrize(
    ("usize", "wide_descriptor", "unread"),
    [
        (U32 - 1, False, 0),
        (U32 - 1, True, 24),  # 4-byte sizes expected: the 8-byte descriptor is not found
        (U32, True, 0),
        (U32, False, 16),  # 8-byte sizes expected: the 4-byte descriptor is not found
        (U32 + 1, True, 0),
    ],
)
def test_a_huge_entry_has_an_8_byte_descriptor_even_without_zip64_in_its_header(
    usize: int, wide_descriptor: bool, unread: int
) -> None:
    # Read at the right width, only the declared ratio is refused; at the wrong width
    # the descriptor is missing and its bytes are left unaccounted for.
    member = _huge_member(usize, wide_descriptor=wide_descriptor)
    payload = len(raw_deflate(b"x"))
    bomb = (
        reasons.ZIP_BOMB,
        "big.bin",
        f"the entry expands {usize // payload}:1; the limit is 200:1",
    )
    structure: list[Triple] = []
    if unread:
        structure = [
            (CORRUPT, "big.bin", NO_DESCRIPTOR),
            (CORRUPT, None, f"{unread} bytes of data before the central directory"),
        ]

    assert _problems(craft([member])) == [*structure, bomb]


# -- the layout: gaps, overlaps, padding -----------------------------------------------


@pytest.mark.parametrize("size", [1, 4])
def test_data_before_the_first_entry(size: int) -> None:
    data = craft([Member("a.txt", b"a"), Member("b.txt", b"b")], prefix=b"J" * size)

    assert _problems(data) == [(CORRUPT, "a.txt", f"{size} bytes of data before the first entry")]


@pytest.mark.parametrize("size", [1, 4])
def test_data_between_entries(size: int) -> None:
    data = craft([Member("a.txt", b"a"), Member("b.txt", b"b")], gap=b"J" * size)

    assert _problems(data) == [(CORRUPT, "b.txt", f"{size} bytes of data between entries")]


def test_an_entry_inside_another_overlaps_it() -> None:
    inner = craft([Member("inner.txt", b"x", method=STORED)])
    inner_local = inner[: _cd_offset(inner)]
    outer = Member("outer.txt", inner_local, method=STORED)
    data = craft([outer, Member("inner.txt", b"x", method=STORED)])
    nested = _set_offset(data, 1, LOCAL_HEADER_BYTES + len("outer.txt"))
    # its own local header and data, no longer pointed at, are now unaccounted for

    assert _problems(nested) == [
        (OVERLAP, "inner.txt", "its bytes overlap those of outer.txt"),
        (CORRUPT, None, f"{len(inner_local)} bytes of data before the central directory"),
    ]


def test_data_running_into_the_directory() -> None:
    longer = {"csize": 5, "usize": 5}
    data = craft(
        [Member("a.txt", b"a"), Member("b.txt", b"bb", method=STORED, cd=longer, local=longer)]
    )

    assert _problems(data) == [(OVERLAP, "b.txt", "its data runs into the central directory")]


def test_data_before_an_empty_archive() -> None:
    assert _problems(b"junk" + end_record(0, 0, 4)) == [
        (CORRUPT, None, "4 bytes of data before the archive"),
        (reasons.ZIP_NO_FILES, None, "the archive holds no files"),
    ]


@pytest.mark.parametrize(
    ("padding", "problems"),
    [
        (b"\0", []),
        (b"\0" * 4096, []),
        (b"\0" * 4097, [(CORRUPT, None, "4097 bytes of data before the central directory")]),
        (b"\1", [(CORRUPT, None, "1 bytes of data before the central directory")]),
        (
            b"\0" * 4095 + b"\1",
            [(CORRUPT, None, "4096 bytes of data before the central directory")],
        ),
    ],
)
def test_zero_padding_before_the_directory(padding: bytes, problems: list[Triple]) -> None:
    assert _problems(craft([Member("a.txt", b"a")], padding=padding)) == problems


DISPLAYS = {0: "a", 1: "b", 2: "c"}


@pytest.mark.parametrize(
    ("extents", "cd_offset", "problems"),
    [
        # b lies wholly inside a, ending where a ends: a stays the entry to overlap
        (
            [Extent(0, 0, 30, 100, 100), Extent(1, 50, 80, 100, 100), Extent(2, 60, 90, 120, 120)],
            120,
            [
                (OVERLAP, "b", "its bytes overlap those of a"),
                (OVERLAP, "c", "its bytes overlap those of a"),
            ],
        ),
        (
            [Extent(0, 0, 30, 100, 100), Extent(1, 50, 80, 100, 100)],
            90,
            [
                (OVERLAP, "b", "its bytes overlap those of a"),
                (OVERLAP, "a", "its data runs into the central directory"),
            ],
        ),
        ([Extent(0, 0, 30, 100, 100), Extent(1, 100, 130, 150, 160)], 160, []),
        (
            [Extent(0, 0, 30, 100, 100), Extent(1, 100, 130, 150, 160)],
            159,
            [(OVERLAP, "b", "its data runs into the central directory")],
        ),
        (
            [Extent(1, 100, 130, 150, 160), Extent(0, 0, 30, 100, 100)],
            170,
            [(CORRUPT, None, "10 bytes of data before the central directory")],
        ),
        ([], 0, []),
        ([], 7, [(CORRUPT, None, "7 bytes of data before the archive")]),
    ],
)
def test_check_layout(extents: list[Extent], cd_offset: int, problems: list[Triple]) -> None:
    found: list[Problem] = []

    check_layout(extents, DISPLAYS, cd_offset, found)

    assert _triples(found) == problems
