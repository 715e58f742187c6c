"""Name rules, exactly: each refusal's reason code and the sentence an operator reads,
the limits at their boundaries, escaping for display, and which entry a clash names."""

from __future__ import annotations

import unicodedata

import pytest

from extension_uploader import reasons
from extension_uploader.inspection.names import (
    BACKSLASH_MESSAGE,
    MAX_COMPONENT_BYTES,
    MAX_DISPLAY_CHARS,
    MAX_NAME_BYTES,
    NamedEntry,
    check_name,
    decode_name,
    display_name,
    find_duplicates,
    folded,
)

UNSAFE, BAD = reasons.ZIP_UNSAFE_PATH, reasons.ZIP_BAD_NAME
UNC = (UNSAFE, "the name is a UNC network path")
ABSOLUTE = (UNSAFE, "the name is an absolute path")
DRIVE = (UNSAFE, "the name starts with a drive letter")
BACKSLASH = (UNSAFE, "the name contains a backslash")
POWERSHELL = (UNSAFE, BACKSLASH_MESSAGE)
DOTDOT = (UNSAFE, "the name has a '..' segment")
EMPTY = (BAD, "the name is empty")
NUL = (BAD, "the name contains a NUL character")
CONTROL = (BAD, "the name contains control characters")
TOO_LONG = (BAD, "the name is longer than 4096 bytes")
LONG_PART = (BAD, "a path component is longer than 255 bytes")
SEGMENT = (BAD, "the name has an empty or '.' segment")
NOT_UTF8 = (BAD, "the name is not valid UTF-8")


def _check(raw: bytes) -> list[tuple[str, str]]:
    return check_name(raw, decode_name(raw))


def _exactly(size: int, *, suffix: bytes = b"f") -> bytes:
    """A name of ``size`` bytes made of 255-byte components (none too long)."""
    body = (b"d" * (MAX_COMPONENT_BYTES - 1) + b"/") * ((size - len(suffix)) // 255)
    name = body + b"e" * ((size - len(suffix)) % 255) + suffix
    assert len(name) == size
    return name


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"", [EMPTY]),
        (b"/", [ABSOLUTE, EMPTY]),
        (b"/abs", [ABSOLUTE]),
        (b"/abs/", [ABSOLUTE]),
        (b"//server/share", [UNC]),
        (b"\\\\server\\share", [UNC]),
        (b"\\\\", [UNC]),
        (b"c:x", [DRIVE]),
        (b"Z:/x", [DRIVE]),
        (b"dir\\file", [POWERSHELL]),
        (b"lib\\example.jar", [POWERSHELL]),
        (b"a\\..\\..\\x", [BACKSLASH]),
        (b"\\x", [BACKSLASH]),
        (b"../x", [DOTDOT]),
        (b"a/..", [DOTDOT]),
        (b"a\x00b", [NUL]),
        (b"\x00", [NUL]),
        (b"a\x01b", [CONTROL]),
        (b"a\x1fb", [CONTROL]),
        (b"a\x7fb", [CONTROL]),
        ("a\u009fb".encode(), [CONTROL]),
        (b"X" * MAX_COMPONENT_BYTES, []),
        (b"X" * (MAX_COMPONENT_BYTES + 1), [LONG_PART]),
        (b"dir/" + b"X" * (MAX_COMPONENT_BYTES + 1) + b"/", [LONG_PART]),
        (b"X//a", [SEGMENT]),
        (b"X/./a", [SEGMENT]),
        (b"./a", [SEGMENT]),
        (b"a/.", [SEGMENT]),
        (b"a//", [SEGMENT]),
        (b"../a\x00", [DOTDOT, NUL]),
        (b"\xff\xfe", [NOT_UTF8]),
    ],
)
def test_each_rule_has_its_code_and_message(raw: bytes, expected: list[tuple[str, str]]) -> None:
    assert _check(raw) == expected


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        (MAX_NAME_BYTES - 1, []),
        (MAX_NAME_BYTES, []),
        (MAX_NAME_BYTES + 1, [TOO_LONG]),
    ],
)
def test_the_name_length_limit(size: int, expected: list[tuple[str, str]]) -> None:
    assert _check(_exactly(size)) == expected
    assert _check(_exactly(size, suffix=b"/")) == expected  # a directory


def _unicode_message(shown: str) -> str:
    return (
        f"the name is not valid UTF-8 (its Unicode path field says {shown}); Java, which "
        "Elasticsearch and ECE use, cannot read it. Re-create the zip with a tool that "
        "writes UTF-8 names (7-Zip, Info-ZIP zip 3, PowerShell 7)"
    )


