"""``inspect_archive``: the whole story of judging one zip, read top to bottom.

1. The end record: is it a zip, how many entries (refused here if too many, before
   anything proportional to that number is done), where is the directory.
2. The central directory, one record at a time: names, file types, encryption,
   compression methods and declared sizes of every entry.
3. The local headers and the layout: every header repeats the directory, and the
   entries tile the file without gaps or overlaps.
4. Only if the structure is sound: every entry is streamed, its CRC and exact size
   verified, with bounded memory and a running total that stops at the limit.
5. Duplicates, "no files", and the plugin or bundle rules.
"""

from __future__ import annotations

import os
import stat
import struct
import zlib
from typing import BinaryIO

from extension_uploader import reasons

from . import content
from .endrecord import EndRecord, check_directory_bounds, read_end_record
from .names import NamedEntry, check_name, decode_name, find_duplicates
from .report import (
    RATIO_MIN_BYTES,
    ExtensionInfo,
    Findings,
    InspectionBug,
    Limits,
    Problem,
    Refusal,
    Report,
)
from .streaming import Expected, verify_entry
from .structure import (
    DEFLATED,
    DEFLATED64,
    STORED,
    CentralRecord,
    Entry,
    Extent,
    check_layout,
    entry_from,
    extra_problem,
    iter_central_records,
    iter_extra,
    read_extent,
)

UNICODE_PATH_EXTRA_ID = 0x7075
UNIX_SYSTEMS = (3, 19)  # "made by" hosts whose external attributes hold a Unix mode
UNIX_EXTENSION = 0x8000
_SPECIAL_BITS = stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX
_ALLOWED_TYPES = (0, stat.S_IFREG, stat.S_IFDIR)
# Problems after which no entry data is read: the layout or the sizes cannot be trusted.
_UNSOUND = (reasons.ZIP_CORRUPT, reasons.ZIP_OVERLAPPING_ENTRIES, reasons.ZIP_BOMB)
# What parsing raises when the bytes are malformed in a way no explicit check caught:
# a field unpacked from a truncated buffer, a damaged compressed stream, an early end.
# These mean "corrupt"; any other exception is a bug in the inspection.
_MALFORMED = (struct.error, zlib.error, EOFError)


def inspect_archive(
    path: str | os.PathLike[str],
    limits: Limits = Limits(),  # noqa: B008 - frozen, so a shared default is safe
    extension: ExtensionInfo | None = None,
) -> Report:
    """Judge the zip at ``path``: safe to unpack, and acceptable to ECE.

    Never raises for anything the file contains. An OSError opening or reading the
    path propagates as it is; any other failure of the inspection itself is raised as
    :class:`InspectionBug`, never reported as a verdict on the archive.
    """
    with open(path, "rb", buffering=0) as fh:  # noqa: PTH123 - raw, unbuffered reads
        file_size = os.fstat(fh.fileno()).st_size
        return inspect_stream(fh, file_size, limits, extension, name=os.fspath(path))


def inspect_stream(
    fh: BinaryIO,
    file_size: int,
    limits: Limits = Limits(),  # noqa: B008 - frozen, so a shared default is safe
    extension: ExtensionInfo | None = None,
    *,
    name: str = "the archive",
) -> Report:
    """:func:`inspect_archive` on an open file of ``file_size`` bytes (seek and read only).

    The file may still be arriving: the inspection reads the end record and the
    central directory first, then the entries in the order they lie.
    """
    inspection = _Inspection(fh, file_size, limits, extension or ExtensionInfo())
    try:
        inspection.run()
    except Refusal as refusal:
        inspection.findings.add_problem(refusal.problem)
    except _MALFORMED as exc:
        inspection.findings.add(
            reasons.ZIP_CORRUPT, None, f"the archive could not be parsed ({type(exc).__name__})"
        )
    except OSError:
        raise
    except Exception as exc:
        raise InspectionBug(
            f"the inspection of {name!r} failed: {type(exc).__name__}: {exc}"
        ) from exc
    return inspection.report()


