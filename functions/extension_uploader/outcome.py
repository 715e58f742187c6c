"""What happened to one object, and how that becomes S3 tags and metric names.

Pure data: no AWS, no HTTP. The pipeline decides an :class:`Outcome`; the adapters
write it. Tag keys and metric names are defined here and nowhere else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from extension_uploader import reasons


class Status(StrEnum):
    UPLOADED = "uploaded"
    REJECTED = "rejected"
    FAILED = "failed"
    SKIPPED = "skipped"

    @property
    def metric_name(self) -> str:
        return self.value.capitalize()


OUTCOME_TAG_PREFIX = "ece-upload-"  # every outcome tag; only the function may write them
TAG_STATUS = "ece-upload-status"
TAG_REASON = "ece-upload-reason"
TAG_AT = "ece-upload-at"
TAG_SHA256 = "ece-upload-sha256"
OUTCOME_TAG_KEYS = (TAG_STATUS, TAG_REASON, TAG_AT, TAG_SHA256)  # in the order they are kept
# Set by the user: replace the file of an extension deployments use (IN_USE_POLICY=refuse).
TAG_REPLACE_IN_USE = "ece-replace-in-use"

MAX_TAGS_PER_OBJECT = 10
MAX_TAG_KEY_CHARS = 128
MAX_TAG_VALUE_CHARS = 256
# S3's tag character set: letters, digits, spaces and + - = . _ : / @
_TAG_CHARS = re.compile(r"[\w +\-=.:/@]*")


@dataclass(frozen=True)
class Outcome:
    """The verdict for one object version.

    ``transient`` outcomes are failures worth retrying (ECE 5xx, timeouts,
    throttling): the handler tags them and then makes the invocation fail so the
    platform delivers the event again. ``record_tags`` is False for a duplicate
    event of a version already uploaded: its tags stay as they are.
    """

    status: Status
    reason: str
    sha256: str | None = None
    uploaded_bytes: int = 0
    transient: bool = False
    record_tags: bool = True
    detail: str | None = None  # for the log line only, never for tags

    @classmethod
    def uploaded(cls, sha256: str, size: int) -> Outcome:
        return cls(Status.UPLOADED, reasons.OK, sha256=sha256, uploaded_bytes=size)

    @classmethod
    def rejected(cls, reason: str, detail: str | None = None) -> Outcome:
        return cls(Status.REJECTED, reason, detail=detail)

    @classmethod
    def failed(cls, reason: str, *, transient: bool, detail: str | None = None) -> Outcome:
        return cls(Status.FAILED, reason, transient=transient, detail=detail)

    @classmethod
    def duplicate(cls, sha256: str, size: int, *, retag: bool) -> Outcome:
        """This version is live already: nothing is sent again.

        ``retag`` writes the version's ``uploaded`` tags back where a failed tag
        write left them missing; otherwise its tags stay as they are.
        """
        return cls(
            Status.SKIPPED,
            reasons.UPLOAD_DUPLICATE,
            sha256=sha256,
            record_tags=retag,
            detail=f"live already ({size} bytes)",
        )

    @classmethod
    def skipped(
        cls, reason: str, *, record_tags: bool = True, detail: str | None = None
    ) -> Outcome:
        return cls(Status.SKIPPED, reason, record_tags=record_tags, detail=detail)


def format_timestamp(moment: datetime) -> str:
    """``2026-11-28T09:15:00Z``: UTC, whole seconds, only tag-safe characters."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def outcome_tags(outcome: Outcome, moment: datetime) -> list[tuple[str, str]]:
    """The contract's outcome tags, most important first.

    A duplicate shows what the version is: uploaded.
    """
    status, reason = outcome.status, outcome.reason
    if reason == reasons.UPLOAD_DUPLICATE and outcome.sha256:
        status, reason = Status.UPLOADED, reasons.OK
    tags = [
        (TAG_STATUS, status.value),
        (TAG_REASON, reason),
        (TAG_AT, format_timestamp(moment)),
    ]
    if status is Status.UPLOADED and outcome.sha256:
        tags.append((TAG_SHA256, outcome.sha256))
    return [(key, value) for key, value in tags if is_tag_safe(value)]


def is_tag_safe(value: str) -> bool:
    return len(value) <= MAX_TAG_VALUE_CHARS and bool(_TAG_CHARS.fullmatch(value))


@dataclass(frozen=True)
class MergedTags:
    tags: dict[str, str]
    dropped: tuple[str, ...]  # outcome tag keys that found no room


def merge_tags(existing: dict[str, str], ours: list[tuple[str, str]]) -> MergedTags:
    """Merge outcome tags into an object's tag set without dropping a user tag.

    Outcome tags from an earlier attempt are replaced as a whole (a stale
    ``ece-upload-sha256`` must not survive a later ``failed``). When the user's
    tags leave fewer than four free slots, the outcome tags are kept in the
    contract's order of importance and the rest are reported as dropped.
    """
    merged = {key: value for key, value in existing.items() if key not in OUTCOME_TAG_KEYS}
    dropped: list[str] = []
    for key, value in ours:
        if len(merged) < MAX_TAGS_PER_OBJECT:
            merged[key] = value
        else:
            dropped.append(key)
    return MergedTags(merged, tuple(dropped))
