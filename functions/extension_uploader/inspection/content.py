"""What a plugin or a bundle must contain for ECE and Elasticsearch to use it.

These rules see only names and, for plugins, the descriptor's bytes: the archive's
safety has been judged already. They encode what Elasticsearch's plugin installer
and ECE's bundle handling do (see the ECE reference notes), so that an archive that
would fail at deployment time is refused at upload time with a precise reason.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from extension_uploader import reasons

from .properties import PropertiesError, parse_properties
from .report import (
    WARNING_BUNDLE_LAYOUT,
    WARNING_PLUGIN_JARS_NOT_AT_ROOT,
    WARNING_STREAMED_STORED,
    Findings,
)
from .structure import FLAG_DATA_DESCRIPTOR, STORED, Entry

CLASSIC_DESCRIPTOR = "plugin-descriptor.properties"
STABLE_DESCRIPTOR = "stable-plugin-descriptor.properties"
DESCRIPTOR_NAMES = (CLASSIC_DESCRIPTOR, STABLE_DESCRIPTOR)
LEGACY_PREFIX = "elasticsearch/"

#: A descriptor is a dozen short lines; anything bigger is not one, and reading it
#: is bounded by this many bytes.
MAX_DESCRIPTOR_BYTES = 64 * 1024

# Elasticsearch refuses to install a plugin whose descriptor lacks one of these
# (PluginDescriptor.readFromProperties, 7.x to 9.x); "classname" also, for classic
# plugins that are not of type "bootstrap" (stable plugins are found by scanning).
_REQUIRED = ("name", "description", "version", "elasticsearch.version", "java.version")
_NON_EMPTY = ("name", "java.version")
# What Version.fromString accepts: major.minor.revision, maybe a qualifier.
_ES_VERSION = re.compile(r"\d+\.\d+\.\d+(-[A-Za-z0-9.]+)?\Z")

BUNDLE_FOLDERS = ("dictionaries/", "scripts/", "ingest-geoip/", "truststore/", "saml/")
BUNDLE_ROOT_FILES = ("cacerts",)
GEOIP_FOLDER = "ingest-geoip/"
GEOIP_SUFFIXES = ("-City.mmdb", "-Country.mmdb", "-ASN.mmdb")
GEOIP_BUILT_IN = ("GeoLite2-City.mmdb", "GeoLite2-Country.mmdb", "GeoLite2-ASN.mmdb")


def descriptor_entries(entries: Sequence[Entry]) -> list[Entry]:
    """Files at the archive root named like a plugin descriptor (either kind)."""
    return [entry for entry in entries if not entry.is_dir and entry.name in DESCRIPTOR_NAMES]


def check_plugin(
    entries: Sequence[Entry],
    descriptors: Mapping[int, bytes | None],
    version: str | None,
    findings: Findings,
) -> None:
    """Plugin rules. ``descriptors`` maps a descriptor entry's index to its verified
    bytes, or None when it could not be read (its problem is reported elsewhere)."""
    legacy = [entry for entry in entries if entry.name and entry.name.startswith(LEGACY_PREFIX)]
    if legacy:
        # The installer refuses any entry under "elasticsearch/" (the pre-6.3 layout).
        findings.add(
            reasons.PLUGIN_LEGACY_LAYOUT,
            legacy[0].display,
            "the plugin uses the legacy 'elasticsearch/' folder; "
            "its files must be at the root of the zip",
        )
    found = descriptor_entries(entries)
    if not found and not legacy:
        findings.add(
            reasons.PLUGIN_MISSING_DESCRIPTOR,
            None,
            f"no {CLASSIC_DESCRIPTOR} or {STABLE_DESCRIPTOR} at the root of the zip",
        )
    elif len(found) > 1:
        findings.add(
            reasons.PLUGIN_MULTIPLE_DESCRIPTORS,
            found[1].display,
            f"the zip holds {len(found)} plugin descriptors; exactly one is allowed",
        )
    elif found and found[0].index in descriptors:
        _check_descriptor(found[0], descriptors[found[0].index], version, findings)
    if not legacy:
        _check_jars(entries, findings)
    if streamed := streamed_stored_entries(entries):
        findings.add(
            reasons.ZIP_UNSUPPORTED_METHOD,
            streamed[0].display,
            "stored with its sizes after the data (a data descriptor, as a zip written to "
            "a stream has): Elasticsearch's plugin installer cannot read that entry; "
            "write the zip to a file, or deflate the entry",
        )


def _check_descriptor(
    entry: Entry, data: bytes | None, version: str | None, findings: Findings
) -> None:
    if data is None:
        if entry.file_size > MAX_DESCRIPTOR_BYTES:
            findings.add(
                reasons.PLUGIN_BAD_DESCRIPTOR,
                entry.display,
                f"the descriptor is larger than {MAX_DESCRIPTOR_BYTES // 1024} KiB",
            )
        return
    try:
        properties = parse_properties(data)
    except PropertiesError as exc:
        findings.add(reasons.PLUGIN_BAD_DESCRIPTOR, entry.display, f"the descriptor has a {exc}")
        return
    bootstrap = properties.get("type", "").lower() == "bootstrap"
    classic = entry.name == CLASSIC_DESCRIPTOR and not bootstrap
    required = _REQUIRED + (("classname",) if classic else ())
    missing = [key for key in required if key not in properties]
    empty = [key for key in _NON_EMPTY if key in properties and not properties[key]]
    if not properties.get("elasticsearch.version", "x").strip():
        empty.append("elasticsearch.version")
    if missing or empty:
        keys = ", ".join(missing + empty)
        findings.add(
            reasons.PLUGIN_BAD_DESCRIPTOR,
            entry.display,
            f"the descriptor lacks or leaves empty: {keys}",
        )
        return
    declared = properties["elasticsearch.version"]
    if not _ES_VERSION.match(declared):
        findings.add(
            reasons.PLUGIN_BAD_DESCRIPTOR,
            entry.display,
            f"elasticsearch.version {_quote(declared)} is not a full version such as 8.15.0",
        )
    elif version is not None and declared != version:
        findings.add(
            reasons.PLUGIN_VERSION_MISMATCH,
            entry.display,
            f"the plugin is built for Elasticsearch {_quote(declared)}, "
            f"but the extension's version is {_quote(version)}",
        )


def _check_jars(entries: Sequence[Entry], findings: Findings) -> None:
    jars = [entry for entry in entries if not entry.is_dir and (entry.name or "").endswith(".jar")]
    if not jars:
        findings.add(reasons.PLUGIN_NO_JARS, None, "the plugin contains no .jar file")
    elif not any("/" not in (entry.name or "") for entry in jars):
        # Elasticsearch loads the jars at the plugin's root; jars only in sub-folders
        # are legitimate for some layouts (meta-plugins, spi/) but often a mistake.
        findings.warn(
            WARNING_PLUGIN_JARS_NOT_AT_ROOT,
            jars[0].display,
            "no .jar at the root of the zip; Elasticsearch loads the jars found there",
        )


def streamed_stored_entries(entries: Sequence[Entry]) -> list[Entry]:
    """Stored entries with a data descriptor. java.util.zip.ZipInputStream, which the
    plugin installer reads with, refuses them: "only DEFLATED entries can have EXT
    descriptor". CPython's zipfile writes them when its output cannot seek."""
    return [e for e in entries if e.method == STORED and e.flags & FLAG_DATA_DESCRIPTOR]