@pytest.mark.parametrize(
    ("unicode_name", "expected"),
    [
        ("résumé.txt", [(BAD, _unicode_message("résumé.txt"))]),
        ("tab\there", [(BAD, _unicode_message("tab\\there"))]),
        ("/etc/x", [(BAD, _unicode_message("/etc/x")), ABSOLUTE]),
        ("../x", [(BAD, _unicode_message("../x")), DOTDOT]),
    ],
)
def test_a_unicode_path_field_is_quoted_and_checked(
    unicode_name: str, expected: list[tuple[str, str]]
) -> None:
    assert check_name(b"r\x82sum\x82.txt", None, unicode_name) == expected


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        (b"\x80", "\\x80"),  # the lowest byte surrogateescape smuggles
        (b"a\x81b", "a\\x81b"),
        (b"\xff", "\\xff"),
        (b"\r\n", "\\r\\n"),
        ("\u00a0".encode(), "\\xa0"),  # not printable, below 0x100
        ("\u00ad".encode(), "\\xad"),
        ("\u00ff".encode(), "\u00ff"),
        ("\ufffe".encode(), "\\ufffe"),
        ("\uffff".encode(), "\\uffff"),  # the highest \\u
        ("\U000e0001".encode(), "\\U000e0001"),  # a tag character: not printable
        ("\U0010ffff".encode(), "\\U0010ffff"),
        ("\U0001f600".encode(), "\U0001f600"),
    ],
)
def test_display_escapes(raw: bytes, shown: str) -> None:
    assert display_name(raw) == shown


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        (b"x" * 51, "x" * 51),
        (b"x" * (MAX_DISPLAY_CHARS - 1), "x" * (MAX_DISPLAY_CHARS - 1)),
        (b"x" * MAX_DISPLAY_CHARS, "x" * MAX_DISPLAY_CHARS),
        (b"x" * (MAX_DISPLAY_CHARS + 1), "x" * MAX_DISPLAY_CHARS + "..."),
        # 200 four-byte characters are 800 bytes: shown whole.
        ("\U0001f600".encode() * MAX_DISPLAY_CHARS, "\U0001f600" * MAX_DISPLAY_CHARS),
        # One byte more is cut, even though the first 200 characters are all shown.
        (
            "\U0001f600".encode() * MAX_DISPLAY_CHARS + b"x",
            "\U0001f600" * MAX_DISPLAY_CHARS + "...",
        ),
        (b"\xff" * 1000, "\\xff" * MAX_DISPLAY_CHARS + "..."),
    ],
)
def test_display_names_are_cut_after_200_characters_or_800_bytes(raw: bytes, shown: str) -> None:
    assert display_name(raw) == shown


def _named(*names: str) -> list[NamedEntry]:
    return [NamedEntry(name, f"<{name}>", name.endswith("/")) for name in names]


def _problems(*names: str) -> list[tuple[str, str | None, str]]:
    return [(p.code, p.entry, p.message) for p in find_duplicates(_named(*names))]


DUP = reasons.ZIP_DUPLICATE_ENTRY


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (("a.txt", "b", "a.txt"), [(DUP, "<a.txt>", "the name appears more than once")]),
        (("d/", "d/"), [(DUP, "<d/>", "the name appears more than once")]),
        (("A.txt", "a.TXT"), [(DUP, "<a.TXT>", "it differs from <A.txt> only in letter case")]),
        (
            (unicodedata.normalize("NFD", "é.txt"), "é.txt"),
            [
                (
                    DUP,
                    "<é.txt>",
                    f"it is the same name as <{unicodedata.normalize('NFD', 'é.txt')}> "
                    "after Unicode normalisation",
                )
            ],
        ),
        (("a", "a/"), [(DUP, "<a/>", "it is both a file and a directory (also listed as <a>)")]),
        (
            ("x/a", "x/a/b"),
            [(DUP, "<x/a>", "it is a file, but <x/a/b> puts it on a directory path")],
        ),
        (
            ("a", "A", "a/b"),
            [
                (DUP, "<A>", "it differs from <a> only in letter case"),
                (DUP, "<A>", "it is a file, but <a/b> puts it on a directory path"),
            ],
        ),
        (
            ("a", "a", "a", "a/b"),
            [
                (DUP, "<a>", "the name appears more than once"),
                (DUP, "<a>", "the name appears more than once"),
                (DUP, "<a>", "it is a file, but <a/b> puts it on a directory path"),
            ],
        ),
    ],
)
def test_clashes_name_the_later_entry(
    names: tuple[str, ...], expected: list[tuple[str, str | None, str]]
) -> None:
    assert _problems(*names) == expected


def test_a_file_clashing_with_a_folder_path_is_reported_once() -> None:
    # The clash with "a/b" is reported on the last of the equal files only.
    problems = find_duplicates(
        [
            NamedEntry("a", "first", False),
            NamedEntry("a", "second", False),
            NamedEntry("a/b", "under", False),
        ]
    )

    assert [(p.entry, p.message) for p in problems] == [
        ("second", "the name appears more than once"),
        ("second", "it is a file, but under puts it on a directory path"),
    ]


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("a.txt", "a.txt"),
        ("README.md", "readme.md"),
        ("dir/", "dir"),
        ("ÉCOLE.txt", "école.txt"),
        (unicodedata.normalize("NFD", "Été/"), "été"),
        ("STRAẞE", "straße"),
        ("straße", "straße"),
    ],
)
def test_folded_keys_are_lower_case_nfc(name: str, key: str) -> None:
    assert folded(name) == key


def test_non_ascii_names_are_not_folded_by_upper_case() -> None:
    # Upper-casing "ß" gives "SS": these two would clash, yet no file system merges them.
    assert find_duplicates(_named("straße-é.txt", "strasse-é.txt")) == []
