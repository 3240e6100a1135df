"""Alert levels driven by forecasts across the thresholds: issued, upgraded, lifted, each with
its reason in the ledger (both backends), and the level published retained on a real broker."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from alerts.alert_publisher import MqttAlertPublisher
from alerts.emergency_service import EmergencyService, ForecastError
from config.emergency import load_emergency
from config.settings import MqttSettings
from lantian.local_services import LocalService, wait_until

CONFIG = Path(__file__).resolve().parents[2] / "config" / "emergency.yaml"
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 10:00 in Beijing; the 2024 scheme in force
TODAY = date(2026, 11, 23)


def days(*aqi: float, start: date = TODAY) -> list[tuple[date, float]]:
    return [(start + timedelta(days=i), value) for i, value in enumerate(aqi)]


def retained(broker: LocalService, city: str) -> dict:
    """What a subscriber connecting now receives at once on the city's emergency topic."""
    got: list[dict] = []
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2,
                         client_id=f"late-{uuid.uuid4().hex[:8]}")
    client.on_message = lambda c, u, m: got.append(orjson.loads(m.payload))
    client.connect(broker.host, broker.port)
    client.subscribe(f"lantian/v1/emergency/{city}", qos=1)
    client.loop_start()
    try:
        assert wait_until(lambda: bool(got), 10)
    finally:
        client.loop_stop()
        client.disconnect()
    return got[-1]


def test_forecasts_drive_issue_upgrade_and_lift_published_retained(
        ledger_sessions, mqtt_broker: LocalService) -> None:  # type: ignore[no-untyped-def]
    city = f"beijing-{uuid.uuid4().hex[:6]}"
    register = load_emergency(CONFIG)
    register.jurisdictions[0].city = city
    publisher = MqttAlertPublisher(MqttSettings(host=mqtt_broker.host, port=mqtt_broker.port))
    assert wait_until(publisher.connected, 10)
    service = EmergencyService(ledger_sessions, register, "Asia/Shanghai",
                               publish=publisher.publish_emergency)
    try:
        service.submit_forecast(city, days(120, 140, 130), source="official", issuer="市气象台",
                                now=NOW)
        assert service.evaluate(city, NOW) is None  # below every level: nothing to do
        steps = [((120, 160, 170, 120), "issue", "yellow"),
                 ((210, 220, 120), "upgrade", "orange"),
                 ((310, 320, 250, 230), "upgrade", "red"),
                 ((120, 100, 90), "lift", None)]
        for hour, (forecast, action, level) in enumerate(steps, start=1):
            at = NOW + timedelta(hours=hour)
            service.submit_forecast(city, days(*forecast), source="official",
                                    issuer="市气象台", now=at)
            event = service.evaluate(city, at)
            assert event is not None and (event.action, event.to_level) == (action, level)
            assert service.evaluate(city, at) is None  # same forecast: no new event
            if level == "red":
                # the publish is asynchronous: until it lands, a new subscriber still gets the
                # previous retained level (orange), so wait for the broker to hold the new one
                assert wait_until(lambda: retained(mqtt_broker, city)["level"] == "red", 10)
                message = retained(mqtt_broker, city)
                assert (message["level"], message["action"]) == ("red", "upgrade")
                assert "national-2024" in message["reason"]
        assert wait_until(lambda: retained(mqtt_broker, city)["level"] is None, 10)
    finally:
        publisher.close()
    state = service.state(city)
    assert state.alert is None
    assert [(e.action, e.from_level, e.to_level) for e in reversed(state.events)] == [
        ("issue", None, "yellow"), ("upgrade", "yellow", "orange"),
        ("upgrade", "orange", "red"), ("lift", "red", None)]
    assert "official forecast" in state.events[-1].reason
    assert "2026-11-23 AQI 120" in state.events[-1].reason


def test_statistical_forecast_only_without_a_fresh_official_one(ledger_sessions) -> None:  # type: ignore[no-untyped-def]
    service = EmergencyService(ledger_sessions, load_emergency(CONFIG), "Asia/Shanghai")
    service.submit_forecast("beijing", days(250, 260), source="official", issuer="气象台",
                            now=NOW - timedelta(hours=40))  # stale by now
    service.submit_forecast("beijing", days(160, 170), source="statistical",
                            issuer="lantian", now=NOW)
    event = service.evaluate("beijing", NOW)
    assert event is not None and event.to_level == "yellow"
    assert event.reason.startswith("national-2024: the forecast meets yellow (statistical")
    service.submit_forecast("beijing", days(250, 260), source="official", issuer="气象台",
                            now=NOW + timedelta(hours=1))
    upgraded = service.evaluate("beijing", NOW + timedelta(hours=1))
    assert upgraded is not None and upgraded.to_level == "orange"


@pytest.mark.parametrize(("forecast", "reason"), [
    ([], "at least one day"),
    ([(TODAY, 100.0), (TODAY + timedelta(days=2), 100.0)], "consecutive"),
    ([(TODAY, 620.0)], "0-500"),
])
def test_bad_forecasts_are_refused(ledger_sessions, forecast, reason: str) -> None:  # type: ignore[no-untyped-def]
    service = EmergencyService(ledger_sessions, load_emergency(CONFIG), "Asia/Shanghai")
    with pytest.raises(ForecastError, match=reason):
        service.submit_forecast("beijing", forecast, source="official", issuer="x", now=NOW)
    with pytest.raises(ForecastError, match="no alert scheme configured for city 'atlantis'"):
        service.submit_forecast("atlantis", days(100), source="official", issuer="x", now=NOW)