def check_bundle(entries: Sequence[Entry], findings: Findings) -> None:
    """Bundle rules: GeoIP database names, and warnings for unconventional layouts and
    for entries a streaming Java reader would refuse."""
    if streamed := streamed_stored_entries(entries):
        findings.warn(
            WARNING_STREAMED_STORED,
            streamed[0].display,
            "stored with a data descriptor: java.util.zip.ZipInputStream cannot read it",
        )
    unconventional = 0
    first_unconventional: Entry | None = None
    for entry in entries:
        name = entry.name
        if name is None:
            continue
        if name.startswith(GEOIP_FOLDER) and name.endswith(".mmdb") and not entry.is_dir:
            _check_geoip_name(entry, name.rsplit("/", 1)[-1], findings)
        if not _conventional(name):
            unconventional += 1
            first_unconventional = first_unconventional or entry
    if first_unconventional is not None:
        others = f" and {unconventional - 1} more" if unconventional > 1 else ""
        findings.warn(
            WARNING_BUNDLE_LAYOUT,
            first_unconventional.display,
            f"outside the conventional bundle folders ({', '.join(BUNDLE_FOLDERS)} "
            f"or a root cacerts file){others}; ECE accepts it, but Elasticsearch may "
            "not look there",
        )


def _conventional(name: str) -> bool:
    return name.startswith(BUNDLE_FOLDERS) or name in BUNDLE_ROOT_FILES


def _check_geoip_name(entry: Entry, basename: str, findings: Findings) -> None:
    if basename in GEOIP_BUILT_IN:
        findings.add(
            reasons.BUNDLE_BAD_GEOIP_NAME,
            entry.display,
            f"{basename} is the name of a database built into Elasticsearch; rename it",
        )
    elif not basename.endswith(GEOIP_SUFFIXES) or basename in GEOIP_SUFFIXES:
        findings.add(
            reasons.BUNDLE_BAD_GEOIP_NAME,
            entry.display,
            "a GeoIP database name must end in -City.mmdb, -Country.mmdb or -ASN.mmdb",
        )


def _quote(value: str) -> str:
    """A descriptor value for a message: escaped and short (it comes from the archive)."""
    text = value[:64].encode("unicode_escape").decode("ascii")
    return f"'{text}'" + ("..." if len(value) > 64 else "")
