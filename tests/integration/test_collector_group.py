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
