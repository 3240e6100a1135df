"""The API benchmark's paced load: requests start at the asked rate, not back to back, and a
call slower than its interval shows as latency counted from its scheduled time."""

from __future__ import annotations

import threading
import time

import pytest

from bench.api_load import run_load, summarize


def _counting_call(delay_s: float = 0.0):  # type: ignore[no-untyped-def]
    starts: list[float] = []
    lock = threading.Lock()

    def make():  # type: ignore[no-untyped-def]
        def call() -> int:
            with lock:
                starts.append(time.perf_counter())
            if delay_s:
                time.sleep(delay_s)  # a slow server, simulated in the call itself
            return 1
        return call
    return make, starts


def test_paced_run_sends_the_asked_rate() -> None:
    make, starts = _counting_call()
    latencies, errors, elapsed, size = run_load(make, 4, 1.0, rate_per_s=40.0)
    assert not errors
    # 40/s for 1 s: 40 scheduled starts (±1 at the end: float steps; a late thread may miss one)
    assert 30 <= len(latencies) <= 41 and size == len(latencies)
    assert elapsed >= 1.0
    gaps = sorted(b - a for a, b in zip(sorted(starts), sorted(starts)[1:], strict=False))
    assert 0.01 <= gaps[len(gaps) // 2] <= 0.045  # median spacing about 1/40 s


def test_back_to_back_is_much_faster_than_paced() -> None:
    make, _ = _counting_call()
    latencies, _, _, _ = run_load(make, 2, 0.2)
    assert len(latencies) > 200


def test_slow_calls_count_from_their_scheduled_start() -> None:
    # One client, 20/s asked (every 50 ms), each call takes 100 ms: the client falls behind and
    # later requests wait for earlier ones, so latency grows past the call's own 100 ms.
    make, _ = _counting_call(0.1)
    latencies, _, _, _ = run_load(make, 1, 0.6, rate_per_s=20.0)
    assert latencies[0] >= 0.1
    assert max(latencies) >= 0.25


def test_rate_is_recorded_and_must_be_positive() -> None:
    assert summarize("api latest", 4, [0.1], 0, 1.0, 10, target_rps=20.0).target_rps == 20.0
    with pytest.raises(ValueError):
        run_load(lambda: (lambda: 0), 1, 0.1, rate_per_s=0.0)
