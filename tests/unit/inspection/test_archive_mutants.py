"""The inspection driver: each refusal's reason code, the entry it names and the exact
sentence an operator reads; which entries are still verified after a problem; and
what an inspection keeps in memory."""

from __future__ import annotations

import io
import stat
import struct
import tracemalloc
import warnings
import zlib
from pathlib import Path

import pytest

from extension_uploader import reasons
from extension_uploader.inspection import (
    ExtensionInfo,
    InspectionBug,
    Limits,
    Problem,
    Report,
    inspect_archive,
    inspect_stream,
)
from extension_uploader.inspection import archive as archive_module

from .corpus import DESCRIPTOR, jar_bytes
from .zipcraft import DEFLATED, DEFLATED64, STORED, Member, craft

MIB = 1024 * 1024
UNICODE_PATH = 0x7075
LINK = "the entry is a symbolic link"
SPECIAL = "the entry is a device, FIFO, socket or other special file"
OTHER_NAME = "its Unicode path extra field names another file"
BAD_CRC = "the CRC-32 of the data does not match"


def _write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "archive.zip"
    path.write_bytes(data)
    return path


def _inspect(members: list[Member], limits: Limits = Limits()) -> Report:  # noqa: B008
    data = craft(members)
    return inspect_stream(io.BytesIO(data), len(data), limits)


def _only(report: Report, code: str, entry: str | None, message: str) -> None:
    assert report.problems == (Problem(code, entry, message),)


# -- the file as a whole ---------------------------------------------------------


def test_an_empty_file_is_not_a_zip(tmp_path: Path) -> None:
    report = inspect_archive(_write(tmp_path, b""))

    _only(report, reasons.ZIP_NOT_A_ZIP, None, "the file is empty")


def test_a_one_byte_file_is_not_a_zip(tmp_path: Path) -> None:
    report = inspect_archive(_write(tmp_path, b"P"))

    _only(report, reasons.ZIP_NOT_A_ZIP, None, "the file is not a zip archive")


@pytest.mark.parametrize(
    "members", [[], [Member("folder/")], [Member("a/"), Member("a/b/")]], ids=["empty", "1", "2"]
)
def test_an_archive_of_directories_holds_no_files(members: list[Member]) -> None:
    _only(_inspect(members), reasons.ZIP_NO_FILES, None, "the archive holds no files")


def test_inspecting_a_good_archive_emits_no_warnings(tmp_path: Path) -> None:
    path = _write(tmp_path, craft([Member("a.txt", b"a" * 1000)]))

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = inspect_archive(path)

    assert report.ok
    assert [str(warning.message) for warning in caught] == []


# -- failures of the inspection itself -------------------------------------------------


def _fail(*_: object) -> None:
    raise KeyError("oops")


def test_a_bug_names_the_path_of_the_archive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path, craft([Member("a.txt", b"a")]))
    monkeypatch.setattr(archive_module, "_file_type_problem", _fail)

    with pytest.raises(InspectionBug) as caught:
        inspect_archive(path)

    assert str(caught.value) == f"the inspection of {str(path)!r} failed: KeyError: 'oops'"


def test_a_bug_in_a_stream_inspection_names_the_archive(monkeypatch: pytest.MonkeyPatch) -> None:
    data = craft([Member("a.txt", b"a")])
    monkeypatch.setattr(archive_module, "_file_type_problem", _fail)

    with pytest.raises(InspectionBug) as caught:
        inspect_stream(io.BytesIO(data), len(data))

    assert str(caught.value) == "the inspection of 'the archive' failed: KeyError: 'oops'"


@pytest.mark.parametrize(
    ("error", "name"),
    [(struct.error("unpack"), "error"), (zlib.error("bad"), "error"), (EOFError(), "EOFError")],
)
def test_malformed_bytes_no_check_caught_are_corrupt_and_say_what_failed(
    error: Exception, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*_: object) -> None:
        raise error

    monkeypatch.setattr(archive_module, "check_layout", fail)

    report = _inspect([Member("a.txt", b"a")])

    _only(report, reasons.ZIP_CORRUPT, None, f"the archive could not be parsed ({name})")