class _Inspection:
    """The state of one inspection; each method is one step of the module docstring."""

    def __init__(
        self, fh: BinaryIO, file_size: int, limits: Limits, extension: ExtensionInfo
    ) -> None:
        self.fh = fh
        self.file_size = file_size
        self.limits = limits
        self.extension = extension
        self.findings = Findings()
        self.entries: list[Entry] = []
        self.declared_bytes = 0
        self.data_offsets: dict[int, int] = {}
        self.verified: dict[int, bytes | None] = {}

    def report(self) -> Report:
        return self.findings.report(
            entries=len(self.entries),
            files=sum(1 for entry in self.entries if not entry.is_dir),
            uncompressed_bytes=self.declared_bytes,
            deflate64_entries=sum(1 for entry in self.entries if entry.method == DEFLATED64),
        )

    def run(self) -> None:
        if self.file_size == 0:
            raise Refusal(reasons.ZIP_NOT_A_ZIP, "the file is empty")
        end = read_end_record(self.fh, self.file_size)
        if end.entries > self.limits.max_entries:
            raise Refusal(
                reasons.ZIP_TOO_MANY_ENTRIES,
                f"the archive holds {end.entries} entries; the limit is {self.limits.max_entries}",
            )
        check_directory_bounds(self.fh, end)
        self.read_directory(end)
        self.check_structure(end)
        if not self.findings.has(*_UNSOUND):
            self.verify_data()
        self.check_names()
        if not any(not entry.is_dir for entry in self.entries):
            self.findings.add(reasons.ZIP_NO_FILES, None, "the archive holds no files")
        self.check_content()

    # -- step 2: the central directory ------------------------------------------

    def read_directory(self, end: EndRecord) -> None:
        for record in iter_central_records(self.fh, end):
            entry = entry_from(record)
            self.entries.append(entry)
            self.declared_bytes += entry.file_size
            self.check_record(record, entry)
        if self.declared_bytes > self.limits.max_uncompressed_bytes:
            self.findings.add(
                reasons.ZIP_BOMB,
                None,
                f"the entries declare {self.declared_bytes} bytes in total; the limit is "
                f"{self.limits.max_uncompressed_bytes}",
            )

    def check_record(self, record: CentralRecord, entry: Entry) -> None:
        add = self.findings.add
        malformed = extra_problem(record.extra)
        if malformed:
            add(
                reasons.ZIP_CORRUPT,
                entry.display,
                f"the central directory's extra field is malformed: {malformed}",
            )
        unicode_name = _unicode_path(record)
        legacy_name = None
        if entry.name is None and unicode_name is not None:
            legacy_name = decode_name(unicode_name)
        for code, message in check_name(record.raw_name, entry.name, legacy_name):
            add(code, entry.display, message)
        if entry.name is not None and unicode_name not in (None, record.raw_name):
            add(
                reasons.ZIP_BAD_NAME,
                entry.display,
                "its Unicode path extra field names another file",
            )
        problem = _file_type_problem(record)
        if problem:
            add(reasons.ZIP_LINK_OR_SPECIAL, entry.display, problem)
        if entry.encrypted:
            # Before the sizes: they describe the encrypted data, not the file.
            add(reasons.ZIP_ENCRYPTED, entry.display, "the entry is encrypted")
            return
        if not self.method_accepted(record.method):
            add(reasons.ZIP_UNSUPPORTED_METHOD, entry.display, _method_message(record.method))
        for code, message in self.size_problems(entry):
            add(code, entry.display, message)

    def method_accepted(self, method: int) -> bool:
        if method == DEFLATED64:
            return self.limits.deflate64_policy == "repack"
        return method in (STORED, DEFLATED)

    def size_problems(self, entry: Entry) -> list[tuple[str, str]]:
        """What the declared sizes alone give away, before any byte is decompressed."""
        size, packed = entry.file_size, entry.compressed_size
        if entry.is_dir and size:
            return [(reasons.ZIP_CORRUPT, "a directory entry declares content")]
        if entry.method == STORED and size != packed:
            return [(reasons.ZIP_CORRUPT, "a stored entry's two sizes differ")]
        if size > self.limits.max_uncompressed_bytes:
            return [(reasons.ZIP_BOMB, f"the entry declares {size} bytes, above the limit")]
        if size >= RATIO_MIN_BYTES and size > packed * self.limits.max_compression_ratio:
            ratio = size // max(packed, 1)
            return [
                (
                    reasons.ZIP_BOMB,
                    f"the entry expands {ratio}:1; the limit is "
                    f"{self.limits.max_compression_ratio}:1",
                )
            ]
        return []

    # -- step 3: local headers and layout ---------------------------------------

    def check_structure(self, end: EndRecord) -> None:
        problems: list[Problem] = []
        extents: list[Extent] = []
        for entry in self.entries:
            extent = read_extent(self.fh, entry, end.cd_offset, self.file_size, problems)
            if extent is not None:
                extents.append(extent)
        if len(extents) == len(self.entries):
            displays = {entry.index: entry.display for entry in self.entries}
            check_layout(extents, displays, end.cd_offset, problems, self.fh)
        for problem in problems:
            self.findings.add_problem(problem)
        self.data_offsets = {extent.index: extent.data_start for extent in extents}

    # -- step 4: the data -------------------------------------------------------

    def verify_data(self) -> None:
        """Stream every readable entry in file order; stop everything at a bomb."""
        budget = self.limits.max_uncompressed_bytes
        wanted = {entry.index for entry in content.descriptor_entries(self.entries)}
        for entry in sorted(self.entries, key=lambda item: item.header_offset):
            if entry.encrypted or not self.method_accepted(entry.method):
                continue
            expected = Expected(
                self.data_offsets[entry.index],
                entry.compressed_size,
                entry.file_size,
                entry.method,
                entry.crc,
            )
            keep = content.MAX_DESCRIPTOR_BYTES if entry.index in wanted else 0
            try:
                produced, data = verify_entry(self.fh, expected, budget, keep)
            except Refusal as refusal:
                self.findings.add(refusal.problem.code, entry.display, refusal.problem.message)
                if refusal.problem.code == reasons.ZIP_BOMB:
                    return
                continue
            budget -= produced
            self.verified[entry.index] = data

    # -- step 5: names and content rules ----------------------------------------

    def check_names(self) -> None:
        named = [
            NamedEntry(entry.name, entry.display, entry.is_dir)
            for entry in self.entries
            if entry.name is not None
        ]
        for problem in find_duplicates(named):
            self.findings.add_problem(problem)

    def check_content(self) -> None:
        kind = self.extension.extension_type
        if kind == "plugin":
            content.check_plugin(self.entries, self.verified, self.extension.version, self.findings)
        elif kind == "bundle":
            content.check_bundle(self.entries, self.findings)


