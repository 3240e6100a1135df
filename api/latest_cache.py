"""A short-lived, per-process cache of the latest values the duty officers' screens poll.

The latest reading of every station and outlet changes about once a minute, yet each screen
asks for all of them every few seconds, and reading them costs InfluxDB about a second of CPU
for 5,000 stations. So each kind of snapshot is read at most once per `ttl_s` per process, by
one request at a time (no thundering herd): requests arriving during that read are answered
from the previous snapshot, or, when there is none yet, wait for the read. Snapshots are
unscoped; routes filter them per caller.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Snapshot(Generic[T]):
    """A value and when it was read: `fetched_at` (UTC, shown to clients), `fetched_mono`
    (time.monotonic seconds, for expiry and age)."""

    value: T
    fetched_at: datetime
    fetched_mono: float


class LatestCache:
    """Snapshots by key, each kept `ttl_s` seconds; `ttl_s` 0 reads anew for every request.

    `clock` (monotonic seconds) and `wall` (aware UTC now) are injectable for tests.
    Thread-safe: FastAPI runs sync routes in a thread pool. A loader that raises caches nothing
    and the error goes to the caller; the next request tries again.
    """

    def __init__(self, ttl_s: float, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        if ttl_s < 0:
            raise ValueError("ttl_s must be >= 0 (0 disables the cache)")
        self.ttl_s = ttl_s
        self._clock = clock
        self._wall = wall
        self._snapshots: dict[str, Snapshot[object]] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()
        self.refreshes: Counter[str] = Counter()  # loads per key, for tests and metrics

    def age_s(self, snapshot: Snapshot[object]) -> float:
        """Seconds since `snapshot` was read."""
        return max(0.0, self._clock() - snapshot.fetched_mono)

    def _fresh(self, key: str) -> Snapshot[object] | None:
        snapshot = self._snapshots.get(key)
        if snapshot is not None and self._clock() - snapshot.fetched_mono < self.ttl_s:
            return snapshot
        return None

    def _lock(self, key: str) -> threading.Lock:
        with self._locks_lock:
            return self._locks.setdefault(key, threading.Lock())

    def get(self, key: str, load: Callable[[datetime], T]) -> Snapshot[T]:
        """The snapshot under `key`, read with `load(fetched_at)` when missing or expired.

        One read at a time per key. While it runs, other requests get the expired snapshot
        (its `Age` shows it) rather than queue behind the read; with none yet, they wait for
        it. `fetched_at` is taken before the read starts, so the age shown never understates.
        """
        if self.ttl_s <= 0:  # disabled: every request reads for itself, none waits
            self.refreshes[key] += 1
            fetched_at, fetched_mono = self._wall(), self._clock()
            return Snapshot(load(fetched_at), fetched_at, fetched_mono)
        snapshot = self._fresh(key)
        if snapshot is not None:
            return snapshot  # type: ignore[return-value]
        lock = self._lock(key)
        stale = self._snapshots.get(key)
        if not lock.acquire(blocking=stale is None):
            return stale  # type: ignore[return-value]  # another request is reading it anew
        try:
            snapshot = self._fresh(key)  # another request may have read it meanwhile
            if snapshot is None:
                fetched_at, fetched_mono = self._wall(), self._clock()
                snapshot = Snapshot(load(fetched_at), fetched_at, fetched_mono)
                self.refreshes[key] += 1
                self._snapshots[key] = snapshot
        finally:
            lock.release()
        return snapshot  # type: ignore[return-value]

    def clear(self) -> None:
        """Forget every snapshot (the next request of each key reads anew)."""
        self._snapshots.clear()
