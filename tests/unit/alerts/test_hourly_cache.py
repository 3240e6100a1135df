"""The hourly cache returns what a full read would, while asking the database only for the
hours that can still change."""

from __future__ import annotations

import numpy as np
import pytest

from alerts.hourly_cache import HourlyWindowCache
from analytics.series_window import SeriesWindow

H = 3600
T0 = 1_700_000_000 - 1_700_000_000 % H


class Database:
    """Hourly values per (source, hour) that the test can change, and a record of each read."""

    def __init__(self) -> None:
        rng = np.random.default_rng(3)
        self.data = {(s, T0 + k * H): float(rng.uniform(1, 100))
                     for s in ("A", "B") for k in range(200)}
        self.reads: list[tuple[int, int]] = []

    def read(self, start_s: int, end_s: int) -> SeriesWindow:
        self.reads.append((start_s, end_s))
        sources = tuple(sorted({s for s, t in self.data if start_s <= t < end_s}))
        times = np.arange(start_s, end_s, H)
        values = np.array([[self.data.get((s, int(t)), np.nan) for t in times]
                           for s in sources]).reshape(len(sources), len(times))
        return SeriesWindow(sources, times.astype("datetime64[s]"), {"pm25": values})


def same(a: SeriesWindow, b: SeriesWindow) -> None:
    order = [a.sources.index(s) for s in b.sources]
    assert sorted(a.sources) == sorted(b.sources)
    np.testing.assert_array_equal(a.times, b.times)
    np.testing.assert_array_equal(a.values["pm25"][order], b.values["pm25"])


@pytest.fixture
def clock() -> list[float]:
    return [0.0]


def test_sliding_window_reads_only_the_tail_and_matches_a_full_read(clock: list[float]) -> None:
    db = Database()
    cache = HourlyWindowCache(db.read, reread_hours=2, full_reread_s=600,
                              monotonic=lambda: clock[0])
    same(cache.window(T0, T0 + 48 * H), db.read(T0, T0 + 48 * H))
    db.reads.clear()
    for step in range(1, 30):  # the window slides one hour a cycle
        clock[0] += 5
        start, end = T0 + step * H, T0 + (48 + step) * H
        got = cache.window(start, end)
        assert db.reads[-1] == (end - 3 * H, end)  # the last 2 h read before, and the new hour
        same(got, db.read(start, end))
    assert cache.hours_read == 48 + 29 * 3


def test_late_data_within_the_reread_hours_is_seen_at_once(clock: list[float]) -> None:
    db = Database()
    cache = HourlyWindowCache(db.read, reread_hours=3, full_reread_s=600,
                              monotonic=lambda: clock[0])
    cache.window(T0, T0 + 24 * H)
    db.data[("A", T0 + 22 * H)] = 999.0  # a late value for an hour already read
    db.data[("C", T0 + 23 * H)] = 5.0  # a source that was not there before
    got = cache.window(T0, T0 + 25 * H)
    same(got, db.read(T0, T0 + 25 * H))
    assert got.values["pm25"][got.sources.index("A"), 22] == 999.0


def test_older_late_data_is_taken_in_by_the_periodic_full_read(clock: list[float]) -> None:
    db = Database()
    cache = HourlyWindowCache(db.read, reread_hours=2, full_reread_s=600,
                              monotonic=lambda: clock[0])
    cache.window(T0, T0 + 24 * H)
    db.data[("B", T0 + 3 * H)] = 777.0  # a backlog for an hour long read
    clock[0] += 30
    stale = cache.window(T0, T0 + 25 * H)
    assert stale.values["pm25"][stale.sources.index("B"), 3] != 777.0
    clock[0] += 600
    fresh = cache.window(T0, T0 + 26 * H)
    assert fresh.values["pm25"][fresh.sources.index("B"), 3] == 777.0
    same(fresh, db.read(T0, T0 + 26 * H))


@pytest.mark.parametrize("start_h, end_h", [(-5, 30), (2, 20), (40, 60)])
def test_a_window_that_does_not_extend_the_cached_one_is_read_whole(
        clock: list[float], start_h: int, end_h: int) -> None:
    db = Database()
    cache = HourlyWindowCache(db.read, reread_hours=2, full_reread_s=600,
                              monotonic=lambda: clock[0])
    cache.window(T0, T0 + 24 * H)
    got = cache.window(T0 + start_h * H, T0 + end_h * H)
    assert db.reads[-1] == (T0 + start_h * H, T0 + end_h * H)  # one whole read
    same(got, db.read(T0 + start_h * H, T0 + end_h * H))


def test_zero_full_reread_interval_always_reads_everything(clock: list[float]) -> None:
    db = Database()
    cache = HourlyWindowCache(db.read, reread_hours=2, full_reread_s=0,
                              monotonic=lambda: clock[0])
    cache.window(T0, T0 + 24 * H)
    cache.window(T0 + H, T0 + 25 * H)
    assert db.reads == [(T0, T0 + 24 * H), (T0 + H, T0 + 25 * H)]
