"""The write buffer every way in shares: accepted lines and dead letters wait here until a
writer thread makes them durable — in InfluxDB, or in the on-disk spool while InfluxDB is down
— and only then tells the producer (`on_durable`), which acknowledges to the broker.

A message is therefore acknowledged only once its readings are durable: a crash before that
leaves it with the broker, which delivers it again (writes are idempotent: same series, same
time, same point). While the spool holds anything, new batches go behind it, so InfluxDB gets
them in order. With the spool full (or no spool configured) nothing is acknowledged: the broker
keeps the backlog, and a full buffer blocks the producer, so this process's memory stays bounded.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from config.settings import Settings
from ingest.dead_letters import DeadLetterStore, NewDeadLetter
from ingest.errors import StoreError, StoreRejected
from ingest.influx_store import InfluxStore
from ingest.spool import Spool, SpoolFull

log = logging.getLogger(__name__)

# Called (on the writer thread) once an entry's lines and dead letters are durable.
OnDurable = Callable[[], None]


@dataclass
class IngestCounters:
    """Running totals since start. `readings_*` count line-protocol points (a station reading or
    an HJ 212 record); `rejections` count refused readings or payloads.

    The balance: received = written + spooled + dead_lettered + buffered, where received =
    readings_accepted + rejections and dead_lettered = rejections_stored + readings_refused.
    """

    messages: int = 0
    messages_acked: int = 0
    packets: int = 0
    readings_accepted: int = 0
    readings_written: int = 0
    readings_spooled: int = 0
    readings_replayed: int = 0
    readings_refused: int = 0
    rejections: int = 0
    rejections_stored: int = 0
    dead_letters_stored: int = 0
    write_retries: int = 0
    spool_full: int = 0
    broker_dropped: int = 0
    replies_sent: int = 0
    tcp_connections: int = 0
    connected: bool = False
    subscribed: bool = False


@dataclass
class _Entry:
    """One producer's unit (a message, a packet): acknowledged as a whole."""

    lines: Sequence[str]
    letters: Sequence[NewDeadLetter]
    rejections: int
    on_durable: OnDurable | None = None
    size: int = field(default=0)


def spool_for(settings: Settings) -> Spool | None:
    """The collector's spool (`collector.spool_dir`/`client_id`), None when not configured."""
    collector = settings.collector
    if collector.spool_dir is None:
        return None
    return Spool(collector.spool_dir / collector.instance_id(),
                 max_bytes=collector.spool_max_bytes)


def _letter_bytes(letters: Sequence[NewDeadLetter]) -> int:
    return sum(len(letter.payload) for letter in letters)


