"""Outcome tags: values, order of importance, and merging with the user's tags."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from extension_uploader import reasons
from extension_uploader.outcome import (
    OUTCOME_TAG_KEYS,
    TAG_AT,
    TAG_REASON,
    TAG_SHA256,
    TAG_STATUS,
    Outcome,
    Status,
    format_timestamp,
    is_tag_safe,
    merge_tags,
    outcome_tags,
)

MOMENT = datetime(2026, 11, 28, 9, 15, 0, 123456, tzinfo=UTC)
SHA = "ab" * 32


def test_uploaded_outcome_has_all_four_tags_in_contract_order() -> None:
    tags = outcome_tags(Outcome.uploaded(SHA, 10), MOMENT)
    assert tags == [
        (TAG_STATUS, "uploaded"),
        (TAG_REASON, "ok"),
        (TAG_AT, "2026-11-28T09:15:00Z"),
        (TAG_SHA256, SHA),
    ]


def test_sha256_is_only_tagged_for_uploads() -> None:
    tags = dict(outcome_tags(Outcome.rejected(reasons.ZIP_BOMB), MOMENT))
    assert tags == {TAG_STATUS: "rejected", TAG_REASON: "zip.bomb", TAG_AT: "2026-11-28T09:15:00Z"}


def test_timestamp_is_utc_whatever_the_input_zone() -> None:
    local = datetime(2026, 11, 28, 10, 15, tzinfo=timezone(timedelta(hours=1)))
    assert format_timestamp(local) == "2026-11-28T09:15:00Z"


def test_user_tags_are_kept_and_stale_outcome_tags_replaced() -> None:
    existing = {
        "team": "search",
        "ece-extension-id": "123",
        TAG_STATUS: "uploaded",
        TAG_SHA256: SHA,
    }
    merged = merge_tags(
        existing, outcome_tags(Outcome.failed("ece.http_502", transient=True), MOMENT)
    )
    assert merged.tags == {
        "team": "search",
        "ece-extension-id": "123",
        TAG_STATUS: "failed",
        TAG_REASON: "ece.http_502",
        TAG_AT: "2026-11-28T09:15:00Z",
    }
    assert merged.dropped == ()


def test_little_room_keeps_status_then_reason_then_time_then_sha() -> None:
    user = {f"user-{n}": str(n) for n in range(8)}
    merged = merge_tags(user, outcome_tags(Outcome.uploaded(SHA, 1), MOMENT))
    assert len(merged.tags) == 10
    assert {key: merged.tags[key] for key in user} == user
    assert merged.tags[TAG_STATUS] == "uploaded" and merged.tags[TAG_REASON] == "ok"
    assert merged.dropped == (TAG_AT, TAG_SHA256)


def test_no_room_at_all_drops_every_outcome_tag_but_no_user_tag() -> None:
    user = {f"user-{n}": str(n) for n in range(10)}
    merged = merge_tags(user, outcome_tags(Outcome.rejected(reasons.ZIP_CORRUPT), MOMENT))
    assert merged.tags == user
    assert merged.dropped == (TAG_STATUS, TAG_REASON, TAG_AT)


def test_every_contract_reason_is_tag_safe() -> None:
    codes = [
        value for name, value in vars(reasons).items() if name.isupper() and isinstance(value, str)
    ]
    assert len(codes) > 30
    assert all(is_tag_safe(code) for code in codes)


def test_raw_error_text_is_not_tag_safe() -> None:
    assert not is_tag_safe("Connection refused (errno 111); <html>")
    assert not is_tag_safe("x" * 257)


def test_ece_reason_sanitises_hostile_codes() -> None:
    assert reasons.ece_reason("extensions.not_found") == "ece.extensions.not_found"
    assert reasons.ece_reason("bad code<script>") == "ece.bad_code_script_"
    assert is_tag_safe(reasons.ece_reason("é" * 500))
    assert reasons.ece_http_reason(502) == "ece.http_502"


def test_status_metric_names() -> None:
    assert [status.metric_name for status in Status] == [
        "Uploaded",
        "Rejected",
        "Failed",
        "Skipped",
    ]
    assert OUTCOME_TAG_KEYS[0] == TAG_STATUS