def test_forecasts_through_the_api_and_the_level_read_back(ledger_url: str, influx_settings  # type: ignore[no-untyped-def]
                                                           ) -> None:
    from fastapi.testclient import TestClient
    from support.api_users import token_for

    from alerts.ledger_db import make_engine, make_session_factory
    from api.main import create_app
    from config.settings import LedgerSettings, Settings

    settings = Settings(influx=influx_settings, ledger=LedgerSettings(url=ledger_url))
    with TestClient(create_app(settings)) as client:
        inspector = {"Authorization": f"Bearer {token_for(ledger_url, 'inspector')}"}
        viewer = {"Authorization": f"Bearer {token_for(ledger_url, 'viewer')}"}
        today = datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")).date()
        body = {"days": [{"date": (today + timedelta(days=i)).isoformat(), "aqi": aqi}
                         for i, aqi in enumerate((160, 170, 120))], "issuer": "市气象台"}
        assert client.post("/api/emergency/beijing/forecasts", json=body).status_code == 401
        assert client.post("/api/emergency/beijing/forecasts", json=body,
                           headers=viewer).status_code == 403
        accepted = client.post("/api/emergency/beijing/forecasts", json=body,
                               headers=inspector)
        assert accepted.status_code == 202
        gap = {"days": [body["days"][0], body["days"][2]]}
        refused = client.post("/api/emergency/beijing/forecasts", json=gap, headers=inspector)
        assert refused.status_code == 422 and "consecutive" in refused.json()["detail"]
        viewer = {"Authorization": f"Bearer {token_for(ledger_url, 'viewer')}"}
        assert client.get("/api/emergency/beijing", headers=viewer).json()["level"] is None
        # The analytics service's cycle decides the level.
        service = EmergencyService(make_session_factory(make_engine(ledger_url)),
                                   load_emergency(CONFIG), "Asia/Shanghai")
        assert service.evaluate("beijing", datetime.now(UTC)) is not None
        state = client.get("/api/emergency/beijing", headers=viewer).json()
        assert state["level"] == "yellow" and state["history"][0]["action"] == "issue"
        assert "市气象台" in state["history"][0]["reason"]
        assert client.get("/api/emergency/atlantis", headers=viewer).status_code == 404


def test_forecasts_over_mqtt_are_stored_and_bad_ones_kept_as_dead_letters(
        ledger_sessions, mqtt_broker: LocalService, influx_settings, publisher) -> None:  # type: ignore[no-untyped-def]
    from config.settings import CollectorSettings, Settings
    from ingest.dead_letters import DeadLetterStore
    from ingest.forecast_payload import ForecastPayload
    from ingest.influx_store import InfluxStore
    from ingest.mqtt_collector import MqttCollector

    service = EmergencyService(ledger_sessions, load_emergency(CONFIG), "Asia/Shanghai")
    received_at = datetime.now(UTC)

    def store(city: str, forecast: ForecastPayload) -> None:
        service.submit_forecast(city, [(d.date, d.aqi) for d in forecast.days],
                                source=forecast.source, issuer=forecast.issuer,
                                now=received_at)

    settings = Settings(mqtt=MqttSettings(host=mqtt_broker.host, port=mqtt_broker.port),
                        influx=influx_settings,
                        collector=CollectorSettings(client_id=f"c-{uuid.uuid4().hex[:8]}"))
    letters = DeadLetterStore(ledger_sessions)
    collector = MqttCollector(settings, InfluxStore(influx_settings), letters, {},
                              forecasts=store)
    collector.start()
    try:
        assert wait_until(lambda: collector.counters.subscribed, 10)
        today = received_at.astimezone(ZoneInfo("Asia/Shanghai")).date()
        good = {"issuer": "市气象台", "days": [
            {"date": (today + timedelta(days=i)).isoformat(), "aqi": aqi}
            for i, aqi in enumerate((210, 230, 120))]}
        for topic, payload in (("lantian/v1/forecast/beijing", orjson.dumps(good)),
                               ("lantian/v1/forecast/beijing", b"{not json"),
                               ("lantian/v1/forecast/atlantis", orjson.dumps(good)),
                               ("lantian/v1/forecast/beijing", b'{"days": [{"aqi": 900}]}')):
            publisher.publish(topic, payload, qos=1).wait_for_publish(10)
        assert wait_until(lambda: collector.counters.dead_letters_stored == 3, 15)
        assert collector.counters.messages == 4
    finally:
        collector.stop()
    reasons = sorted(letter.reason for letter in letters.list()[0])
    assert reasons[0].startswith("forecast is invalid: days.0.date: Field required")
    assert "forecast is not JSON" in reasons[1]
    assert "no alert scheme configured for city 'atlantis'" in reasons[2]
    event = service.evaluate("beijing", received_at)
    assert event is not None and event.to_level == "orange" and "市气象台" in event.reason
