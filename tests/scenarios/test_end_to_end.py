"""End to end on the real parts: simulator → MQTT → collector → InfluxDB → analytics → API."""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from support.api_users import sign_in

from alerts.analytics_loop import AnalyticsLoop
from alerts.case_repository import CaseRepository
from alerts.ledger_db import create_schema, make_engine, make_session_factory
from analytics.series_window import SeriesWindow
from api.main import create_app
from config.settings import (
    CollectorSettings,
    InfluxSettings,
    LedgerSettings,
    MqttSettings,
    Settings,
)
from config.stations import load_stations
from ingest.dead_letters import DeadLetterStore
from ingest.influx_store import InfluxStore
from ingest.mqtt_collector import MqttCollector
from ingest.station_payload import Reading
from lantian.local_services import LocalService, wait_until
from simulators.publisher import ReadingPublisher, readings_at

START = np.datetime64("2016-11-30T16:00:00", "s")  # local midnight, 2016-12-01 (UTC+8)
HOURS = 49  # two whole local days and the first hour of a third, which closes day two

STATIONS_YAML = """stations:
  - {id: E2E_A, name: A站, city: testcity, district: East, lat: 39.9, lon: 116.4}
  - {id: E2E_B, name: B站, city: testcity, district: West, lat: 39.8, lon: 116.3}
  - {id: E2E_C, name: C站, city: testcity, district: West, lat: 39.7, lon: 116.2}
"""


def known_sequence() -> SeriesWindow:
    """A exceeds on day one only (mean 100 > 75); B never does; C is high on day one but has
    only 19 valid hours there, so GB 3095 says its daily mean does not exist."""
    pm25 = np.full((3, HOURS), 30.0)
    pm25[0, :24] = 100.0
    pm25[2, :24] = 200.0
    pm25[2, 3:8] = np.nan
    pm10 = pm25 * 1.5
    times = START + np.arange(HOURS) * np.timedelta64(3600, "s")
    return SeriesWindow(("E2E_A", "E2E_B", "E2E_C"), times, {"pm25": pm25, "pm10": pm10})


def maintenance_hours() -> list[Reading]:
    day_two = int(START.astype("int64")) + 86400
    return [Reading("E2E_B", day_two + 3600 * h, {"pm25": 300.0, "pm10": 450.0},
                    {"pm25": "M", "pm10": "M"}) for h in range(12)]


@pytest.fixture
def settings(tmp_path: Path, mqtt_broker: LocalService, influx_settings: InfluxSettings,
             ledger_url: str) -> Settings:
    stations_file = tmp_path / "stations.yaml"
    stations_file.write_text(STATIONS_YAML, encoding="utf-8")
    return Settings(
        stations_file=stations_file,
        mqtt=MqttSettings(host=mqtt_broker.host, port=mqtt_broker.port),
        influx=influx_settings,
        ledger=LedgerSettings(url=ledger_url),
        collector=CollectorSettings(client_id=f"e2e-{uuid.uuid4().hex[:8]}",
                                    require_registration=True),
    )