class WriteBuffer:
    """Bounded buffer of line-protocol points and dead letters, drained by `influx.writers`
    writer threads (write requests in flight at once).

    Memory is bounded twice: by `collector.max_buffered_readings` lines and by
    `collector.max_buffered_letter_bytes` of dead-letter payloads (hostile megabyte payloads).
    """

    def __init__(self, settings: Settings, store: InfluxStore,
                 dead_letters: DeadLetterStore, spool: Spool | None = None) -> None:
        self.settings = settings
        self.store = store
        self.dead_letters = dead_letters
        self.spool = spool
        self.counters = IngestCounters()
        self._entries: deque[_Entry] = deque()
        self._lines = 0
        self._letter_bytes = 0
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._writers: list[threading.Thread] = []
        # Batches are numbered as they are taken; with several writes in flight, a batch is
        # acknowledged only after every earlier batch was acknowledged or given back.
        self._next_seq = 0
        self._ack_turn = 0
        self._finished: set[int] = set()
        # its own condition: waking writers for an acknowledgement turn must not cut their
        # flush_interval_s wait short (that would spin them against each other)
        self._turns = threading.Condition()
        # one writer at a time appends to or replays the spool (its order is InfluxDB's order)
        self._spool_lock = threading.Lock()
        # The spool is replayed before new lines go straight to InfluxDB (order); replays that
        # fail back off on their own clock, so new batches keep going into the spool meanwhile.
        self._spool_pending = spool is not None and spool.pending_bytes() > 0
        self._replay_at = 0.0
        self._replay_backoff = 0.5

    # -- producers ------------------------------------------------------------------------------
    def put(self, lines: Sequence[str], letters: Sequence[NewDeadLetter] = (), *,
            messages: int = 0, packets: int = 0, rejections: int | None = None,
            on_durable: OnDurable | None = None) -> bool:
        """Queue lines and dead letters, blocking while the buffer is full. `on_durable` is
        called once both are durable. False (nothing queued) when the buffer is stopping: the
        producer must then not acknowledge, so the broker delivers the message again."""
        collector = self.settings.collector
        size = _letter_bytes(letters)
        entry = _Entry(list(lines), list(letters),
                       len(letters) if rejections is None else rejections, on_durable, size)
        with self._cond:
            while (self._entries and not self._stop.is_set()
                   and (self._lines + len(lines) > collector.max_buffered_readings
                        or self._letter_bytes + size > collector.max_buffered_letter_bytes)):
                self._cond.wait(0.5)
            if self._stop.is_set():
                return False
            self._entries.append(entry)
            self._lines += len(entry.lines)
            self._letter_bytes += size
            self.counters.messages += messages
            self.counters.packets += packets
            self.counters.readings_accepted += len(entry.lines)
            self.counters.rejections += entry.rejections
            if (self._lines >= self.settings.influx.batch_size
                    or len(self._entries) >= collector.ack_batch_messages or letters):
                self._cond.notify_all()
        return True

    def count(self, name: str, amount: int = 1) -> None:
        """Add to a counter under the buffer's lock (counters are shared between threads)."""
        with self._cond:
            setattr(self.counters, name, getattr(self.counters, name) + amount)

    def snapshot(self) -> dict[str, int | bool]:
        """The counters plus the gauges (buffered, spool bytes), read consistently."""
        with self._cond:
            values: dict[str, int | bool] = asdict(self.counters)
            values["readings_buffered"] = self._lines
            values["rejections_buffered"] = sum(e.rejections for e in self._entries)
            values["messages_buffered"] = len(self._entries)
        values["spool_pending_bytes"] = self.spool.pending_bytes() if self.spool else 0
        return values

    # -- the writer -----------------------------------------------------------------------------
    def _take_batch(self) -> tuple[int, list[_Entry]]:
        batch_size = self.settings.influx.batch_size
        max_messages = self.settings.collector.ack_batch_messages
        with self._cond:
            if (self._lines < batch_size and len(self._entries) < max_messages
                    and not any(e.letters for e in self._entries) and not self._stop.is_set()):
                self._cond.wait(self.settings.influx.flush_interval_s)
            taken: list[_Entry] = []
            n_lines = 0
            while self._entries and (not taken or n_lines + len(self._entries[0].lines)
                                     <= batch_size) and len(taken) < max_messages:
                entry = self._entries.popleft()
                taken.append(entry)
                n_lines += len(entry.lines)
            seq = self._next_seq
            if taken:  # room again: wake producers blocked on a full buffer
                self._lines -= n_lines
                self._letter_bytes -= sum(e.size for e in taken)
                self._next_seq += 1
                self._cond.notify_all()
            return seq, taken

    def _finish(self, seq: int) -> None:
        """Batch `seq` is acknowledged or given back: let the batches after it go."""
        with self._turns:
            self._finished.add(seq)
            while self._ack_turn in self._finished:
                self._finished.remove(self._ack_turn)
                self._ack_turn += 1
            self._turns.notify_all()

    def _await_turn(self, seq: int) -> None:
        """Block until every batch taken before `seq` is acknowledged or given back."""
        with self._turns:
            while self._ack_turn != seq:
                self._turns.wait()

    def _put_back(self, entries: list[_Entry]) -> None:
        with self._cond:
            self._entries.extendleft(reversed(entries))
            self._lines += sum(len(e.lines) for e in entries)
            self._letter_bytes += sum(e.size for e in entries)

    def flush_once(self) -> int:
        """Make one batch durable and acknowledge it; return the points written to InfluxDB.

        Dead letters go to the ledger first. Lines go to InfluxDB — or to the spool when it
        already holds older lines or InfluxDB is unavailable. Without a spool (or with it full)
        the batch goes back to the front of the buffer unacknowledged and the error is raised
        for the caller to back off. Lines InfluxDB refuses become one dead letter. Safe to call
        from several writer threads: acknowledgements keep the order the batches were taken.
        """
        seq, entries = self._take_batch()
        if not entries:
            return 0
        try:
            entries = self._store_letters(entries)
            lines = [line for e in entries for line in e.lines]
            written = self._write_or_spool(lines) if lines else 0
        except Exception:
            self._put_back(entries)  # as they stand: letters already stored are not again
            self._finish(seq)
            raise
        self._await_turn(seq)
        acked = 0
        for entry in entries:
            if entry.on_durable is not None:
                try:
                    entry.on_durable()
                    acked += 1
                except Exception:  # the data is durable: never write it again for this
                    log.exception("acknowledging a durable entry failed")
        with self._cond:
            self.counters.messages_acked += acked
        self._finish(seq)
        return written

    def _store_letters(self, entries: list[_Entry]) -> list[_Entry]:
        """Store the batch's dead letters in the ledger; the entries without them."""
        letters = [letter for e in entries for letter in e.letters]
        if not letters:
            return entries
        self.dead_letters.add_many(letters)
        with self._cond:
            self.counters.dead_letters_stored += len(letters)
            self.counters.rejections_stored += sum(e.rejections for e in entries)
        return [_Entry(e.lines, (), 0, e.on_durable) for e in entries]

    def _write_or_spool(self, lines: list[str]) -> int:
        """InfluxDB if nothing older waits in the spool and it answers; else the spool."""
        if not (self.spool is not None and self._spool_pending):
            try:
                self.store.write_lines(lines)
            except StoreRejected as exc:
                self._refused(lines, exc)
                return 0
            except StoreError as exc:
                if self.spool is None:
                    raise
                log.warning("InfluxDB unavailable (%s); spooling to %s", exc,
                            self.spool.directory)
            else:
                with self._cond:
                    self.counters.readings_written += len(lines)
                return len(lines)
        assert self.spool is not None
        with self._spool_lock:
            try:
                self.spool.append(lines)
            except SpoolFull:
                self.count("spool_full")
                raise
            self._spool_pending = True
        with self._cond:
            self.counters.readings_spooled += len(lines)
        return 0

    def _refused(self, lines: Sequence[str], exc: StoreRejected) -> None:
        """InfluxDB said the lines are wrong (not that it is down): keep them as a dead letter."""
        self.dead_letters.add_many([NewDeadLetter(
            datetime.now(UTC), "influxdb/write", f"InfluxDB refused the batch: {exc}",
            "\n".join(lines).encode())])
        with self._cond:
            self.counters.readings_refused += len(lines)
            self.counters.dead_letters_stored += 1

    def replay_spool(self, max_batches: int = 20) -> int:
        """Write up to `max_batches` spooled batches to InfluxDB in order, committing each;
        return the points replayed. StoreUnavailable propagates (the caller backs off)."""
        if self.spool is None or not self._spool_pending:
            return 0
        with self._spool_lock:
            return self._replay_locked(self.spool, max_batches)

    def _replay_locked(self, spool: Spool, max_batches: int) -> int:
        replayed = 0
        seen = 0
        for batch in spool.replay(limit=max_batches):
            seen += 1
            try:
                self.store.write_lines(batch.lines)
                replayed += len(batch.lines)
                with self._cond:
                    self.counters.readings_replayed += len(batch.lines)
            except StoreRejected as exc:
                self._refused(batch.lines, exc)
            spool.commit(batch.end)
        if seen < max_batches:
            self._spool_pending = spool.pending_bytes() > 0
        return replayed

    def _replay_due(self) -> None:
        if (not self._spool_pending or time.monotonic() < self._replay_at
                or self._spool_lock.locked()):  # another writer is at the spool
            return
        try:
            if self.replay_spool():
                log.info("replayed spooled readings into InfluxDB")
            self._replay_backoff = 0.5
        except StoreError as exc:
            self._replay_at = time.monotonic() + self._replay_backoff
            log.warning("spool replay failed (%s); next try in %.1f s", exc,
                        self._replay_backoff)
            self._replay_backoff = min(self._replay_backoff * 2,
                                       self.settings.collector.retry_max_s)

    def _writer_loop(self) -> None:
        backoff = 0.5
        while not (self._stop.is_set() and not self.pending()):
            try:
                self._replay_due()
                self.flush_once()
                backoff = 0.5
            except Exception as exc:
                self.count("write_retries")
                if self._stop.is_set():
                    log.error("stopping with %d items not written (not acknowledged, the "
                              "broker keeps them): %s", self.pending(), exc)
                    return
                log.warning("write failed (%s); retrying in %.1f s", exc, backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self.settings.collector.retry_max_s)

    def pending(self) -> int:
        """Entries (messages, packets) not yet durable."""
        with self._cond:
            return len(self._entries)

    def spool_pending(self) -> bool:
        return self._spool_pending

    def start(self) -> None:
        """Start `influx.writers` writer threads (write requests in flight at once)."""
        if not self._writers:
            self._writers = [threading.Thread(target=self._writer_loop,
                                              name=f"influx-writer-{k}", daemon=True)
                             for k in range(self.settings.influx.writers)]
            for writer in self._writers:
                writer.start()

    def stop(self, timeout_s: float = 15.0) -> None:
        """Make what is buffered durable (retrying until `timeout_s`), then stop the writer.
        The spool stays on disk for the next start."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        deadline = time.monotonic() + timeout_s
        for writer in self._writers:
            writer.join(max(0.0, deadline - time.monotonic()))
        if any(writer.is_alive() for writer in self._writers):
            return  # still retrying: leave the spool open under it (daemon threads)
        if self.spool is not None:
            self.spool.close()
