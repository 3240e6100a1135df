"""The outlet API on real InfluxDB: latest values measured and converted, the unit's converted
value checked, last judged hour and status, series by kind, enterprises, clear errors."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from support.api_users import sign_in

from alerts.case_repository import CaseRepository
from alerts.emission_cycle import EmissionJudge
from alerts.ledger_db import create_schema, make_engine, make_session_factory
from api.main import create_app
from config.outlets import load_outlets
from config.settings import EmissionSettings, InfluxSettings, LedgerSettings, Settings
from ingest.hj212_codec import Hj212Codec, make_packet
from ingest.hj212_intake import Hj212Intake
from ingest.influx_store import InfluxStore

TZ = ZoneInfo("Asia/Shanghai")
CODEC = Hj212Codec()
MN = "020000B7700021E000214AA7"  # config/outlets.yaml: power, reference O2 6 %, SO2 limit 35
HOUR = datetime.now(TZ).replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)


def minute(at: datetime, so2: float, zs: float, flag: str = "N") -> bytes:
    return CODEC.encode(make_packet(
        st="31", cn="2051", pw="123456", mn=MN, flag=4,
        cp=[{"DataTime": at.strftime("%Y%m%d%H%M%S")},
            {"a21026-Avg": f"{so2}", "a21026-ZsAvg": f"{zs}", "a21026-Flag": flag},
            {"a19001-Avg": "9.2", "a19001-Flag": "N"}, {"a00000-Avg": "97.2"}]))


@pytest.fixture
def client(tmp_path: Path, influx_settings: InfluxSettings, influx_store: InfluxStore):  # type: ignore[no-untyped-def]
    settings = Settings(influx=influx_settings,
                        ledger=LedgerSettings(url=f"sqlite:///{tmp_path / 'l.db'}"),
                        emissions=EmissionSettings(offline_after_s=4 * 3600))
    outlets = load_outlets(settings.outlets_file)
    intake = Hj212Intake(settings, outlets.by_mn(), {})
    packets = [minute(HOUR + timedelta(minutes=m), 30.0, 38.1) for m in range(60)]
    # The newest minute: in maintenance, and its ZsAvg converted with the wrong reference O2.
    packets.append(minute(HOUR + timedelta(hours=1), 20.0, 20.7, flag="M"))
    influx_store.write_lines([line for p in packets for line in intake.frame(p, "t").lines])
    engine = make_engine(settings.ledger.url)
    create_schema(engine)
    EmissionJudge(settings, influx_store, CaseRepository(make_session_factory(engine)),
                  outlets).run_once()
    with TestClient(create_app(settings)) as test_client:
        yield sign_in(test_client, settings.ledger.url, "viewer")


def test_outlet_shows_measured_converted_check_and_status(client: TestClient) -> None:
    outlet = client.get(f"/api/outlets/{MN}").json()
    assert outlet["enterprise"] == "京能热电示范厂" and outlet["limits"]["so2"] == 35
    latest = outlet["latest"]
    assert latest["kind"] == "minute" and latest["measured"]["so2"] == 20.0
    assert latest["flags"]["so2"] == "M" and latest["o2"] == 9.2
    assert latest["converted"]["so2"] == pytest.approx(20 * 15 / 11.8, abs=0.01)
    assert latest["reported_converted"]["so2"] == 20.7
    assert latest["conversion_mismatch"] == {"so2": True}
    assert datetime.fromisoformat(latest["time"]) == HOUR + timedelta(hours=1)
    hour = outlet["last_hour"]
    assert hour["exceeding"] == ["so2"] and hour["basis"] == {"so2": "minute"}
    assert outlet["status"]["code"] == "exceeding" and "so2 38.1" in outlet["status"]["text"]

    listing = client.get("/api/outlets").json()
    assert listing["count"] == 6
    statuses = {o["mn"]: o["status"]["code"] for o in listing["data"]}
    assert statuses[MN] == "exceeding"
    assert sorted(set(statuses.values())) == ["exceeding", "no_data"]
    assert client.get("/api/outlets", params={"industry": "steel"}).json()["count"] == 1


def test_outlet_series_by_kind_and_enterprises(client: TestClient) -> None:
    judged = client.get(f"/api/outlets/{MN}/series").json()
    assert judged["count"] == 1 and judged["points"][0]["so2_limit"] == 35.0
    assert judged["points"][0]["so2_zs"] == pytest.approx(30 * 15 / 11.8)
    raw = client.get(f"/api/outlets/{MN}/series",
                     params={"kind": "minute", "fields": "so2,so2_flag,so2_zs"}).json()
    assert raw["count"] == 61
    assert raw["points"][-1] == {"time": raw["points"][-1]["time"], "so2": 20.0,
                                 "so2_flag": "M", "so2_zs": 20.7}
    hourly = client.get(f"/api/outlets/{MN}/series",
                        params={"kind": "minute", "fields": "so2", "every_s": 3600}).json()
    assert [p["so2"] for p in hourly["points"]] == [30.0, 20.0]

    enterprises = {e["name"]: e for e in client.get("/api/enterprises").json()["data"]}
    assert enterprises["京能热电示范厂"]["outlets"] == 2
    assert enterprises["京能热电示范厂"]["statuses"] == {"exceeding": 1, "no_data": 1}
    mine = client.get("/api/enterprises/京能热电示范厂/outlets").json()
    assert {o["mn"] for o in mine["data"]} == {MN, "020000B7700021E000214AA8"}
    cases = client.get("/api/cases").json()["data"]
    assert [(c["source"], c["source_kind"]) for c in cases] == [(MN, "outlet")]


def test_outlet_errors_explain_themselves(client: TestClient) -> None:
    missing = client.get("/api/outlets/NOPE")
    assert missing.status_code == 404 and "NOPE" in missing.json()["detail"]
    assert client.get("/api/enterprises/nobody/outlets").status_code == 404
    bad_kind = client.get(f"/api/outlets/{MN}/series", params={"kind": "weekly"})
    assert bad_kind.status_code == 422
    bad_field = client.get(f"/api/outlets/{MN}/series", params={"fields": "so2;drop"})
    assert bad_field.status_code == 422 and "so2;drop" in bad_field.json()["detail"]
    averaged_flags = client.get(f"/api/outlets/{MN}/series",
                                params={"kind": "minute", "fields": "so2_flag",
                                        "every_s": 3600})
    assert averaged_flags.status_code == 422 and "averaged" in averaged_flags.json()["detail"]
