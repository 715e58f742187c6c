"""What a plugin or a bundle must contain: every rule's reason code, the entry it
names and the exact sentence an operator reads, with the limits' boundaries.

Most cases call ``check_plugin`` / ``check_bundle`` on entries directly (fast, and
they can say "this descriptor could not be read"); a few go through
``inspect_archive`` to show the same verdicts end to end.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from extension_uploader import reasons
from extension_uploader.inspection import ExtensionInfo, Report, inspect_archive
from extension_uploader.inspection.content import (
    MAX_DESCRIPTOR_BYTES,
    check_bundle,
    check_plugin,
)
from extension_uploader.inspection.report import (
    WARNING_BUNDLE_LAYOUT,
    WARNING_PLUGIN_JARS_NOT_AT_ROOT,
    Findings,
    Problem,
)
from extension_uploader.inspection.structure import Entry

from .corpus import DESCRIPTOR, STABLE_DESCRIPTOR, jar_bytes, zipped

CLASSIC = "plugin-descriptor.properties"
STABLE = "stable-plugin-descriptor.properties"
LEGACY_MESSAGE = (
    "the plugin uses the legacy 'elasticsearch/' folder; its files must be at the root of the zip"
)
MISSING_MESSAGE = (
    "no plugin-descriptor.properties or stable-plugin-descriptor.properties at the root of the zip"
)
TOO_BIG_MESSAGE = "the descriptor is larger than 64 KiB"
NO_JARS_MESSAGE = "the plugin contains no .jar file"
JARS_NOT_AT_ROOT_MESSAGE = (
    "no .jar at the root of the zip; Elasticsearch loads the jars found there"
)
GEOIP_SUFFIX_MESSAGE = "a GeoIP database name must end in -City.mmdb, -Country.mmdb or -ASN.mmdb"

Triple = tuple[str, str | None, str]


def _entry(name: str | None, index: int = 0, *, file_size: int = 100) -> Entry:
    display = name if name is not None else "r\\x82sum\\x82.txt"
    is_dir = name is not None and name.endswith("/")
    return Entry(
        index=index,
        display=display,
        name=name,
        is_dir=is_dir,
        header_offset=index * 1000,
        name_digest=b"",
        flags=0,
        method=8,
        crc=0,
        compressed_size=file_size,
        file_size=0 if is_dir else file_size,
        encrypted=False,
    )


def _entries(*names: str | None) -> list[Entry]:
    return [_entry(name, index) for index, name in enumerate(names)]


def _triples(problems: Sequence[Problem]) -> list[Triple]:
    return [(p.code, p.entry, p.message) for p in problems]


def _plugin(
    entries: list[Entry],
    descriptors: dict[int, bytes | None] | None = None,
    version: str | None = "8.15.0",
) -> Findings:
    findings = Findings()
    check_plugin(entries, descriptors or {}, version, findings)
    return findings


def _bundle(*names: str | None) -> Findings:
    findings = Findings()
    check_bundle(_entries(*names), findings)
    return findings


def _descriptor_findings(
    data: bytes, name: str = CLASSIC, version: str | None = "8.15.0"
) -> Findings:
    return _plugin(_entries(name, "p.jar"), {0: data}, version)


def _inspect(tmp_path: Path, files: dict[str, bytes], extension: ExtensionInfo) -> Report:
    path = tmp_path / "extension.zip"
    path.write_bytes(zipped(files))
    return inspect_archive(path, extension=extension)


# -- layout: legacy folder, descriptors ---------------------------------------------


def test_legacy_layout_names_the_first_legacy_entry_and_nothing_else() -> None:
    findings = _plugin(_entries("elasticsearch/a.txt", "elasticsearch/b.jar", "other.txt"))

    # The legacy verdict stands alone: no "missing descriptor", no jar rule.
    assert _triples(findings.problems) == [
        (reasons.PLUGIN_LEGACY_LAYOUT, "elasticsearch/a.txt", LEGACY_MESSAGE)
    ]
    assert findings.warnings == []


def test_a_single_legacy_entry_is_named(tmp_path: Path) -> None:
    report = _inspect(
        tmp_path,
        {"elasticsearch/plugin-descriptor.properties": DESCRIPTOR},
        ExtensionInfo("plugin", "8.15.0"),
    )

    assert _triples(report.problems) == [
        (reasons.PLUGIN_LEGACY_LAYOUT, "elasticsearch/plugin-descriptor.properties", LEGACY_MESSAGE)
    ]


def test_a_legacy_entry_beside_a_root_descriptor_still_checks_the_descriptor() -> None:
    entries = _entries("elasticsearch/x.txt", CLASSIC)

    findings = _plugin(entries, {1: DESCRIPTOR}, "8.15.1")

    assert [p.code for p in findings.problems] == [
        reasons.PLUGIN_LEGACY_LAYOUT,
        reasons.PLUGIN_VERSION_MISMATCH,
    ]


def test_names_that_are_not_utf8_are_not_legacy_or_jars() -> None:
    findings = _plugin(_entries(None, CLASSIC), {1: DESCRIPTOR})

    assert _triples(findings.problems) == [(reasons.PLUGIN_NO_JARS, None, NO_JARS_MESSAGE)]


def test_missing_descriptor_has_no_entry(tmp_path: Path) -> None:
    report = _inspect(
        tmp_path,
        {"sub/plugin-descriptor.properties": DESCRIPTOR, "x.jar": jar_bytes()},
        ExtensionInfo("plugin", "8.15.0"),
    )

    assert _triples(report.problems) == [(reasons.PLUGIN_MISSING_DESCRIPTOR, None, MISSING_MESSAGE)]


def test_a_descriptor_named_folder_is_not_a_descriptor() -> None:
    findings = _plugin(_entries(f"{CLASSIC}/", "p.jar"))

    assert _triples(findings.problems) == [
        (reasons.PLUGIN_MISSING_DESCRIPTOR, None, MISSING_MESSAGE)
    ]


@pytest.mark.parametrize(
    ("names", "count", "second"),
    [
        ((CLASSIC, STABLE, "p.jar"), 2, STABLE),
        (("p.jar", STABLE, CLASSIC), 2, CLASSIC),
        ((CLASSIC, "p.jar", CLASSIC, STABLE), 3, CLASSIC),
    ],
)
def test_multiple_descriptors_name_the_second_one(
    names: tuple[str, ...], count: int, second: str
) -> None:
    entries = _entries(*names)
    descriptors: dict[int, bytes | None] = {e.index: DESCRIPTOR for e in entries}
    findings = _plugin(entries, descriptors)

    assert _triples(findings.problems) == [
        (
            reasons.PLUGIN_MULTIPLE_DESCRIPTORS,
            second,
            f"the zip holds {count} plugin descriptors; exactly one is allowed",
        )
    ]


def test_an_unread_descriptor_is_not_judged() -> None:
    # Not in ``descriptors``: its data could not be verified (reported elsewhere).
    assert _plugin(_entries(CLASSIC, "p.jar"), {}).problems == []


# -- descriptor size ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        (MAX_DESCRIPTOR_BYTES - 1, []),
        (MAX_DESCRIPTOR_BYTES, []),
        (MAX_DESCRIPTOR_BYTES + 1, [(reasons.PLUGIN_BAD_DESCRIPTOR, CLASSIC, TOO_BIG_MESSAGE)]),
    ],
)
def test_an_unreadable_descriptor_is_blamed_on_its_size_only_above_64_kib(
    size: int, expected: list[Triple]
) -> None:
    entries = [_entry(CLASSIC, 0, file_size=size), _entry("p.jar", 1)]

    findings = _plugin(entries, {0: None})

    assert _triples(findings.problems) == expected


@pytest.mark.parametrize(("extra", "ok"), [(0, True), (1, False)])
def test_descriptor_size_limit_end_to_end(tmp_path: Path, extra: int, ok: bool) -> None:
    padding = MAX_DESCRIPTOR_BYTES - len(DESCRIPTOR) - 1 + extra
    descriptor = DESCRIPTOR + b"#" * padding + b"\n"
    assert len(descriptor) == MAX_DESCRIPTOR_BYTES + extra

    report = _inspect(
        tmp_path, {CLASSIC: descriptor, "p.jar": jar_bytes()}, ExtensionInfo("plugin", "8.15.0")
    )

    expected = [] if ok else [(reasons.PLUGIN_BAD_DESCRIPTOR, CLASSIC, TOO_BIG_MESSAGE)]
    assert _triples(report.problems) == expected


# -- descriptor content -------------------------------------------------------------

FULL = {
    "name": "example",
    "description": "Example plugin",
    "version": "1.0.0",
    "classname": "org.example.Plugin",
    "java.version": "17",
    "elasticsearch.version": "8.15.0",
}


def _properties(*, drop: tuple[str, ...] = (), **values: str) -> bytes:
    fields = {key: value for key, value in FULL.items() if key not in drop}
    fields.update({key.replace("_", "."): value for key, value in values.items()})
    return "".join(f"{key}={value}\n" for key, value in fields.items()).encode("latin-1")


def _lacks(keys: str) -> str:
    return f"the descriptor lacks or leaves empty: {keys}"


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (_properties(drop=("name",)), CLASSIC, _lacks("name")),
        (_properties(drop=("description", "version")), CLASSIC, _lacks("description, version")),
        (_properties(drop=("classname",)), CLASSIC, _lacks("classname")),
        (
            _properties(drop=("java.version", "classname")),
            CLASSIC,
            _lacks("java.version, classname"),
        ),
        (_properties(name=""), CLASSIC, _lacks("name")),
        (_properties(java_version=""), CLASSIC, _lacks("java.version")),
        (_properties(name="", java_version=""), CLASSIC, _lacks("name, java.version")),
        (_properties(elasticsearch_version=""), CLASSIC, _lacks("elasticsearch.version")),
        (_properties(elasticsearch_version="  \t"), CLASSIC, _lacks("elasticsearch.version")),
        (_properties(drop=("elasticsearch.version",)), CLASSIC, _lacks("elasticsearch.version")),
        (
            _properties(drop=("version",), name="", elasticsearch_version=" "),
            CLASSIC,
            _lacks("version, name, elasticsearch.version"),
        ),
        (_properties(drop=("name", "classname")), STABLE, _lacks("name")),
        (_properties(drop=("classname",), type="isolated"), CLASSIC, _lacks("classname")),
        (b"", STABLE, _lacks("name, description, version, elasticsearch.version, java.version")),
    ],
)
def test_required_keys(data: bytes, name: str, message: str) -> None:
    findings = _descriptor_findings(data, name)

    assert _triples(findings.problems) == [(reasons.PLUGIN_BAD_DESCRIPTOR, name, message)]


@pytest.mark.parametrize(
    "data",
    [
        _properties(drop=("classname",), type="bootstrap"),
        _properties(drop=("classname",), type="Bootstrap"),
        _properties(description=""),  # only name and java.version must be non-empty
        _properties(version=""),
        _properties(classname=""),
    ],
)
def test_complete_descriptors_pass(data: bytes) -> None:
    assert _descriptor_findings(data).problems == []


def test_a_stable_descriptor_needs_no_classname() -> None:
    findings = _descriptor_findings(_properties(drop=("classname",)), STABLE)

    assert findings.problems == []


def test_an_unparsable_descriptor_says_why() -> None:
    findings = _descriptor_findings(_properties(name="bad\\u12"))

    assert _triples(findings.problems) == [
        (
            reasons.PLUGIN_BAD_DESCRIPTOR,
            CLASSIC,
            "the descriptor has a malformed \\uxxxx escape",
        )
    ]


def _not_full(quoted: str) -> str:
    return f"elasticsearch.version {quoted} is not a full version such as 8.15.0"


def _mismatch(declared: str, version: str) -> str:
    return (
        f"the plugin is built for Elasticsearch {declared}, "
        f"but the extension's version is {version}"
    )


@pytest.mark.parametrize(
    ("declared", "version", "code", "message"),
    [
        ("8.15.0", "8.15.0", None, None),
        ("8.15.0", None, None, None),
        ("9.1.0-SNAPSHOT", "9.1.0-SNAPSHOT", None, None),
        ("8.15", "8.15.0", reasons.PLUGIN_BAD_DESCRIPTOR, _not_full("'8.15'")),
        ("8.15", None, reasons.PLUGIN_BAD_DESCRIPTOR, _not_full("'8.15'")),
        ("8.*", "8.*", reasons.PLUGIN_BAD_DESCRIPTOR, _not_full("'8.*'")),
        ("\\ 8.15.0", "8.15.0", reasons.PLUGIN_BAD_DESCRIPTOR, _not_full("' 8.15.0'")),
        ("8.15.0 ", "8.15.0", reasons.PLUGIN_BAD_DESCRIPTOR, _not_full("'8.15.0 '")),
        ("8.15.0\\n", "8.15.0", reasons.PLUGIN_BAD_DESCRIPTOR, _not_full("'8.15.0\\n'")),
        ("8.15.\\u00e9", None, reasons.PLUGIN_BAD_DESCRIPTOR, _not_full("'8.15.\\xe9'")),
        ("8.15.0", "8.15.1", reasons.PLUGIN_VERSION_MISMATCH, _mismatch("'8.15.0'", "'8.15.1'")),
        ("8.15.0", "8.*", reasons.PLUGIN_VERSION_MISMATCH, _mismatch("'8.15.0'", "'8.*'")),
        ("8.15.0", "", reasons.PLUGIN_VERSION_MISMATCH, _mismatch("'8.15.0'", "''")),
    ],
)
def test_elasticsearch_version(
    declared: str, version: str | None, code: str | None, message: str | None
) -> None:
    findings = _descriptor_findings(_properties(elasticsearch_version=declared), version=version)

    expected = [] if code is None else [(code, CLASSIC, message)]
    assert _triples(findings.problems) == expected


@pytest.mark.parametrize(
    ("length", "shown"),
    [
        (63, "'" + "x" * 63 + "'"),
        (64, "'" + "x" * 64 + "'"),
        (65, "'" + "x" * 64 + "'..."),
        (66, "'" + "x" * 64 + "'..."),
        (300, "'" + "x" * 64 + "'..."),
    ],
)
def test_long_values_are_cut_at_64_characters(length: int, shown: str) -> None:
    findings = _descriptor_findings(_properties(elasticsearch_version="x" * length), version=None)

    assert _triples(findings.problems) == [
        (reasons.PLUGIN_BAD_DESCRIPTOR, CLASSIC, _not_full(shown))
    ]


def test_a_long_mismatched_version_is_cut_on_both_sides() -> None:
    declared = "8.15.0-" + "q" * 70
    version = "8.15.0-" + "r" * 57  # 64 characters: shown whole

    findings = _descriptor_findings(_properties(elasticsearch_version=declared), version=version)

    message = _mismatch("'8.15.0-" + "q" * 57 + "'...", f"'{version}'")
    assert _triples(findings.problems) == [(reasons.PLUGIN_VERSION_MISMATCH, CLASSIC, message)]


def test_descriptor_verdicts_end_to_end(tmp_path: Path) -> None:
    files = {STABLE: STABLE_DESCRIPTOR.replace(b"name=stable\n", b"name=\n"), "s.jar": jar_bytes()}

    report = _inspect(tmp_path, files, ExtensionInfo("plugin", "8.15.0"))

    assert _triples(report.problems) == [(reasons.PLUGIN_BAD_DESCRIPTOR, STABLE, _lacks("name"))]


# -- jars ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("names", "problems", "warnings"),
    [
        ((CLASSIC, "p.jar"), [], []),
        ((CLASSIC, "lib/", "lib/a.jar", "p.jar"), [], []),
        ((CLASSIC, "Plugin.java"), [(reasons.PLUGIN_NO_JARS, None, NO_JARS_MESSAGE)], []),
        ((CLASSIC, "jars.jar/"), [(reasons.PLUGIN_NO_JARS, None, NO_JARS_MESSAGE)], []),
        ((CLASSIC, "p.jar.txt"), [(reasons.PLUGIN_NO_JARS, None, NO_JARS_MESSAGE)], []),
        (
            (CLASSIC, "lib/", "lib/a.jar", "spi/b.jar"),
            [],
            [(WARNING_PLUGIN_JARS_NOT_AT_ROOT, "lib/a.jar", JARS_NOT_AT_ROOT_MESSAGE)],
        ),
        (
            (CLASSIC, "spi/b.jar", "lib/a.jar"),
            [],
            [(WARNING_PLUGIN_JARS_NOT_AT_ROOT, "spi/b.jar", JARS_NOT_AT_ROOT_MESSAGE)],
        ),
    ],
)
def test_jars(names: tuple[str, ...], problems: list[Triple], warnings: list[Triple]) -> None:
    findings = _plugin(_entries(*names), {0: DESCRIPTOR})

    assert _triples(findings.problems) == problems
    assert _triples(findings.warnings) == warnings


def test_jars_only_in_a_folder_warn_end_to_end(tmp_path: Path) -> None:
    files = {CLASSIC: DESCRIPTOR, "lib/p.jar": jar_bytes()}

    report = _inspect(tmp_path, files, ExtensionInfo("plugin", "8.15.0"))

    assert report.ok
    assert [w.to_dict() for w in report.warnings] == [
        {
            "code": "plugin.jars_not_at_root",
            "entry": "lib/p.jar",
            "message": JARS_NOT_AT_ROOT_MESSAGE,
        }
    ]


# -- bundles ------------------------------------------------------------------------


def _layout(first: str, more: int = 0) -> Triple:
    others = f" and {more} more" if more else ""
    return (
        WARNING_BUNDLE_LAYOUT,
        first,
        "outside the conventional bundle folders (dictionaries/, scripts/, ingest-geoip/, "
        f"truststore/, saml/ or a root cacerts file){others}; ECE accepts it, but "
        "Elasticsearch may not look there",
    )


@pytest.mark.parametrize(
    ("names", "warnings"),
    [
        (
            (
                "dictionaries/",
                "dictionaries/synonyms.txt",
                "scripts/a.painless",
                "ingest-geoip/My-City.mmdb",
                "truststore/ca.p12",
                "saml/idp.xml",
                "cacerts",
            ),
            [],
        ),
        (("synonyms.txt",), [_layout("synonyms.txt")]),
        (("cacerts/x",), [_layout("cacerts/x")]),
        (("sub/cacerts",), [_layout("sub/cacerts")]),
        (("dictionaries",), [_layout("dictionaries")]),
        (("config/", "config/a.txt"), [_layout("config/", 1)]),
        (("scripts/x", "a", "b", "dictionaries/y", "c"), [_layout("a", 2)]),
        ((None, "a"), [_layout("a")]),
    ],
)
def test_bundle_layout_warning(names: tuple[str | None, ...], warnings: list[Triple]) -> None:
    findings = _bundle(*names)

    assert findings.problems == []
    assert _triples(findings.warnings) == warnings


def _built_in(basename: str) -> str:
    return f"{basename} is the name of a database built into Elasticsearch; rename it"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("ingest-geoip/My-City.mmdb", None),
        ("ingest-geoip/My-Country.mmdb", None),
        ("ingest-geoip/My-ASN.mmdb", None),
        ("ingest-geoip/sub/My-ASN.mmdb", None),
        ("ingest-geoip/GeoLite2-City.mmdb/", None),  # a folder
        ("ingest-geoip/notes.txt", None),
        ("dictionaries/GeoLite2-City.mmdb", None),
        ("ingest-geoip/GeoLite2-City.mmdb", _built_in("GeoLite2-City.mmdb")),
        ("ingest-geoip/GeoLite2-Country.mmdb", _built_in("GeoLite2-Country.mmdb")),
        ("ingest-geoip/GeoLite2-ASN.mmdb", _built_in("GeoLite2-ASN.mmdb")),
        ("ingest-geoip/sub/GeoLite2-City.mmdb", _built_in("GeoLite2-City.mmdb")),
        ("ingest-geoip/-City.mmdb", GEOIP_SUFFIX_MESSAGE),
        ("ingest-geoip/-ASN.mmdb", GEOIP_SUFFIX_MESSAGE),
        ("ingest-geoip/my-database.mmdb", GEOIP_SUFFIX_MESSAGE),
        ("ingest-geoip/My-city.mmdb", GEOIP_SUFFIX_MESSAGE),
        ("ingest-geoip/sub-City.mmdb/x.mmdb", GEOIP_SUFFIX_MESSAGE),
    ],
)
def test_geoip_names(name: str, message: str | None) -> None:
    findings = _bundle(name)

    expected = [] if message is None else [(reasons.BUNDLE_BAD_GEOIP_NAME, name, message)]
    assert _triples(findings.problems) == expected


def test_geoip_names_are_checked_after_an_undecodable_name() -> None:
    findings = _bundle(None, "ingest-geoip/GeoLite2-ASN.mmdb", "ingest-geoip/x.mmdb")

    assert _triples(findings.problems) == [
        (
            reasons.BUNDLE_BAD_GEOIP_NAME,
            "ingest-geoip/GeoLite2-ASN.mmdb",
            _built_in("GeoLite2-ASN.mmdb"),
        ),
        (reasons.BUNDLE_BAD_GEOIP_NAME, "ingest-geoip/x.mmdb", GEOIP_SUFFIX_MESSAGE),
    ]


def test_bundle_verdicts_end_to_end(tmp_path: Path) -> None:
    files = {"ingest-geoip/GeoLite2-City.mmdb": b"\0", "notes.txt": b"n", "more.txt": b"m"}

    report = _inspect(tmp_path, files, ExtensionInfo("bundle", "8.*"))

    assert _triples(report.problems) == [
        (
            reasons.BUNDLE_BAD_GEOIP_NAME,
            "ingest-geoip/GeoLite2-City.mmdb",
            _built_in("GeoLite2-City.mmdb"),
        )
    ]
    assert _triples(report.warnings) == [_layout("notes.txt", 1)]