def test_known_sequence_ends_as_an_exceedance_case_in_the_api(settings: Settings) -> None:
    store = InfluxStore(settings.influx)
    store.ensure_database()
    engine = make_engine(settings.ledger.url)
    create_schema(engine)
    sessions = make_session_factory(engine)
    register = load_stations(settings.stations_file)
    collector = MqttCollector(settings, store, DeadLetterStore(sessions), register.by_id())
    collector.start()
    window = known_sequence()
    expected = int(np.sum(~np.isnan(window.values["pm25"])))
    try:
        assert wait_until(lambda: collector.counters.subscribed, 10)
        with ReadingPublisher(settings.mqtt.host, settings.mqtt.port,
                              client_id=f"e2e-sim-{uuid.uuid4().hex[:6]}") as publisher:
            publisher.connect()
            for index in range(HOURS):
                publisher.publish_readings(readings_at(window, index), batch_size=1)
            # B's first 12 hours of day two again, now 300 µg/m³ under maintenance (M): they
            # replace the earlier values, and being invalid they must not make an exceedance
            publisher.publish_readings(maintenance_hours(), batch_size=6)
            publisher.publish_raw("lantian/v1/station/E2E_A/reading", b"{broken json")
            publisher.publish_raw("lantian/v1/station/E2E_Z/reading",
                                  b'{"time": 1480550400, "pm25": 5}')
            assert publisher.wait_all_acked(20)
        assert wait_until(lambda: collector.counters.readings_written == expected + 12, 20)
        assert wait_until(lambda: collector.counters.dead_letters_stored == 2, 10)
    finally:
        collector.stop()
    # InfluxDB holds exactly what was published, queried back
    assert store.count("station_reading", "pm25") == expected == 49 * 3 - 5
    assert store.count("station_reading", "pm25", "station = 'E2E_C'") == 49 - 5

    loop = AnalyticsLoop(settings, store, CaseRepository(sessions), register)
    report = loop.run_once()
    assert report is not None
    # A: PM2.5 100 > 75 is a finding; its PM10 mean 150 equals the limit and is not
    assert report.cases_opened == 1 and report.findings == 1
    assert store.count("station_aqi", "aqi") == 49 * 3 - 5 - 12  # flagged hours have no AQI
    assert store.count("city_aqi", "aqi") == 49
    # AQI over any 24 h: from the 20th hour on (GB 3095: 20 valid hours make a 24-h value)
    assert store.count("city_aqi", "aqi_24h") == 49 - 19
    assert store.count("city_daily", "aqi") == 2  # the two closed local days
    assert loop.run_once() is None  # nothing new: an idle cycle does nothing
    # a fresh loop (a restart) re-judges the same days and opens nothing new
    again = AnalyticsLoop(settings, store, CaseRepository(sessions), register).run_once()
    assert again is not None and again.cases_opened == again.cases_updated == 0

    with TestClient(create_app(settings)) as client:
        sign_in(client, settings.ledger.url, "inspector")
        cases = client.get("/api/cases", params={"status": "open"}).json()
        assert cases["count"] == 1
        [case] = cases["data"]
        assert case["source"] == "E2E_A" and case["problem_type"] == "exceedance"
        detail = client.get(f"/api/cases/{case['id']}").json()
        [pm25] = detail["findings"]
        assert pm25["pollutant"] == "pm25"
        assert pm25["evidence"]["daily_mean_ugm3"] == 100.0
        assert pm25["evidence"]["limit_ugm3"] == 75
        assert pm25["evidence"]["valid_hours"] == 24
        assert pm25["start"] == "2016-12-01T00:00:00+08:00"
        assert pm25["end"] == "2016-12-01T23:00:00+08:00"

        stations = client.get("/api/stations").json()
        a = next(s for s in stations["data"] if s["id"] == "E2E_A")
        assert a["latest"]["time"] == "2016-12-03T00:00:00+08:00"
        assert a["latest"]["values"]["pm25"] == 30.0
        # last hour: PM2.5 30 → IAQI 43, PM10 45 → IAQI 45 (HJ 633-2012): AQI 45, no primary
        assert a["aqi"]["aqi"] == 45 and a["aqi"]["edition"] == "HJ 633-2012"
        assert a["aqi"]["primary"] == [] and a["aqi"]["category_en"] == "Excellent"
        # daily AQI of A's day one (HJ 633-2012): PM2.5 100 → 132, PM10 150 → 100
        daily = client.get("/api/stations/E2E_A/daily",
                           params={"start": "2016-12-01T00:00:00+08:00",
                                   "end": "2016-12-03T00:00:00+08:00"}).json()
        assert [(p["time"], p["aqi"], p["pm25_mean"]) for p in daily["points"]] == [
            ("2016-12-01T00:00:00+08:00", 132.0, 100.0), ("2016-12-02T00:00:00+08:00", 45.0, 30.0)]
        assert a["daily_aqi"]["aqi"] == 45 and a["daily_aqi"]["category_en"] == "Excellent"
        hourly = client.get("/api/stations/E2E_A/aqi",
                            params={"start": "2016-12-02T22:00:00+08:00",
                                    "end": "2016-12-03T01:00:00+08:00"}).json()
        assert [(p["time"], p["aqi"], p["level"]) for p in hourly["points"]][-1] == (
            "2016-12-03T00:00:00+08:00", 45.0, 1.0)
        series = client.get("/api/stations/E2E_C/series",
                            params={"start": "2016-12-01T00:00:00+08:00",
                                    "end": "2016-12-02T00:00:00+08:00", "pollutants": "pm25"})
        assert series.json()["count"] == 19
        city = client.get("/api/cities/testcity/aqi").json()
        assert city["stations"] == 3 and city["latest"]["aqi"] is not None
        city_days = client.get("/api/cities/testcity/daily",
                               params={"start": "2016-12-01T00:00:00+08:00",
                                       "end": "2016-12-03T00:00:00+08:00"}).json()
        assert [p["time"] for p in city_days["points"]] == [
            "2016-12-01T00:00:00+08:00", "2016-12-02T00:00:00+08:00"]
        # the 24 h ending with 23:00 of day two are day two: same AQI both ways
        closing = next(p for p in city["series"]["points"]
                       if p["time"] == "2016-12-02T23:00:00+08:00")
        assert closing["aqi_24h"] == city_days["points"][1]["aqi"] is not None
        assert client.get("/api/cities/nowhere/daily").status_code == 404

        letters = client.get("/api/dead-letters").json()
        assert letters["count"] == 2
        assert {d["payload_text"] for d in letters["data"]} >= {"{broken json"}
        assert any("not registered" in d["reason"] for d in letters["data"])
        assert client.get("/api/health").status_code == 200
    engine.dispose()
    store.close()
