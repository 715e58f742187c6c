"""The time an invocation has left, with a reserve kept for writing the outcome."""

from __future__ import annotations

import time
from collections.abc import Callable

# Enough to write tags and metrics after the last network call gives up.
DEFAULT_RESERVE_SECONDS = 10.0


class Deadline:
    def __init__(
        self,
        remaining_ms: Callable[[], int],
        reserve_seconds: float = DEFAULT_RESERVE_SECONDS,
    ) -> None:
        self._remaining_ms = remaining_ms
        self._reserve = reserve_seconds

    @classmethod
    def after(cls, seconds: float, reserve_seconds: float = DEFAULT_RESERVE_SECONDS) -> Deadline:
        """A deadline ``seconds`` from now (for callers without a Lambda context)."""
        end = time.monotonic() + seconds
        return cls(lambda: int((end - time.monotonic()) * 1000), reserve_seconds)

    def remaining(self) -> float:
        """Seconds left for work, the reserve already taken off."""
        return self._remaining_ms() / 1000 - self._reserve

    def seconds_to_end(self) -> float:
        """Seconds until the invocation ends, reserve included."""
        return max(0.0, self._remaining_ms() / 1000)

    def allows(self, seconds: float) -> bool:
        return self.remaining() >= seconds
