"""What each kind of outcome carries, and the tags a duplicate or a long value gets."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from extension_uploader import reasons
from extension_uploader.outcome import (
    MAX_TAG_VALUE_CHARS,
    TAG_AT,
    TAG_REASON,
    TAG_SHA256,
    TAG_STATUS,
    Outcome,
    Status,
    format_timestamp,
    is_tag_safe,
    outcome_tags,
)

MOMENT = datetime(2026, 11, 28, 9, 15, 0, tzinfo=UTC)
SHA = "cd" * 32


def test_each_kind_keeps_its_detail_for_the_log_line() -> None:
    assert Outcome.rejected(reasons.ZIP_BOMB, detail="entry a.txt").detail == "entry a.txt"
    failed = Outcome.failed(reasons.S3_ERROR, transient=True, detail="S3 head failed: 500")
    assert failed.detail == "S3 head failed: 500"
    assert failed.transient
    skipped = Outcome.skipped(reasons.UPLOAD_SUPERSEDED, record_tags=False, detail="newer v2")
    assert (skipped.detail, skipped.record_tags) == ("newer v2", False)


def test_an_upload_counts_its_bytes() -> None:
    uploaded = Outcome.uploaded(SHA, 1234)
    assert (uploaded.status, uploaded.reason, uploaded.sha256) == (Status.UPLOADED, "ok", SHA)
    assert uploaded.uploaded_bytes == 1234


@pytest.mark.parametrize("retag", [True, False])
def test_a_duplicate_sends_nothing_and_retags_only_when_asked(retag: bool) -> None:
    duplicate = Outcome.duplicate(SHA, 1234, retag=retag)
    assert duplicate.status is Status.SKIPPED
    assert duplicate.reason == reasons.UPLOAD_DUPLICATE
    assert duplicate.sha256 == SHA
    assert duplicate.uploaded_bytes == 0
    assert duplicate.record_tags is retag
    assert duplicate.detail == "live already (1234 bytes)"


def test_a_duplicate_is_tagged_as_the_upload_it_is() -> None:
    tags = outcome_tags(Outcome.duplicate(SHA, 1234, retag=True), MOMENT)
    assert tags == [
        (TAG_STATUS, "uploaded"),
        (TAG_REASON, "ok"),
        (TAG_AT, "2026-11-28T09:15:00Z"),
        (TAG_SHA256, SHA),
    ]


def test_only_an_upload_shows_a_sha256_tag() -> None:
    """An outcome that is not an upload never reads as one, whatever it carries."""
    carrying = Outcome(Status.FAILED, reasons.ECE_SIZE_MISMATCH, sha256=SHA, transient=True)
    tags = dict(outcome_tags(carrying, MOMENT))
    assert tags == {
        TAG_STATUS: "failed",
        TAG_REASON: reasons.ECE_SIZE_MISMATCH,
        TAG_AT: "2026-11-28T09:15:00Z",
    }


def test_a_value_of_exactly_the_limit_is_tag_safe() -> None:
    assert is_tag_safe("a" * MAX_TAG_VALUE_CHARS)
    assert not is_tag_safe("a" * (MAX_TAG_VALUE_CHARS + 1))


@pytest.fixture
def local_zone_ahead_of_utc() -> Iterator[None]:
    """The machine's local zone is not UTC (a laptop running the command line)."""
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "IST-5:30"  # POSIX form: no tz database needed
    time.tzset()
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = saved
        time.tzset()


@pytest.mark.usefixtures("local_zone_ahead_of_utc")
def test_the_timestamp_is_utc_whatever_the_machines_zone() -> None:
    assert format_timestamp(MOMENT) == "2026-11-28T09:15:00Z"
