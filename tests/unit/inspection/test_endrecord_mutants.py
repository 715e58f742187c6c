"""The end record, its zip64 twin and the directory bounds: every refusal's reason
code and exact sentence, and the boundaries of each rule.

Archives are inspected from memory (``inspect_stream`` on a BytesIO); the zip64
records are crafted field by field, so that each field can lie on its own.
"""

from __future__ import annotations

import io
from typing import BinaryIO, cast

import pytest

from extension_uploader import reasons
from extension_uploader.inspection import Problem, Report, inspect_stream
from extension_uploader.inspection.endrecord import read_at, read_end_record

from .zipcraft import EOCD, U32, ZIP64_EOCD, ZIP64_LOCATOR, Member, craft, end_record

U16 = 0xFFFF
SPLIT = "split or spanned (multi-disk) archives are not supported"
ZIP64_MISSING = "the zip64 end record is missing or damaged"
ZIP64_UNACCOUNTED = "unaccounted data around the zip64 end record"
ZIP64_CONTRADICTS = "the zip64 end record contradicts the end record"
NOT_AT_END = (
    "the end of central directory record does not end the file "
    "(data after the archive, or a truncated comment)"
)
NOT_WHERE = "the central directory is not where the end record says it is"


def _inspect(data: bytes) -> Report:
    return inspect_stream(io.BytesIO(data), len(data))


def _refused(data: bytes, code: str, message: str) -> None:
    """The archive is refused for exactly this one reason."""
    assert _inspect(data).problems == (Problem(code, None, message),)


def _corrupt(data: bytes, message: str) -> None:
    _refused(data, reasons.ZIP_CORRUPT, message)


def _one_file() -> bytes:
    return craft([Member("a.txt", b"a")])


def _directory() -> tuple[bytes, int, int]:
    """The entries and central directory of a one-file archive: (bytes, cd offset, cd size)."""
    data = _one_file()
    fields = EOCD.unpack(data[-EOCD.size :])
    cd_size, cd_offset = fields[5], fields[6]
    return data[: -EOCD.size], cd_offset, cd_size


def _zip64(
    *,
    record: dict[str, int] | None = None,
    locator: dict[str, int] | None = None,
    classic: dict[str, int] | None = None,
    comment: bytes = b"",
    gap: bytes = b"",
) -> bytes:
    """A one-file archive closed by a zip64 end record, its locator and an end record
    of "see zip64" values; every field of the three can be overridden. ``gap`` goes
    between the zip64 record and the locator."""
    body, cd_offset, cd_size = _directory()
    fields = {"size": 44, "disk": 0, "cd_disk": 0, "disk_entries": 1, "entries": 1}
    fields.update(cd_size=cd_size, cd_offset=cd_offset, **(record or {}))
    order = ("size", "disk", "cd_disk", "disk_entries", "entries", "cd_size", "cd_offset")
    values = [fields[key] for key in order]
    zip64_record = ZIP64_EOCD.pack(b"PK\x06\x06", values[0], 45, 45, *values[1:])
    where = {"disk": 0, "offset": len(body), "total_disks": 1, **(locator or {})}
    zip64_locator = ZIP64_LOCATOR.pack(
        b"PK\x06\x07", where["disk"], where["offset"], where["total_disks"]
    )
    eocd = end_record(U16, U32, U32, comment, **(classic or {}))
    return body + zip64_record + gap + zip64_locator + eocd


def _prepended(count: int) -> str:
    return f"{count} bytes of data before the archive (a self-extractor stub or prepended data)"


def _counts(entries: int, **overrides: int) -> dict[str, int]:
    """End record overrides declaring ``entries`` entries (on this disk and in all)."""
    return {"entries": entries, "disk_entries": entries, **overrides}


def _files(data: bytes) -> int:
    report = _inspect(data)
    assert report.ok, report.problems
    return report.files


# -- finding the end record ----------------------------------------------------


def test_an_empty_file_is_not_a_zip() -> None:
    _refused(b"", reasons.ZIP_NOT_A_ZIP, "the file is empty")


