"""A collector whose write buffer only records what the message handler queues: for fuzzing
the handler (JSON and HJ 212 paths) without a broker or a database."""

from __future__ import annotations

import gc
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from config.settings import InfluxSettings, Settings
from ingest.dead_letters import DeadLetterStore, NewDeadLetter
from ingest.influx_store import InfluxStore
from ingest.mqtt_collector import MqttCollector
from ingest.write_buffer import IngestCounters


class RecordingBuffer:
    """Stands in for the WriteBuffer: records what the handler queues."""

    def __init__(self) -> None:
        self.counters = IngestCounters()
        self.puts: list[tuple[list[str], list[NewDeadLetter]]] = []

    def put(self, lines, letters=(), **counts):  # type: ignore[no-untyped-def]
        self.puts.append((list(lines), list(letters)))
        return True


def recording_collector(**collector: Any) -> tuple[MqttCollector, RecordingBuffer]:
    """A collector (keyword arguments as MqttCollector's: stations, clock, hj212…) and its
    recording buffer; nothing is ever written (InfluxDB points at a closed port)."""
    buffer = RecordingBuffer()
    settings = Settings(influx=InfluxSettings(url="http://127.0.0.1:9"))
    stations = collector.pop("stations", {})
    made = MqttCollector(settings, InfluxStore(settings.influx),
                         DeadLetterStore(None),  # type: ignore[arg-type]
                         stations, buffer=buffer, **collector)  # type: ignore[arg-type]
    return made, buffer


def handled(collector: MqttCollector, buffer: RecordingBuffer, topic: str, payload: bytes
            ) -> tuple[list[str], list[NewDeadLetter]]:
    """Handle one message; it must queue exactly once, lines or dead letters, and every dead
    letter must carry a reason, the topic and the raw bytes."""
    before = len(buffer.puts)
    collector.handle_message(topic, payload)
    [(lines, letters)] = buffer.puts[before:]
    assert lines or letters
    for letter in letters:
        assert letter.reason and letter.topic == topic and isinstance(letter.payload, bytes)
    buffer.puts.clear()
    return lines, letters


def peak_bytes(run: Callable[[], object]) -> tuple[int, float]:
    """Peak bytes allocated (tracemalloc) while `run` runs, and its seconds."""
    gc.collect()
    tracemalloc.start()
    started = time.perf_counter()
    try:
        run()
        return tracemalloc.get_traced_memory()[1], time.perf_counter() - started
    finally:
        tracemalloc.stop()
