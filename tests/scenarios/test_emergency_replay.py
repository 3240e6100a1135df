"""Replaying real Beijing data of late November 2015 through broker, collector, InfluxDB,
analytics, statistical forecaster and emergency service: the pipeline issues an alert during
the episode of 29 Nov – 1 Dec and lifts it after the air cleared on 2 Dec."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pytest

from config.settings import (
    EmergencySettings,
    InfluxSettings,
    LedgerSettings,
    MqttSettings,
    Settings,
)
from lantian.emergency_replay import replay_emergency
from lantian.local_services import LocalService
from lantian.replay_report import draw_chart, write_markdown

TZ = "Asia/Shanghai"


@pytest.mark.integration
def test_the_replayed_episode_is_alerted_and_lifted(
        tmp_path: Path, beijing_data: Path, mqtt_broker: LocalService,
        influx_settings: InfluxSettings) -> None:
    settings = Settings(
        mqtt=MqttSettings(host=mqtt_broker.host, port=mqtt_broker.port),
        influx=influx_settings,
        ledger=LedgerSettings(url=f"sqlite:///{tmp_path / 'ledger.db'}"),
        emergency=EmergencySettings(time_basis="data"))
    result = replay_emergency(settings, date(2015, 11, 29), date(2015, 12, 4), warmup_days=16,
                              chunk_hours=48, data_path=beijing_data)

    assert result.readings > 12 * 24 * 20 * 0.9  # 21 days of 12 stations, a few gaps
    # the three heavy local days (daily AQI > 200) are in InfluxDB as the city's daily AQI
    heavy = result.daily_times[result.daily_aqi > 200]
    assert [str(t) for t in heavy] == [
        "2015-11-28T16:00:00", "2015-11-29T16:00:00", "2015-11-30T16:00:00"]
    issued = [e for e in result.events if e.action == "issue"]
    assert issued and all("statistical forecast" in e.reason for e in result.events)
    levels = {p.level for p in result.periods}
    assert {"orange", "red"} & levels  # AQI over 24 h above 300 (and 450 on 1 Dec)
    # in force during the worst day, lifted once the air had cleared (2 Dec, AQI < 50)
    worst = datetime(2015, 11, 30, 18, tzinfo=UTC)  # 1 Dec 02:00 local
    assert any(p.start <= worst and (p.end is None or p.end > worst) for p in result.periods)
    lifts = [e for e in result.events if e.action == "lift"]
    assert lifts and lifts[-1].at < datetime(2015, 12, 3, tzinfo=UTC)
    assert result.periods[-1].end is not None

    chart = draw_chart(result, tmp_path / "replay.png", TZ)
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = write_markdown(result, tmp_path / "replay.md", chart, TZ, "test")
    text = page.read_text(encoding="utf-8")
    assert "| red |" in text or "| orange |" in text
    assert np.isfinite(result.aqi_24h).sum() > 24 * 4
