"""The collector's counters on the API and /metrics: a real collector (real broker, InfluxDB)
records them in the API's ledger; the numbers balance and match what was published."""

from __future__ import annotations

import uuid

import orjson
import paho.mqtt.client as mqtt
from prometheus_client.parser import text_string_to_metric_families
from support.api_users import token_for

from alerts.ledger_db import make_engine, make_session_factory
from config.settings import CollectorSettings, InfluxSettings, MqttSettings, Settings
from ingest.dead_letters import DeadLetterStore
from ingest.influx_store import InfluxStore
from ingest.ingest_status import IngestStatusStore
from ingest.mqtt_collector import MqttCollector
from ingest.status_recorder import StatusRecorder
from lantian.local_services import LocalService, wait_until

T0 = 1_480_550_400


def test_counters_on_the_api_and_metrics_balance(
        api_client, mqtt_broker: LocalService, influx_settings: InfluxSettings,  # type: ignore[no-untyped-def]
        influx_store: InfluxStore, publisher: mqtt.Client) -> None:
    client, ledger_url = api_client
    sessions = make_session_factory(make_engine(ledger_url))
    client_id = f"collector-{uuid.uuid4().hex[:8]}"
    settings = Settings(mqtt=MqttSettings(host=mqtt_broker.host, port=mqtt_broker.port),
                        influx=influx_settings, collector=CollectorSettings(client_id=client_id))
    collector = MqttCollector(settings, InfluxStore(influx_settings), DeadLetterStore(sessions),
                              {})
    recorder = StatusRecorder(collector.buffer, IngestStatusStore(sessions), client_id, 0.2)
    collector.start()
    recorder.start()
    try:
        assert wait_until(lambda: collector.counters.subscribed, 10)
        good = orjson.dumps([{"time": T0 + 60 * i, "pm25": 10.0 + i} for i in range(40)])
        bad = orjson.dumps([{"time": T0, "pm25": -5.0}, {"time": T0 + 60, "pm25": "x"}])
        for payload in (good, bad, b"{not json"):
            publisher.publish("lantian/v1/station/Dongsi/reading", payload,
                              qos=1).wait_for_publish(10)
        assert wait_until(lambda: collector.counters.messages_acked == 3, 15)
    finally:
        recorder.stop()
        collector.stop()

    admin = {"Authorization": f"Bearer {token_for(ledger_url)}"}
    body = client.get("/api/ingest", headers=admin).json()
    mine = next(s for s in body["data"] if s["collector_id"] == client_id)
    assert mine["written"] == 40 and mine["spooled"] == 0 and mine["buffered"] == 0
    assert mine["received"] == 40 + mine["dead_lettered"] and mine["dead_lettered"] >= 3
    assert mine["balanced"] is True

    text = client.get("/metrics", headers=admin)
    assert text.status_code == 200 and text.headers["content-type"].startswith("text/plain")
    samples = {(s.name, s.labels.get("outcome")): s.value
               for family in text_string_to_metric_families(text.text)
               for s in family.samples if s.labels.get("collector", client_id) == client_id}
    assert samples[("lantian_ingest_readings_total", "written")] == 40
    assert samples[("lantian_ingest_readings_total", "received")] == mine["received"]
    assert samples[("lantian_ingest_balanced", None)] == 1
    assert samples[("lantian_ingest_messages_acked_total", None)] == 3
    assert samples[("lantian_dead_letters", None)] == collector.counters.dead_letters_stored

    assert client.get("/metrics").status_code == 401
    enterprise = token_for(ledger_url, "enterprise", "any-enterprise")
    refused = client.get("/api/ingest", headers={"Authorization": f"Bearer {enterprise}"})
    assert refused.status_code == 403 and "enterprise" in refused.json()["detail"]
