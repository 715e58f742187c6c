# One case per line, so that the corpus reads as a table.
# ruff: noqa: E501
"""The corpus: hostile, malformed and legitimate archives, each with its verdict.

Each case is built in memory (hand-crafted with ``zipcraft`` or written with
``zipfile``) or read from tests/fixtures/zips; the table says what inspection must
answer: ``None`` for accepted, else the reason code of the verdict.
"""

from __future__ import annotations

import io
import stat
import struct
import unicodedata
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from extension_uploader import reasons
from extension_uploader.inspection import ExtensionInfo, Limits

from .zipcraft import (
    DEFLATED,
    DEFLATED64,
    STORED,
    U32,
    Member,
    craft,
    deflate64_bomb,
    deflate64_bomb_size,
    end_record,
    quoted_overlap,
    raw_deflate,
    zip64_extra,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "zips"
MIB = 1024 * 1024

DESCRIPTOR = (
    b"description=Example plugin\nversion=1.0.0\nname=example\n"
    b"classname=org.example.Plugin\njava.version=17\nelasticsearch.version=8.15.0\n"
)
STABLE_DESCRIPTOR = (
    b"description=Stable example\nversion=1.0.0\nname=stable\n"
    b"java.version=17\nelasticsearch.version=8.15.0\n"
)
PLUGIN = ExtensionInfo("plugin", "8.15.0")
BUNDLE = ExtensionInfo("bundle", "8.*")


@dataclass(frozen=True)
class Case:
    id: str
    build: Callable[[], bytes]
    code: str | None
    limits: Limits = field(default_factory=Limits)
    extension: ExtensionInfo | None = None


def fixture(name: str) -> Callable[[], bytes]:
    return (FIXTURES / name).read_bytes


def jar_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as jar:
        jar.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")
        jar.writestr("org/example/Plugin.class", bytes(range(256)) * 4)
    return buffer.getvalue()


def zipped(files: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A well-formed archive written by zipfile."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def plugin(**extra: bytes) -> bytes:
    files = {"plugin-descriptor.properties": DESCRIPTOR, "example.jar": jar_bytes()}
    files.update(extra)
    return zipped(files)


def members(*items: Member, **options: object) -> Callable[[], bytes]:
    return lambda: craft(items, **options)  # type: ignore[arg-type]


def ok_file(name: str | bytes = "file.txt", data: bytes = b"hello\n", **kw: object) -> Member:
    return Member(name, data, **kw)  # type: ignore[arg-type]


def mutated(build: Callable[[], bytes], change: Callable[[bytearray], None]) -> Callable[[], bytes]:
    def make() -> bytes:
        data = bytearray(build())
        change(data)
        return bytes(data)

    return make


def _flip_data_byte(data: bytearray) -> None:
    # The data of the single stored entry "file.txt" (30 + 8 bytes of header).
    data[38] ^= 0xFF


class Pipe(io.RawIOBase):
    """An output zipfile cannot seek in, like a pipe: it writes data descriptors."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.chunks.append(bytes(data))
        return len(data)

    @property
    def data(self) -> bytes:
        return b"".join(self.chunks)


def _unseekable_zip() -> bytes:
    """zipfile writing to a pipe-like stream: data descriptors with signatures."""

    pipe = Pipe()
    with zipfile.ZipFile(pipe, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in (("a.txt", b"streamed " * 1000), ("b/c.txt", b"more\n")):
            with archive.open(name, "w") as entry:
                entry.write(data)
    return pipe.data


def _unseekable_zip64_empty() -> bytes:
    """zipfile writing to a pipe with force_zip64: an empty file gets a zip64 extra in
    its local header and a 24-byte data descriptor (CPython, unzip, 7-Zip read it)."""

    pipe = Pipe()
    with zipfile.ZipFile(pipe, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("empty.txt", "w", force_zip64=True):
            pass
        with archive.open("after.txt", "w", force_zip64=True) as entry:
            entry.write(b"after the empty one\n")
        with archive.open("empty-too.txt", "w", force_zip64=True):
            pass
    return pipe.data


def _empty_zip64_descriptor(payload: bytes = b"", **kw: object) -> Member:
    return Member("empty.txt", b"", payload=payload, descriptor=True, zip64=True, **kw)  # type: ignore[arg-type]


def _forced_zip64() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("big-header.txt", "w", force_zip64=True) as entry:
            entry.write(b"zip64 sizes for a small file\n" * 100)
        archive.writestr("small.txt", b"x")
    return buffer.getvalue()


def _two_end_records() -> bytes:
    inner = craft([ok_file()])
    fake = end_record(0, 0, len(inner))
    # The real end record's comment is a complete, valid-looking second end record.
    return inner[:-2] + struct.pack("<H", len(fake)) + fake


def _comment_with_signature() -> bytes:
    return craft([ok_file()], comment=b"look: PK\x05\x06 inside")


def _zip64_many_entries(count: int) -> Callable[[], bytes]:
    """A zip64 end record announcing ``count`` entries (the directory is not there)."""

    def build() -> bytes:
        body = craft([ok_file()])
        eocd_at = body.rfind(b"PK\x05\x06")
        size = 46 * count
        tail = struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, size, 0)
        tail += struct.pack("<4sLQL", b"PK\x06\x07", 0, eocd_at, 1)
        return body[:eocd_at] + tail + end_record(0xFFFF, U32, U32)

    return build


def _zip64_locator_to_garbage() -> bytes:
    body = craft([ok_file()])
    eocd_at = body.rfind(b"PK\x05\x06")
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, 3, 1)
    cd_size, cd_offset = struct.unpack_from("<2L", body, eocd_at + 12)
    return body[:eocd_at] + locator + end_record(1, cd_size, cd_offset)


def _full_overlap() -> bytes:
    """Two directory records for one local header (the simplest overlap)."""
    archive = craft([Member("a.txt", b"shared data\n")])
    central_at = archive.find(b"PK\x01\x02")
    record = archive[central_at : archive.rfind(b"PK\x05\x06")]
    directory = record + record.replace(b"a.txt", b"b.txt")
    return archive[:central_at] + directory + end_record(2, len(directory), central_at)


def _descriptor_entry(**kw: object) -> Member:
    return Member("streamed.txt", b"descriptor data\n" * 50, descriptor=True, **kw)  # type: ignore[arg-type]


def _unicode_path(raw: bytes, unicode_name: str) -> bytes:
    """An Info-ZIP Unicode Path extra field (0x7075) for ``raw``."""
    data = b"\x01" + struct.pack("<L", zlib.crc32(raw)) + unicode_name.encode()
    return struct.pack("<2H", 0x7075, len(data)) + data


# An empty extended-timestamp field, then a "field" claiming 13,121 bytes in a
# 24-byte block: CPython, Rust's zip and Java's ZipFile refuse it, unzip skips it.
OVERRUNNING_EXTRA = struct.pack("<4H", 0x5455, 0, 0x3341, 13121) + b"\0" * 16


def _geoip_bundle(name: str) -> Callable[[], bytes]:
    return lambda: zipped({f"ingest-geoip/{name}": b"\x00mmdb"})


def _large_descriptor() -> bytes:
    return plugin(**{"plugin-descriptor.properties": DESCRIPTOR + b"#" * (70 * 1024) + b"\n"})


HOSTILE: list[Case] = [
    # -- not a zip, truncated, junk around the archive --------------------------------
    Case("empty-file", lambda: b"", reasons.ZIP_NOT_A_ZIP),
    Case("text-file", lambda: b"just some text, not an archive\n" * 10, reasons.ZIP_NOT_A_ZIP),
    Case("truncated-half", lambda: plugin()[: len(plugin()) // 2], reasons.ZIP_CORRUPT),
    Case("truncated-end-record", lambda: craft([ok_file()])[:-3], reasons.ZIP_CORRUPT),
    Case("data-after-end", members(ok_file(), suffix=b"appended payload"), reasons.ZIP_CORRUPT),
    Case("data-before-stub", lambda: b"#!/bin/sh\nexit 0\n" + craft([ok_file()]), reasons.ZIP_CORRUPT),
    Case("data-before-adjusted", members(ok_file(), prefix=b"MZ self-extractor stub"), reasons.ZIP_CORRUPT),
    Case("zero-gap-between-entries", members(ok_file("a"), ok_file("b"), gap=b"\0" * 16), reasons.ZIP_CORRUPT),
    Case("padding-before-directory-too-long", members(ok_file("a"), padding=b"\0" * 4097), reasons.ZIP_CORRUPT),
    Case("padding-before-directory-not-zero", members(ok_file("a"), padding=b"\0" * 15 + b"\1"), reasons.ZIP_CORRUPT),
    Case("padding-before-directory-hides-header", members(ok_file("a"), padding=craft([ok_file("hidden.sh")]).split(b"PK\x01\x02")[0]), reasons.ZIP_CORRUPT),
    Case("gap-between-entries", members(ok_file("a"), ok_file("b"), gap=b"hidden!"), reasons.ZIP_CORRUPT),
    Case("comment-with-eocd-signature", _comment_with_signature, reasons.ZIP_CORRUPT),
    Case("two-end-records", _two_end_records, reasons.ZIP_CORRUPT),
    Case("multi-disk", members(ok_file(), end={"disk": 1, "cd_disk": 1}), reasons.ZIP_CORRUPT),
    Case("count-larger-than-directory", members(ok_file(), end={"entries": 2, "disk_entries": 2}), reasons.ZIP_CORRUPT),
    Case("directory-size-too-small", members(ok_file(), ok_file("b"), end={"cd_size": 60}), reasons.ZIP_CORRUPT),
    Case("directory-offset-wrong", members(ok_file(), ok_file("b"), end={"cd_offset": 10}), reasons.ZIP_CORRUPT),
    Case("zip64-locator-to-garbage", _zip64_locator_to_garbage, reasons.ZIP_CORRUPT),
    Case("zip64-sizes-missing", members(ok_file(cd={"usize": U32})), reasons.ZIP_CORRUPT),
    # -- local headers that disagree with the central directory -----------------------
    Case("local-name-differs", members(ok_file("good.txt", local={"name": b"evil.txt"})), reasons.ZIP_CORRUPT),
    Case("local-method-differs", members(ok_file(method=STORED, local={"method": DEFLATED})), reasons.ZIP_CORRUPT),
    Case("local-crc-differs", members(ok_file(local={"crc": 1234})), reasons.ZIP_CORRUPT),
    Case("local-size-differs", members(ok_file(local={"usize": 99})), reasons.ZIP_CORRUPT),
    Case("local-offset-beyond-file", members(ok_file(cd={"offset": 10**6})), reasons.ZIP_CORRUPT),
    Case("descriptor-disagrees", members(_descriptor_entry(cd={"crc": 0xDEAD})), reasons.ZIP_CORRUPT),
    Case("descriptor-missing", members(ok_file(flags=0x08, local={"crc": 0})), reasons.ZIP_CORRUPT),
    Case("descriptor-zip64-without-zip64-extra", members(Member("empty.txt", b"", payload=b"", descriptor=True, descriptor_zip64=True), ok_file("after.txt")), reasons.ZIP_CORRUPT),
    Case("descriptor-narrow-despite-zip64-extra", members(_empty_zip64_descriptor(descriptor_zip64=False), ok_file("after.txt")), reasons.ZIP_CORRUPT),
    Case("central-extra-overruns", members(ok_file(extra=OVERRUNNING_EXTRA, local_extra=b"")), reasons.ZIP_CORRUPT),
    Case("local-extra-overruns", members(ok_file(extra=b"", local_extra=OVERRUNNING_EXTRA)), reasons.ZIP_CORRUPT),
    Case("central-extra-last-field-overruns", members(ok_file(extra=b"UT\x05\x00\x03\x00\x00\x00\x00" + struct.pack("<2H", 0x7875, 11) + b"\x01\x04")), reasons.ZIP_CORRUPT),
    # -- data that does not match its headers -----------------------------------------
    Case("bad-crc", mutated(members(ok_file(method=STORED)), _flip_data_byte), reasons.ZIP_CORRUPT),
    Case("stored-sizes-differ", members(ok_file(method=STORED, usize=3, payload=b"hello\n")), reasons.ZIP_CORRUPT),
    Case("declared-size-too-big", members(ok_file(usize=500, crc=zlib.crc32(b"hello\n"))), reasons.ZIP_CORRUPT),
    Case("truncated-deflate-stream", members(ok_file(data=b"x" * 5000, payload=raw_deflate(b"x" * 5000)[:-2])), reasons.ZIP_CORRUPT),
    Case("garbage-after-deflate-stream", members(ok_file(payload=raw_deflate(b"hello\n") + b"hidden")), reasons.ZIP_CORRUPT),
    Case("invalid-deflate-data", members(ok_file(payload=b"\xff" * 20)), reasons.ZIP_CORRUPT),
    Case("invalid-deflate64-data", members(Member("d64.bin", b"x", method=DEFLATED64, payload=b"\xff" * 20)), reasons.ZIP_CORRUPT),
    Case("empty-entry-bad-crc", members(ok_file("empty.txt", b"", payload=b"", crc=7)), reasons.ZIP_CORRUPT),
    Case("directory-with-content", members(Member("dir/", b"secret", method=STORED)), reasons.ZIP_CORRUPT),
    # -- too many entries -------------------------------------------------------------
    Case("eocd-claims-65535-entries", lambda: end_record(0xFFFF, 46 * 0xFFFF, 0), reasons.ZIP_TOO_MANY_ENTRIES),
    Case("zip64-claims-200k-entries", _zip64_many_entries(200_000), reasons.ZIP_TOO_MANY_ENTRIES),
    Case("zip64-claims-2-40-entries", _zip64_many_entries(2**40), reasons.ZIP_TOO_MANY_ENTRIES),
    Case("eleven-entries-limit-ten", members(*(ok_file(f"f{i}") for i in range(11))), reasons.ZIP_TOO_MANY_ENTRIES, Limits(max_entries=10)),
    # -- bombs ------------------------------------------------------------------------
    Case("ratio-bomb", lambda: zipped({"zeros.bin": b"\0" * (8 * MIB)}), reasons.ZIP_BOMB),
    Case("size-lies-small", members(ok_file("lie.bin", b"\0" * MIB, usize=1000)), reasons.ZIP_BOMB),
    Case("total-above-limit", lambda: zipped({f"f{i}": bytes(range(256)) * 1600 for i in range(3)}), reasons.ZIP_BOMB, Limits(max_uncompressed_bytes=1_000_000)),
    Case("zip64-absurd-size", members(ok_file(zip64=True, usize=2**60)), reasons.ZIP_BOMB),
    Case("deflate64-bomb-lying", members(Member("d64.bin", method=DEFLATED64, payload=deflate64_bomb(2000), usize=5000, crc=0)), reasons.ZIP_BOMB),
    Case("deflate64-bomb-declared", members(Member("d64.bin", method=DEFLATED64, payload=deflate64_bomb(2000), usize=deflate64_bomb_size(2000), crc=0)), reasons.ZIP_BOMB),
    # -- overlaps ---------------------------------------------------------------------
    Case("quoted-overlap", lambda: quoted_overlap(20, raw_deflate(b"\0" * 50_000)), reasons.ZIP_OVERLAPPING_ENTRIES),
    Case("full-overlap", _full_overlap, reasons.ZIP_OVERLAPPING_ENTRIES),
    Case("data-into-directory", members(ok_file(cd={"csize": 500}, local={"csize": 500})), reasons.ZIP_OVERLAPPING_ENTRIES),
    Case("header-inside-directory", members(ok_file("a"), ok_file("b", cd={"offset": 100})), reasons.ZIP_OVERLAPPING_ENTRIES),
    # -- unsafe paths and bad names ---------------------------------------------------
    Case("dot-dot", members(ok_file("../evil.sh")), reasons.ZIP_UNSAFE_PATH),
    Case("dot-dot-deep", members(ok_file("scripts/../../evil.sh")), reasons.ZIP_UNSAFE_PATH),
    Case("absolute", members(ok_file("/etc/cron.d/evil")), reasons.ZIP_UNSAFE_PATH),
    Case("backslash", members(ok_file("a\\..\\..\\evil")), reasons.ZIP_UNSAFE_PATH),
    Case("drive-letter", members(ok_file("C:/Windows/evil.dll")), reasons.ZIP_UNSAFE_PATH),
    Case("unc-path", members(ok_file("//server/share/evil")), reasons.ZIP_UNSAFE_PATH),
    Case("nul-in-name", members(ok_file("good.txt\x00.jar")), reasons.ZIP_BAD_NAME),
    Case("control-char", members(ok_file("esc\x1b[31m.txt")), reasons.ZIP_BAD_NAME),
    Case("empty-name", members(ok_file("")), reasons.ZIP_BAD_NAME),
    Case("name-too-long", members(ok_file("d/" * 2100 + "f")), reasons.ZIP_BAD_NAME),
    Case("component-too-long", members(ok_file("x" * 256)), reasons.ZIP_BAD_NAME),
    Case("bad-utf8-flagged", members(ok_file(b"caf\xe9.txt", flags=0x800)), reasons.ZIP_BAD_NAME),
    Case("cp437-name", members(ok_file(b"r\x82sum\x82.txt")), reasons.ZIP_BAD_NAME),
    Case("empty-segment", members(ok_file("a//b.txt")), reasons.ZIP_BAD_NAME),
    Case("dot-segment", members(ok_file("./a.txt")), reasons.ZIP_BAD_NAME),
    Case("backslash-powershell", members(ok_file(b"lib\\example.jar", create_system=0, external_attr=0x20)), reasons.ZIP_UNSAFE_PATH),
    Case("non-utf8-with-unicode-path", members(ok_file(b"r\x82sum\x82.txt", extra=_unicode_path(b"r\x82sum\x82.txt", "r\u00e9sum\u00e9.txt"))), reasons.ZIP_BAD_NAME),
    Case("non-utf8-with-stale-unicode-path", members(ok_file(b"r\x82sum\x82.txt", extra=_unicode_path(b"other", "r\u00e9sum\u00e9.txt"))), reasons.ZIP_BAD_NAME),
    Case("non-utf8-with-unicode-path-traversal", members(ok_file(b"r\x82sum\x82.txt", extra=_unicode_path(b"r\x82sum\x82.txt", "../evil.sh"))), reasons.ZIP_UNSAFE_PATH),
    Case("unicode-path-field-differs", members(ok_file("good.txt", extra=_unicode_path(b"good.txt", "../evil.txt"))), reasons.ZIP_BAD_NAME),
    # -- duplicates -------------------------------------------------------------------
    Case("exact-duplicate", members(ok_file("a.txt"), ok_file("a.txt", b"other")), reasons.ZIP_DUPLICATE_ENTRY),
    Case("nfc-duplicate", members(ok_file(unicodedata.normalize("NFC", "café.txt")), ok_file(unicodedata.normalize("NFD", "café.txt"))), reasons.ZIP_DUPLICATE_ENTRY),
    Case("case-duplicate", members(ok_file("README.txt"), ok_file("readme.TXT")), reasons.ZIP_DUPLICATE_ENTRY),
    Case("file-and-directory-prefix", members(ok_file("a"), ok_file("a/b")), reasons.ZIP_DUPLICATE_ENTRY),
    Case("file-and-directory-entry", members(ok_file("lib"), Member("lib/", method=STORED)), reasons.ZIP_DUPLICATE_ENTRY),
    # -- links and special files ------------------------------------------------------
    Case("symlink", members(ok_file("link", b"/etc/passwd", external_attr=(stat.S_IFLNK | 0o777) << 16)), reasons.ZIP_LINK_OR_SPECIAL),
    Case("fifo", members(ok_file("pipe", b"", external_attr=(stat.S_IFIFO | 0o644) << 16)), reasons.ZIP_LINK_OR_SPECIAL),
    Case("char-device", members(ok_file("dev", b"", external_attr=(stat.S_IFCHR | 0o644) << 16)), reasons.ZIP_LINK_OR_SPECIAL),
    Case("symlink-7zip-windows", members(ok_file("link", b"target", create_system=0, external_attr=(stat.S_IFLNK | 0o777) << 16 | 0x8020)), reasons.ZIP_LINK_OR_SPECIAL),
    Case("setuid", members(ok_file("run.sh", external_attr=(stat.S_IFREG | 0o4755) << 16)), reasons.ZIP_LINK_OR_SPECIAL),
    Case("setgid-file", members(ok_file("run.sh", external_attr=(stat.S_IFREG | 0o2755) << 16)), reasons.ZIP_LINK_OR_SPECIAL),
    Case("setuid-directory", members(Member("bin/", method=STORED, external_attr=(stat.S_IFDIR | 0o4755) << 16), ok_file("bin/x")), reasons.ZIP_LINK_OR_SPECIAL),
    Case("setgid-directory-mode-on-a-file-name", members(ok_file("notdir", external_attr=(stat.S_IFDIR | 0o2755) << 16)), reasons.ZIP_LINK_OR_SPECIAL),
    Case("sticky-directory", members(Member("tmp/", method=STORED, external_attr=(stat.S_IFDIR | 0o1777) << 16), ok_file("tmp/x")), reasons.ZIP_LINK_OR_SPECIAL),
    # -- encryption and methods -------------------------------------------------------
    Case("zipcrypto", members(ok_file(flags=0x01, payload=b"\x00" * 12 + b"cipher")), reasons.ZIP_ENCRYPTED),
    Case("aes", members(ok_file(method=99, payload=b"aes-ciphertext", extra=b"\x01\x99\x07\x00\x02\x00AE\x03\x08\x00")), reasons.ZIP_ENCRYPTED),
    Case("zipcrypto-stored-small", members(ok_file(method=STORED, flags=0x01, payload=b"\x5a" * 12 + b"cipher")), reasons.ZIP_ENCRYPTED),
    Case("zipcrypto-stored-descriptor", members(ok_file(method=STORED, flags=0x01, payload=b"\x5a" * 12 + b"cipher", descriptor=True), ok_file("after.txt")), reasons.ZIP_ENCRYPTED),
    Case("zipcrypto-stored-descriptor-no-signature", members(ok_file(method=STORED, flags=0x01, payload=b"\x5a" * 12 + b"cipher", descriptor=True, descriptor_signature=False)), reasons.ZIP_ENCRYPTED),
    Case("zipcrypto-deflated-small", members(ok_file(flags=0x01, payload=b"\x5a" * 12 + raw_deflate(b"hello\n"))), reasons.ZIP_ENCRYPTED),
    Case("zipcrypto-large-declared", members(ok_file("big.bin", flags=0x01, payload=b"\x5a" * 40, usize=4 * MIB)), reasons.ZIP_ENCRYPTED),
    Case("aes-stored-sizes", members(ok_file(method=99, payload=b"s" * 16 + b"aes" + b"m" * 10, crc=0, extra=b"\x01\x99\x07\x00\x02\x00AE\x03\x00\x00")), reasons.ZIP_ENCRYPTED),
    Case("aes-extra-only", members(ok_file(payload=b"aes-ciphertext", crc=0, extra=b"\x01\x99\x07\x00\x02\x00AE\x03\x08\x00")), reasons.ZIP_ENCRYPTED),
    Case("strong-encryption-stored", members(ok_file(method=STORED, flags=0x41, payload=b"\x00" * 40, crc=0)), reasons.ZIP_ENCRYPTED),
    Case("strong-encryption", members(ok_file(flags=0x41, payload=b"cipher")), reasons.ZIP_ENCRYPTED),
    Case("bzip2", members(ok_file(method=12, payload=b"BZh91AY&SY")), reasons.ZIP_UNSUPPORTED_METHOD),
    Case("lzma", members(ok_file(method=14, payload=b"\x09\x14\x05\x00")), reasons.ZIP_UNSUPPORTED_METHOD),
    Case("deflate64-rejected", members(Member("d.txt", b"deflate64 " * 100, method=DEFLATED64)), reasons.ZIP_UNSUPPORTED_METHOD, Limits(deflate64_policy="reject")),
    # -- no files ---------------------------------------------------------------------
    Case("empty-archive", lambda: end_record(0, 0, 0), reasons.ZIP_NO_FILES),
    Case("only-directories", members(Member("a/", method=STORED), Member("a/b/", method=STORED)), reasons.ZIP_NO_FILES),
    # -- plugin rules -----------------------------------------------------------------
    Case("plugin-no-descriptor", lambda: zipped({"example.jar": jar_bytes()}), reasons.PLUGIN_MISSING_DESCRIPTOR, extension=PLUGIN),
    Case("plugin-descriptor-in-folder", lambda: zipped({"sub/plugin-descriptor.properties": DESCRIPTOR, "example.jar": jar_bytes()}), reasons.PLUGIN_MISSING_DESCRIPTOR, extension=PLUGIN),
    Case("plugin-two-descriptors", lambda: plugin(**{"stable-plugin-descriptor.properties": STABLE_DESCRIPTOR}), reasons.PLUGIN_MULTIPLE_DESCRIPTORS, extension=PLUGIN),
    Case("plugin-legacy-layout", lambda: zipped({"elasticsearch/plugin-descriptor.properties": DESCRIPTOR, "elasticsearch/example.jar": jar_bytes()}), reasons.PLUGIN_LEGACY_LAYOUT, extension=PLUGIN),
    Case("plugin-no-es-version", lambda: plugin(**{"plugin-descriptor.properties": DESCRIPTOR.replace(b"elasticsearch.version=8.15.0\n", b"")}), reasons.PLUGIN_BAD_DESCRIPTOR, extension=PLUGIN),
    Case("plugin-no-classname", lambda: plugin(**{"plugin-descriptor.properties": DESCRIPTOR.replace(b"classname=org.example.Plugin\n", b"")}), reasons.PLUGIN_BAD_DESCRIPTOR, extension=PLUGIN),
    Case("plugin-blank-es-version", lambda: plugin(**{"plugin-descriptor.properties": DESCRIPTOR.replace(b"=8.15.0", b"=   ")}), reasons.PLUGIN_BAD_DESCRIPTOR, extension=PLUGIN),
    Case("plugin-partial-es-version", lambda: plugin(**{"plugin-descriptor.properties": DESCRIPTOR.replace(b"=8.15.0", b"=8.15")}), reasons.PLUGIN_BAD_DESCRIPTOR, extension=ExtensionInfo("plugin")),
    Case("plugin-bad-unicode-escape", lambda: plugin(**{"plugin-descriptor.properties": DESCRIPTOR + b"name=bad\\u12\n"}), reasons.PLUGIN_BAD_DESCRIPTOR, extension=PLUGIN),
    Case("plugin-descriptor-too-big", _large_descriptor, reasons.PLUGIN_BAD_DESCRIPTOR, extension=PLUGIN),
    Case("plugin-version-mismatch", plugin, reasons.PLUGIN_VERSION_MISMATCH, extension=ExtensionInfo("plugin", "8.15.1")),
    Case("plugin-wildcard-version", plugin, reasons.PLUGIN_VERSION_MISMATCH, extension=ExtensionInfo("plugin", "8.*")),
    Case("plugin-no-jars", lambda: zipped({"plugin-descriptor.properties": DESCRIPTOR, "Plugin.java": b"class Plugin {}"}), reasons.PLUGIN_NO_JARS, extension=PLUGIN),
    # -- bundle rules -----------------------------------------------------------------
    Case("geoip-built-in-name", _geoip_bundle("GeoLite2-City.mmdb"), reasons.BUNDLE_BAD_GEOIP_NAME, extension=BUNDLE),
    Case("geoip-bad-suffix", _geoip_bundle("my-database.mmdb"), reasons.BUNDLE_BAD_GEOIP_NAME, extension=BUNDLE),
]  # fmt: skip


LEGITIMATE: list[Case] = [
    Case("plugin", plugin, None, extension=PLUGIN),
    Case("plugin-any-version", plugin, None, extension=ExtensionInfo("plugin")),
    Case("stable-plugin", lambda: zipped({"stable-plugin-descriptor.properties": STABLE_DESCRIPTOR, "s.jar": jar_bytes()}), None, extension=PLUGIN),
    Case("snapshot-plugin", lambda: plugin(**{"plugin-descriptor.properties": DESCRIPTOR.replace(b"=8.15.0", b"=9.1.0-SNAPSHOT")}), None, extension=ExtensionInfo("plugin", "9.1.0-SNAPSHOT")),
    Case("bootstrap-plugin", lambda: plugin(**{"plugin-descriptor.properties": DESCRIPTOR.replace(b"classname=org.example.Plugin\n", b"type=bootstrap\n")}), None, extension=PLUGIN),
    Case("plugin-with-folders", lambda: plugin(**{"config/": b"", "config/x.yml": b"a: 1\n", "bin/": b""}), None, extension=PLUGIN),
    Case("bundle", lambda: zipped({"dictionaries/synonyms.txt": b"a, b\n", "scripts/": b"", "ingest-geoip/My-City.mmdb": b"\x00", "truststore/ca.p12": b"p12", "saml/idp.xml": b"<x/>", "cacerts": b"jks"}), None, extension=BUNDLE),
    Case("bundle-flat", lambda: zipped({"synonyms.txt": b"a, b\n"}), None, extension=BUNDLE),
    Case("safety-only", lambda: zipped({"anything.txt": b"x"}), None),
    Case("zip64-forced", _forced_zip64, None),
    Case("zip64-end-record", members(ok_file("a.txt"), ok_file("b.txt"), zip64=True), None),
    Case("zip64-entry-crafted", members(ok_file("z.txt", b"zip64 entry\n" * 10, zip64=True)), None),
    Case("deflate64-crafted", members(Member("d64.txt", b"deflate64 literal stream\n" * 300, method=DEFLATED64)), None),
    Case("deflate64-plugin-fixture", fixture("deflate64-plugin.zip"), None, extension=PLUGIN),
    Case("deflate64-bundle-fixture", fixture("deflate64-bundle.zip"), None, extension=BUNDLE),
    Case("deflate64-window-fixture", fixture("deflate64-window.zip"), None),
    Case("deflate64-streamed-fixture", fixture("deflate64-streamed.zip"), None, extension=PLUGIN),
    Case("unicode-names", lambda: zipped({"dictionaries/café.txt": b"x", "dictionaries/日本語.txt": b"y", "dictionaries/emoji-😀.txt": b"z"}), None, extension=BUNDLE),
    Case("unicode-path-field-same", members(ok_file("caf\u00e9.txt", extra=_unicode_path("caf\u00e9.txt".encode(), "caf\u00e9.txt"))), None),
    Case("unicode-path-field-stale", members(ok_file("good.txt", extra=_unicode_path(b"other", "../x"))), None),
    Case("utf8-names-without-flag", members(ok_file("na\u00efve.txt".encode()), ok_file(b"plain-ascii.txt")), None),
    Case("empty-directories", lambda: zipped({"a/": b"", "a/b/": b"", "a/b/c/": b"", "file.txt": b"x"}), None),
    Case("nested-archives", lambda: zipped({"lib/inner.jar": jar_bytes(), "data/inner.zip": zipped({"zeros": b"\0" * 100_000})}), None),
    Case("archive-comment", members(ok_file(), comment=b"Built by CI, build 42"), None),
    Case("data-descriptors", members(_descriptor_entry(), ok_file("after.txt")), None),
    Case("data-descriptor-no-signature", members(_descriptor_entry(descriptor_signature=False)), None),
    Case("data-descriptor-zip64", members(_descriptor_entry(zip64=True, local={"csize": 0, "usize": 0})), None),
    Case("zipfile-unseekable", _unseekable_zip, None),
    Case("zipfile-unseekable-zip64-empty", _unseekable_zip64_empty, None),
    Case("descriptor-zip64-empty", members(_empty_zip64_descriptor(), ok_file("after.txt")), None),
    Case("descriptor-zip64-empty-no-signature", members(_empty_zip64_descriptor(descriptor_signature=False), ok_file("after.txt")), None),
    Case("descriptor-zip64-empty-deflate-stream", members(_empty_zip64_descriptor(raw_deflate(b"")), ok_file("after.txt")), None),
    Case("descriptor-zip64-empty-last", members(ok_file("first.txt"), _empty_zip64_descriptor(descriptor_signature=False)), None),
    Case("stored-entries", lambda: zipped({"a.bin": bytes(range(256))}, zipfile.ZIP_STORED), None),
    Case("empty-file-entry", lambda: zipped({"empty.txt": b""}), None),
    Case("empty-deflated-no-stream", members(ok_file("empty.txt", b"", payload=b""), ok_file("x")), None),
    Case("small-but-compressible", lambda: zipped({"zeros.bin": b"\0" * (MIB - 1)}), None),
    Case("unusual-but-legal-chars", members(ok_file("a b (1) + #x ~y$ 'q'.txt")), None),
    Case("ten-entries-limit-ten", members(*(ok_file(f"f{i}") for i in range(10))), None, Limits(max_entries=10)),
    Case("setgid-directory", members(Member("shared/", method=STORED, external_attr=(stat.S_IFDIR | 0o2775) << 16), ok_file("shared/x.txt")), None),
    Case("zero-padding-before-directory", members(ok_file("a"), ok_file("b"), padding=b"\0" * 13), None),
    Case("zero-padding-4096-before-directory", members(ok_file("a"), padding=b"\0" * 4096), None),
    Case("zero-padding-after-descriptor", members(ok_file("a"), _descriptor_entry(), padding=b"\0" * 7), None),
    Case("executable-file", members(ok_file("bin/tool", external_attr=(stat.S_IFREG | 0o755) << 16)), None),
    Case("windows-attributes", members(ok_file("win.txt", create_system=0, external_attr=0x20)), None),
    Case("extended-timestamps", members(ok_file("ts.txt", extra=b"UT\x05\x00\x03\x00\x00\x00\x00", local_extra=b"UT\x05\x00\x03\x00\x00\x00\x00")), None),
    Case("extra-with-short-tail", members(ok_file("t.txt", extra=b"UT\x05\x00\x03\x00\x00\x00\x00\x00\x00\x00", local_extra=b"\x00")), None),
    Case("zip64-extra-with-padding", members(ok_file("p.txt", extra=zip64_extra(7) + b"\x00\x00")), None),
]  # fmt: skip
