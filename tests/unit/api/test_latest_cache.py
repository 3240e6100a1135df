"""The latest-values cache: kept for ttl_s, read anew after, one read at a time under
concurrent requests (others wait for the first read, or get the previous snapshot during a
re-read), nothing kept when a read fails, disabled at 0."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from api.latest_cache import LatestCache

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


class FakeClock:
    """Monotonic seconds and the matching wall time, moved by the test."""

    def __init__(self) -> None:
        self.now_s = 1000.0

    def monotonic(self) -> float:
        return self.now_s

    def wall(self) -> datetime:
        return T0 + timedelta(seconds=self.now_s - 1000.0)


def test_snapshot_is_kept_for_ttl_then_read_again() -> None:
    clock = FakeClock()
    cache = LatestCache(30.0, clock.monotonic, clock.wall)
    values = iter(["first", "second"])
    seen_fetch_times: list[datetime] = []

    def load(fetched_at: datetime) -> str:
        seen_fetch_times.append(fetched_at)
        return next(values)

    first = cache.get("stations", load)
    assert first.value == "first" and first.fetched_at == T0
    clock.now_s += 29.9
    again = cache.get("stations", load)
    assert again is first and cache.age_s(again) == pytest.approx(29.9)
    clock.now_s += 0.1  # 30 s: expired
    fresh = cache.get("stations", load)
    assert fresh.value == "second" and fresh.fetched_at == T0 + timedelta(seconds=30)
    assert cache.age_s(fresh) == 0.0
    assert seen_fetch_times == [T0, T0 + timedelta(seconds=30)]
    assert cache.refreshes["stations"] == 2


def test_keys_are_independent() -> None:
    clock = FakeClock()
    cache = LatestCache(30.0, clock.monotonic, clock.wall)
    assert cache.get("stations", lambda _: 1).value == 1
    assert cache.get("outlets", lambda _: 2).value == 2
    assert cache.get("stations", lambda _: 3).value == 1
    assert cache.refreshes == {"stations": 1, "outlets": 1}


def test_concurrent_requests_share_one_read() -> None:
    cache = LatestCache(30.0)
    n_threads = 8
    loads: list[int] = []
    started = threading.Barrier(n_threads)
    all_asked = threading.Event()
    asked = [0]
    asked_lock = threading.Lock()

    def load(fetched_at: datetime) -> str:
        loads.append(1)
        # Hold the read until every request has asked, so they overlap it.
        assert all_asked.wait(10)
        return "snapshot"

    results: list[object] = []

    def request() -> None:
        started.wait()
        with asked_lock:
            asked[0] += 1
            if asked[0] == n_threads:
                all_asked.set()
        results.append(cache.get("stations", load))

    threads = [threading.Thread(target=request) for _ in range(n_threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(results) == n_threads
    assert len(loads) == 1 and cache.refreshes["stations"] == 1
    assert len({id(r) for r in results}) == 1


def test_requests_during_a_reread_get_the_previous_snapshot() -> None:
    clock = FakeClock()
    cache = LatestCache(30.0, clock.monotonic, clock.wall)
    old = cache.get("stations", lambda _: "old")
    clock.now_s += 31.0
    entered, release = threading.Event(), threading.Event()

    def slow_load(fetched_at: datetime) -> str:
        entered.set()
        assert release.wait(10)
        return "new"

    def not_called(fetched_at: datetime) -> str:
        raise AssertionError("a second read while one runs")

    rereads: list[object] = []
    reader = threading.Thread(target=lambda: rereads.append(cache.get("stations", slow_load)))
    reader.start()
    assert entered.wait(10)
    during = cache.get("stations", not_called)  # answered at once, not queued
    assert during is old and cache.age_s(during) == pytest.approx(31.0)
    release.set()
    reader.join(10)
    [new] = rereads
    assert new.value == "new"  # type: ignore[attr-defined]
    assert cache.get("stations", not_called) is new
    assert cache.refreshes["stations"] == 2


def test_a_failed_read_keeps_nothing() -> None:
    clock = FakeClock()
    cache = LatestCache(30.0, clock.monotonic, clock.wall)

    def fail(fetched_at: datetime) -> str:
        raise RuntimeError("influx down")

    with pytest.raises(RuntimeError, match="influx down"):
        cache.get("stations", fail)
    assert cache.get("stations", lambda _: "back").value == "back"


def test_zero_ttl_reads_for_every_request() -> None:
    cache = LatestCache(0.0)
    counter = iter(range(10))
    assert [cache.get("stations", lambda _: next(counter)).value for _ in range(3)] == [0, 1, 2]
    assert cache.refreshes["stations"] == 3


def test_clear_forgets_snapshots() -> None:
    cache = LatestCache(30.0)
    cache.get("stations", lambda _: 1)
    cache.clear()
    assert cache.get("stations", lambda _: 2).value == 2


def test_negative_ttl_is_refused() -> None:
    with pytest.raises(ValueError, match=">= 0"):
        LatestCache(-1.0)
