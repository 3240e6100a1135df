"""Publish station readings to MQTT: paho-mqtt 2.x, QoS 1, persistent session, reconnects.

This is the only simulator module that knows paho; its failures surface as BrokerUnavailable
or PublishError.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from datetime import UTC, tzinfo
from types import TracebackType
from typing import Any

import numpy as np
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from analytics.series_window import SeriesWindow
from ingest.station_payload import Reading, encode_readings, reading_topic
from simulators.rate_limit import TokenBucket

logger = logging.getLogger(__name__)

QOS = 1
_DECIMALS = {"co": 3}  # CO in mg/m³ needs finer resolution than the µg/m³ pollutants
_DEFAULT_DECIMALS = 1


class BrokerUnavailable(ConnectionError):
    """The broker could not be reached, refused the connection, or did not answer in time."""


class PublishError(RuntimeError):
    """paho refused to queue a message (not a transient disconnect, which is queued)."""


def readings_at(window: SeriesWindow, index: int) -> list[Reading]:
    """One Reading per source with at least one non-NaN value at time column `index`.

    Values keep the window's units (µg/m³, CO mg/m³), rounded to 0.1 (CO to 0.001);
    NaN pollutants are left out; `time_s` is the column's UTC period start in whole seconds.
    """
    time_s = int(window.times[index].astype(np.int64))
    columns = {pollutant: array[:, index] for pollutant, array in window.values.items()}
    readings: list[Reading] = []
    for row, station in enumerate(window.sources):
        values = {
            pollutant: round(float(column[row]), _DECIMALS.get(pollutant, _DEFAULT_DECIMALS))
            for pollutant, column in columns.items()
            if not np.isnan(column[row])
        }
        if values:
            readings.append(Reading(station, time_s, values))
    return readings


def group_into_messages(
    readings: Sequence[Reading], batch_size: int
) -> list[tuple[str, list[Reading]]]:
    """Split readings into (station, readings) messages of at most `batch_size` readings.

    Stations come in order of first appearance; each station's readings keep their input
    order and fill consecutive messages.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    by_station: dict[str, list[Reading]] = {}
    for reading in readings:
        by_station.setdefault(reading.station, []).append(reading)
    return [
        (station, station_readings[i : i + batch_size])
        for station, station_readings in by_station.items()
        for i in range(0, len(station_readings), batch_size)
    ]


class ReadingPublisher:
    """Sends readings as station payloads (shared/formats.md §1) at QoS 1.

    A stable `client_id` with a persistent session (clean_session=False) lets paho resend
    unacknowledged messages after a reconnect; reconnects back off from 1 s to 30 s.
    Messages published while disconnected are queued in memory and sent on reconnect.
    `max_rate` caps messages per second (None or 0: unlimited). One thread publishes.
    """

    def __init__(
        self,
        host: str,
        port: int = 1883,
        *,
        client_id: str = "lantian-simulator",
        topic_root: str = "lantian/v1",
        username: str | None = None,
        password: str | None = None,
        keepalive_s: int = 30,
        tz: tzinfo = UTC,
        max_rate: float | None = None,
    ) -> None:
        self._address = (host, port)
        self._keepalive_s = keepalive_s
        self._topic_root = topic_root
        self._tz = tz
        self._bucket = TokenBucket(max_rate) if max_rate else None
        self._closing = threading.Event()
        self._connack = threading.Event()
        self._refusal: str | None = None
        self._acks = threading.Condition()
        self._sent = 0
        self._acked = 0
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=False,
            protocol=mqtt.MQTTv311,
        )
        client.max_inflight_messages_set(1000)
        client.max_queued_messages_set(0)  # 0 = unbounded: never drop while disconnected
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        if username is not None:
            client.username_pw_set(username, password)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        self._client = client

    @property
    def messages_sent(self) -> int:
        """Messages handed to paho so far (acknowledged or not)."""
        return self._sent

    def connect(self, timeout_s: float = 10.0) -> None:
        """Connect and start the network thread; BrokerUnavailable if no CONNACK in time."""
        host, port = self._address
        self._client.connect_timeout = timeout_s
        try:
            self._client.connect(host, port, keepalive=self._keepalive_s)
        except OSError as exc:  # refused, unresolvable host, socket timeout
            raise BrokerUnavailable(
                f"cannot reach the MQTT broker at {host}:{port}: {exc}"
            ) from exc
        self._client.loop_start()
        answered = self._connack.wait(timeout_s)
        if answered and self._refusal is None:
            return
        self._client.loop_stop()
        self._client.disconnect()
        if not answered:
            raise BrokerUnavailable(f"MQTT broker at {host}:{port} did not answer in {timeout_s} s")
        raise BrokerUnavailable(
            f"MQTT broker at {host}:{port} refused the connection: "
            f"{self._refusal} (check username and password)"
        )

    def publish_readings(self, readings: Sequence[Reading], batch_size: int = 1) -> int:
        """Publish readings grouped per station, up to `batch_size` per message; messages sent."""
        messages = group_into_messages(readings, batch_size)
        for station, batch in messages:
            topic = reading_topic(self._topic_root, station)
            self.publish_raw(topic, encode_readings(batch, self._tz))
        return len(messages)

    def publish_raw(self, topic: str, payload: bytes) -> None:
        """Queue one message at QoS 1, first waiting for the rate limit if there is one."""
        if self._closing.is_set():
            raise PublishError("publisher is closed")
        if self._bucket is not None:
            delay_s = self._bucket.reserve()
            if delay_s > 0:
                self._closing.wait(delay_s)
        info = self._client.publish(topic, payload, qos=QOS)
        # NO_CONN: paho keeps the message and sends it once the connection is back.
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            raise PublishError(f"could not queue message on {topic}: {mqtt.error_string(info.rc)}")
        with self._acks:
            self._sent += 1

    def wait_all_acked(self, timeout_s: float) -> bool:
        """Wait until the broker acknowledged every message sent; False on timeout."""
        with self._acks:
            return self._acks.wait_for(lambda: self._acked >= self._sent, timeout=timeout_s)

    def close(self) -> None:
        """Disconnect and stop the network thread; unacknowledged messages are dropped."""
        self._closing.set()
        self._client.disconnect()
        self._client.loop_stop()

    def __enter__(self) -> ReadingPublisher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any, properties: Any
    ) -> None:
        if reason_code.is_failure:
            self._refusal = str(reason_code)
            logger.error(
                "MQTT broker %s:%s refused the connection: %s", *self._address, reason_code
            )
        else:
            self._refusal = None
            logger.info("connected to MQTT broker %s:%s", *self._address)
        self._connack.set()

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any, properties: Any
    ) -> None:
        if not self._closing.is_set():
            logger.warning(
                "disconnected from MQTT broker %s:%s (%s); reconnecting",
                *self._address,
                reason_code,
            )

    def _on_publish(
        self, client: mqtt.Client, userdata: Any, mid: int, reason_code: Any, properties: Any
    ) -> None:
        with self._acks:
            self._acked += 1
            self._acks.notify_all()
