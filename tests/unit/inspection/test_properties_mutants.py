"""The properties reader's error message, and \\u escapes that are not characters."""

from __future__ import annotations

from pathlib import Path

import pytest

from extension_uploader import reasons
from extension_uploader.inspection import ExtensionInfo, inspect_archive
from extension_uploader.inspection.properties import PropertiesError, parse_properties

from .corpus import DESCRIPTOR, jar_bytes, zipped


@pytest.mark.parametrize(
    "text",
    [b"k=\\u12", b"k=\\u12G4", b"\\uZZZZ=v", b"k=\\u", b"k=\\u00e", b"k=\\u-123"],
)
def test_a_malformed_unicode_escape_says_so(text: bytes) -> None:
    with pytest.raises(PropertiesError) as caught:
        parse_properties(text)

    assert str(caught.value) == "malformed \\uxxxx escape"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (b"k=\\uD800", {"k": "\ufffd"}),  # a lone high surrogate
        (b"k=\\uDC00x", {"k": "\ufffdx"}),  # a lone low surrogate
        (b"k=\\uDE00\\uD83D", {"k": "\ufffd\ufffd"}),  # a pair in the wrong order
        (b"\\uD83D=\\uD83D\\uDE00", {"\ufffd": "\U0001f600"}),
        (b"k=\\uFFFF\\u0000", {"k": "\uffff\x00"}),
    ],
)
def test_utf16_code_units_that_are_not_characters_become_replacement_characters(
    text: bytes, expected: dict[str, str]
) -> None:
    assert parse_properties(text) == expected


def test_a_lone_surrogate_in_a_descriptor_is_a_verdict_not_a_crash(tmp_path: Path) -> None:
    descriptor = DESCRIPTOR.replace(b"=8.15.0", b"=8.15.\\uD800")
    path = tmp_path / "plugin.zip"
    path.write_bytes(zipped({"plugin-descriptor.properties": descriptor, "p.jar": jar_bytes()}))

    report = inspect_archive(path, extension=ExtensionInfo("plugin", "8.15.0"))

    assert [(p.code, p.entry, p.message) for p in report.problems] == [
        (
            reasons.PLUGIN_BAD_DESCRIPTOR,
            "plugin-descriptor.properties",
            "elasticsearch.version '8.15.\\ufffd' is not a full version such as 8.15.0",
        )
    ]
