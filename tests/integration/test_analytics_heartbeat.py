"""`lantian heartbeat --service analytics`: the analytics loop's health check. A loop that
finishes cycles is healthy; one failing every cycle (InfluxDB away) or no longer cycling is not,
and the verdict says why. Against a real InfluxDB and ledger."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from alerts.analytics_heartbeat import read_beat
from alerts.analytics_loop import AnalyticsLoop
from alerts.case_repository import CaseRepository
from config.settings import AnalyticsSettings, InfluxSettings, Settings, get_settings
from config.stations import load_stations
from ingest.influx_store import InfluxStore
from ingest.line_protocol import reading_line
from ingest.station_payload import Reading
from lantian.cli import app
from lantian.heartbeat import analytics_heartbeat
from lantian.local_services import free_port

STATIONS = "stations:\n  - {id: S1, name: one, city: c, lat: 39.9, lon: 116.4}\n"


def make_loop(tmp_path: Path, influx: InfluxSettings, ledger_sessions,  # type: ignore[no-untyped-def]
              ) -> tuple[AnalyticsLoop, Settings]:
    stations_file = tmp_path / "stations.yaml"
    stations_file.write_text(STATIONS, encoding="utf-8")
    settings = Settings(stations_file=stations_file, influx=influx,
                        analytics=AnalyticsSettings(heartbeat_file=tmp_path / "beat.json",
                                                    heartbeat_max_age_s=60))
    loop = AnalyticsLoop(settings, InfluxStore(influx), CaseRepository(ledger_sessions),
                         load_stations(stations_file))
    return loop, settings


def test_a_cycling_loop_is_healthy_until_it_stops(tmp_path: Path, influx_settings: InfluxSettings,
                                                 influx_store: InfluxStore,
                                                 ledger_sessions) -> None:  # type: ignore[no-untyped-def]
    loop, settings = make_loop(tmp_path, influx_settings, ledger_sessions)
    before = analytics_heartbeat(settings, datetime.now(UTC))
    assert not before.ok and "has not finished a cycle yet" in before.detail
    influx_store.write_lines([reading_line(Reading("S1", 1_480_521_600, {"pm25": 80.0}))])
    loop._cycle_once()
    now = datetime.now(UTC)
    verdict = analytics_heartbeat(settings, now)
    assert verdict.ok and "analytics 0/1" in verdict.detail, verdict.detail
    later = analytics_heartbeat(settings, now + timedelta(seconds=61))
    assert not later.ok and "stuck or failing" in later.detail and "(limit 60 s)" in later.detail


def test_a_loop_failing_every_cycle_is_unhealthy_and_says_why(
        tmp_path: Path, ledger_sessions) -> None:  # type: ignore[no-untyped-def]
    gone = InfluxSettings(url=f"http://127.0.0.1:{free_port()}", timeout_s=1)
    loop, settings = make_loop(tmp_path, gone, ledger_sessions)
    loop._cycle_once()
    beat = read_beat(tmp_path / "beat.json")
    assert beat is not None and beat.last_ok_s is None and beat.last_error is not None
    verdict = analytics_heartbeat(settings, datetime.now(UTC))
    assert not verdict.ok and "last error" in verdict.detail
    assert "analytics cycle:" in verdict.detail, verdict.detail


def test_the_command_exits_by_the_verdict(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          influx_settings: InfluxSettings,
                                          ledger_sessions) -> None:  # type: ignore[no-untyped-def]
    beat_file = tmp_path / "beat.json"
    monkeypatch.setenv("LANTIAN_ANALYTICS__HEARTBEAT_FILE", str(beat_file))
    get_settings.cache_clear()
    try:
        missing = CliRunner().invoke(app, ["heartbeat", "--service", "analytics"])
        assert missing.exit_code == 1 and "absent" in missing.output
        loop, _ = make_loop(tmp_path, influx_settings, ledger_sessions)
        loop.settings = loop.settings.model_copy(update={"analytics": AnalyticsSettings(
            heartbeat_file=beat_file)})
        loop._cycle_once()
        passed = CliRunner().invoke(app, ["heartbeat", "--service", "analytics"])
        assert passed.exit_code == 0, passed.output
        wrong = CliRunner().invoke(app, ["heartbeat", "--service", "nothing"])
        assert wrong.exit_code == 2 and "choose from collector, analytics" in wrong.output
    finally:
        get_settings.cache_clear()
    beat_file.write_text("{not json", encoding="utf-8")
    broken = analytics_heartbeat(Settings(analytics=AnalyticsSettings(heartbeat_file=beat_file)),
                                 datetime.now(UTC))
    assert not broken.ok and "is not an analytics heartbeat" in broken.detail