# -- file types ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        (stat.S_IFLNK | 0o777, LINK),
        (stat.S_IFCHR | 0o644, SPECIAL),
        (stat.S_IFBLK | 0o644, SPECIAL),
        (stat.S_IFIFO | 0o644, SPECIAL),
        (stat.S_IFSOCK | 0o644, SPECIAL),
    ],
)
def test_links_and_special_files_are_refused(mode: int, message: str) -> None:
    report = _inspect([Member("entry", b"target", external_attr=mode << 16)])

    _only(report, reasons.ZIP_LINK_OR_SPECIAL, "entry", message)


@pytest.mark.parametrize(
    ("create_system", "dos_bits", "refused"),
    [
        (0, 0x20, False),  # FAT: the high bits are not a mode
        (11, 0x20, False),  # NTFS
        (0, 0x20 | 0x8000, True),  # 7-Zip's "Unix extension" bit: they are
        (3, 0, True),  # Unix
        (19, 0, True),  # macOS
    ],
)
def test_a_mode_is_read_only_where_the_host_stores_one(
    create_system: int, dos_bits: int, refused: bool
) -> None:
    attr = ((stat.S_IFLNK | 0o777) << 16) | dos_bits
    report = _inspect([Member("entry", b"target", create_system=create_system, external_attr=attr)])

    if refused:
        _only(report, reasons.ZIP_LINK_OR_SPECIAL, "entry", LINK)
    else:
        assert report.ok


# -- methods, encryption and declared sizes ---------------------------------------------


def test_an_unsupported_method_is_named() -> None:
    report = _inspect([Member("a.bz2", b"abc", method=12, payload=b"BZh9...")])

    _only(
        report,
        reasons.ZIP_UNSUPPORTED_METHOD,
        "a.bz2",
        "the entry uses compression method 12; only Stored and Deflate are accepted",
    )


def test_deflate64_refused_by_policy_says_so() -> None:
    report = _inspect(
        [Member("a.txt", b"abc", method=DEFLATED64)], Limits(deflate64_policy="reject")
    )

    _only(
        report,
        reasons.ZIP_UNSUPPORTED_METHOD,
        "a.txt",
        "the entry is compressed with Deflate64, which this deployment rejects",
    )


def test_an_encrypted_entry_is_named() -> None:
    report = _inspect([Member("secret.txt", b"abc", flags=0x01)])

    _only(report, reasons.ZIP_ENCRYPTED, "secret.txt", "the entry is encrypted")


def test_a_directory_declaring_content_is_corrupt() -> None:
    report = _inspect([Member("a.txt", b"a"), Member("folder/", b"", usize=5)])

    _only(report, reasons.ZIP_CORRUPT, "folder/", "a directory entry declares content")


def test_a_stored_entry_with_two_sizes_is_corrupt() -> None:
    report = _inspect([Member("a.txt", b"abc", method=STORED, usize=4)])

    _only(report, reasons.ZIP_CORRUPT, "a.txt", "a stored entry's two sizes differ")


def test_an_entry_above_the_size_limit_is_a_bomb() -> None:
    report = _inspect([Member("a.txt", b"abc")], Limits(max_uncompressed_bytes=2))

    assert Problem(reasons.ZIP_BOMB, "a.txt", "the entry declares 3 bytes, above the limit") in (
        report.problems
    )