def _file_type_problem(record: CentralRecord) -> str | None:
    """Symlinks, devices and the like, from the Unix mode some writers store: when
    the archive was made on Unix or macOS, or when 7-Zip's "Unix extension" bit
    (0x8000 among the DOS attributes) says the high 16 bits hold a mode anyway."""
    if record.create_system not in UNIX_SYSTEMS and not record.external_attr & UNIX_EXTENSION:
        return None
    mode = record.external_attr >> 16
    file_type = stat.S_IFMT(mode)
    if file_type == stat.S_IFLNK:
        return "the entry is a symbolic link"
    if file_type not in _ALLOWED_TYPES:
        return "the entry is a device, FIFO, socket or other special file"
    special = mode & _SPECIAL_BITS
    if file_type == stat.S_IFDIR and record.raw_name.endswith(b"/"):
        # A setgid directory only makes new files inherit its group: "chmod g+s" on a
        # shared folder puts it on every folder created below, so Unix zips of such
        # trees carry it. Java extractors never apply zip modes, and unzip restores
        # set-id bits only with -K; harmless, so accepted. Setuid or sticky is not
        # what any common workflow produces, and stays refused.
        special &= ~stat.S_ISGID
    if special:
        bits = [
            name
            for bit, name in (
                (stat.S_ISUID, "setuid"),
                (stat.S_ISGID, "setgid"),
                (stat.S_ISVTX, "sticky"),
            )
            if special & bit
        ]
        return f"the entry has the {' and '.join(bits)} bit{'s' if len(bits) > 1 else ''}"
    return None


def _unicode_path(record: CentralRecord) -> bytes | None:
    """The name an Info-ZIP Unicode Path field (0x7075) gives the entry, if it has one
    that is current (version 1, CRC-32 of the raw name matching).

    Info-ZIP and 7-Zip extract under that name; Java ignores the field. Two readers,
    two names: a way to smuggle "../x" past a check of the raw name. For a UTF-8 raw
    name the field is legitimate when it repeats it, so only a different name is
    refused; a stale field (CRC not matching) is ignored by every reader, and here.
    """
    for header_id, data in iter_extra(record.extra):
        if header_id != UNICODE_PATH_EXTRA_ID or len(data) < 5 or data[0] != 1:
            continue
        if int.from_bytes(data[1:5], "little") != zlib.crc32(record.raw_name):
            continue
        return data[5:]
    return None


def _method_message(method: int) -> str:
    if method == DEFLATED64:
        return "the entry is compressed with Deflate64, which this deployment rejects"
    return f"the entry uses compression method {method}; only Stored and Deflate are accepted"
