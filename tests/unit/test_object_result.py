"""The per-object result the handler returns to a direct invocation (and the command line)."""

from __future__ import annotations

from extension_uploader.events import ObjectRef
from extension_uploader.outcome import Outcome
from extension_uploader.pipeline import ObjectResult

SHA = "ef" * 32


def test_a_result_names_the_object_its_target_and_what_happened() -> None:
    ref = ObjectRef("bucket", "bundles/a.zip", version_id="v-event", principal="AWS:AIDA1")
    result = ObjectResult(ref, Outcome.uploaded(SHA, 2048), "2536123203", "v-head")
    assert result.to_dict() == {
        "bucket": "bucket",
        "key": "bundles/a.zip",
        "version_id": "v-head",
        "extension_id": "2536123203",
        "status": "uploaded",
        "reason": "ok",
        "sha256": SHA,
        "bytes": 2048,
        "principal": "AWS:AIDA1",
    }
    assert not result.retry


def test_only_a_transient_outcome_asks_for_a_retry() -> None:
    ref = ObjectRef("bucket", "a.zip")
    assert ObjectResult(ref, Outcome.failed("s3.error", transient=True), None, None).retry
    assert not ObjectResult(
        ref, Outcome.failed("s3.access_denied", transient=False), None, None
    ).retry
