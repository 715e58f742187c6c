"""The descriptor is read as Java's Properties.load reads it."""

from __future__ import annotations

import pytest

from extension_uploader.inspection.properties import PropertiesError, parse_properties


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (b"a=b", {"a": "b"}),
        (b"a:b", {"a": "b"}),
        (b"a b", {"a": "b"}),
        (b"a = b", {"a": "b"}),
        (b"a\t:\t b", {"a": "b"}),
        (b"a  =  = b", {"a": "= b"}),  # only one separator is skipped
        (b"a b = c", {"a": "b = c"}),  # a blank ends the key; "=" after it is value
        (b"  indented=yes", {"indented": "yes"}),
        (b"trailing=blanks  ", {"trailing": "blanks  "}),  # kept, as Java does
        (b"key", {"key": ""}),
        (b"=value", {"": "value"}),
        (b"# comment\n! also comment\nk=v", {"k": "v"}),
        (b"   # indented comment\nk=v", {"k": "v"}),
        (b"k=v # not a comment", {"k": "v # not a comment"}),
        (b"k=one\\\n    two", {"k": "onetwo"}),  # continuation skips leading blanks
        (b"k=one\\\r\n  two\\\r  three", {"k": "onetwothree"}),
        (b"k=a\\\\\nb=c", {"k": "a\\", "b": "c"}),  # even backslashes: no continuation
        (b"k=v\\", {"k": "v"}),  # a final lone backslash is dropped
        (b"# comment \\\nk=v", {"k": "v"}),  # comments never continue
        (b"\\\n# a comment after an empty continuation\nk=v", {"k": "v"}),
        (b"k=v\n \\\n", {"k": "v", "": ""}),  # JDK: a lone "\\" at the end is key ""
        (b"k=v\n#", {"k": "v"}),
        (b"k=first\\\n# not a comment", {"k": "first# not a comment"}),
        (b"a\\=b=c", {"a=b": "c"}),
        (b"a\\ b=c", {"a b": "c"}),
        (b"k=\\t\\n\\r\\f\\x\\\\", {"k": "\t\n\r\fx\\"}),
        (b"k=caf\\u00e9", {"k": "caf\u00e9"}),
        (b"k=\\uD83D\\uDE00", {"k": "\U0001f600"}),  # a UTF-16 surrogate pair
        (b"k=caf\xe9", {"k": "caf\u00e9"}),  # bytes are ISO-8859-1
        (b"k=1\nk=2", {"k": "2"}),  # the last value wins
        (b"a=1\r\nb=2\rc=3\n\n\nd=4", {"a": "1", "b": "2", "c": "3", "d": "4"}),
        (b"\n\n   \n\t\f\n", {}),
        (b"", {}),
    ],
)
def test_properties_are_read_like_java(text: bytes, expected: dict[str, str]) -> None:
    assert parse_properties(text) == expected


@pytest.mark.parametrize("text", [b"k=\\u12", b"k=\\u12G4", b"\\uZZZZ=v", b"k=\\u"])
def test_malformed_unicode_escape_is_an_error(text: bytes) -> None:
    with pytest.raises(PropertiesError):
        parse_properties(text)


def test_a_real_descriptor() -> None:
    descriptor = (
        b"# Elasticsearch plugin descriptor file\n"
        b"description=The ICU Analysis plugin integrates the Lucene ICU module\n"
        b"version=8.15.0\n"
        b"name=analysis-icu\n"
        b"classname=org.elasticsearch.plugin.analysis.icu.AnalysisICUPlugin\n"
        b"java.version=21\n"
        b"elasticsearch.version=8.15.0\n"
        b"extended.plugins=\n"
        b"has.native.controller=false\n"
    )
    properties = parse_properties(descriptor)
    assert properties["elasticsearch.version"] == "8.15.0"
    assert properties["extended.plugins"] == ""
    assert len(properties) == 8
