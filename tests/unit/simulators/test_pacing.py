"""replay_window: step timing on a fake clock, batching across steps, stop."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

from analytics.series_window import SeriesWindow
from ingest.station_payload import Reading
from simulators.pacing import replay_window

T0 = np.datetime64("2016-12-14T16:00:00", "s")


def _window(n_sources: int = 3, n_steps: int = 5) -> SeriesWindow:
    times = T0 + np.arange(n_steps) * np.timedelta64(3600, "s")
    pm25 = np.arange(n_sources * n_steps, dtype=float).reshape(n_sources, n_steps)
    return SeriesWindow(tuple(f"S{i}" for i in range(n_sources)), times, {"pm25": pm25})


class RecordingSink:
    def __init__(self) -> None:
        self.calls: list[tuple[list[Reading], int]] = []

    def publish_readings(self, readings: Sequence[Reading], batch_size: int = 1) -> int:
        self.calls.append((list(readings), batch_size))
        return len(readings)


class FakeClock:
    """A clock that only moves when the pacing waits on the stop event."""

    def __init__(self) -> None:
        self.now = 100.0
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now


class ClockedStop(threading.Event):
    def __init__(self, clock: FakeClock, stop_after_waits: int | None = None) -> None:
        super().__init__()
        self._clock = clock
        self._stop_after = stop_after_waits

    def wait(self, timeout: float | None = None) -> bool:
        assert timeout is not None
        self._clock.waits.append(timeout)
        self._clock.now += timeout
        if self._stop_after is not None and len(self._clock.waits) >= self._stop_after:
            self.set()
        return self.is_set()


def test_steps_are_paced_on_the_accelerated_clock() -> None:
    clock = FakeClock()
    sink = RecordingSink()
    published = replay_window(
        _window(), sink, data_seconds_per_second=1800, stop=ClockedStop(clock), clock=clock
    )
    assert published == 15
    assert clock.waits == [2.0, 2.0, 2.0, 2.0]  # 3600 s of data at 1800 data-s per s
    assert [len(readings) for readings, _ in sink.calls] == [3] * 5


def test_batching_accumulates_steps_and_flushes_the_rest() -> None:
    sink = RecordingSink()
    steps: list[tuple[int, int]] = []
    published = replay_window(
        _window(), sink, data_seconds_per_second=1e12, batch_size=2,
        on_step=lambda index, n: steps.append((index, n)),
    )  # fmt: skip
    assert published == 15
    assert [(len(readings), size) for readings, size in sink.calls] == [(6, 2), (6, 2), (3, 2)]
    first = sink.calls[0][0]
    assert [(r.station, r.values["pm25"]) for r in first] == [
        ("S0", 0.0), ("S1", 5.0), ("S2", 10.0), ("S0", 1.0), ("S1", 6.0), ("S2", 11.0),
    ]  # fmt: skip
    assert steps == [(i, 3) for i in range(5)]


def test_stop_ends_the_replay_and_flushes_what_was_collected() -> None:
    clock = FakeClock()
    sink = RecordingSink()
    stop = ClockedStop(clock, stop_after_waits=3)
    published = replay_window(
        _window(), sink, data_seconds_per_second=3600, batch_size=2, stop=stop, clock=clock
    )
    # Steps 0-2 went out (step 2 as a partial batch) before the third wait was cut short.
    assert published == 9
    assert [len(readings) for readings, _ in sink.calls] == [6, 3]


def test_preset_stop_publishes_nothing() -> None:
    stop = threading.Event()
    stop.set()
    sink = RecordingSink()
    assert replay_window(_window(), sink, data_seconds_per_second=1.0, stop=stop) == 0
    assert sink.calls == []
