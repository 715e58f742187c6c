"""A small soak inside ``make test``: 30 objects, 3 invocations at once, faults, a key rotation."""

from __future__ import annotations

from tests.soak.harness import SoakConfig, run_soak, summarise


def test_small_soak_loses_nothing_uploads_once_and_leaves_the_newest() -> None:
    report = run_soak(
        SoakConfig(
            objects=30,
            extensions=3,
            keys_per_extension=2,
            in_flight=3,
            faults=15,
            fast_backoff=True,
        )
    )
    print(report.line())
    assert report.ok, summarise(report)
    assert report.invocations >= report.events > 0
    assert report.uploads > 0 and report.faults > 0