@pytest.mark.parametrize("data", [b"x", b"hello world", b"PK\x03", b"PK\x03\x04"])
def test_bytes_without_an_end_record_are_not_a_zip(data: bytes) -> None:
    # Four bytes of a local header signature and nothing else are not a zip either.
    _refused(data, reasons.ZIP_NOT_A_ZIP, "the file is not a zip archive")


@pytest.mark.parametrize("size", [5, 30, 80])
def test_a_local_header_without_an_end_record_is_a_truncated_archive(size: int) -> None:
    data = _one_file()[:size]
    assert data.startswith(b"PK\x03\x04")

    _corrupt(data, "the archive is truncated: it has no end record")


def test_data_after_the_archive_is_corrupt() -> None:
    _corrupt(_one_file() + b"junk", NOT_AT_END)


def test_an_end_record_that_does_not_end_a_non_zip_file_is_corrupt() -> None:
    # Given a file that is not a zip but holds an end record signature short of its end
    data = b"hello " + end_record(0, 0, 0) + b" world"

    # Then the verdict names the misplaced record, not "not a zip"
    _corrupt(data, NOT_AT_END)


def test_a_truncated_comment_is_corrupt() -> None:
    _corrupt(craft([Member("a.txt", b"a")], comment=b"comment")[:-1], NOT_AT_END)


def test_two_end_records_that_both_end_the_file_are_corrupt() -> None:
    # Given an end record whose 22-byte comment is itself a complete end record
    hidden = end_record(0, 0, 0)
    data = craft([Member("a.txt", b"a")], comment=hidden)

    _corrupt(data, "the archive has two end of central directory records")


def test_three_end_records_are_corrupt_too() -> None:
    inner = end_record(0, 0, 0)
    middle = end_record(0, 0, 0, inner)
    data = craft([Member("a.txt", b"a")], comment=middle)

    _corrupt(data, "the archive has two end of central directory records")


def test_an_end_record_signature_in_the_comment_is_corrupt() -> None:
    # The signature is too close to the end to be a record itself, yet some readers
    # scanning backwards would still stop at it.
    data = craft([Member("a.txt", b"a")], comment=b"see PK\x05\x06")

    _corrupt(data, "the archive comment contains an end record signature")


@pytest.mark.parametrize(
    ("overrides", "accepted"),
    [
        ({}, True),
        ({"disk": 1}, False),
        ({"cd_disk": 1}, False),
        ({"disk": 1, "cd_disk": 1}, False),
        ({"disk_entries": 0}, False),
        ({"disk_entries": 2}, False),
    ],
)
def test_an_end_record_of_a_split_archive_is_refused(
    overrides: dict[str, int], accepted: bool
) -> None:
    data = craft([Member("a.txt", b"a")], end=overrides)

    if accepted:
        assert _files(data) == 1
    else:
        _corrupt(data, SPLIT)


def test_a_locator_signature_at_the_very_start_is_read_as_a_locator() -> None:
    # Given a zip64 locator as the first 20 bytes, pointing at offset 0, then an
    # empty end record: the locator cannot point at a record before itself
    data = ZIP64_LOCATOR.pack(b"PK\x06\x07", 0, 0, 1) + end_record(0, 0, 0)

    _corrupt(data, ZIP64_MISSING)


def test_bytes_short_of_a_locator_before_the_end_record_are_prepended_data() -> None:
    _corrupt(b"x" * 19 + end_record(0, 0, 0), _prepended(19))


# -- the zip64 end record ------------------------------------------------------


def test_a_well_formed_zip64_archive_is_accepted() -> None:
    assert _files(_zip64()) == 1


@pytest.mark.parametrize(
    ("classic", "accepted"),
    [
        ({}, True),
        # the end record may give the real values instead of "see zip64"
        ({"entries": 1, "disk_entries": 1}, True),
        ({"cd_size": -1}, True),
        ({"cd_offset": -1}, True),
        # anything else contradicts the zip64 record
        ({"entries": 2, "disk_entries": 2}, False),
        ({"entries": 0, "disk_entries": 0}, False),
        ({"entries": U16 - 1, "disk_entries": U16 - 1}, False),
        ({"cd_size": -2}, False),
        ({"cd_size": U32 - 1}, False),
        ({"cd_offset": -2}, False),
        ({"cd_offset": U32 - 1}, False),
    ],
)
def test_the_end_record_must_agree_with_the_zip64_record(
    classic: dict[str, int], accepted: bool
) -> None:
    _, cd_offset, cd_size = _directory()
    real = {"cd_size": cd_size, "cd_offset": cd_offset}
    # -1 means the real value, -2 the real value plus one
    fields = {
        key: real[key] + (0 if value == -1 else 1) if value < 0 else value
        for key, value in classic.items()
    }
    data = _zip64(classic=fields)

    if accepted:
        assert _files(data) == 1
    else:
        _corrupt(data, ZIP64_CONTRADICTS)


