"""The values inspection works with and hands back: limits, findings and the report.

Expected outcomes are values here, never exceptions: a hostile archive yields a
:class:`Report` whose ``problems`` say why it is refused. :class:`Refusal` is the one
internal exception; it carries a :class:`Problem` out of deep parsing code and is
always caught inside the package. :class:`InspectionBug` is what leaves the package
when the inspection itself fails: a defect to fix, never a verdict on the archive.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from extension_uploader import reasons

MIB = 1024**2
GIB = 1024**3

#: The compression-ratio rule applies only to entries at least this large: small
#: files (a 200-byte descriptor of repeated spaces) legitimately compress very well.
RATIO_MIN_BYTES = 1 * MIB

#: A Report keeps at most this many problems of each reason code (and as many
#: warnings); a hostile archive with 10,000 bad names must not produce a
#: 10,000-line verdict, yet every kind of problem found is still shown.
MAX_PROBLEMS_PER_CODE = 20

# Warning codes. A warning never refuses an archive, so these are not reason codes
# (they never reach a tag); they name what --json consumers may want to match on.
WARNING_BUNDLE_LAYOUT = "bundle.unconventional_layout"
WARNING_PLUGIN_JARS_NOT_AT_ROOT = "plugin.jars_not_at_root"
WARNING_STREAMED_STORED = "zip.streamed_stored_entry"

Deflate64Policy = Literal["repack", "reject"]
ExtensionType = Literal["plugin", "bundle"]


@dataclass(frozen=True)
class Limits:
    """What an archive may cost to check and to unpack (see the public contract)."""

    max_entries: int = 10_000
    max_uncompressed_bytes: int = 4 * GIB
    max_compression_ratio: int = 200
    deflate64_policy: Deflate64Policy = "repack"

    def __post_init__(self) -> None:
        if self.max_entries < 0 or self.max_uncompressed_bytes < 0:
            raise ValueError("limits must not be negative")
        if self.max_compression_ratio < 1:
            raise ValueError("max_compression_ratio must be at least 1")
        if self.deflate64_policy not in ("repack", "reject"):
            raise ValueError(f"unknown deflate64_policy {self.deflate64_policy!r}")


@dataclass(frozen=True)
class ExtensionInfo:
    """What ECE says the target extension is (or what ``validate`` was told)."""

    extension_type: ExtensionType | None = None
    version: str | None = None


@dataclass(frozen=True)
class Problem:
    """One finding: a reason code, the entry it concerns (escaped) and a sentence."""

    code: str
    entry: str | None
    message: str

    def to_dict(self) -> dict[str, str | None]:
        return {"code": self.code, "entry": self.entry, "message": self.message}


@dataclass(frozen=True)
class Report:
    """The verdict on one archive. ``problems[0].code`` is the reason it is refused."""

    problems: tuple[Problem, ...] = ()
    warnings: tuple[Problem, ...] = ()
    entries: int = 0
    files: int = 0
    uncompressed_bytes: int = 0
    deflate64_entries: int = 0
    omitted_problems: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def reason(self) -> str | None:
        return self.problems[0].code if self.problems else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "reason": self.reason,
            "problems": [problem.to_dict() for problem in self.problems],
            "warnings": [warning.to_dict() for warning in self.warnings],
            "omitted_problems": self.omitted_problems,
            "entries": self.entries,
            "files": self.files,
            "uncompressed_bytes": self.uncompressed_bytes,
            "deflate64_entries": self.deflate64_entries,
        }


class Refusal(Exception):
    """When parsing meets bytes that settle the verdict; caught inside the package."""

    def __init__(self, code: str, message: str, entry: str | None = None) -> None:
        super().__init__(message)
        self.problem = Problem(code, entry, message)


class InspectionBug(RuntimeError):
    """The inspection failed for a reason that is not in the archive: a bug.

    Raised by :func:`inspect_archive` in place of any exception that does not mean
    "this archive is malformed", so that a defect is never reported as ``zip.corrupt``
    (which would tag a good file as rejected for good). The original exception is the
    ``__cause__``. The Lambda handler treats it like any unexpected error: logged with
    its traceback, outcome ``internal.error``, the event retried.
    """


# The first problem is the verdict, so problems are ranked: what makes the archive
# unreadable or dangerous comes before what makes it merely unacceptable. The rank
# keeps the verdict independent of the order of entries in the archive.
_RANK = {
    code: rank
    for rank, code in enumerate(
        (
            reasons.ZIP_NOT_A_ZIP,
            reasons.ZIP_TOO_MANY_ENTRIES,
            reasons.ZIP_OVERLAPPING_ENTRIES,
            reasons.ZIP_CORRUPT,
            reasons.ZIP_BOMB,
            reasons.ZIP_ENCRYPTED,
            reasons.ZIP_UNSUPPORTED_METHOD,
            reasons.ZIP_UNSAFE_PATH,
            reasons.ZIP_LINK_OR_SPECIAL,
            reasons.ZIP_BAD_NAME,
            reasons.ZIP_DUPLICATE_ENTRY,
            reasons.ZIP_NO_FILES,
            reasons.PLUGIN_LEGACY_LAYOUT,
            reasons.PLUGIN_MISSING_DESCRIPTOR,
            reasons.PLUGIN_MULTIPLE_DESCRIPTORS,
            reasons.PLUGIN_BAD_DESCRIPTOR,
            reasons.PLUGIN_VERSION_MISMATCH,
            reasons.PLUGIN_NO_JARS,
            reasons.BUNDLE_BAD_GEOIP_NAME,
        )
    )
}


@dataclass
class Findings:
    """Collects problems and warnings, capped per code, and ranks them into a Report."""

    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    omitted: int = 0

    def add(self, code: str, entry: str | None, message: str) -> None:
        seen = self.counts.get(code, 0)
        self.counts[code] = seen + 1
        if seen < MAX_PROBLEMS_PER_CODE:
            self.problems.append(Problem(code, entry, message))
        else:
            self.omitted += 1

    def add_problem(self, problem: Problem) -> None:
        self.add(problem.code, problem.entry, problem.message)

    def warn(self, code: str, entry: str | None, message: str) -> None:
        if len(self.warnings) < MAX_PROBLEMS_PER_CODE:
            self.warnings.append(Problem(code, entry, message))

    def has(self, *codes: str) -> bool:
        """Whether any problem with one of ``codes`` was found (kept or omitted)."""
        return any(code in self.counts for code in codes)

    def report(
        self,
        *,
        entries: int = 0,
        files: int = 0,
        uncompressed_bytes: int = 0,
        deflate64_entries: int = 0,
    ) -> Report:
        ranked = sorted(self.problems, key=lambda problem: _RANK.get(problem.code, len(_RANK)))
        return Report(
            problems=tuple(ranked),
            warnings=tuple(self.warnings),
            entries=entries,
            files=files,
            uncompressed_bytes=uncompressed_bytes,
            deflate64_entries=deflate64_entries,
            omitted_problems=self.omitted,
        )
