"""The MQTT collector (paho-mqtt 2.x, QoS 1, persistent session): station readings (JSON) and
enterprise outlets' HJ 212 packets → validation → the shared write buffer → InfluxDB.

Messages are decoded on paho's network thread; valid points go to the bounded WriteBuffer that
a writer thread flushes to InfluxDB (or its spool) in batches; rejected payloads become dead
letters. Acknowledgement is manual: a message's PUBACK goes to the broker only once its readings
and dead letters are durable, so a crash at any moment leaves every unacknowledged message with
the broker, which delivers it again (at-least-once; writes are idempotent).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from config.settings import Settings
from config.stations import Station
from ingest.dead_letters import DeadLetterStore, NewDeadLetter
from ingest.forecast_payload import ForecastPayload, decode_forecast
from ingest.hj212_intake import Hj212Intake
from ingest.influx_store import InfluxStore
from ingest.line_protocol import reading_line
from ingest.station_payload import ValidationRules, decode_station_payload
from ingest.write_buffer import IngestCounters, OnDurable, WriteBuffer, spool_for

log = logging.getLogger(__name__)

# Mosquitto's $SYS counter of messages dropped because a client's queue was full.
BROKER_DROPPED_TOPIC = "$SYS/broker/publish/messages/dropped"

# Stores a forecast for a city; raises ValueError with the reason when it cannot.
ForecastSink = Callable[[str, ForecastPayload], None]


class MqttCollector:
    """Subscribes to ``{root}/station/+/reading`` and ``{root}/outlet/+/hj212``."""

    def __init__(self, settings: Settings, store: InfluxStore, dead_letters: DeadLetterStore,
                 stations: Mapping[str, Station], clock: Callable[[], float] = time.time,
                 hj212: Hj212Intake | None = None, buffer: WriteBuffer | None = None,
                 forecasts: ForecastSink | None = None) -> None:
        self.settings = settings
        self.stations = dict(stations)
        self.clock = clock
        self.buffer = buffer or WriteBuffer(settings, store, dead_letters, spool_for(settings))
        self.hj212 = hj212 or Hj212Intake(settings, {}, {}, clock=clock)
        root = settings.mqtt.topic_root
        self.topics: tuple[str, ...] = (f"{root}/station/+/reading", f"{root}/outlet/+/hj212")
        # AQI forecasts (for the emergency response) when a sink stores them.
        self.forecasts = forecasts
        if forecasts is not None:
            self.topics += (f"{root}/forecast/+",)
        self._forecast_prefix = f"{root}/forecast/"
        self._outlet_topic = re.compile(rf"^{re.escape(root)}/outlet/(?P<mn>[^/]+)/hj212$")
        self._client: mqtt.Client | None = None
        self._last_dropped = 0
        self._sleep = threading.Event()  # never set: an interruptible wait
        self._closing = False

    @property
    def client_id(self) -> str:
        return self.settings.collector.instance_id()

    @property
    def counters(self) -> IngestCounters:
        return self.buffer.counters

    # -- message handling (network thread) ----------------------------------------------------
    def handle_message(self, topic: str, payload: bytes, on_durable: OnDurable | None = None
                       ) -> None:
        """Decode one message into the buffer; never raises for bad data. `on_durable` (the
        acknowledgement) runs once what the message held is durable."""
        if self.forecasts is not None and topic.startswith(self._forecast_prefix):
            self._handle_forecast(topic, payload, on_durable)
            return
        outlet = self._outlet_topic.match(topic)
        if outlet is not None:
            result = self.hj212.payload(payload, topic, expected_mn=outlet.group("mn"))
            self.buffer.put(result.lines, result.letters, messages=1, packets=result.packets,
                            on_durable=on_durable)
            return
        rules = ValidationRules(
            now_s=self.clock(),
            future_tolerance_s=self.settings.collector.future_tolerance_s,
            plausible_ranges=self.settings.collector.plausible_ranges,
            stations=self.stations,
            require_registration=self.settings.collector.require_registration,
            max_payload_bytes=self.settings.collector.max_payload_bytes,
        )
        decoded = decode_station_payload(topic, payload, rules)
        received = datetime.now(UTC)
        letters = [NewDeadLetter(received, topic, r.reason, r.raw) for r in decoded.rejections]
        self.buffer.put([reading_line(r) for r in decoded.readings], letters, messages=1,
                        on_durable=on_durable)

    def _handle_forecast(self, topic: str, payload: bytes, on_durable: OnDurable | None
                         ) -> None:
        assert self.forecasts is not None
        try:
            city, forecast = decode_forecast(topic, payload)
            self.forecasts(city, forecast)
            self.buffer.put([], messages=1, on_durable=on_durable)
        except ValueError as exc:  # PayloadError, or the store refusing the forecast
            letter = NewDeadLetter(datetime.now(UTC), topic, str(exc), payload)
            self.buffer.put([], [letter], messages=1, on_durable=on_durable)

    def _broker_dropped(self, payload: bytes) -> None:
        """Mosquitto's count of messages it dropped (queues full): each one is a reading lost
        before it reached us, so it is an error to see it grow."""
        try:
            dropped = int(payload)
        except ValueError:
            return
        if dropped > self._last_dropped:
            log.error("the broker has dropped %d messages (%d new): its queue limits were "
                      "reached; see docs/reliability.md", dropped, dropped - self._last_dropped)
        self._last_dropped = dropped
        self.counters.broker_dropped = dropped

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        if msg.topic == BROKER_DROPPED_TOPIC:
            self._broker_dropped(msg.payload)
            return
        if self._closing:
            return  # not acknowledged: the broker delivers it again after the restart
        mid, qos = msg.mid, msg.qos

        def acknowledge() -> None:
            if qos > 0:
                client.ack(mid, qos)

        try:
            self.handle_message(msg.topic, msg.payload, acknowledge)
        except Exception as exc:  # a handler must never kill the network loop
            log.exception("unexpected error handling a message on %s", msg.topic)
            letter = NewDeadLetter(datetime.now(UTC), msg.topic,
                                   f"internal error while decoding: {exc!r}", msg.payload)
            self.buffer.put([], [letter], messages=1, on_durable=acknowledge)

    def _on_connect(self, client: mqtt.Client, userdata: object, flags: object,
                    reason_code: mqtt.ReasonCode, properties: object) -> None:
        if reason_code.is_failure:
            log.error("broker refused connection: %s", reason_code)
            return
        self.counters.connected = True
        self.counters.subscribed = False
        if self.settings.collector.shared_group:
            # a session that joined the group after running alone would otherwise keep its
            # plain subscriptions too, and get every message on top of its share
            client.unsubscribe(list(self.topics))
        client.subscribe([(self._subscription(topic), 1) for topic in self.topics]
                         + [(BROKER_DROPPED_TOPIC, 0)])
        log.info("connected to broker, subscribing to %s", ", ".join(self.topics))

    def _subscription(self, topic: str) -> str:
        """The topic filter, in the shared-subscription group when collectors scale out: the
        broker then gives each message to one collector of the group."""
        group = self.settings.collector.shared_group
        return f"$share/{group}/{topic}" if group else topic

    def _on_subscribe(self, client: mqtt.Client, userdata: object, mid: int,
                      reason_codes: list[mqtt.ReasonCode], properties: object) -> None:
        data_codes = reason_codes[:len(self.topics)]
        if any(code.is_failure for code in data_codes):
            log.error("broker refused subscription to %s: %s", self.topics, data_codes)
            return
        if any(code.is_failure for code in reason_codes[len(self.topics):]):
            log.warning("broker refused %s: its drop counter is not watched (allow this "
                        "account to read it in the ACL)", BROKER_DROPPED_TOPIC)
        self.counters.subscribed = True

    def _on_disconnect(self, client: mqtt.Client, userdata: object, flags: object,
                       reason_code: mqtt.ReasonCode, properties: object) -> None:
        self.counters.connected = self.counters.subscribed = False
        if not self._closing:
            log.warning("disconnected from broker (%s); reconnecting", reason_code)

    def flush_once(self) -> int:
        return self.buffer.flush_once()

    def pending(self) -> int:
        return self.buffer.pending()

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        """Connect (retrying in the background until the broker is there) and start writing."""
        mqtt_settings = self.settings.mqtt
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            clean_session=False, protocol=mqtt.MQTTv311, manual_ack=True,
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
        self.buffer.start()
        client.loop_start()

    def retire(self, idle_s: float = 5.0, timeout_s: float = 600.0) -> bool:
        """Leave the shared-subscription group for good: take what the broker queued for this
        session until nothing arrives for `idle_s` and it is durable, then unsubscribe, so
        the broker stops giving this (persistent) session a share. Call after start(); True
        when unsubscribed (its spool, if any, replayed too). A stopped member that is never
        retired keeps receiving its share, queued for it at the broker."""
        assert self._client is not None, "start() first"
        deadline = time.monotonic() + timeout_s
        seen = -1
        while time.monotonic() < deadline:
            if (self.counters.subscribed and self.counters.messages == seen
                    and not self.pending() and not self.buffer.spool_pending()):
                break
            seen = self.counters.messages
            self._sleep.wait(idle_s)
        else:
            return False
        result, _ = self._client.unsubscribe([self._subscription(t) for t in self.topics])
        log.info("retired %s from its group after draining %d messages", self.client_id, seen)
        return result == mqtt.MQTT_ERR_SUCCESS

    def stop(self, timeout_s: float = 15.0) -> None:
        """Stop taking messages, make what is buffered durable and acknowledge it, disconnect.
        Messages that arrive meanwhile stay unacknowledged: the broker keeps them."""
        self._closing = True
        self.buffer.stop(timeout_s)
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