@pytest.mark.parametrize(
    ("locator", "accepted"),
    [
        ({"total_disks": 0}, True),
        ({"total_disks": 1}, True),
        ({"total_disks": 2}, False),
        ({"disk": 1}, False),
        ({"disk": 1, "total_disks": 2}, False),
    ],
)
def test_a_locator_of_a_split_archive_is_refused(locator: dict[str, int], accepted: bool) -> None:
    data = _zip64(locator=locator)

    if accepted:
        assert _files(data) == 1
    else:
        _corrupt(data, SPLIT)


@pytest.mark.parametrize(
    "record",
    [
        {"disk": 1},
        {"cd_disk": 1},
        {"disk": 1, "cd_disk": 1},
        {"disk_entries": 0},
        {"disk_entries": 2},
    ],
)
def test_a_zip64_record_of_a_split_archive_is_refused(record: dict[str, int]) -> None:
    _corrupt(_zip64(record=record), SPLIT)


@pytest.mark.parametrize(
    ("classic", "accepted"),
    [
        ({"disk": U16, "cd_disk": U16}, True),
        ({"disk": 0, "cd_disk": U16}, True),
        ({"disk": U16, "cd_disk": 0}, True),
        ({"disk": 1}, False),
        ({"cd_disk": 1}, False),
        ({"disk": U16 - 1}, False),
        ({"cd_disk": U16 - 1}, False),
    ],
)
def test_the_end_record_disks_of_a_zip64_archive(classic: dict[str, int], accepted: bool) -> None:
    data = _zip64(classic=classic)

    if accepted:
        assert _files(data) == 1
    else:
        _corrupt(data, SPLIT)


def test_a_zip64_record_with_a_wrong_signature_is_refused() -> None:
    data = bytearray(_zip64())
    at = data.rfind(b"PK\x06\x06")
    data[at + 3] = 0x05

    _corrupt(bytes(data), ZIP64_MISSING)


def test_a_locator_pointing_too_close_to_the_end_of_file_is_refused() -> None:
    # Given a locator pointing one byte before itself: fewer than 56 bytes remain
    body, _, _ = _directory()
    record_size = ZIP64_EOCD.size
    data = _zip64(locator={"offset": len(body) + record_size - 1})

    _corrupt(data, ZIP64_MISSING)


@pytest.mark.parametrize("delta", [0, 1, 30])
def test_a_locator_pointing_at_or_after_itself_is_refused(delta: int) -> None:
    body, _, _ = _directory()
    locator_at = len(body) + ZIP64_EOCD.size

    _corrupt(_zip64(locator={"offset": locator_at + delta}), ZIP64_MISSING)


def test_a_locator_pointing_into_the_comment_is_refused() -> None:
    # Given a well-formed zip64 record hidden in the archive comment, after the
    # locator that points at it: a record must come before its locator
    body, cd_offset, cd_size = _directory()
    hidden = ZIP64_EOCD.pack(b"PK\x06\x06", 44, 45, 45, 0, 0, 1, 1, cd_size, cd_offset)
    eocd_at = len(body) + ZIP64_EOCD.size + ZIP64_LOCATOR.size
    data = _zip64(locator={"offset": eocd_at + EOCD.size}, comment=hidden)

    _corrupt(data, ZIP64_MISSING)


@pytest.mark.parametrize(
    ("record", "gap"),
    [({"size": 45}, b""), ({"size": 43}, b""), ({}, b"\0"), ({"size": 45}, b"\0\0")],
)
def test_a_zip64_record_that_does_not_end_at_the_locator_is_refused(
    record: dict[str, int], gap: bytes
) -> None:
    _corrupt(_zip64(record=record, gap=gap), ZIP64_UNACCOUNTED)


