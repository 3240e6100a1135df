"""Live falsification audit on the real parts: real Beijing station hours and simulated CEMS
minute data go into InfluxDB (the CEMS over MQTT through the collector), the analytics side
judges them, and the falsification cycle opens cases whose evidence the API draws as a PNG."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
from fastapi.testclient import TestClient
from support.api_users import token_for
from support.hj212_pipeline import deliver_cems_minutes

from alerts.case_repository import CaseRepository
from alerts.emission_cycle import EmissionJudge
from alerts.falsification_cycle import FalsificationCycle
from alerts.ledger_db import create_schema, make_engine, make_session_factory
from api.main import create_app
from config.outlets import load_outlets
from config.settings import FalsificationSettings, InfluxSettings, LedgerSettings, Settings
from config.stations import load_stations
from ingest.dead_letters import DeadLetterStore
from ingest.influx_store import InfluxStore
from ingest.line_protocol import STATION_MEASUREMENT, format_point
from lantian.local_services import LocalService
from simulators.beijing_replay import load_beijing
from simulators.cems_injections import Injection, simulate_cems

TZ = ZoneInfo("Asia/Shanghai")
STATION_START = datetime(2016, 10, 20, tzinfo=TZ)
STATION_DAYS = 14
STUCK_STATION, STUCK_FROM, STUCK_HOURS = "Dongsi", 200, 14
CEMS_START = datetime(2026, 3, 10, tzinfo=TZ)
CEMS_DAYS = 4
NOW = datetime(2026, 11, 23, tzinfo=UTC)


def _station_lines(beijing_data: Path) -> tuple[list[str], float]:
    window = load_beijing(beijing_data, start=STATION_START.replace(tzinfo=None),
                          end=(STATION_START + timedelta(days=STATION_DAYS)).replace(tzinfo=None))
    pm25 = window.values["pm25"]
    row = window.sources.index(STUCK_STATION)
    stuck = float(np.nanmax(pm25[row, STUCK_FROM - 24:STUCK_FROM]))
    pm25[row, STUCK_FROM:STUCK_FROM + STUCK_HOURS] = stuck
    lines = []
    for r, station in enumerate(window.sources):
        for c, when in enumerate(window.times.astype(np.int64)):
            fields = {p: float(v[r, c]) for p, v in window.values.items() if not np.isnan(v[r, c])}
            fields.update({f"{p}_flag": "N" for p in list(fields)})
            if fields:
                lines.append(format_point(STATION_MEASUREMENT, {"station": station}, fields,
                                          int(when)))
    return lines, stuck


def test_live_cycle_opens_falsification_cases_with_charts(
        tmp_path: Path, beijing_data: Path, mqtt_broker: LocalService,
        influx_settings: InfluxSettings, influx_store: InfluxStore) -> None:
    ledger_url = f"sqlite:///{tmp_path / 'ledger.db'}"
    engine = make_engine(ledger_url)
    create_schema(engine)
    sessions = make_session_factory(engine)
    register = load_outlets(Settings().outlets_file)
    diluted = register.outlets[0]
    dilution = Injection(mn=diluted.mn, pollutant="all", type="dilution",
                         start=CEMS_START + timedelta(days=3, hours=2),
                         end=CEMS_START + timedelta(days=3, hours=10),
                         params={"air_fraction": 0.45})
    run = simulate_cems(register.outlets, CEMS_START, CEMS_DAYS * 24, seed=11,
                        injections=[dilution])
    delivered = deliver_cems_minutes(run, mqtt_broker, influx_settings, DeadLetterStore(sessions),
                                     register.by_mn())
    # Four days of CEMS data: the O2/flow baseline of each hour may use three other days
    # (the default asks for four) — thresholds come from the settings, as in production.
    settings = delivered.model_copy(update={"falsification": FalsificationSettings(
        thresholds={"dilution": {"min_baseline_days": 3}})})
    station_lines, stuck_value = _station_lines(beijing_data)
    influx_store.write_lines(station_lines)

    cases = CaseRepository(sessions)
    judge = EmissionJudge(settings, influx_store, cases, register, clock=lambda: NOW)
    while judge.run_once() is not None:
        pass
    stations = load_stations(settings.stations_file).stations
    cycle = FalsificationCycle(settings, influx_store, cases, stations, register.by_mn(),
                               clock=lambda: NOW)
    report = cycle.run_once()
    assert report is not None and set(report.windows) == {"station", "outlet"}
    assert cycle.run_once() is None  # nothing new, interval not elapsed

    listed, _ = cases.list_cases(limit=1000)
    by_key = {(c.source, c.problem_type): c for c in listed}
    flat = by_key[(STUCK_STATION, "flatline")]
    [finding] = [f for f in cases.get_case(flat.id).findings  # type: ignore[union-attr]
                 if f.pollutant == "pm25"]
    first_stuck = STATION_START + timedelta(hours=STUCK_FROM)
    assert abs(finding.start - first_stuck) <= timedelta(hours=1)
    assert abs(finding.end - (first_stuck + timedelta(hours=STUCK_HOURS - 1))) <= timedelta(
        hours=1)
    diluted_case = by_key[(diluted.mn, "dilution")]
    assert diluted_case.source_kind == "outlet" and diluted_case.enterprise == diluted.enterprise
    [evidence] = cases.get_case(diluted_case.id).findings[:1]  # type: ignore[union-attr]
    assert evidence.start < dilution.end and evidence.end >= dilution.start
    # Re-running on the same data adds no case.
    again = cycle.run_once(force=True)
    assert again is not None and again.cases_opened == 0

    api_settings = Settings(influx=influx_settings, ledger=LedgerSettings(url=ledger_url))
    with TestClient(create_app(api_settings)) as client:
        viewer = {"Authorization": f"Bearer {token_for(ledger_url, 'viewer')}"}
        response = client.get(f"/api/findings/{finding.id}/chart.png", headers=viewer)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "image/png"
        assert response.content[:8] == b"\x89PNG\r\n\x1a\n" and len(response.content) > 20_000
        outlet_png = client.get(f"/api/findings/{evidence.id}/chart.png?pad_hours=24",
                                headers=viewer)
        assert outlet_png.status_code == 200 and outlet_png.content[:4] == b"\x89PNG"
        # in Chinese, for the case file: every 汉字 has a glyph
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for finding_id in (finding.id, evidence.id):
                zh = client.get(f"/api/findings/{finding_id}/chart.png?lang=zh&pad_hours=24",
                                headers=viewer)
                assert zh.status_code == 200 and zh.content[:4] == b"\x89PNG"
        assert not [w for w in caught if "missing from" in str(w.message)]
        assert zh.content != outlet_png.content
        wrong = client.get(f"/api/findings/{finding.id}/chart.png?lang=fr", headers=viewer)
        assert wrong.status_code == 422 and "lang" in wrong.text
        other = {"Authorization": "Bearer " + token_for(ledger_url, "enterprise",
                                                         register.outlets[-1].enterprise)}
        assert client.get(f"/api/findings/{finding.id}/chart.png",
                          headers=other).status_code == 404
        owner = {"Authorization": "Bearer " + token_for(ledger_url, "enterprise",
                                                         diluted.enterprise)}
        assert client.get(f"/api/findings/{evidence.id}/chart.png",
                          headers=owner).status_code == 200
        missing = client.get("/api/findings/999999/chart.png", headers=viewer)
        assert missing.status_code == 404 and "999999" in missing.json()["detail"]
        assert client.get(f"/api/findings/{finding.id}/chart.png").status_code == 401
    engine.dispose()
    assert stuck_value >= 10
