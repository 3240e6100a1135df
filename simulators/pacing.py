"""Publish a SeriesWindow step by step on an accelerated (or real-time) clock."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from analytics.series_window import SeriesWindow
from ingest.station_payload import Reading
from simulators.publisher import readings_at


class ReadingSink(Protocol):
    """What pacing needs from a publisher (ReadingPublisher satisfies it)."""

    def publish_readings(self, readings: Sequence[Reading], batch_size: int = 1) -> int: ...


def replay_window(
    window: SeriesWindow,
    publisher: ReadingSink,
    *,
    data_seconds_per_second: float,
    batch_size: int = 1,
    stop: threading.Event | None = None,
    on_step: Callable[[int, int], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Publish each time column of `window`; return the number of readings published.

    Step i goes out when the wall clock (`clock`, seconds) reaches
    ``t0 + i * window.step_s / data_seconds_per_second``, t0 being the call time; real time
    is ``data_seconds_per_second=1`` with data times near now. With `batch_size` > 1 each
    station's readings of `batch_size` consecutive steps go out together (one message per
    station), and a partial batch is flushed at the end. Setting `stop` ends the replay at
    once, still flushing what was collected. `on_step(index, n_readings)` follows each step.
    """
    if data_seconds_per_second <= 0:
        raise ValueError(f"data_seconds_per_second must be positive, got {data_seconds_per_second}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    stop = stop if stop is not None else threading.Event()
    wall_per_step_s = window.step_s / data_seconds_per_second
    t0 = clock()
    published = 0
    pending: list[Reading] = []
    steps_pending = 0
    for index in range(len(window.times)):
        delay_s = t0 + index * wall_per_step_s - clock()
        # Event.wait, not sleep: a stop request ends the wait at once.
        if (delay_s > 0 and stop.wait(delay_s)) or stop.is_set():
            break
        readings = readings_at(window, index)
        pending.extend(readings)
        steps_pending += 1
        if steps_pending == batch_size:
            publisher.publish_readings(pending, batch_size)
            published += len(pending)
            pending, steps_pending = [], 0
        if on_step is not None:
            on_step(index, len(readings))
    if pending:
        publisher.publish_readings(pending, batch_size)
        published += len(pending)
    return published
