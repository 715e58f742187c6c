"""Which object version wins an extension: the ordering rules, pure (no AWS).

An object version is newer than the one live in an extension when S3 wrote it
later (its ``LastModified``). S3 keeps that time to the second, so ties are
broken the same way by every invocation and every replay:

- two versions of one key follow S3's own version order: the key's current
  version is the newest (what the event's ``sequencer`` encodes, and what a
  replay, which carries no sequencer, can still read);
- two different keys by bucket, key and version id: arbitrary, but fixed.

A rollback makes an older object live "as of" the moment it was made: the live
entry's ``order_at`` is then that moment instead of the object's own time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


@dataclass(frozen=True)
class ObjectVersion:
    """One object version as S3 reported it (``LastModified`` to the second)."""

    bucket: str
    key: str
    version_id: str | None
    etag: str
    last_modified: datetime

    @property
    def identity(self) -> str:
        """One string per object version: the version id, or the ETag when unversioned."""
        return f"s3://{self.bucket}/{self.key}#{self.version_id or self.etag}"

    def same_key(self, other: ObjectVersion) -> bool:
        return (self.bucket, self.key) == (other.bucket, other.key)

    def same_version(self, other: ObjectVersion) -> bool:
        return self.identity == other.identity


class Verdict(StrEnum):
    NEWER = "newer"  # upload it: it replaces what is live
    SAME = "same"  # this very version is live already: a duplicate
    OLDER = "older"  # superseded by what is live


def compare(
    candidate: ObjectVersion,
    live: ObjectVersion,
    live_order_at: datetime,
    *,
    candidate_is_current: bool,
) -> Verdict:
    """Where ``candidate`` stands against the ``live`` object (made live as of ``live_order_at``).

    ``candidate_is_current`` says whether the candidate is its key's current
    version now; it decides between two versions of one key written in the
    same second.
    """
    if candidate.same_version(live):
        return Verdict.SAME
    if candidate.last_modified != live_order_at:
        return Verdict.NEWER if candidate.last_modified > live_order_at else Verdict.OLDER
    if candidate.same_key(live) and live_order_at == live.last_modified:
        return Verdict.NEWER if candidate_is_current else Verdict.OLDER
    return Verdict.NEWER if _tie_break(candidate) > _tie_break(live) else Verdict.OLDER


def _tie_break(version: ObjectVersion) -> tuple[str, str, str]:
    return (version.bucket, version.key, version.version_id or version.etag)
