"""Rules for entry names: safe to extract, readable by Elasticsearch, and unique.

Encoding policy. Elasticsearch opens archives with ``java.util.zip``, which decodes
every entry name as UTF-8 whatever the language-encoding flag (bit 11) says, and
fails on malformed bytes. So a name is accepted only if it is valid UTF-8: with the
flag set that is what the writer promised; without it, plain ASCII is the common
case (ASCII reads the same in CP437, the legacy default), and non-ASCII bytes that
are valid UTF-8 are what Linux and macOS tools write without setting the flag.
Legacy CP437 or Shift-JIS names with high bytes are not valid UTF-8: Elasticsearch
would fail or misread them, so they are refused as ``zip.bad_name``. That holds
even when an Info-ZIP Unicode Path field (0x7075) gives such a name a UTF-8 form:
Info-ZIP and 7-Zip use it, Java never does (its ZipFile and ZipInputStream both
fail on the raw name), so the message quotes that form and the path rules are
applied to it as well.

Length policy. Each path component may be at most 255 bytes (the NAME_MAX of Linux
file systems, where the extension is unpacked) and the whole name 4096 bytes (Linux
PATH_MAX); longer names cannot be created on disk.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from extension_uploader import reasons

from .report import Problem

MAX_NAME_BYTES = 4096
MAX_COMPONENT_BYTES = 255
MAX_DISPLAY_CHARS = 200

BACKSLASH_MESSAGE = (
    "the name uses backslashes as folder separators (as Windows PowerShell 5's "
    "Compress-Archive writes them); Java, which Elasticsearch and ECE use, reads them as "
    "part of one file name. Re-create the zip with PowerShell 7 or later, 7-Zip, "
    "'tar -a -c -f extension.zip folder', or Explorer's 'Compress to ZIP file'"
)

_DRIVE = re.compile(r"^[A-Za-z]:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # Unicode category Cc: C0, DEL and C1
_ASCII_UPPER = re.compile(r"[A-Z]")
_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def display_name(raw: bytes) -> str:
    """A printable, escaped rendering of a raw name, safe in messages, logs and JSON.

    Undecodable bytes become ``\\xNN``, control and other unprintable characters
    ``\\xNN``/``\\uNNNN``; long names are cut, so a hostile name cannot flood a report.
    """
    text = raw[: MAX_DISPLAY_CHARS * 4].decode("utf-8", errors="surrogateescape")
    out: list[str] = []
    for char in text[:MAX_DISPLAY_CHARS]:
        if 0xDC80 <= ord(char) <= 0xDCFF:  # an undecodable byte, smuggled by surrogateescape
            out.append(f"\\x{ord(char) - 0xDC00:02x}")
        elif char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif char.isprintable():
            out.append(char)
        elif ord(char) <= 0xFF:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) <= 0xFFFF:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    cut = len(text) > MAX_DISPLAY_CHARS or len(raw) > MAX_DISPLAY_CHARS * 4
    return "".join(out) + ("..." if cut else "")


def decode_name(raw: bytes) -> str | None:
    """The name as Elasticsearch reads it (UTF-8), or None if it is not valid UTF-8."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def check_name(
    raw: bytes, name: str | None, unicode_name: str | None = None
) -> list[tuple[str, str]]:
    """(reason code, message) for every rule the name breaks; empty when it is fine.

    ``unicode_name`` is the name an Info-ZIP Unicode Path field (0x7075) gives a raw
    name that is not UTF-8. Info-ZIP and 7-Zip extract under it, but Java never
    reads that field and fails on the raw name (ZipFile: "invalid CEN header (bad
    entry name)"; ZipInputStream, which installs plugins: "malformed input"), so the
    entry stays refused; the message names it, and the path rules are applied to it
    too, since it is where those tools would write.
    """
    if name is None:
        if unicode_name is None:
            return [(reasons.ZIP_BAD_NAME, "the name is not valid UTF-8")]
        shown = display_name(unicode_name.encode("utf-8"))
        found = [
            (
                reasons.ZIP_BAD_NAME,
                f"the name is not valid UTF-8 (its Unicode path field says {shown}); Java, "
                "which Elasticsearch and ECE use, cannot read it. Re-create the zip with a "
                "tool that writes UTF-8 names (7-Zip, Info-ZIP zip 3, PowerShell 7)",
            )
        ]
        found.extend(_unsafe_path(unicode_name))
        return found
    found = _unsafe_path(name)
    found.extend(_bad_name(raw, name))
    return found


