"""copy_paste and neighbor_divergence on seeded synthetic networks.

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
from analytics.falsification.copy_paste import CopyPasteSettings, detect_copy_paste
from analytics.falsification.neighbor_divergence import (
    NeighborDivergenceSettings,
    detect_neighbor_divergence,
)


def _outlets(seed: int, n_stacks: int = 3, days: int = 20) -> AuditSeries:
    """Minute CEMS data: pollutants and process values wandering around their set points."""
    rng = np.random.default_rng(seed)
    n = days * 1440
    level = {"particulate": 4.0, "so2": 15.0, "nox": 30.0, "o2": 9.0, "flow": 6.0e5,
             "temperature": 60.0, "moisture": 11.0}
    values = {}
    for p, mean in level.items():
        slow = np.cumsum(rng.normal(0.0, 0.003, (n_stacks, n)), axis=1)
        slow -= np.linspace(0, 1, n)[None, :] * slow[:, -1:]  # pinned: no long drift
        values[p] = mean * np.exp(slow + rng.normal(0.0, 0.05, (n_stacks, n)))
    times = START + np.arange(n) * np.timedelta64(60, "s")
    return AuditSeries("outlet", tuple(f"MN{i}" for i in range(n_stacks)), times, values,
                       step_s=60, reference_o2=np.full(n_stacks, 6.0),
                       limits={p: np.full(n_stacks, v) for p, v in
                               (("particulate", 10.0), ("so2", 35.0), ("nox", 50.0))})


# --- copy_paste -------------------------------------------------------------------------

def _pasted(series: AuditSeries, pollutant: str, row: int, first: int, hours: int,
            days: int) -> AuditSeries:
    lag = days * 24 * (3600 // series.step_s)
    per = 3600 // series.step_s
    cols = slice(first * per, (first + hours) * per)
    source = series.values[pollutant][row, cols.start - lag:cols.stop - lag].copy()
    return with_values(series, pollutant, row, cols, source)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_copy_paste_is_silent_on_clean_networks(seed: int) -> None:
    clean = station_network(seed)
    assert detect_copy_paste(clean) == []
    assert detect_copy_paste(on_minutes(clean, seed)) == []


@pytest.mark.parametrize(("pollutant", "hours", "days"),
                         [("pm25", 24, 1), ("o3", 60, 3), ("no2", 96, 7), ("co", 48, 2)])
def test_pasted_days_are_found(pollutant: str, hours: int, days: int) -> None:
    series = _pasted(station_network(21), pollutant, 2, 400, hours, days)
    f = only(detect_copy_paste(series), "copy_paste", "S2", pollutant)
    detectable = min(hours, 24 * days)  # later hours copy data that were overwritten
    assert near(f.start, hour(400)) and near(f.end, hour(400 + detectable - 1))
    assert f.evidence["lag_days"] == days
    assert f.evidence["copied_from_start"].startswith(
        str(START + np.timedelta64(3600 * (400 - 24 * days), "s")))
    assert f.evidence["share_equal"] >= 0.8


def test_copy_paste_on_minute_grid() -> None:
    series = _pasted(on_minutes(station_network(22), 22), "pm10", 1, 300, 36, 2)
    f = only(detect_copy_paste(series), "copy_paste", "S1", "pm10")
    assert near(f.start, hour(300)) and near(f.end, hour(335))


def test_a_flatline_is_not_a_paste() -> None:
    series = with_values(station_network(23), "pm25", 0, slice(200, 300), 48.0)
    assert detect_copy_paste(series) == []


def test_coarse_floor_values_are_not_a_paste() -> None:
    # SO2 toggling between 2 and 3 µg/m³ for days equals itself a day earlier most hours.
    rng = np.random.default_rng(24)
    toggling = np.where(rng.random(240) < 0.9, 2.0, 3.0)
    series = with_values(station_network(24), "so2", 3, slice(200, 440), toggling)
    assert detect_copy_paste(series) == []


def test_outlet_paste_of_every_parameter_is_one_all_finding() -> None:
    clean = _outlets(25)
    assert detect_copy_paste(clean) == []
    series = clean
    for p in clean.values:
        series = _pasted(series, p, 1, 200, 30, 1)
    f = only(detect_copy_paste(series), "copy_paste", "MN1", "all")
    assert near(f.start, hour(200)) and near(f.end, hour(223))
    assert f.evidence["pollutants"] == ["nox", "particulate", "so2"]


def test_copy_paste_lags_are_configurable() -> None:
    series = _pasted(station_network(26), "pm25", 2, 400, 48, 7)
    assert detect_copy_paste(series, CopyPasteSettings(max_lag_days=3)) == []


# --- neighbor_divergence ----------------------------------------------------------------

@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_neighbor_divergence_is_silent_on_clean_networks(seed: int) -> None:
    clean = station_network(seed)
    assert detect_neighbor_divergence(clean) == []
    assert detect_neighbor_divergence(on_minutes(clean, seed)) == []


@pytest.mark.parametrize(("pollutant", "hours", "factor"),
                         [("pm25", 48, 0.3), ("pm10", 120, 0.4), ("pm25", 30, 0.2)])
def test_covered_inlet_is_found(pollutant: str, hours: int, factor: float) -> None:
    base = station_network(31)
    span = slice(300, 300 + hours)
    covered = np.round(base.values[pollutant][4, span] * factor)
    series = with_values(base, pollutant, 4, span, covered)
    f = only(detect_neighbor_divergence(series), "neighbor_divergence", "S4", pollutant)
    assert near(f.start, hour(300), 3) and near(f.end, hour(300 + hours - 1), 3)
    assert f.evidence["station_mean"] < 0.6 * f.evidence["predicted_mean"]
    assert len(f.evidence["neighbours"]) == 5


def test_neighbor_divergence_on_minute_grid() -> None:
    base = station_network(32)
    span = slice(200, 260)
    hourly = with_values(base, "pm25", 0, span, np.round(base.values["pm25"][0, span] * 0.35))
    f = only(detect_neighbor_divergence(on_minutes(hourly, 32)), "neighbor_divergence", "S0",
              "pm25")
    assert near(f.start, hour(200), 3) and near(f.end, hour(259), 3)


def test_gaps_and_flatlines_are_not_divergence() -> None:
    base = station_network(33)
    gap = with_values(base, "pm25", 2, slice(300, 372), np.nan)
    assert detect_neighbor_divergence(gap) == []
    low = float(np.nanpercentile(base.values["pm25"][2], 10))
    stuck = with_values(base, "pm25", 2, slice(300, 372), low)
    assert detect_neighbor_divergence(stuck) == []


def test_the_usual_ratio_absorbs_a_rural_station() -> None:
    # S5 always reads 40 % of what the city does (a rural site): its normal, not an event.
    base = station_network(34)
    rural = with_values(base, "pm25", 5, slice(None), np.round(base.values["pm25"][5] * 0.4))
    assert detect_neighbor_divergence(rural) == []


def test_needs_neighbours_and_stations() -> None:
    base = station_network(35)
    span = slice(300, 360)
    series = with_values(base, "pm25", 4, span, np.round(base.values["pm25"][4, span] * 0.3))
    far = NeighborDivergenceSettings(radius_km=0.01)
    assert detect_neighbor_divergence(series, far) == []
    assert detect_neighbor_divergence(replace(series, lat=None, lon=None)) == []
    assert detect_neighbor_divergence(_outlets(35)) == []
