"""The collector against a real Mosquitto and InfluxDB: exact counts, dead letters, resilience."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import orjson
import paho.mqtt.client as mqtt
import pytest

from alerts.ledger_db import create_schema, make_engine, make_session_factory
from config.settings import CollectorSettings, InfluxSettings, MqttSettings, Settings
from config.stations import Station
from ingest.dead_letters import DeadLetterStore
from ingest.influx_store import InfluxStore
from ingest.mqtt_collector import MqttCollector
from lantian.local_services import LocalService, wait_until

T0 = 1_480_550_400  # 2016-12-01T00:00:00Z


@contextmanager
def running_collector(mqtt_broker: LocalService, influx_settings: InfluxSettings,
                      dead_letters: DeadLetterStore) -> Iterator[MqttCollector]:
    """A started collector, subscribed before the test publishes; stopped afterwards."""
    collector = make_collector(mqtt_broker, influx_settings, dead_letters)
    collector.start()
    try:
        assert wait_until(lambda: collector.counters.subscribed, 10)
        yield collector
    finally:
        collector.stop()


def make_collector(mqtt_broker: LocalService, influx_settings: InfluxSettings,
                   dead_letters: DeadLetterStore, **collector: object) -> MqttCollector:
    settings = Settings(
        mqtt=MqttSettings(host=mqtt_broker.host, port=mqtt_broker.port),
        influx=influx_settings,
        collector=CollectorSettings(client_id=f"collector-{uuid.uuid4().hex[:8]}", **collector),
    )
    stations = {"Dongsi": Station(id="Dongsi", name="东四", city="beijing", lat=39.9, lon=116.4)}
    return MqttCollector(settings, InfluxStore(influx_settings), dead_letters, stations)


@pytest.fixture
def dead_letters(tmp_path) -> DeadLetterStore:  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    create_schema(engine)
    return DeadLetterStore(make_session_factory(engine))


def publish(client: mqtt.Client, topic: str, payload: bytes) -> None:
    client.publish(topic, payload, qos=1).wait_for_publish(10)


def test_readings_arrive_exactly_and_bad_payloads_become_dead_letters(
        mqtt_broker: LocalService, influx_settings: InfluxSettings, influx_store: InfluxStore,
        dead_letters: DeadLetterStore, publisher: mqtt.Client) -> None:
    with running_collector(mqtt_broker, influx_settings, dead_letters) as collector:
        topic = "lantian/v1/station/Dongsi/reading"
        for i in range(50):  # 50 single readings
            publish(publisher, topic, orjson.dumps({"time": T0 + 3600 * i, "pm25": float(i)}))
        batch = [{"time": T0 + 3600 * (50 + i), "pm25": 1.0, "pm10": 2.0} for i in range(100)]
        publish(publisher, topic, orjson.dumps(batch))
        publish(publisher, topic, b"\x00\xffgarbage")
        publish(publisher, topic, b'{"time": 1480550400, "pm25": "high"}')
        publish(publisher, "lantian/v1/station/no such/reading", b'{"time": 1, "pm25": 1}')
        publish(publisher, topic, orjson.dumps({"time": T0 + 3600 * 200, "pm25": 7.0}))

        assert wait_until(lambda: collector.counters.readings_written == 151, 15)
        assert wait_until(lambda: collector.counters.dead_letters_stored == 3, 15)
        assert influx_store.count("station_reading", "pm25") == 151
        assert influx_store.count("station_reading", "pm10") == 100
        letters, total = dead_letters.list(limit=10)
        assert total == 3
        reasons = {letter.reason for letter in letters}
        assert any(r.startswith("not JSON") for r in reasons)
        assert "pm25 must be a number, got 'high'" in reasons
        assert any("must match" in r for r in reasons)
        assert {bytes(letter.payload) for letter in letters} >= {b"\x00\xffgarbage"}
        assert all(letter.topic.startswith("lantian/v1/station/") for letter in letters)
        # the collector is still alive and still writing after the bad input
        assert collector.counters.messages == 55
        assert influx_store.latest_time_s("station_reading") == T0 + 3600 * 200


def test_duplicate_delivery_is_stored_once(
        mqtt_broker: LocalService, influx_settings: InfluxSettings, influx_store: InfluxStore,
        dead_letters: DeadLetterStore, publisher: mqtt.Client) -> None:
    with running_collector(mqtt_broker, influx_settings, dead_letters) as collector:
        payload = orjson.dumps([{"time": T0 + 60 * i, "pm25": 5.0} for i in range(20)])
        for _ in range(3):
            publish(publisher, "lantian/v1/station/Dongsi/reading", payload)
        assert wait_until(lambda: collector.counters.readings_written == 60, 15)
        assert influx_store.count("station_reading", "pm25") == 20


def test_influx_outage_is_retried_without_loss(
        mqtt_broker: LocalService, influx_settings: InfluxSettings,
        dead_letters: DeadLetterStore, publisher: mqtt.Client) -> None:
    """Readings that arrive while InfluxDB is unreachable are written once it answers."""
    wrong = influx_settings.model_copy(update={"url": "http://127.0.0.1:9", "timeout_s": 0.5})
    with running_collector(mqtt_broker, wrong, dead_letters) as collector:
        publish(publisher, "lantian/v1/station/Dongsi/reading",
                orjson.dumps([{"time": T0 + 60 * i, "pm25": 5.0} for i in range(30)]))
        assert wait_until(lambda: collector.counters.write_retries >= 2, 15)
        # without a spool nothing is durable, so nothing is acknowledged yet
        assert collector.buffer.snapshot()["readings_buffered"] == 30
        assert collector.counters.messages_acked == 0
        real = InfluxStore(influx_settings)
        real.ensure_database()
        collector.buffer.store = real  # InfluxDB "comes back"
        assert wait_until(lambda: collector.counters.readings_written == 30, 20)
        assert real.count("station_reading", "pm25") == 30
        assert collector.counters.messages_acked == 1
