"""The simulator publisher against a real Mosquitto: every reading arrives, batched, intact."""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from analytics.series_window import SeriesWindow
from ingest.station_payload import Reading, ValidationRules, decode_station_payload
from lantian.local_services import start_mosquitto
from simulators.pacing import replay_window
from simulators.publisher import BrokerUnavailable, ReadingPublisher, readings_at

pytestmark = pytest.mark.integration

TOPIC_ROOT = f"lantian/v1/simtest{uuid.uuid4().hex[:6]}"  # private to this module's run
FAR_FUTURE = ValidationRules(now_s=4_000_000_000)
T0 = np.datetime64("2016-12-14T16:00:00", "s")
WAIT_S = 15.0


class Received:
    """Messages a subscriber got, decoded; `done` is set once `expected` distinct readings
    (station, time) are in: QoS 1 is at least once, so a redelivery may repeat one."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.message_sizes: list[int] = []
        self.readings: list[Reading] = []
        self.distinct: dict[tuple[str, int], Reading] = {}
        self.rejections: list[str] = []

    def on_message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        decoded = decode_station_payload(message.topic, message.payload, FAR_FUTURE)
        with self.lock:
            self.message_sizes.append(len(decoded.readings) + len(decoded.rejections))
            self.readings.extend(decoded.readings)
            self.distinct.update(((r.station, r.time_s), r) for r in decoded.readings)
            self.rejections.extend(r.reason for r in decoded.rejections)
            if len(self.distinct) + len(self.rejections) >= self.expected:
                self.done.set()


def _window() -> SeriesWindow:
    """3 stations × 5 hours; every value distinct, one pm10 missing."""
    times = T0 + np.arange(5) * np.timedelta64(3600, "s")
    base = np.arange(15, dtype=float).reshape(3, 5)
    pm10 = 2 * base + 20.5
    pm10[1, 3] = np.nan
    return SeriesWindow(
        ("SIM001", "SIM002", "SIM003"),
        times,
        {"pm25": base + 10.25, "pm10": pm10, "co": base / 7 + 0.4},
    )


@pytest.fixture
def received(mqtt_broker) -> Iterator[Received]:  # type: ignore[no-untyped-def]
    sink = Received(expected=15)
    subscribed = threading.Event()
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=f"test-sim-sub-{uuid.uuid4().hex[:8]}",
    )
    client.on_message = sink.on_message
    client.on_subscribe = lambda *args: subscribed.set()
    client.connect(mqtt_broker.host, mqtt_broker.port)
    client.loop_start()
    client.subscribe(f"{TOPIC_ROOT}/station/+/reading", qos=1)
    assert subscribed.wait(WAIT_S), "no SUBACK from the broker"
    yield sink
    client.disconnect()
    client.loop_stop()


def test_batched_replay_arrives_with_exact_counts_and_values(mqtt_broker, received) -> None:  # type: ignore[no-untyped-def]
    window = _window()
    expected = [r for i in range(len(window.times)) for r in readings_at(window, i)]
    publisher = ReadingPublisher(
        mqtt_broker.host,
        mqtt_broker.port,
        client_id=f"test-sim-pub-{uuid.uuid4().hex[:8]}",
        topic_root=TOPIC_ROOT,
        tz=ZoneInfo("Asia/Shanghai"),
    )
    publisher.connect(timeout_s=WAIT_S)
    try:
        published = replay_window(window, publisher, data_seconds_per_second=1e12, batch_size=2)
        assert publisher.wait_all_acked(WAIT_S)
        assert received.done.wait(WAIT_S), f"only {len(received.readings)} readings arrived"
    finally:
        publisher.close()

    assert published == 15
    assert publisher.messages_sent == 9  # per station: 2 + 2 + 1 readings
    assert received.rejections == []
    assert sorted(received.message_sizes) == [1, 1, 1, 2, 2, 2, 2, 2, 2]
    key = lambda r: (r.station, r.time_s)  # noqa: E731
    assert sorted(received.readings, key=key) == sorted(expected, key=key)
    by_key = {key(r): r for r in received.readings}
    sim002_hour3 = by_key[("SIM002", int(window.times[3].astype(np.int64)))]
    assert sim002_hour3.values == {"pm25": 18.2, "co": 1.543}  # pm10 is missing there


def test_rate_limited_publisher_still_delivers_everything(mqtt_broker, received) -> None:  # type: ignore[no-untyped-def]
    window = _window()
    expected = [r for i in range(len(window.times)) for r in readings_at(window, i)]
    with ReadingPublisher(
        mqtt_broker.host,
        mqtt_broker.port,
        client_id=f"test-sim-pub-{uuid.uuid4().hex[:8]}",
        topic_root=TOPIC_ROOT,
        max_rate=1000.0,
    ) as publisher:
        publisher.connect(timeout_s=WAIT_S)
        assert publisher.publish_readings(expected) == 15
        assert publisher.wait_all_acked(WAIT_S)
        assert received.done.wait(WAIT_S)
    assert sorted(received.message_sizes) == [1] * 15


def test_unreachable_broker_raises_a_clear_error() -> None:
    with socket.socket() as probe:  # a port with nobody listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    publisher = ReadingPublisher("127.0.0.1", port, client_id="test-sim-unreachable")
    with pytest.raises(BrokerUnavailable, match=f"127.0.0.1:{port}"):
        publisher.connect(timeout_s=5)
    publisher.close()


def test_messages_published_while_the_broker_is_down_arrive_after_restart(
    tmp_path: Path,
) -> None:
    broker = start_mosquitto(tmp_path)  # our own: this test stops and restarts it
    window = _window()
    steps = [readings_at(window, i) for i in range(len(window.times))]
    sink = Received(expected=15)
    # A persistent subscriber session: the broker keeps its subscription across the restart.
    subscriber = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=f"test-sim-restart-sub-{uuid.uuid4().hex[:8]}",
        clean_session=False,
    )
    subscribed = threading.Event()
    subscriber.on_message = sink.on_message
    subscriber.on_subscribe = lambda *args: subscribed.set()
    subscriber.reconnect_delay_set(min_delay=1, max_delay=2)
    publisher = ReadingPublisher(
        broker.host,
        broker.port,
        client_id=f"test-sim-restart-pub-{uuid.uuid4().hex[:8]}",
        topic_root=TOPIC_ROOT,
    )
    try:
        subscriber.connect(broker.host, broker.port)
        subscriber.loop_start()
        subscriber.subscribe(f"{TOPIC_ROOT}/station/+/reading", qos=1)
        assert subscribed.wait(WAIT_S)
        publisher.connect(timeout_s=WAIT_S)
        for readings in steps[:2]:
            publisher.publish_readings(readings)
        assert publisher.wait_all_acked(WAIT_S)

        broker.stop()
        for readings in steps[2:]:
            publisher.publish_readings(readings)  # queued by paho while the broker is away
        broker = start_mosquitto(tmp_path, port=broker.port)

        assert publisher.wait_all_acked(WAIT_S), "queued messages were not resent"
        assert sink.done.wait(WAIT_S), f"only {len(sink.distinct)} readings arrived"
    finally:
        publisher.close()
        subscriber.disconnect()
        subscriber.loop_stop()
        broker.stop()
    # The broker may redeliver what was in flight to the subscriber at shutdown (QoS 1).
    assert sink.rejections == []
    assert sink.distinct == {(r.station, r.time_s): r for readings in steps for r in readings}
