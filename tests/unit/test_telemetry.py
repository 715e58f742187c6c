"""Metrics stay exact when the command line runs the handler in threads."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import threading
from collections.abc import Iterator

import pytest

from extension_uploader import reasons, telemetry
from extension_uploader.events import ObjectRef
from extension_uploader.outcome import Outcome

THREADS = 8
PER_THREAD = 1500


@pytest.fixture
def quiet_metrics() -> Iterator[None]:
    level = telemetry.logger.log_level
    telemetry.logger.setLevel(logging.CRITICAL)
    telemetry.metrics.clear_metrics()
    try:
        yield
    finally:
        telemetry.metrics.clear_metrics()
        telemetry.logger.setLevel(level)


def test_concurrent_outcomes_emit_every_value_once(quiet_metrics: None) -> None:
    ref = ObjectRef("bucket", "bundle.zip")
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def work() -> None:
        start.wait()
        for index in range(PER_THREAD):
            outcome = (
                Outcome.uploaded("0" * 64, 10)
                if index % 2
                else Outcome.skipped(reasons.UPLOAD_SUPERSEDED)
            )
            try:
                telemetry.record_outcome(
                    ref, outcome, extension_id="1", version_id="v", milliseconds=1.0
                )
            except Exception as error:  # counted, then asserted on
                errors.append(error)

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):  # Powertools prints each full metric set
        threads = [threading.Thread(target=work) for _ in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def values(blob: dict[str, object], name: str) -> int:
        value = blob.get(name, [])
        return len(value) if isinstance(value, list) else 1

    blobs = [json.loads(line) for line in printed.getvalue().splitlines()]
    unflushed = telemetry.metrics.metric_set
    total = THREADS * PER_THREAD
    assert errors == []
    assert (
        sum(values(blob, telemetry.METRIC_PROCESSING_TIME) for blob in blobs)
        + len(unflushed.get(telemetry.METRIC_PROCESSING_TIME, {}).get("Value", []))
        == total
    )
    assert (
        sum(values(blob, telemetry.METRIC_UPLOADED_BYTES) for blob in blobs)
        + len(unflushed.get(telemetry.METRIC_UPLOADED_BYTES, {}).get("Value", []))
        == total // 2
    )
