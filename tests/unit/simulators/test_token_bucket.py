"""TokenBucket on a fake clock."""

from __future__ import annotations

import pytest

from simulators.rate_limit import TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_evenly_spaced_delays() -> None:
    clock = Clock()
    bucket = TokenBucket(2.0, clock=clock)
    assert [bucket.reserve() for _ in range(4)] == [0.0, 0.0, 0.5, 1.0]
    clock.now = 1.0  # two tokens refilled pay off the debt of two; the next waits 0.5 s
    assert bucket.reserve() == pytest.approx(0.5)


def test_refill_is_capped_at_the_burst() -> None:
    clock = Clock()
    bucket = TokenBucket(1.0, burst=3.0, clock=clock)
    clock.now = 100.0
    assert [bucket.reserve() for _ in range(4)] == [0.0, 0.0, 0.0, 1.0]


def test_rate_must_be_positive() -> None:
    with pytest.raises(ValueError):
        TokenBucket(0.0)