def _unsafe_path(name: str) -> list[tuple[str, str]]:
    """Names that would write outside the extraction directory on some system."""
    if name.startswith(("//", "\\\\")):
        return [(reasons.ZIP_UNSAFE_PATH, "the name is a UNC network path")]
    if name.startswith("/"):
        return [(reasons.ZIP_UNSAFE_PATH, "the name is an absolute path")]
    if _DRIVE.match(name):
        return [(reasons.ZIP_UNSAFE_PATH, "the name starts with a drive letter")]
    if "\\" in name:
        # Windows tools and some extractors treat a backslash as a separator, so
        # "a\..\..\x" is traversal for them even though it is one name for Java.
        # Harmless-looking ones ("lib\x.jar") are what Windows PowerShell 5's
        # Compress-Archive writes; Java does not translate them, so Elasticsearch
        # would create one file named "lib\x.jar" at the root: refused too, with
        # the way out in the message.
        if _unsafe_path(name.replace("\\", "/")):
            return [(reasons.ZIP_UNSAFE_PATH, "the name contains a backslash")]
        return [(reasons.ZIP_UNSAFE_PATH, BACKSLASH_MESSAGE)]
    if ".." in name.split("/"):
        return [(reasons.ZIP_UNSAFE_PATH, "the name has a '..' segment")]
    return []


def _bad_name(raw: bytes, name: str) -> list[tuple[str, str]]:
    if not name or name == "/":
        return [(reasons.ZIP_BAD_NAME, "the name is empty")]
    if "\x00" in name:
        return [(reasons.ZIP_BAD_NAME, "the name contains a NUL character")]
    if _CONTROL.search(name):
        return [(reasons.ZIP_BAD_NAME, "the name contains control characters")]
    if len(raw) > MAX_NAME_BYTES:
        return [(reasons.ZIP_BAD_NAME, f"the name is longer than {MAX_NAME_BYTES} bytes")]
    components = name.removesuffix("/").lstrip("/").split("/")  # "/x" is unsafe_path
    if any(len(part.encode("utf-8")) > MAX_COMPONENT_BYTES for part in components):
        return [
            (
                reasons.ZIP_BAD_NAME,
                f"a path component is longer than {MAX_COMPONENT_BYTES} bytes",
            )
        ]
    if any(part in ("", ".") for part in components):
        # "a//b" and "a/./b" are not traversal, but they name the same file as
        # "a/b" under different spellings: a way to smuggle duplicates.
        return [(reasons.ZIP_BAD_NAME, "the name has an empty or '.' segment")]
    return []


@dataclass(frozen=True, slots=True)
class NamedEntry:
    """What duplicate detection needs to know about an entry."""

    name: str
    display: str
    is_dir: bool


def folded(name: str) -> str:
    """The key two names collide on: NFC-normalised, lower-cased, no trailing slash.

    NFC because macOS writes decomposed names (NFD) that other systems compose;
    lower-case because extraction onto a case-insensitive file system (Windows,
    macOS) merges names that differ only in case. ``lower`` rather than ``casefold``:
    casefold maps "straße" to "strasse", which no file system treats as the same.
    """
    if name.isascii():  # the common case; no copy when there is nothing to fold
        key = name.lower() if _ASCII_UPPER.search(name) else name
    else:
        key = unicodedata.normalize("NFC", unicodedata.normalize("NFC", name).lower())
    return key.removesuffix("/")


def find_duplicates(entries: Iterable[NamedEntry]) -> list[Problem]:
    """Entries that would land on the same path, or a file that is also a directory.

    Sorting the folded keys puts a file "a" right before the entries under "a/", so
    the file-versus-directory conflict costs one binary search per file instead of
    building every directory prefix of every name (quadratic on deep paths).
    """
    keyed = sorted(((folded(entry.name), order, entry) for order, entry in enumerate(entries)))
    keys = [key for key, _, _ in keyed]
    problems: list[Problem] = []
    for position, (key, _, entry) in enumerate(keyed):
        if position and keys[position - 1] == key:
            first = keyed[position - 1][2]
            problems.append(
                Problem(reasons.ZIP_DUPLICATE_ENTRY, entry.display, _clash(first, entry))
            )
        if entry.is_dir or (position + 1 < len(keys) and keys[position + 1] == key):
            continue
        below = bisect.bisect_left(keys, key + "/")
        if below < len(keys) and keys[below].startswith(key + "/"):
            problems.append(
                Problem(
                    reasons.ZIP_DUPLICATE_ENTRY,
                    entry.display,
                    f"it is a file, but {keyed[below][2].display} puts it on a directory path",
                )
            )
    return problems


def _clash(first: NamedEntry, second: NamedEntry) -> str:
    if first.is_dir != second.is_dir:
        return f"it is both a file and a directory (also listed as {first.display})"
    if first.name == second.name:
        return "the name appears more than once"
    if unicodedata.normalize("NFC", first.name) == unicodedata.normalize("NFC", second.name):
        return f"it is the same name as {first.display} after Unicode normalisation"
    return f"it differs from {first.display} only in letter case"
