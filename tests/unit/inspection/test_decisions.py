"""Archives users meet that are refused on purpose, or accepted after a decision:
each verdict comes with a message that says what to do."""

from __future__ import annotations

import stat
import struct
import zlib
from pathlib import Path

from extension_uploader import reasons
from extension_uploader.inspection import inspect_archive

from .zipcraft import STORED, Member, craft


def _inspect(tmp_path: Path, data: bytes):  # type: ignore[no-untyped-def]
    path = tmp_path / "archive.zip"
    path.write_bytes(data)
    return inspect_archive(path)


def _unicode_path(raw: bytes, name: str) -> bytes:
    data = b"\x01" + struct.pack("<L", zlib.crc32(raw)) + name.encode()
    return struct.pack("<2H", 0x7075, len(data)) + data


def test_powershell_backslash_names_are_refused_with_the_way_out(tmp_path: Path) -> None:
    # Given what Windows PowerShell 5's Compress-Archive writes: "folder\file"
    data = craft([Member(b"lib\\example.jar", b"jar", create_system=0, external_attr=0x20)])

    report = _inspect(tmp_path, data)

    assert report.reason == reasons.ZIP_UNSAFE_PATH
    message = report.problems[0].message
    assert "Compress-Archive" in message
    assert "PowerShell 7" in message


def test_backslash_traversal_keeps_the_plain_message(tmp_path: Path) -> None:
    report = _inspect(tmp_path, craft([Member(b"a\\..\\..\\evil")]))

    assert report.reason == reasons.ZIP_UNSAFE_PATH
    assert report.problems[0].message == "the name contains a backslash"


def test_non_utf8_name_with_unicode_path_is_refused_naming_the_unicode_name(
    tmp_path: Path,
) -> None:
    raw = b"r\x82sum\x82.txt"
    report = _inspect(tmp_path, craft([Member(raw, b"x", extra=_unicode_path(raw, "résumé.txt"))]))

    assert [problem.code for problem in report.problems] == [reasons.ZIP_BAD_NAME]
    assert "résumé.txt" in report.problems[0].message
    assert "Java" in report.problems[0].message


def test_non_utf8_name_checks_the_path_rules_on_its_unicode_name(tmp_path: Path) -> None:
    raw = b"r\x82sum\x82.txt"
    report = _inspect(tmp_path, craft([Member(raw, b"x", extra=_unicode_path(raw, "/etc/x"))]))

    codes = {problem.code for problem in report.problems}
    assert codes == {reasons.ZIP_UNSAFE_PATH, reasons.ZIP_BAD_NAME}


def test_a_stale_unicode_path_leaves_the_raw_name_rules(tmp_path: Path) -> None:
    raw = b"r\x82sum\x82.txt"
    report = _inspect(tmp_path, craft([Member(raw, b"x", extra=_unicode_path(b"x", "../x"))]))

    assert [(p.code, p.message) for p in report.problems] == [
        (reasons.ZIP_BAD_NAME, "the name is not valid UTF-8")
    ]


def test_setgid_directory_is_accepted_but_a_setgid_file_is_not(tmp_path: Path) -> None:
    folder = Member("shared/", method=STORED, external_attr=(stat.S_IFDIR | 0o2775) << 16)
    tool = Member("shared/run.sh", b"#!/bin/sh\n", external_attr=(stat.S_IFREG | 0o2755) << 16)

    report = _inspect(tmp_path, craft([folder, tool]))

    assert [(p.code, p.entry, p.message) for p in report.problems] == [
        (reasons.ZIP_LINK_OR_SPECIAL, "shared/run.sh", "the entry has the setgid bit")
    ]


def test_set_id_and_sticky_bits_are_all_named(tmp_path: Path) -> None:
    mode = (stat.S_IFDIR | 0o7755) << 16
    report = _inspect(tmp_path, craft([Member("d/", method=STORED, external_attr=mode)]))

    assert report.problems[0].message == "the entry has the setuid and sticky bits"


def test_zero_padding_before_the_directory_is_accepted_up_to_4_kib(tmp_path: Path) -> None:
    entries = [Member("a.txt", b"a"), Member("b.txt", b"b")]

    assert _inspect(tmp_path, craft(entries, padding=b"\0" * 4096)).ok
    longer = _inspect(tmp_path, craft(entries, padding=b"\0" * 4097))
    assert longer.reason == reasons.ZIP_CORRUPT
    assert longer.problems[0].message == "4097 bytes of data before the central directory"