@pytest.mark.parametrize(
    ("size", "packed", "ratio"),
    [
        (MIB + 7, 5000, 209),  # 209.7: rounded down
        (MIB, 5000, 209),
        (MIB, 1, MIB),
        (MIB, 0, MIB),  # nothing compressed: the ratio against one byte
        (3 * MIB, 2, 3 * MIB // 2),
    ],
)
def test_the_ratio_in_the_message_is_a_whole_number(size: int, packed: int, ratio: int) -> None:
    # The declared sizes alone refuse the entry: its data is never read
    report = _inspect([Member("big.bin", payload=b"\0" * packed, usize=size)])

    _only(report, reasons.ZIP_BOMB, "big.bin", f"the entry expands {ratio}:1; the limit is 200:1")


# -- Unicode path extra fields ---------------------------------------------------------


def _unicode_path(name: bytes, raw_name: bytes = b"a.txt", *, version: int = 1) -> bytes:
    data = bytes([version]) + zlib.crc32(raw_name).to_bytes(4, "little") + name
    return struct.pack("<2H", UNICODE_PATH, len(data)) + data


def _field(header_id: int, data: bytes) -> bytes:
    return struct.pack("<2H", header_id, len(data)) + data


@pytest.mark.parametrize(
    ("extra", "refused"),
    [
        (_unicode_path(b"a.txt"), False),  # repeating the name
        (_unicode_path(b"b.txt"), True),
        (_unicode_path(b""), True),  # an empty name is another name
        (_field(0xCAFE, b"xy") + _unicode_path(b"b.txt"), True),  # after another field
        # a stale field (its CRC is of another raw name), then a current one
        (_unicode_path(b"c.txt", b"old.txt") + _unicode_path(b"b.txt"), True),
        (_unicode_path(b"b.txt", b"old.txt"), False),  # stale: ignored by every reader
        (_unicode_path(b"b.txt", version=2), False),  # an unknown version: ignored
        (_field(UNICODE_PATH, b"\x01\0\0\0"), False),  # too short to hold a CRC
        # another field laid out like a Unicode path is not one
        (_field(0xCAFE, _unicode_path(b"b.txt")[4:]), False),
    ],
)
def test_a_unicode_path_naming_another_file_is_refused(extra: bytes, refused: bool) -> None:
    report = _inspect([Member("a.txt", b"a", extra=extra)])

    if refused:
        _only(report, reasons.ZIP_BAD_NAME, "a.txt", OTHER_NAME)
    else:
        assert report.ok


# -- duplicates ---------------------------------------------------------------------


def test_a_duplicate_names_the_second_entry() -> None:
    report = _inspect([Member("a.txt", b"a"), Member("A.TXT", b"b")])

    _only(
        report,
        reasons.ZIP_DUPLICATE_ENTRY,
        "A.TXT",
        "it differs from a.txt only in letter case",
    )


# -- verifying the data ---------------------------------------------------------------


def test_every_entry_with_bad_data_is_reported() -> None:
    report = _inspect(
        [Member("a.txt", b"abc", crc=1), Member("b.txt", b"def"), Member("c.txt", b"ghi", crc=2)]
    )

    assert report.problems == (
        Problem(reasons.ZIP_CORRUPT, "a.txt", BAD_CRC),
        Problem(reasons.ZIP_CORRUPT, "c.txt", BAD_CRC),
    )


def test_entries_after_an_unreadable_one_are_still_verified() -> None:
    report = _inspect(
        [
            Member("a.bz2", b"abc", method=12, payload=b"BZh9"),
            Member("secret.txt", b"abc", flags=0x01),
            Member("b.txt", b"def", crc=1),
        ]
    )

    assert Problem(reasons.ZIP_CORRUPT, "b.txt", BAD_CRC) in report.problems


def test_a_bomb_stops_the_verification() -> None:
    # Given an entry that expands beyond its declared size, then one with a bad CRC
    data = b"\0" * 100_000
    report = _inspect([Member("bomb.bin", data, usize=1000), Member("b.txt", b"def", crc=1)])

    # Then the bomb is reported and nothing after it is read
    _only(
        report,
        reasons.ZIP_BOMB,
        "bomb.bin",
        "the data expands beyond its declared size of 1000 bytes",
    )


def test_only_descriptor_content_is_kept_in_memory() -> None:
    # Given 100 files of 60 KiB each (6 MB in all), stored
    members = [
        Member(f"f{index:03d}.bin", bytes([index]) * 60_000, method=STORED) for index in range(100)
    ]
    data = craft(members)
    fh = io.BytesIO(data)

    # When it is inspected, Then its memory does not grow with the files' content
    tracemalloc.start()
    try:
        report = inspect_stream(fh, len(data))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.ok
    assert peak < 2 * MIB


def test_a_descriptor_is_kept_and_checked() -> None:
    # A deflated descriptor in a plugin: its verified content is what is parsed
    members = [
        Member("plugin-descriptor.properties", DESCRIPTOR, method=DEFLATED),
        Member("plugin.jar", jar_bytes()),
    ]
    data = craft(members)
    report = inspect_stream(io.BytesIO(data), len(data), Limits(), ExtensionInfo("plugin", "9.0.0"))

    _only(
        report,
        reasons.PLUGIN_VERSION_MISMATCH,
        "plugin-descriptor.properties",
        "the plugin is built for Elasticsearch '8.15.0', but the extension's version is '9.0.0'",
    )
