"""Scale-out (issue 10): two analytics workers split the cities. Together they write every
station's AQI and open every exceedance case once (both ledger backends); the network-wide
jobs run on worker 0 only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from alerts.analytics_loop import AnalyticsLoop
from alerts.case_repository import CaseRepository
from alerts.case_workflow import CaseWorkflow
from alerts.emission_cycle import EmissionJudge
from alerts.shard_plan import ShardPlan
from config.outlets import Outlet, OutletRegister
from config.settings import AnalyticsSettings, InfluxSettings, Settings
from config.stations import load_stations
from ingest.hj212_codec import Hj212Codec, make_packet
from ingest.hj212_intake import Hj212Intake
from ingest.influx_store import InfluxStore
from ingest.line_protocol import reading_line
from ingest.station_payload import Reading

DAY_ONE = 1_480_521_600  # 2016-12-01T00:00:00+08:00
CODEC = Hj212Codec()
CITIES = ["beijing", "tianjin", "shijiazhuang", "baoding"]


def test_two_workers_split_the_cities_and_judge_each_station_once(
        tmp_path: Path, influx_settings: InfluxSettings, influx_store: InfluxStore,
        ledger_sessions) -> None:  # type: ignore[no-untyped-def]
    stations_file = tmp_path / "stations.yaml"
    stations_file.write_text("stations:\n" + "".join(
        f"  - {{id: {city}-{n}, name: s, city: {city}, lat: 39.9, lon: 116.4}}\n"
        for city in CITIES for n in range(2)), encoding="utf-8")
    register = load_stations(stations_file)
    # a polluted local day (and the first hour of the next, which closes it) everywhere
    influx_store.write_lines([reading_line(Reading(s.id, DAY_ONE + 3600 * h, {"pm25": 150.0}))
                              for s in register.stations for h in range(25)])
    cases = CaseRepository(ledger_sessions)
    workers = [AnalyticsLoop(
        Settings(stations_file=stations_file, influx=influx_settings,
                 analytics=AnalyticsSettings(shard=k, shards=2)),
        influx_store, cases, register, clock=lambda: datetime(2026, 11, 23, tzinfo=UTC),
        workflow=CaseWorkflow(ledger_sessions)) for k in range(2)]

    def judged_cities() -> set[str]:
        return {s.city for s in register.stations
                if influx_store.count("station_aqi", "aqi", f"station = '{s.id}'")}

    first = workers[0].run_once()
    assert judged_cities() == set(ShardPlan(0, 2).mine(CITIES))  # worker 0: its cities only
    second = workers[1].run_once()
    assert judged_cities() == set(CITIES)
    assert first is not None and second is not None
    assert first.cases_opened > 0 and second.cases_opened > 0
    assert first.cases_opened + second.cases_opened == len(register.stations)
    listed, total = cases.list_cases(limit=100)
    assert total == len(register.stations) == len({c.source for c in listed})
    assert influx_store.count("city_aqi", "aqi") == len(CITIES) * 25
    # the network-wide jobs run once, on worker 0
    assert [name for name, _ in workers[0]._jobs()] == ["case deadlines"]
    assert [name for name, _ in workers[1]._jobs()] == []


def test_two_workers_split_the_outlets(influx_settings: InfluxSettings,
                                       influx_store: InfluxStore,
                                       ledger_sessions) -> None:  # type: ignore[no-untyped-def]
    mns = [f"02000000000000000000{n:04d}" for n in range(6)]
    outlets = OutletRegister(outlets=[
        Outlet(mn=mn, name=f"unit {n}", enterprise="E", industry="power", reference_o2=6,
               limits={"so2": 35}) for n, mn in enumerate(mns)])
    intake = Hj212Intake(Settings(), outlets.by_mn(), {})
    start = datetime(2026, 3, 15, tzinfo=ZoneInfo("Asia/Shanghai"))
    packets = [CODEC.encode(make_packet(
        st="31", cn="2051", pw="123456", mn=mn, flag=4,
        cp=[{"DataTime": (start + timedelta(minutes=m)).strftime("%Y%m%d%H%M%S")},
            {"a21026-Avg": "80.0", "a21026-Flag": "N"}, {"a19001-Avg": "6.0",
                                                          "a19001-Flag": "N"}]))
        for mn in mns for m in range(60)]
    influx_store.write_lines([line for p in packets for line in intake.frame(p, "t").lines])
    cases = CaseRepository(ledger_sessions)
    opened = []
    for k in range(2):
        judge = EmissionJudge(Settings(influx=influx_settings,
                                       analytics=AnalyticsSettings(shard=k, shards=2)),
                              influx_store, cases, outlets,
                              clock=lambda: datetime(2026, 11, 23, tzinfo=UTC))
        report = judge.run_once()
        assert report is not None
        opened.append({c.source for c in cases.list_cases(limit=100)[0]})
    assert opened[0] == set(ShardPlan(0, 2).mine(mns)) and opened[0]
    assert opened[1] == set(mns)  # worker 1 added exactly the rest


def test_a_worker_owning_no_station_still_cycles(
        tmp_path: Path, influx_settings: InfluxSettings, influx_store: InfluxStore,
        ledger_sessions) -> None:  # type: ignore[no-untyped-def]
    """One city and two workers (the compose scale-out demo): one worker owns nothing. It
    must finish its cycles, writing nothing, not fail every cycle (seen in `make test-deploy`,
    where its health check turned unhealthy)."""
    stations_file = tmp_path / "stations.yaml"
    stations_file.write_text("stations:\n  - {id: only-1, name: s, city: beijing, lat: 39.9, "
                             "lon: 116.4}\n", encoding="utf-8")
    register = load_stations(stations_file)
    influx_store.write_lines([reading_line(Reading("only-1", DAY_ONE + 3600 * h,
                                                   {"pm25": 150.0})) for h in range(25)])
    idle = next(k for k in range(2) if not ShardPlan(k, 2).owns("beijing"))
    worker = AnalyticsLoop(Settings(stations_file=stations_file, influx=influx_settings,
                                    analytics=AnalyticsSettings(shard=idle, shards=2)),
                           influx_store, CaseRepository(ledger_sessions), register,
                           clock=lambda: datetime(2026, 11, 23, tzinfo=UTC))
    report = worker.run_once()
    assert report is not None and report.aqi_points == 0 and report.cases_opened == 0
    assert influx_store.count("station_aqi", "aqi") == 0
