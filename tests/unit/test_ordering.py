"""Which object wins an extension: time first, then S3's own order, then a fixed tie-break."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from extension_uploader.ordering import ObjectVersion, Verdict, compare

T0 = datetime(2026, 11, 30, 9, 0, 0, tzinfo=UTC)


def version(key: str = "a.zip", vid: str | None = "v1", at: datetime = T0) -> ObjectVersion:
    return ObjectVersion("bucket", key, vid, etag=f"etag-{key}-{vid}", last_modified=at)


def test_the_same_version_is_a_duplicate_whatever_the_times() -> None:
    live = version()
    assert compare(version(), live, T0, candidate_is_current=False) is Verdict.SAME
    assert compare(version(), live, T0 + timedelta(days=1), candidate_is_current=True) is (
        Verdict.SAME
    )


@pytest.mark.parametrize(
    ("delta", "verdict"),
    [(timedelta(seconds=1), Verdict.NEWER), (-timedelta(seconds=1), Verdict.OLDER)],
)
def test_a_later_last_modified_wins_across_keys(delta: timedelta, verdict: Verdict) -> None:
    live = version("b.zip")
    candidate = version("a.zip", at=T0 + delta)
    assert compare(candidate, live, T0, candidate_is_current=False) is verdict


def test_two_versions_of_one_key_in_one_second_follow_s3s_version_order() -> None:
    live = version(vid="v1")
    candidate = version(vid="v0")  # sorts before v1, yet it is the key's current version
    assert compare(candidate, live, T0, candidate_is_current=True) is Verdict.NEWER
    assert compare(candidate, live, T0, candidate_is_current=False) is Verdict.OLDER


def test_two_keys_in_one_second_are_ordered_the_same_way_every_time() -> None:
    a, b = version("a.zip"), version("b.zip")
    assert compare(b, a, T0, candidate_is_current=True) is Verdict.NEWER
    assert compare(a, b, T0, candidate_is_current=True) is Verdict.OLDER


def test_unversioned_objects_are_told_apart_by_etag() -> None:
    live = version(vid=None)
    changed = ObjectVersion("bucket", "a.zip", None, "other-etag", T0 + timedelta(seconds=1))
    assert compare(changed, live, T0, candidate_is_current=True) is Verdict.NEWER


def test_a_rollback_is_live_as_of_its_own_moment() -> None:
    restored = version("a.zip", at=T0)  # an old object, made live again later
    rollback_at = T0 + timedelta(hours=1)
    replayed = version("b.zip", at=T0 + timedelta(minutes=30))  # newer than A, older than rollback
    fresh = version("c.zip", at=rollback_at + timedelta(seconds=1))
    assert compare(replayed, restored, rollback_at, candidate_is_current=True) is Verdict.OLDER
    assert compare(fresh, restored, rollback_at, candidate_is_current=True) is Verdict.NEWER


def test_after_a_rollback_the_same_keys_current_version_does_not_win_a_tie() -> None:
    restored = version("a.zip", vid="v1", at=T0)
    rollback_at = T0 + timedelta(seconds=5)
    same_key_at_rollback_second = version("a.zip", vid="v9", at=rollback_at)
    same_key_older_id = version("a.zip", vid="v0", at=rollback_at)
    # A tie with a rollback's moment is broken by the fixed order, not by currency.
    assert compare(
        same_key_at_rollback_second, restored, rollback_at, candidate_is_current=True
    ) is (Verdict.NEWER)
    assert compare(same_key_older_id, restored, rollback_at, candidate_is_current=True) is (
        Verdict.OLDER
    )
