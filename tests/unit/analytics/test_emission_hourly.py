"""Hourly emissions: minute > real-time > reported, each needing ≥ 45 minutes (domain.md §5.3)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from analytics.emission_hourly import (
    BASIS_MINUTE,
    BASIS_NONE,
    BASIS_REPORTED,
    BASIS_RTD,
    hourly_emissions,
)
from analytics.series_window import SeriesWindow

NAN = math.nan
START = np.datetime64("2026-03-15T00:00:00", "s")
# 45 minutes of 1-min data = 45 values; of 20-s real-time data = 45·60/20 = 135 values.
NEEDED_MINUTE = np.array([45, 45])
NEEDED_RTD = np.array([135, 135])


def _window(values: dict[str, list[list[float]]]) -> SeriesWindow:
    arrays = {k: np.asarray(v, dtype=np.float64) for k, v in values.items()}
    n_sources, n_times = next(iter(arrays.values())).shape
    times = START + np.arange(n_times) * np.timedelta64(3600, "s")
    return SeriesWindow(tuple(f"stack{i}" for i in range(n_sources)), times, arrays)


def _priority_windows() -> tuple[SeriesWindow, SeriesWindow, SeriesWindow]:
    """Two stacks, four hours; stack0 walks down the priority list hour by hour.

    hour 0: 45 valid minutes → minute; hour 1: 44 minutes, 135 real-time values → rtd;
    hour 2: 44 minutes, 134 real-time values → reported; hour 3: nothing at all.
    stack1: minute data every hour except a count that is present with a missing mean (hour 1).
    """
    minute = _window({
        "so2": [[10.0, 11.0, 12.0, NAN], [5.0, 6.0, 7.0, 8.0]],
        "so2_count": [[45, 44, 44, NAN], [60, 60, 60, 60]],
        "o2": [[9.0, 9.0, 9.0, NAN], [11.0, 11.0, 11.0, 11.0]],
        "o2_count": [[45, 44, 44, NAN], [60, 60, 60, 60]],
    })
    minute.values["so2"][1, 1] = NAN
    rtd = _window({
        "so2": [[20.0, 21.0, 22.0, NAN], [NAN, 16.0, NAN, NAN]],
        "so2_count": [[180, 135, 134, NAN], [NAN, 180, NAN, NAN]],
        "o2": [[12.0, 12.0, 12.0, NAN], [NAN, 13.0, NAN, NAN]],
        "o2_count": [[180, 135, 134, NAN], [NAN, 180, NAN, NAN]],
    })
    reported = _window({
        "so2": [[30.0, 31.0, 32.0, NAN], [NAN, NAN, NAN, NAN]],
        "o2": [[15.0, 15.0, 15.0, NAN], [NAN, NAN, NAN, NAN]],
    })
    return minute, rtd, reported


def test_priority_minute_then_rtd_then_reported_with_the_45_minute_rule() -> None:
    minute, rtd, reported = _priority_windows()
    hours = hourly_emissions(minute, rtd, reported, needed_minute=NEEDED_MINUTE,
                             needed_rtd=NEEDED_RTD, reference_o2=np.array([6.0, 6.0]))
    assert hours.pollutants == ("so2",)
    assert hours.sources == ("stack0", "stack1")
    assert_array_equal(hours.times, minute.times)
    assert_array_equal(hours.basis["so2"], [
        [BASIS_MINUTE, BASIS_RTD, BASIS_REPORTED, BASIS_NONE],
        [BASIS_MINUTE, BASIS_RTD, BASIS_MINUTE, BASIS_MINUTE],
    ])
    assert hours.basis["so2"].dtype == np.int8
    assert_array_equal(hours.measured["so2"], [[10.0, 21.0, 32.0, NAN], [5.0, 16.0, 7.0, 8.0]])
    assert_array_equal(hours.o2["so2"], [[9.0, 12.0, 15.0, NAN], [11.0, 13.0, 11.0, 11.0]])
    assert_array_equal(hours.valid_count["so2"], [[45, 135, NAN, NAN], [60, 180, 60, 60]])
    # By hand, C × (21 − 6) / (21 − O2) with the O2 of the same basis:
    assert_allclose(hours.converted["so2"], [
        [10.0 * 15 / 12, 21.0 * 15 / 9, 32.0 * 15 / 6, NAN],
        [5.0 * 15 / 10, 16.0 * 15 / 8, 7.0 * 15 / 10, 8.0 * 15 / 10],
    ])


def test_missing_o2_of_the_chosen_basis_leaves_converted_nan() -> None:
    minute, rtd, reported = _priority_windows()
    minute.values["o2"][0, 0] = NAN  # minute data chosen, its O2 missing: no borrowing rtd's
    reported.values["o2"][0, 2] = NAN
    hours = hourly_emissions(minute, rtd, reported, needed_minute=NEEDED_MINUTE,
                             needed_rtd=NEEDED_RTD, reference_o2=np.array([6.0, 6.0]))
    assert hours.basis["so2"][0, 0] == BASIS_MINUTE
    assert hours.measured["so2"][0, 0] == 10.0
    assert math.isnan(hours.o2["so2"][0, 0])
    assert math.isnan(hours.converted["so2"][0, 0])
    assert hours.measured["so2"][0, 2] == 32.0
    assert math.isnan(hours.converted["so2"][0, 2])
    assert hours.converted["so2"][0, 1] == pytest.approx(21.0 * 15 / 9)


def test_no_reference_o2_uses_measured_even_without_o2() -> None:
    minute, rtd, reported = _priority_windows()
    minute.values["o2"][1, :] = NAN
    hours = hourly_emissions(minute, rtd, reported, needed_minute=NEEDED_MINUTE,
                             needed_rtd=NEEDED_RTD, reference_o2=np.array([6.0, NAN]))
    assert_array_equal(hours.converted["so2"][1], [5.0, 16.0, 7.0, 8.0])
    assert hours.converted["so2"][0, 0] == pytest.approx(12.5)


def test_only_reported_hours() -> None:
    reported = _window({"nox": [[40.0, NAN]], "o2": [[9.0, 9.0]]})
    hours = hourly_emissions(None, None, reported, needed_minute=np.array([45]),
                             needed_rtd=np.array([135]), reference_o2=np.array([6.0]))
    assert hours.pollutants == ("nox",)  # particulate and so2 absent everywhere: left out
    assert_array_equal(hours.basis["nox"], [[BASIS_REPORTED, BASIS_NONE]])
    assert_allclose(hours.converted["nox"], [[50.0, NAN]])
    assert_array_equal(hours.valid_count["nox"], [[NAN, NAN]])


def test_needed_counts_are_per_source() -> None:
    # stack0 sends 5-min data (needs 9), stack1 1-min data (needs 45); both have 9 values.
    minute = _window({"so2": [[10.0], [10.0]], "so2_count": [[9], [9]], "o2": [[6.0], [6.0]]})
    hours = hourly_emissions(minute, None, None, needed_minute=np.array([9, 45]),
                             needed_rtd=np.array([1, 1]), reference_o2=np.array([6.0, 6.0]))
    assert_array_equal(hours.basis["so2"], [[BASIS_MINUTE], [BASIS_NONE]])
    assert_array_equal(hours.converted["so2"], [[10.0], [NAN]])


def test_inputs_are_not_modified() -> None:
    windows = _priority_windows()
    before = [{k: v.copy() for k, v in w.values.items()} for w in windows]
    hours = hourly_emissions(*windows, needed_minute=NEEDED_MINUTE, needed_rtd=NEEDED_RTD,
                             reference_o2=np.array([6.0, 6.0]))
    hours.measured["so2"][:] = -1.0
    for window, copy in zip(windows, before, strict=True):
        for key, array in window.values.items():
            assert_array_equal(array, copy[key])


def test_bad_inputs_raise() -> None:
    minute, rtd, reported = _priority_windows()
    kwargs = {"needed_minute": NEEDED_MINUTE, "needed_rtd": NEEDED_RTD,
              "reference_o2": np.array([6.0, 6.0])}
    with pytest.raises(ValueError, match="at least one"):
        hourly_emissions(None, None, None, **kwargs)
    no_counts = _window({"so2": [[1.0], [1.0]]})
    with pytest.raises(ValueError, match="lacks counts"):
        hourly_emissions(no_counts, None, None, **kwargs)
    shifted = SeriesWindow(rtd.sources, rtd.times + np.timedelta64(3600, "s"), rtd.values)
    with pytest.raises(ValueError, match="share"):
        hourly_emissions(minute, shifted, reported, **kwargs)
    with pytest.raises(ValueError, match="one number per source"):
        hourly_emissions(minute, rtd, reported, **{**kwargs, "reference_o2": np.array([6.0])})