def test_a_zip64_record_with_an_extensible_data_sector_is_accepted() -> None:
    # The declared size counts the bytes after the first 12; extra bytes that it
    # accounts for are part of the record.
    assert _files(_zip64(record={"size": 48}, gap=b"\0" * 4)) == 1


# -- where the directory lies --------------------------------------------------


def test_directory_bytes_without_entries_are_corrupt() -> None:
    _corrupt(end_record(0, 46, 0), "the central directory has bytes but no entries")


@pytest.mark.parametrize(("entries", "size"), [(1, 45), (2, 91), (3, 1)])
def test_a_directory_too_small_for_its_entries_is_corrupt(entries: int, size: int) -> None:
    data = craft([Member("a.txt", b"a")], end=_counts(entries, cd_size=size))

    _corrupt(data, f"the central directory ({size} bytes) is too small for {entries} entries")


def test_a_directory_of_46_bytes_per_entry_passes_the_size_rule() -> None:
    # 46 bytes is large enough for one entry; the directory is then looked for
    data = craft([Member("a.txt", b"a")], end={"cd_size": 46})

    _corrupt(data, NOT_WHERE)


@pytest.mark.parametrize(("entries", "extra"), [(1, 0), (1, 1), (2, 1)])
def test_a_directory_larger_than_its_entries_can_be_is_corrupt(entries: int, extra: int) -> None:
    largest = entries * (46 + 3 * 0xFFFF)
    data = craft([Member("a.txt", b"a")], end=_counts(entries, cd_size=largest + extra))

    if extra:
        _corrupt(data, "the central directory is larger than its entries")
    else:
        _corrupt(data, NOT_WHERE)


@pytest.mark.parametrize("stub", [b"M", b"MZ self-extractor stub"])
def test_data_before_an_archive_is_counted(stub: bytes) -> None:
    _corrupt(stub + _one_file(), _prepended(len(stub)))


def test_data_before_an_empty_archive_is_counted() -> None:
    _corrupt(b"junk" + end_record(0, 0, 0), _prepended(4))


@pytest.mark.parametrize(
    ("offset_delta", "size_delta"),
    [
        (1, 0),  # one byte late: the directory would run into the end record
        (-2, 1),  # one byte short of the end record, starting in the entry's data
    ],
)
def test_a_directory_that_is_not_where_the_end_record_says_is_corrupt(
    offset_delta: int, size_delta: int
) -> None:
    _, cd_offset, cd_size = _directory()
    fields = {"cd_offset": cd_offset + offset_delta, "cd_size": cd_size + size_delta}

    _corrupt(craft([Member("a.txt", b"a")], end=fields), NOT_WHERE)


# -- reading ------------------------------------------------------------------


class Trickle(io.BytesIO):
    """A file that returns at most ``step`` bytes per read, as a pipe or socket may."""

    def __init__(self, data: bytes, step: int) -> None:
        super().__init__(data)
        self.step = step

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            size = self.step
        return super().read(min(size, self.step))


@pytest.mark.parametrize("step", [1, 2, 3, 7, 64])
def test_read_at_gathers_short_reads(step: int) -> None:
    data = bytes(range(100))
    fh = cast(BinaryIO, Trickle(data, step))

    assert read_at(fh, 10, 22) == data[10:32]
    assert read_at(fh, 90, 22) == data[90:]  # fewer only at the end of the file
    assert read_at(fh, 99, 1) == data[99:]
    assert read_at(fh, 100, 4) == b""


def test_read_at_reads_all_of_a_regular_file() -> None:
    data = bytes(range(256)) * 3
    fh = cast(BinaryIO, io.BytesIO(data))

    assert read_at(fh, 0, len(data) + 10) == data


def test_an_end_record_is_found_through_short_reads() -> None:
    data = craft([Member("a.txt", b"a")], comment=b"a comment")
    fh = cast(BinaryIO, Trickle(data, 5))

    end = read_end_record(fh, len(data))

    _, cd_offset, cd_size = _directory()
    assert (end.entries, end.cd_offset, end.cd_size) == (1, cd_offset, cd_size)
    assert end.comment == b"a comment"
    assert end.cd_end == len(data) - EOCD.size - len(b"a comment")
