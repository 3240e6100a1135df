"""Scale-out (issue 10): collectors in one shared-subscription group split the stream — each
message goes to one of them — and together store every reading exactly once."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from support.fault_rig import Stream

from alerts.ledger_db import create_schema, make_engine, make_session_factory
from config.settings import CollectorSettings, InfluxSettings, MqttSettings, Settings
from ingest.dead_letters import DeadLetterStore
from ingest.influx_store import InfluxStore
from ingest.mqtt_collector import MqttCollector
from lantian.local_services import LocalService, wait_until
from simulators.publisher import ReadingPublisher


@pytest.mark.parametrize("members", [2, 3])
def test_a_group_of_collectors_shares_the_stream_and_stores_it_once(
        members: int, mqtt_broker: LocalService, influx_settings: InfluxSettings,
        influx_store: InfluxStore, tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    create_schema(engine)
    letters = DeadLetterStore(make_session_factory(engine))
    group = f"g{uuid.uuid4().hex[:6]}"
    collectors = [MqttCollector(Settings(
        mqtt=MqttSettings(host=mqtt_broker.host, port=mqtt_broker.port), influx=influx_settings,
        collector=CollectorSettings(client_id=f"{group}-{i}-{{hostname}}", shared_group=group)),
        InfluxStore(influx_settings), letters, {}) for i in range(members)]
    for collector in collectors:
        collector.start()
    publisher = ReadingPublisher(mqtt_broker.host, mqtt_broker.port,
                                 client_id=f"pub-{group}", max_rate=3_000)
    try:
        assert wait_until(lambda: all(c.counters.subscribed for c in collectors), 10)
        publisher.connect()
        stream = Stream(publisher, messages=3_000, readings_per_message=2, rate=3_000).start()
        assert stream.join(30)
        assert wait_until(lambda: sum(c.counters.readings_written for c in collectors)
                          >= stream.readings, 30)
        shares = [c.counters.messages for c in collectors]
        assert sum(shares) == stream.messages  # each message to exactly one member
        assert all(share > 0 for share in shares), shares
        assert influx_store.count("station_reading", "pm25") == stream.readings
        assert len({c.client_id for c in collectors}) == members
        assert all("{hostname}" not in c.client_id for c in collectors)
    finally:
        publisher.close()
        for collector in collectors:
            collector.stop()


def test_a_stopped_member_keeps_its_share_until_it_is_retired(
        mqtt_broker: LocalService, influx_settings: InfluxSettings,
        influx_store: InfluxStore, tmp_path: Path) -> None:
    """A member's persistent session stays in the group after it stops, and the broker keeps
    queueing its share; retiring it drains that share into InfluxDB and leaves the group."""
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    create_schema(engine)
    letters = DeadLetterStore(make_session_factory(engine))
    group = f"g{uuid.uuid4().hex[:6]}"

    def member(name: str) -> MqttCollector:
        return MqttCollector(Settings(
            mqtt=MqttSettings(host=mqtt_broker.host, port=mqtt_broker.port),
            influx=influx_settings,
            collector=CollectorSettings(client_id=f"{group}-{name}", shared_group=group)),
            InfluxStore(influx_settings), letters, {})

    stays, leaves = member("stays"), member("leaves")
    for collector in (stays, leaves):
        collector.start()
    publisher = ReadingPublisher(mqtt_broker.host, mqtt_broker.port, client_id=f"pub-{group}")
    try:
        assert wait_until(lambda: stays.counters.subscribed and leaves.counters.subscribed, 10)
        leaves.stop()
        publisher.connect()
        first = Stream(publisher, messages=400, readings_per_message=1, rate=2_000).start()
        assert first.join(30)
        assert wait_until(lambda: stays.pending() == 0 and stays.counters.messages > 0, 10)
        held = first.readings - stays.counters.readings_written
        assert held > 0  # the stopped member's share waits at the broker
        assert influx_store.count("station_reading", "pm25") == stays.counters.readings_written
        again = member("leaves")
        again.start()
        try:
            assert again.retire(idle_s=1.0)
        finally:
            again.stop()
        assert influx_store.count("station_reading", "pm25") == first.readings
        # after retiring, everything goes to the member that stays
        before = stays.counters.messages
        second = Stream(publisher, messages=800, readings_per_message=1, rate=2_000)
        second.start()
        assert second.join(30)
        assert wait_until(lambda: stays.counters.messages - before == second.messages, 10)
    finally:
        publisher.close()
        stays.stop()
