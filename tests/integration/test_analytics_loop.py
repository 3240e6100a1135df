"""The analytics loop against real InfluxDB: validity rules, AQI written back, incremental."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from alerts.analytics_loop import AnalyticsLoop
from alerts.case_repository import CaseRepository
from config.settings import InfluxSettings, Settings
from config.stations import load_stations
from ingest.influx_store import InfluxStore
from ingest.line_protocol import reading_line
from ingest.station_payload import Reading

DAY_ONE = 1_480_521_600  # 2016-12-01T00:00:00+08:00
STATIONS = """stations:
  - {id: MIN1, name: minute station, city: c, lat: 39.9, lon: 116.4, interval_s: 60}
  - {id: HR1, name: hourly station, city: c, lat: 39.9, lon: 116.4}
"""


@pytest.fixture
def loop(tmp_path: Path, influx_settings: InfluxSettings, influx_store: InfluxStore,
         ledger_sessions) -> AnalyticsLoop:  # type: ignore[no-untyped-def]
    stations_file = tmp_path / "stations.yaml"
    stations_file.write_text(STATIONS, encoding="utf-8")
    settings = Settings(stations_file=stations_file, influx=influx_settings)
    return AnalyticsLoop(settings, influx_store, CaseRepository(ledger_sessions),
                         load_stations(stations_file),
                         clock=lambda: datetime(2026, 11, 23, tzinfo=UTC))


def test_minute_data_needs_45_minutes_an_hour(loop: AnalyticsLoop,
                                              influx_store: InfluxStore) -> None:
    lines = []
    for hour in range(25):  # one local day and the first hour of the next (closes the day)
        minutes = 30 if hour == 5 else 60  # hour 05:00 is covered only half
        lines += [reading_line(Reading("MIN1", DAY_ONE + 3600 * hour + 60 * m, {"pm25": 100.0}))
                  for m in range(minutes)]
        lines.append(reading_line(Reading("HR1", DAY_ONE + 3600 * hour, {"pm25": 10.0})))
    influx_store.write_lines(lines)
    report = loop.run_once()
    assert report is not None
    aqi = influx_store.read_series("station_aqi", "station", "MIN1", ["aqi"], DAY_ONE,
                                   DAY_ONE + 86400)
    assert len(aqi) == 23  # hour 05:00 has no valid mean, so no AQI
    assert DAY_ONE + 5 * 3600 not in set(aqi["time_s"])
    assert influx_store.count("station_aqi", "aqi", "station = 'HR1'") == 25
    # the day still has 23 valid hours ≥ 20: MIN1 exceeds (100 > 75), HR1 does not
    assert report.cases_opened == 1
    [case], _ = loop.cases.list_cases()
    assert case.source == "MIN1"
    assert loop.cases.get_case(case.id).findings[0].evidence["valid_hours"] == 23  # type: ignore[union-attr]


class _BlockedAudit:
    """A falsification audit that takes as long as the test says (stands in for a weeks-long
    read): it signals it started and returns only when released."""

    def __init__(self) -> None:
        import threading

        self.started, self.release = threading.Event(), threading.Event()

    def run_once(self) -> None:
        self.started.set()
        self.release.wait(30)


def test_exceedance_cycle_does_not_wait_for_a_slow_falsification_audit(
        loop: AnalyticsLoop, influx_store: InfluxStore) -> None:
    import threading

    from lantian.local_services import wait_until

    audit = _BlockedAudit()
    loop.falsification = audit  # type: ignore[assignment]
    loop.settings = loop.settings.model_copy(update={"analytics": loop.settings.analytics
                                                      .model_copy(update={"interval_s": 0.05})})
    stop = threading.Event()
    runner = threading.Thread(target=loop.run_forever, args=(stop,), daemon=True)
    runner.start()
    try:
        assert audit.started.wait(10)
        # with the audit still busy, a day of exceeding data arrives and must become a case
        lines = [reading_line(Reading("MIN1", DAY_ONE + 60 * m, {"pm25": 100.0}))
                 for m in range(25 * 60)]
        influx_store.write_lines(lines)
        assert wait_until(lambda: loop.cases.list_cases()[1] == 1, 20)
        assert not audit.release.is_set()
    finally:
        audit.release.set()
        stop.set()
        runner.join(10)
    assert not runner.is_alive()
