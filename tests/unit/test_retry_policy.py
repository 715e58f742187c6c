"""The ECE client's retry policy on its own: full-jitter backoff, its cap, Retry-After."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from extension_uploader.ece import (
    BACKOFF_BASE_SECONDS,
    BACKOFF_CAP_SECONDS,
    MAX_RETRY_AFTER_SECONDS,
    backoff_seconds,
)
from extension_uploader.ece_errors import retry_after_seconds

SAMPLES = 4000


@pytest.fixture(autouse=True)
def seeded_random() -> Iterator[None]:
    """The jitter draws from the module-level generator: make it repeatable, then restore it."""
    state = random.getstate()
    random.seed(20261128)
    try:
        yield
    finally:
        random.setstate(state)


def test_the_designed_policy() -> None:
    assert (BACKOFF_BASE_SECONDS, BACKOFF_CAP_SECONDS) == (1.0, 20.0)


@pytest.mark.parametrize(
    ("attempt", "bound"),
    [(1, 2.0), (2, 4.0), (3, 8.0), (4, 16.0), (5, 20.0), (6, 20.0), (30, 20.0)],
)
def test_full_jitter_spans_zero_to_the_capped_exponential(attempt: int, bound: float) -> None:
    waits = [backoff_seconds(attempt, None, BACKOFF_BASE_SECONDS) for _ in range(SAMPLES)]
    assert all(0 <= wait <= bound for wait in waits)
    # the whole range is used: neither a shorter nor a longer design passes
    assert max(waits) > 0.98 * bound
    assert min(waits) < 0.02 * bound
    assert 0.45 * bound < sum(waits) / len(waits) < 0.55 * bound


def test_base_scales_the_waits() -> None:
    waits = [backoff_seconds(3, None, 0.01) for _ in range(SAMPLES)]
    assert 0.078 < max(waits) <= 0.08


@pytest.mark.parametrize(
    ("retry_after", "wait"), [(0.0, 0.0), (3.0, 3.0), (120.0, 120.0), (121.0, 120.0), (1e9, 120.0)]
)
def test_retry_after_is_honoured_up_to_its_cap(retry_after: float, wait: float) -> None:
    assert MAX_RETRY_AFTER_SECONDS == 120.0
    assert backoff_seconds(1, retry_after, BACKOFF_BASE_SECONDS) == wait


@pytest.mark.parametrize(
    ("header", "seconds"), [("7", 7.0), (" 12 ", 12.0), ("", None), ("soon", None), (None, None)]
)
def test_retry_after_header_forms(header: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(header) == seconds


def test_retry_after_as_an_http_date_in_the_past_is_no_wait() -> None:
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
