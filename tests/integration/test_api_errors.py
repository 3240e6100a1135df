"""API errors say what was wrong; an unreachable InfluxDB is a 503, not a crash."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from support.api_users import sign_in

from api.main import create_app
from config.settings import InfluxSettings, LedgerSettings, MqttSettings, Settings
from lantian.local_services import LocalService


@pytest.fixture
def client(tmp_path: Path, mqtt_broker: LocalService, influx_settings: InfluxSettings):  # type: ignore[no-untyped-def]
    settings = Settings(mqtt=MqttSettings(host=mqtt_broker.host, port=mqtt_broker.port),
                        influx=influx_settings,
                        ledger=LedgerSettings(url=f"sqlite:///{tmp_path / 'l.db'}"))
    with TestClient(create_app(settings)) as test_client:
        yield sign_in(test_client, settings.ledger.url, "viewer")


def test_not_found_and_bad_parameters_explain_themselves(client: TestClient) -> None:
    response = client.get("/api/stations/Atlantis")
    assert response.status_code == 404
    assert "Atlantis" in response.json()["detail"]
    assert client.get("/api/cases/999").json()["detail"] == "case 999 does not exist"
    bad = client.get("/api/stations/Dongsi/series", params={"pollutants": "pm25,nox"})
    assert bad.status_code == 422 and "nox" in bad.json()["detail"]
    naive = client.get("/api/stations/Dongsi/series", params={"start": "2016-12-01T00:00"})
    assert naive.status_code == 422 and "UTC offset" in naive.json()["detail"]
    backwards = client.get("/api/stations/Dongsi/series",
                           params={"start": "2016-12-02T00:00+08:00",
                                   "end": "2016-12-01T00:00+08:00"})
    assert backwards.json()["detail"] == "end must be after start"
    assert "unknown type" in client.get("/api/findings", params={"type": "x"}).json()["detail"]
    assert client.get("/api/cities/atlantis/aqi").status_code == 404
    assert client.get("/api/cases", params={"limit": 0}).status_code == 422


def test_empty_system_answers_with_empty_lists(client: TestClient) -> None:
    stations = client.get("/api/stations").json()
    assert stations["count"] == 12 and stations["data"][0]["latest"] is None
    assert client.get("/api/cases").json() == {"data": [], "count": 0}
    assert client.get("/api/dead-letters").json() == {"data": [], "count": 0}
    assert client.get("/").status_code == 200
    assert "/api/stations" in client.get("/openapi.json").json()["paths"]


def test_influx_down_is_503_with_reason(tmp_path: Path, mqtt_broker: LocalService) -> None:
    settings = Settings(mqtt=MqttSettings(host=mqtt_broker.host, port=mqtt_broker.port),
                        influx=InfluxSettings(url="http://127.0.0.1:9", timeout_s=0.5),
                        ledger=LedgerSettings(url=f"sqlite:///{tmp_path / 'l.db'}"))
    with TestClient(create_app(settings)) as client:
        response = sign_in(client, settings.ledger.url, "viewer").get("/api/stations")
        assert response.status_code == 503
        assert "time-series database unavailable" in response.json()["detail"]
        health = client.get("/api/health")
        assert health.status_code == 503
        body = health.json()
        assert body["broker"]["ok"] and body["ledger"]["ok"] and not body["influxdb"]["ok"]
