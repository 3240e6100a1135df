"""The InfluxDB adapter against a real InfluxDB 1.x: writes, idempotency, windows, errors."""

from __future__ import annotations

import numpy as np
import pytest

from config.settings import InfluxSettings
from ingest.errors import StoreRejected, StoreUnavailable
from ingest.influx_store import InfluxStore
from ingest.line_protocol import format_point, reading_line
from ingest.station_payload import Reading

T0 = 1_480_550_400  # 2016-12-01T00:00:00Z


def test_write_is_idempotent_per_station_and_time(influx_store: InfluxStore) -> None:
    lines = [reading_line(Reading("A", T0 + 60 * i, {"pm25": float(i)})) for i in range(10)]
    influx_store.write_lines(lines)
    influx_store.write_lines(lines)
    assert influx_store.count("station_reading", "pm25") == 10
    assert influx_store.latest_time_s("station_reading") == T0 + 540


def test_hourly_window_is_averaged_in_the_database(influx_store: InfluxStore) -> None:
    lines = [reading_line(Reading(s, T0 + 600 * i, {"pm25": 10.0 * (i % 6) + k}))
             for k, s in enumerate(["A", "B"]) for i in range(12)]
    influx_store.write_lines(lines)
    window = influx_store.read_hourly_window(
        "station_reading", "station", ["pm25", "pm10"], ["A", "B", "C"], T0, T0 + 3 * 3600)
    assert window.sources == ("A", "B", "C")
    assert window.times[0] == np.datetime64(T0, "s")
    np.testing.assert_allclose(window.values["pm25"][0], [25.0, 25.0, np.nan])
    np.testing.assert_allclose(window.values["pm25"][1], [26.0, 26.0, np.nan])
    assert np.isnan(window.values["pm25"][2]).all()
    assert np.isnan(window.values["pm10"]).all()


def test_values_flagged_invalid_are_left_out_of_hourly_means(influx_store: InfluxStore) -> None:
    """Maintenance (M) and calibration (C) values must not count; N, S and T do."""
    flags = ["N", "M", "C", "S", "T", "N"]
    influx_store.write_lines([
        reading_line(Reading("A", T0 + 600 * i, {"pm25": 10.0 * (i + 1), "pm10": 1.0},
                             {"pm25": flag}))
        for i, flag in enumerate(flags)])
    window = influx_store.read_hourly_window("station_reading", "station", ["pm25", "pm10"],
                                             ["A"], T0, T0 + 3600, valid_flags="NST")
    assert window.values["pm25"][0, 0] == (10 + 40 + 50 + 60) / 4
    assert window.values["pm10"][0, 0] == 1.0
    everything = influx_store.read_hourly_window("station_reading", "station", ["pm25"], ["A"],
                                                 T0, T0 + 3600)
    assert everything.values["pm25"][0, 0] == 35.0


def test_series_raw_and_bucketed(influx_store: InfluxStore) -> None:
    influx_store.write_lines(
        [format_point("station_reading", {"station": "A B"}, {"pm25": float(i)}, T0 + 60 * i)
         for i in range(120)])
    raw = influx_store.read_series("station_reading", "station", "A B", ["pm25"], T0,
                                   T0 + 7200)
    assert len(raw) == 120
    hourly = influx_store.read_series("station_reading", "station", "A B", ["pm25"], T0,
                                      T0 + 7200, every_s=3600)
    assert hourly["pm25"].tolist() == [29.5, 89.5]
    assert hourly["time_s"].tolist() == [T0, T0 + 3600]


def test_latest_by_tag(influx_store: InfluxStore) -> None:
    influx_store.write_lines([
        reading_line(Reading("A", T0, {"pm25": 1.0}, {"pm25": "N"})),
        reading_line(Reading("A", T0 + 60, {"pm25": 2.0})),
        reading_line(Reading("B", T0, {"pm10": 5.0})),
    ])
    latest = influx_store.latest_by_tag("station_reading", "station")
    assert latest["A"]["time_s"] == T0 + 60 and latest["A"]["pm25"] == 2.0
    assert latest["B"] == {"time_s": T0, "pm10": 5.0, "pm10_flag": "N"}


def test_errors_are_translated(influx_store: InfluxStore) -> None:
    with pytest.raises(StoreRejected):
        influx_store.write_lines(["this is not line protocol"])
    with pytest.raises(StoreRejected):
        influx_store.query_frame("SELEKT nonsense")
    missing = InfluxStore(influx_store.settings.model_copy(update={"database": "no_such_db"}))
    with pytest.raises(StoreUnavailable, match="database not found"):
        missing.write_lines([reading_line(Reading("A", T0, {"pm25": 1.0}))])
    dead = InfluxStore(InfluxSettings(url="http://127.0.0.1:9", database="x", timeout_s=1))
    with pytest.raises(StoreUnavailable):
        dead.ping()
