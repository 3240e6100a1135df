"""The write buffer every way in shares: accepted lines and dead letters wait here until a
writer thread puts them into InfluxDB and the ledger, in batches.

A full buffer blocks the producer (paho's network thread, the TCP gateway), so the backlog stays
with the broker or in the unit, not in this process's memory.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from config.settings import Settings
from ingest.dead_letters import DeadLetterStore, NewDeadLetter
from ingest.errors import StoreError, StoreRejected
from ingest.influx_store import InfluxStore

log = logging.getLogger(__name__)


@dataclass
class IngestCounters:
    """Running totals since start; readings_accepted = written + still buffered.

    `readings_*` count line-protocol points (a station reading or an HJ 212 record).
    """

    messages: int = 0
    packets: int = 0
    readings_accepted: int = 0
    readings_written: int = 0
    rejections: int = 0
    dead_letters_stored: int = 0
    write_retries: int = 0
    replies_sent: int = 0
    tcp_connections: int = 0
    connected: bool = False
    subscribed: bool = False


class WriteBuffer:
    """Bounded buffer of line-protocol points and dead letters, drained by one writer thread."""

    def __init__(self, settings: Settings, store: InfluxStore,
                 dead_letters: DeadLetterStore) -> None:
        self.settings = settings
        self.store = store
        self.dead_letters = dead_letters
        self.counters = IngestCounters()
        self._lines: deque[str] = deque()
        self._letters: deque[NewDeadLetter] = deque()
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._writer: threading.Thread | None = None

    def put(self, lines: Sequence[str], letters: Sequence[NewDeadLetter] = (), *,
            messages: int = 0, packets: int = 0, rejections: int | None = None) -> None:
        """Queue lines and dead letters, blocking while the buffer is full."""
        limit = self.settings.collector.max_buffered_readings
        with self._cond:
            self.counters.messages += messages
            self.counters.packets += packets
            while (self._lines and len(self._lines) + len(lines) > limit
                   and not self._stop.is_set()):
                self._cond.wait(0.5)
            self._lines.extend(lines)
            self._letters.extend(letters)
            self.counters.readings_accepted += len(lines)
            self.counters.rejections += len(letters) if rejections is None else rejections
            if len(self._lines) >= self.settings.influx.batch_size or letters:
                self._cond.notify_all()

    def count(self, name: str, amount: int = 1) -> None:
        """Add to a counter under the buffer's lock (counters are shared between threads)."""
        with self._cond:
            setattr(self.counters, name, getattr(self.counters, name) + amount)

    def _take_batch(self) -> tuple[list[str], list[NewDeadLetter]]:
        batch_size = self.settings.influx.batch_size
        with self._cond:
            if len(self._lines) < batch_size and not self._letters and not self._stop.is_set():
                self._cond.wait(self.settings.influx.flush_interval_s)
            n = min(batch_size, len(self._lines))
            lines = [self._lines.popleft() for _ in range(n)]
            letters = list(self._letters)
            self._letters.clear()
            self._cond.notify_all()
            return lines, letters

    def _put_back(self, lines: list[str], letters: list[NewDeadLetter]) -> None:
        with self._cond:
            self._lines.extendleft(reversed(lines))
            self._letters.extendleft(reversed(letters))

    def flush_once(self) -> int:
        """Write one batch (and pending dead letters); return points written.

        On StoreUnavailable the batch goes back to the front of the buffer and the error is
        raised for the caller to back off; lines InfluxDB refuses become one dead letter.
        """
        lines, letters = self._take_batch()
        written = 0
        if lines:
            try:
                self.store.write_lines(lines)
                written = len(lines)
            except StoreRejected as exc:
                letters.append(NewDeadLetter(datetime.now(UTC), "influxdb/write",
                                             f"InfluxDB refused the batch: {exc}",
                                             "\n".join(lines).encode()))
            except StoreError:
                self._put_back(lines, letters)
                raise
        with self._cond:
            self.counters.readings_written += written
        if letters:
            try:
                self.dead_letters.add_many(letters)
            except Exception:
                self._put_back([], letters)
                raise
            with self._cond:
                self.counters.dead_letters_stored += len(letters)
        return written

    def _writer_loop(self) -> None:
        backoff = 0.5
        while not (self._stop.is_set() and not self.pending()):
            try:
                self.flush_once()
                backoff = 0.5
            except Exception as exc:
                self.count("write_retries")
                if self._stop.is_set():
                    log.error("stopping with %d items not written: %s", self.pending(), exc)
                    return
                log.warning("write failed (%s); retrying in %.1f s", exc, backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self.settings.collector.retry_max_s)

    def pending(self) -> int:
        with self._cond:
            return len(self._lines) + len(self._letters)

    def start(self) -> None:
        if self._writer is None:
            self._writer = threading.Thread(target=self._writer_loop, name="influx-writer",
                                            daemon=True)
            self._writer.start()

    def stop(self, timeout_s: float = 15.0) -> None:
        """Write what is buffered (retrying until `timeout_s`), then stop the writer."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._writer is not None:
            self._writer.join(timeout_s)
