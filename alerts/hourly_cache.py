"""Hourly means already read stay in memory between analytics cycles.

Each cycle judges a window of several days, but only its last hours change: reading the whole
window from InfluxDB every cycle made InfluxDB aggregate days of minute data every few seconds
(about two thirds of a cycle's wall time at 640 minute stations, `bench/case_latency.py`). With
this cache a cycle reads only the hours that can still change — the last `reread_hours` before
the end of what was read, and anything newer — and the whole window again every
`full_reread_s`, so a unit's backlog that arrives days late is still taken in within that time.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from analytics.series_window import SeriesWindow, align

HOUR_S = 3600
ReadWindow = Callable[[int, int], SeriesWindow]


def _columns(window: SeriesWindow, start_s: int, end_s: int) -> SeriesWindow:
    """The hours of `window` in [start_s, end_s)."""
    times = window.times.astype("int64")
    keep = (times >= start_s) & (times < end_s)
    return SeriesWindow(window.sources, window.times[keep],
                        {k: v[:, keep] for k, v in window.values.items()}, window.step_s)


def _concat(head: SeriesWindow, tail: SeriesWindow) -> SeriesWindow:
    """`head` then `tail` (consecutive hours), over the sources of both (head's order first)."""
    sources = (*head.sources, *(s for s in tail.sources if s not in set(head.sources)))
    head, tail = align(head, sources), align(tail, sources)
    keys = set(head.values) | set(tail.values)
    empty = {k: np.full((len(sources), n), np.nan)
             for k, n in (("head", len(head.times)), ("tail", len(tail.times)))}
    values = {k: np.concatenate([head.values.get(k, empty["head"]),
                                 tail.values.get(k, empty["tail"])], axis=1) for k in keys}
    return SeriesWindow(sources, np.concatenate([head.times, tail.times]), values,
                        head.step_s)


class HourlyWindowCache:
    """`window(start_s, end_s)` as `read` would return it, reading only what may have changed.

    `read(start_s, end_s)` returns the hourly SeriesWindow of [start_s, end_s) (whole hours).
    One cache per query shape (measurement, fields, validity rule); not shared between threads.
    """

    def __init__(self, read: ReadWindow, *, reread_hours: int, full_reread_s: float,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._read = read
        self.reread_s = reread_hours * HOUR_S
        self.full_reread_s = full_reread_s
        self._monotonic = monotonic
        self._window: SeriesWindow | None = None
        self._span = (0, 0)
        self._full_at = float("-inf")
        self.hours_read = 0  # what InfluxDB was asked for, for tests and logs

    def window(self, start_s: int, end_s: int) -> SeriesWindow:
        cached_start, cached_end = self._span
        now = self._monotonic()
        full = (self._window is None or start_s < cached_start or end_s < cached_end
                or start_s >= cached_end or now - self._full_at >= self.full_reread_s)
        if full:
            result = self._read(start_s, end_s)
            self._full_at = now
            self.hours_read += (end_s - start_s) // HOUR_S
        else:
            assert self._window is not None
            reread_from = max(start_s, cached_end - self.reread_s)
            tail = self._read(reread_from, end_s)
            self.hours_read += (end_s - reread_from) // HOUR_S
            result = _concat(_columns(self._window, start_s, reread_from), tail)
        self._window, self._span = result, (start_s, end_s)
        return result
