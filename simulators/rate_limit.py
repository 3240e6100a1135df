"""A token bucket that caps how many messages per second a publisher sends."""

from __future__ import annotations

import time
from collections.abc import Callable


class TokenBucket:
    """Allows `rate_per_s` events per second on average, bursts of up to `burst` events.

    Not thread-safe: one publishing thread owns it. `clock` returns seconds (monotonic).
    """

    def __init__(
        self,
        rate_per_s: float,
        *,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate_per_s <= 0:
            raise ValueError(f"rate_per_s must be positive, got {rate_per_s}")
        self._rate = rate_per_s
        self._capacity = max(1.0, burst if burst is not None else rate_per_s)
        self._tokens = self._capacity
        self._clock = clock
        self._last = clock()

    def reserve(self) -> float:
        """Take one token; return the seconds to wait before using it (0 when one was ready).

        The debt is booked at once, so successive callers queue up behind each other.
        """
        now = self._clock()
        self._tokens = min(self._capacity, self._tokens + (now - self._last) * self._rate)
        self._last = now
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self._rate
