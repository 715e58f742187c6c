"""Name rules: unsafe paths, bad names, escaping for display, duplicates."""

from __future__ import annotations

import unicodedata

import pytest

from extension_uploader import reasons
from extension_uploader.inspection.names import (
    MAX_COMPONENT_BYTES,
    MAX_NAME_BYTES,
    NamedEntry,
    check_name,
    decode_name,
    display_name,
    find_duplicates,
)


def _codes(raw: bytes) -> set[str]:
    return {code for code, _ in check_name(raw, decode_name(raw))}


@pytest.mark.parametrize(
    "raw",
    [
        b"plugin-descriptor.properties",
        b"lib/x.jar",
        b"dir/",
        b"dir/sub/",
        b"a b/c (1).txt",
        b"..hidden",
        b"x..y/z..",
        b"...",
        "café/日本語.txt".encode(),
        b"a" * MAX_COMPONENT_BYTES,
        b"/".join([b"d" * 200] * 20)[:MAX_NAME_BYTES],
        "\U0001f600.txt".encode(),
        b"C_/not-a-drive",
        b"file:name",
    ],
)
def test_good_names_pass(raw: bytes) -> None:
    assert _codes(raw) == set()


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"../x", reasons.ZIP_UNSAFE_PATH),
        (b"a/../../x", reasons.ZIP_UNSAFE_PATH),
        (b"a/..", reasons.ZIP_UNSAFE_PATH),
        (b"..", reasons.ZIP_UNSAFE_PATH),
        (b"../", reasons.ZIP_UNSAFE_PATH),
        (b"/abs", reasons.ZIP_UNSAFE_PATH),
        (b"/", reasons.ZIP_UNSAFE_PATH),
        (b"c:x", reasons.ZIP_UNSAFE_PATH),
        (b"Z:\\x", reasons.ZIP_UNSAFE_PATH),
        (b"\\\\server\\share", reasons.ZIP_UNSAFE_PATH),
        (b"//server/share", reasons.ZIP_UNSAFE_PATH),
        (b"dir\\file", reasons.ZIP_UNSAFE_PATH),
        (b"", reasons.ZIP_BAD_NAME),
        (b"a\x00b", reasons.ZIP_BAD_NAME),
        (b"a\nb", reasons.ZIP_BAD_NAME),
        (b"a\x7fb", reasons.ZIP_BAD_NAME),
        ("a\u0085b".encode(), reasons.ZIP_BAD_NAME),  # C1 control
        (b"a" * (MAX_COMPONENT_BYTES + 1), reasons.ZIP_BAD_NAME),
        ("é".encode() * 128, reasons.ZIP_BAD_NAME),  # 256 bytes, 128 characters
        (b"d/" * (MAX_NAME_BYTES // 2) + b"f", reasons.ZIP_BAD_NAME),
        (b"\xff\xfe", reasons.ZIP_BAD_NAME),
        (b"\xc3\x28", reasons.ZIP_BAD_NAME),  # invalid continuation
        (b"\xc0\xae\xc0\xae/x", reasons.ZIP_BAD_NAME),  # overlong UTF-8 for ".."
        (b"\xed\xa0\x80", reasons.ZIP_BAD_NAME),  # an encoded surrogate
        (b"a//b", reasons.ZIP_BAD_NAME),
        (b"a/./b", reasons.ZIP_BAD_NAME),
        (b"dir//", reasons.ZIP_BAD_NAME),
    ],
)
def test_bad_names_are_caught(raw: bytes, code: str) -> None:
    assert code in _codes(raw)


def test_a_name_can_break_several_rules() -> None:
    assert _codes(b"../a\x00") == {reasons.ZIP_UNSAFE_PATH, reasons.ZIP_BAD_NAME}


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        (b"plain.txt", "plain.txt"),
        (b"tab\there", "tab\\there"),
        (b"nul\x00", "nul\\x00"),
        (b"esc\x1b", "esc\\x1b"),
        (b"back\\slash", "back\\\\slash"),
        (b"bad\xffbyte", "bad\\xffbyte"),
        ("caf\u00e9".encode(), "caf\u00e9"),
        ("rlo\u202etxt.exe".encode(), "rlo\\u202etxt.exe"),
        ("line\u2028sep".encode(), "line\\u2028sep"),
    ],
)
def test_display_names_are_printable_and_escaped(raw: bytes, shown: str) -> None:
    assert display_name(raw) == shown


def test_display_names_are_cut() -> None:
    shown = display_name(b"x" * 10_000)
    assert shown.endswith("...")
    assert len(shown) < 210


def _entries(*names: str) -> list[NamedEntry]:
    return [NamedEntry(name, name, name.endswith("/")) for name in names]


@pytest.mark.parametrize(
    "names",
    [
        ("a", "b", "c/d"),
        ("a/", "a/b", "a/c/"),
        ("a/", "a/b/"),
        ("a.txt", "a-b", "a/"),  # characters sorting around "/"
        ("straße.txt", "strasse.txt"),  # no file system folds ß to ss
        ("lib/a.jar", "lib2/a.jar"),
        ("x", "xy/z"),
    ],
)
def test_distinct_names_are_not_duplicates(names: tuple[str, ...]) -> None:
    assert find_duplicates(_entries(*names)) == []


@pytest.mark.parametrize(
    ("names", "fragment"),
    [
        (("a.txt", "a.txt"), "more than once"),
        (("dir/", "dir/"), "more than once"),
        (("A.txt", "a.TXT"), "letter case"),
        ((unicodedata.normalize("NFD", "é.txt"), "é.txt"), "normalisation"),
        (("a", "a/"), "both a file and a directory"),
        (("a", "a/b"), "directory path"),
        (("x/a", "x/a/b/c"), "directory path"),
        (("A", "a/b"), "directory path"),
    ],
)
def test_duplicates_are_found(names: tuple[str, ...], fragment: str) -> None:
    problems = find_duplicates(_entries(*names))

    assert len(problems) == 1
    assert problems[0].code == reasons.ZIP_DUPLICATE_ENTRY
    assert fragment in problems[0].message


def test_duplicate_detection_scales_with_deep_paths() -> None:
    deep = "/".join(["d"] * 2000)
    names = [f"{index}/{deep}/f" for index in range(2000)]

    assert find_duplicates(_entries(*names)) == []
