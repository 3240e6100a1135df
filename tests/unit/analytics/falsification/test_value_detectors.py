"""impossible_value, flatline and low_variance on seeded synthetic networks.

Each detector must find the event written into the data (right source, pollutant and hours)
and stay silent on the same data without it, on hourly and on minute grids.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from support.falsification_data import (
    START,
    hour,
    near,
    on_minutes,
    only,
    station_network,
    with_values,
)

from analytics.falsification.audit_series import AuditSeries
from analytics.falsification.flatline import FlatlineSettings, detect_flatline
from analytics.falsification.impossible_value import (
    ImpossibleValueSettings,
    detect_impossible_value,
)
from analytics.falsification.low_variance import LowVarianceSettings, detect_low_variance

# --- impossible_value -------------------------------------------------------------------

@pytest.mark.parametrize("seed", [1, 2, 3])
def test_impossible_value_is_silent_on_clean_networks(seed: int) -> None:
    clean = station_network(seed)
    assert detect_impossible_value(clean) == []
    assert detect_impossible_value(on_minutes(clean, seed)) == []


def test_negative_run_is_one_finding_with_its_values() -> None:
    series = with_values(station_network(1), "pm25", 2, slice(100, 103),
                         np.array([-20.0, -35.0, -8.0]))
    f = only(detect_impossible_value(series), "impossible_value", "S2", "pm25")
    assert (f.start, f.end) == (hour(100), hour(102))
    assert f.evidence["values"] == [-20.0, -35.0, -8.0]
    assert f.evidence["impossible_readings"] == 3
    assert f.evidence["bounds_broken"][0]["bound"] == "lowest possible"
    assert f.score == pytest.approx(35.0 / 5.0)


def test_absurd_high_value_breaks_the_ceiling() -> None:
    series = with_values(station_network(2), "co", 4, slice(300, 302), 80.0)
    f = only(detect_impossible_value(series), "impossible_value", "S4", "co")
    assert (f.start, f.end) == (hour(300), hour(301))
    assert f.evidence["bounds_broken"][0]["bound"] == "ceiling"


def test_slight_negative_counts_only_far_from_zero() -> None:
    base = station_network(3)
    near_zero = with_values(base, "so2", 1, slice(195, 206), 1.0)
    near_zero = with_values(near_zero, "so2", 1, slice(200, 201), -2.0)
    assert detect_impossible_value(near_zero) == []  # zero drift beside clean air
    polluted = with_values(base, "pm25", 1, slice(195, 206), 60.0)
    polluted = with_values(polluted, "pm25", 1, slice(200, 201), -2.0)
    f = only(detect_impossible_value(polluted), "impossible_value", "S1", "pm25")
    assert (f.start, f.end) == (hour(200), hour(200))


def test_flags_decide_what_is_impossible() -> None:
    base = station_network(4)
    series = with_values(base, "pm25", 0, slice(50, 52), -30.0)
    series = with_values(series, "pm10", 0, slice(80, 81), 9000.0)
    series = with_values(series, "no2", 0, slice(90, 91), -30.0)
    flags = {p: np.full(base.shape, b"N", dtype="S1") for p in ("pm25", "pm10", "no2")}
    flags["pm25"][0, 50:52] = b"C"  # zero check: negative readings are expected
    flags["pm10"][0, 80] = b"T"  # the analyser says "above my range"
    flags["no2"][0, 90] = b"T"  # …but a negative T reading is still impossible
    findings = detect_impossible_value(replace(series, flags=flags))
    only(findings, "impossible_value", "S0", "no2")


def test_impossible_value_on_minute_grid_reports_whole_hours() -> None:
    minutes = on_minutes(station_network(5), 5)
    series = with_values(minutes, "no2", 3, slice(600 + 30, 600 + 150), -25.0)
    f = only(detect_impossible_value(series), "impossible_value", "S3", "no2")
    assert (f.start, f.end) == (hour(10), hour(12))
    assert f.evidence["impossible_readings"] == 120


def test_outlet_process_bounds() -> None:
    n = 48
    times = START + np.arange(n) * np.timedelta64(3600, "s")
    o2 = np.full((1, n), 9.0)
    o2[0, 10:13] = 24.0
    moisture = np.full((1, n), 11.0)
    outlet = AuditSeries("outlet", ("stack",), times,
                         {"so2": np.full((1, n), 20.0), "o2": o2, "moisture": moisture})
    f = only(detect_impossible_value(outlet), "impossible_value", "stack", "o2")
    assert (f.start, f.end) == (hour(10), hour(12))
    assert detect_impossible_value(outlet, ImpossibleValueSettings(
        outlet_bounds={"o2": (-0.5, 25.0)})) == []


# --- flatline ---------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [1, 2, 3])
def test_flatline_is_silent_on_clean_networks(seed: int) -> None:
    clean = station_network(seed)
    assert detect_flatline(clean) == []
    assert detect_flatline(on_minutes(clean, seed)) == []


@pytest.mark.parametrize("hours", [10, 30, 72])
def test_stuck_value_is_found(hours: int) -> None:
    base = station_network(6)
    stuck = float(base.values["pm10"][3, 400])
    series = with_values(base, "pm10", 3, slice(400, 400 + hours), stuck)
    f = only(detect_flatline(series), "flatline", "S3", "pm10")
    assert near(f.start, hour(400)) and near(f.end, hour(400 + hours - 1))
    assert f.evidence["value"] == stuck
    assert f.evidence["typical_abs_change"] > 0


def test_stuck_hours_bridge_a_short_gap() -> None:
    base = station_network(7)
    series = with_values(base, "no2", 1, slice(200, 230), 45.0)
    series = with_values(series, "no2", 1, slice(210, 212), np.nan)
    f = only(detect_flatline(series), "flatline", "S1", "no2")
    assert near(f.start, hour(200)) and near(f.end, hour(229))


def test_coarse_low_values_are_not_a_flatline() -> None:
    # SO2 resting at 2–3 µg/m³ in integers for days, CO at 0.2 mg/m³: real clean air.
    base = station_network(8)
    rng = np.random.default_rng(8)
    so2 = np.where(rng.random(96) < 0.85, 2.0, 3.0)
    so2[:30] = 2.0
    series = with_values(base, "so2", 0, slice(300, 396), so2)
    series = with_values(series, "co", 2, slice(100, 140), 0.2)
    assert detect_flatline(series) == []


def test_flatline_on_minute_grid() -> None:
    minutes = on_minutes(station_network(9), 9)
    series = with_values(minutes, "o3", 5, slice(60 * 100, 60 * 112), 57.3)
    f = only(detect_flatline(series), "flatline", "S5", "o3")
    assert near(f.start, hour(100)) and near(f.end, hour(111))


def test_flatline_needs_min_hours() -> None:
    base = station_network(10)
    series = with_values(base, "pm25", 0, slice(100, 105), 70.0)
    assert detect_flatline(series) == []
    assert detect_flatline(series, FlatlineSettings(min_hours=4.0,
                                                    max_log10_chance=-3.0)) != []


# --- low_variance -----------------------------------------------------------------------

def _smoothed(series: AuditSeries, pollutant: str, row: int, cols: slice,
              ratio: float) -> AuditSeries:
    span = series.values[pollutant][row, cols]
    mean = np.nanmean(span)
    return with_values(series, pollutant, row, cols, np.round(mean + (span - mean) * ratio, 1))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_low_variance_is_silent_on_clean_networks(seed: int) -> None:
    clean = station_network(seed)
    assert detect_low_variance(clean) == []
    assert detect_low_variance(on_minutes(clean, seed)) == []


@pytest.mark.parametrize(("pollutant", "hours", "ratio"),
                         [("pm25", 48, 0.05), ("no2", 30, 0.08), ("o3", 100, 0.02)])
def test_smoothed_span_is_found(pollutant: str, hours: int, ratio: float) -> None:
    series = _smoothed(station_network(11), pollutant, 2, slice(300, 300 + hours), ratio)
    f = only(detect_low_variance(series), "low_variance", "S2", pollutant)
    assert near(f.start, hour(300), 3) and near(f.end, hour(300 + hours - 1), 3)
    assert f.evidence["ratio"] < 0.3 and f.evidence["median_window_ratio"] <= 0.2
    assert f.evidence["neighbours_step_std_at_level"] > f.evidence["step_std"]


def test_low_variance_on_minute_grid() -> None:
    hourly = _smoothed(station_network(12), "pm10", 4, slice(200, 260), 0.05)
    f = only(detect_low_variance(on_minutes(hourly, 12)), "low_variance", "S4", "pm10")
    assert near(f.start, hour(200), 3) and near(f.end, hour(259), 3)


def test_a_flatline_is_not_low_variance() -> None:
    series = with_values(station_network(13), "pm25", 1, slice(300, 372), 64.0)
    assert detect_low_variance(series) == []
    assert [f.type for f in detect_flatline(series)] == ["flatline"]


def test_low_variance_without_neighbours_uses_the_own_norm() -> None:
    base = station_network(14, n_stations=1)
    assert detect_low_variance(base) == []
    series = _smoothed(base, "pm25", 0, slice(300, 372), 0.03)
    f = only(detect_low_variance(series), "low_variance", "S0", "pm25")
    assert f.evidence["neighbours_step_std_at_level"] is None
    strict = LowVarianceSettings(max_ratio=0.001)
    assert detect_low_variance(series, strict) == []
