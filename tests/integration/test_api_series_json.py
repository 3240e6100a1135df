"""Series through the real API and InfluxDB are, byte for byte, what the per-point code built
before vectorising: station raw and hourly series with gaps and flags, and an outlet's raw
record series with text fields. Plus a few values checked against fixed expectations."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from fastapi.testclient import TestClient
from pydantic import TypeAdapter
from support.api_users import sign_in
from support.series_reference import reference_series

from api.main import create_app
from api.schemas import SeriesPublic
from config.settings import InfluxSettings, LedgerSettings, Settings
from ingest.influx_store import InfluxStore
from ingest.line_protocol import format_point

TZ = ZoneInfo("Asia/Shanghai")
START_S = 1_795_996_800  # 2026-11-30 00:00 UTC = 08:00 in Beijing
N_MINUTES = 6 * 60
MN = "020000B7700021E000214AA7"  # config/outlets.yaml


def _station_lines(seed: int = 23) -> list[str]:
    """Six hours of minute readings of Dongsi; every 7th minute without PM2.5, T flags."""
    rng = np.random.default_rng(seed)
    lines = []
    for i in range(N_MINUTES):
        fields: dict[str, object] = {"pm10": round(float(rng.lognormal(4.5, 0.4)), 1),
                                     "pm10_flag": "N"}
        if i % 7:
            fields["pm25"] = round(float(rng.lognormal(4.0, 0.5)), 1)
            fields["pm25_flag"] = "T" if i % 11 == 0 else "N"
        lines.append(format_point("station_reading", {"station": "Dongsi"}, fields,
                                  START_S + 60 * i))
    return lines


def _outlet_lines() -> list[str]:
    return [format_point("hj212_minute", {"mn": MN},
                         {"so2": 30.0 + i % 5, "so2_flag": "N" if i % 9 else "M",
                          **({"o2": 9.25} if i % 4 else {})}, START_S + 60 * i)
            for i in range(120)]


@pytest.fixture
def client(tmp_path: Path, influx_settings: InfluxSettings, influx_store: InfluxStore
           ) -> Iterator[TestClient]:
    influx_store.write_lines(_station_lines() + _outlet_lines())
    settings = Settings(influx=influx_settings,
                        ledger=LedgerSettings(url=f"sqlite:///{tmp_path / 'l.db'}"))
    with TestClient(create_app(settings)) as test_client:
        yield sign_in(test_client, settings.ledger.url, "viewer")


def _span(end_s: int) -> dict[str, str]:
    return {"start": datetime.fromtimestamp(START_S, UTC).isoformat(),
            "end": datetime.fromtimestamp(end_s, UTC).isoformat()}


def _old_bytes(store: InfluxStore, measurement: str, tag: str, source: str, fields: list[str],
               end_s: int, every_s: int | None = None) -> bytes:
    """The same query, formatted by the old per-point code, encoded as FastAPI encodes it."""
    frame = store.read_series(measurement, tag, source, fields, START_S, end_s,
                              every_s=every_s, limit=20_000)
    model = reference_series(source, frame, fields, START_S, end_s, every_s, TZ)
    return TypeAdapter(SeriesPublic).dump_json(model)


def test_station_series_equal_the_old_code(client: TestClient,
                                           influx_store: InfluxStore) -> None:
    end_s = START_S + N_MINUTES * 60
    fields = ["pm25", "pm10", "so2"]
    raw = client.get("/api/stations/Dongsi/series",
                     params={**_span(end_s), "pollutants": ",".join(fields)})
    assert raw.status_code == 200
    assert raw.content == _old_bytes(influx_store, "station_reading", "station", "Dongsi",
                                     fields, end_s)
    body = raw.json()
    assert body["count"] == N_MINUTES and body["start"] == "2026-11-30T08:00:00+08:00"
    assert body["points"][0]["time"] == "2026-11-30T08:00:00+08:00"
    assert body["points"][0]["pm25"] is None and body["points"][0]["so2"] is None
    assert body["points"][61]["time"] == "2026-11-30T09:01:00+08:00"
    assert isinstance(body["points"][61]["pm25"], float)

    hourly = client.get("/api/stations/Dongsi/series",
                        params={**_span(end_s), "pollutants": "pm25,pm10", "every_s": 3600})
    assert hourly.content == _old_bytes(influx_store, "station_reading", "station", "Dongsi",
                                        ["pm25", "pm10"], end_s, every_s=3600)
    assert [p["time"][11:16] for p in hourly.json()["points"]] == [
        "08:00", "09:00", "10:00", "11:00", "12:00", "13:00"]


def test_outlet_series_with_text_fields_equal_the_old_code(
        client: TestClient, influx_store: InfluxStore) -> None:
    end_s = START_S + 120 * 60
    fields = ["so2", "so2_flag", "o2", "nox"]
    raw = client.get(f"/api/outlets/{MN}/series",
                     params={**_span(end_s), "kind": "minute", "fields": ",".join(fields)})
    assert raw.status_code == 200
    assert raw.content == _old_bytes(influx_store, "hj212_minute", "mn", MN, fields, end_s)
    points = raw.json()["points"]
    assert points[0] == {"time": "2026-11-30T08:00:00+08:00", "so2": 30.0, "so2_flag": "M",
                         "o2": None, "nox": None}
    assert points[1] == {"time": "2026-11-30T08:01:00+08:00", "so2": 31.0, "so2_flag": "N",
                         "o2": 9.25, "nox": None}
