"""Several writes in flight (influx.writers), acknowledgements in the order batches were taken.

MQTT wants PUBACKs in the order the messages came; with two writer threads a later batch can
be durable first, and must then wait for the earlier one. The store here is a stand-in whose
writes the test holds and releases (the real-parts behaviour — nothing lost, every reading
once — is what tests/faults checks against InfluxDB and Mosquitto)."""

from __future__ import annotations

import threading

import pytest

from config.settings import CollectorSettings, InfluxSettings, Settings
from ingest.errors import StoreUnavailable
from ingest.write_buffer import WriteBuffer
from lantian.local_services import wait_until


class HeldStore:
    """write_lines blocks until the test releases that batch (keyed by its first line); a
    batch can be told to fail once."""

    def __init__(self) -> None:
        self.release: dict[str, threading.Event] = {}
        self.fail_once: set[str] = set()
        self.written: list[str] = []
        self.entered: list[str] = []
        self._lock = threading.Lock()

    def gate(self, key: str) -> threading.Event:
        return self.release.setdefault(key, threading.Event())

    def write_lines(self, lines: list[str]) -> None:
        key = lines[0]
        with self._lock:
            self.entered.append(key)
        assert self.gate(key).wait(10), f"batch {key} was never released"
        with self._lock:
            if key in self.fail_once:
                self.fail_once.discard(key)
                raise StoreUnavailable("InfluxDB went away (test)")
            self.written.extend(lines)


@pytest.fixture
def store() -> HeldStore:
    return HeldStore()


def make_buffer(store: HeldStore, writers: int) -> WriteBuffer:
    # one message a batch: each put() below is its own batch, taken in put order
    settings = Settings(influx=InfluxSettings(writers=writers, batch_size=1,
                                              flush_interval_s=0.01),
                        collector=CollectorSettings(ack_batch_messages=1, retry_max_s=0.2))
    return WriteBuffer(settings, store, dead_letters=None)  # type: ignore[arg-type]


def test_a_later_batch_durable_first_waits_for_the_earlier_ack(store: HeldStore) -> None:
    buffer = make_buffer(store, writers=2)
    acked: list[str] = []
    buffer.start()
    try:
        for key in ("a", "b"):
            buffer.put([key], on_durable=lambda k=key: acked.append(k))
        assert wait_until(lambda: len(store.entered) == 2, 5)  # both writes in flight at once
        store.gate("b").set()
        assert wait_until(lambda: store.written == ["b"], 5)
        assert not wait_until(lambda: bool(acked), 0.3)  # b is durable but a is not yet
        store.gate("a").set()
        assert wait_until(lambda: acked == ["a", "b"], 5)
    finally:
        for gate in store.release.values():
            gate.set()
        buffer.stop()
    assert buffer.counters.messages_acked == 2 and buffer.counters.readings_written == 2


def test_a_failed_earlier_batch_does_not_hold_back_the_later_ones(store: HeldStore) -> None:
    buffer = make_buffer(store, writers=2)
    acked: list[str] = []
    store.fail_once.add("a")
    buffer.start()
    try:
        for key in ("a", "b"):
            buffer.put([key], on_durable=lambda k=key: acked.append(k))
        assert wait_until(lambda: len(store.entered) == 2, 5)
        store.gate("b").set()
        store.gate("a").set()  # a fails once, goes back to the buffer, is written again
        assert wait_until(lambda: sorted(acked) == ["a", "b"], 5)
    finally:
        buffer.stop()
    assert sorted(store.written) == ["a", "b"]
    assert buffer.counters.write_retries == 1 and buffer.counters.messages_acked == 2
    assert buffer.pending() == 0


def test_one_writer_keeps_one_write_in_flight(store: HeldStore) -> None:
    buffer = make_buffer(store, writers=1)
    buffer.start()
    try:
        for key in ("a", "b"):
            buffer.put([key])
        assert wait_until(lambda: store.entered == ["a"], 5)
        assert not wait_until(lambda: len(store.entered) > 1, 0.3)
        store.gate("a").set()
        store.gate("b").set()
        assert wait_until(lambda: store.written == ["a", "b"], 5)
    finally:
        buffer.stop()


def test_idle_writers_wait_their_flush_interval_instead_of_waking_each_other(
        store: HeldStore) -> None:
    buffer = make_buffer(store, writers=2)
    buffer.settings = buffer.settings.model_copy(update={"influx": buffer.settings.influx
                                                          .model_copy(update={
                                                              "flush_interval_s": 0.1})})
    takes = [0]
    take = buffer._take_batch

    def counted() -> tuple[int, list]:  # type: ignore[type-arg]
        takes[0] += 1
        return take()

    buffer._take_batch = counted  # type: ignore[method-assign]
    buffer.start()
    stop = threading.Event()
    stop.wait(1.0)
    buffer.stop()
    # two writers, each waking once per 0.1 s flush interval: about 20 looks in 1 s, where
    # writers waking each other would spin thousands of times
    assert takes[0] <= 40, takes[0]
