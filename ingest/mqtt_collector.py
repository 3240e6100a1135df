"""The station collector: MQTT (paho-mqtt 2.x, QoS 1, persistent session) → validation → InfluxDB.

Messages are decoded on paho's network thread; valid readings go to a bounded buffer that a
writer thread flushes to InfluxDB in batches; rejected payloads become dead letters. A full
buffer blocks the network thread, so the broker (not this process) holds the backlog.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from config.settings import Settings
from config.stations import Station
from ingest.dead_letters import DeadLetterStore, NewDeadLetter
from ingest.errors import StoreError, StoreRejected
from ingest.influx_store import InfluxStore
from ingest.line_protocol import reading_line
from ingest.station_payload import ValidationRules, decode_station_payload

log = logging.getLogger(__name__)


@dataclass
class CollectorCounters:
    """Running totals since start; readings_accepted = written + still buffered."""

    messages: int = 0
    readings_accepted: int = 0
    readings_written: int = 0
    rejections: int = 0
    dead_letters_stored: int = 0
    write_retries: int = 0
    connected: bool = False
    subscribed: bool = False


class StationCollector:
    """Subscribes to ``{root}/station/+/reading`` and keeps InfluxDB up to date."""

    def __init__(self, settings: Settings, store: InfluxStore, dead_letters: DeadLetterStore,
                 stations: Mapping[str, Station], clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.store = store
        self.dead_letters = dead_letters
        self.stations = dict(stations)
        self.clock = clock
        self.counters = CollectorCounters()
        self.topic = f"{settings.mqtt.topic_root}/station/+/reading"
        self._lines: deque[str] = deque()
        self._letters: deque[NewDeadLetter] = deque()
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._writer: threading.Thread | None = None
        self._client: mqtt.Client | None = None
        self._closing = False

    # -- message handling (network thread) ----------------------------------------------------
    def handle_message(self, topic: str, payload: bytes) -> None:
        """Decode one message into the buffers; never raises for bad data."""
        rules = ValidationRules(
            now_s=self.clock(),
            future_tolerance_s=self.settings.collector.future_tolerance_s,
            plausible_ranges=self.settings.collector.plausible_ranges,
            stations=self.stations,
            require_registration=self.settings.collector.require_registration,
        )
        decoded = decode_station_payload(topic, payload, rules)
        received = datetime.now(UTC)
        lines = [reading_line(r) for r in decoded.readings]
        limit = self.settings.collector.max_buffered_readings
        with self._cond:
            self.counters.messages += 1
            while len(self._lines) + len(lines) > limit and not self._stop.is_set():
                self._cond.wait(0.5)
            self._lines.extend(lines)
            self.counters.readings_accepted += len(lines)
            for rejection in decoded.rejections:
                self._letters.append(NewDeadLetter(received, topic, rejection.reason,
                                                   rejection.raw))
            self.counters.rejections += len(decoded.rejections)
            if len(self._lines) >= self.settings.influx.batch_size or decoded.rejections:
                self._cond.notify_all()

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        try:
            self.handle_message(msg.topic, msg.payload)
        except Exception:  # a handler must never kill the network loop
            log.exception("unexpected error handling a message on %s", msg.topic)

    def _on_connect(self, client: mqtt.Client, userdata: object, flags: object,
                    reason_code: mqtt.ReasonCode, properties: object) -> None:
        if reason_code.is_failure:
            log.error("broker refused connection: %s", reason_code)
            return
        self.counters.connected = True
        self.counters.subscribed = False
        client.subscribe(self.topic, qos=1)
        log.info("connected to broker, subscribed to %s", self.topic)

    def _on_subscribe(self, client: mqtt.Client, userdata: object, mid: int,
                      reason_codes: list[mqtt.ReasonCode], properties: object) -> None:
        if any(code.is_failure for code in reason_codes):
            log.error("broker refused subscription to %s: %s", self.topic, reason_codes)
            return
        self.counters.subscribed = True

    def _on_disconnect(self, client: mqtt.Client, userdata: object, flags: object,
                       reason_code: mqtt.ReasonCode, properties: object) -> None:
        self.counters.connected = self.counters.subscribed = False
        if not self._closing:
            log.warning("disconnected from broker (%s); reconnecting", reason_code)

    # -- writing (writer thread) --------------------------------------------------------------
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
        """Write one batch (and pending dead letters); return readings written.

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
                self.counters.write_retries += 1
                if self._stop.is_set():
                    log.error("stopping with %d items not written: %s", self.pending(), exc)
                    return
                log.warning("write failed (%s); retrying in %.1f s", exc, backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self.settings.collector.retry_max_s)

    def pending(self) -> int:
        with self._cond:
            return len(self._lines) + len(self._letters)

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        """Connect (retrying in the background until the broker is there) and start writing."""
        mqtt_settings = self.settings.mqtt
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=self.settings.collector.client_id,
            clean_session=False, protocol=mqtt.MQTTv311,
        )
        if mqtt_settings.username:
            password = mqtt_settings.password.get_secret_value() if mqtt_settings.password else None
            client.username_pw_set(mqtt_settings.username, password)
        client.on_message = self._on_message
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.connect_async(mqtt_settings.host, mqtt_settings.port, mqtt_settings.keepalive_s)
        self._client = client
        self._writer = threading.Thread(target=self._writer_loop, name="influx-writer",
                                        daemon=True)
        self._writer.start()
        client.loop_start()

    def stop(self, timeout_s: float = 15.0) -> None:
        """Stop receiving, write what is buffered, disconnect."""
        self._closing = True
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._writer is not None:
            self._writer.join(timeout_s)
