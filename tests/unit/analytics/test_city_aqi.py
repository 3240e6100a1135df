"""City means over stations, and city AQI through hourly_aqi."""

from __future__ import annotations

import numpy as np
from numpy.testing import assert_array_equal

from analytics.aqi import hourly_aqi
from analytics.city_aqi import city_means
from analytics.series_window import SeriesWindow

NAN = np.nan
TIMES = np.datetime64("2026-06-01T00:00", "s") + np.arange(3) * np.timedelta64(1, "h")
CITY_OF = {"A": "Tianjin", "B": "Beijing", "C": "Beijing"}


def _window() -> SeriesWindow:
    pm25 = np.array([
        [20.0, 30.0, NAN],   # A, Tianjin
        [50.0, NAN, NAN],    # B, Beijing
        [70.0, 20.0, NAN],   # C, Beijing
        [900.0, 900.0, 900.0],  # D, in no city
    ])
    pm10 = np.array([[40.0, 50.0, 30.0], [NAN, 80.0, 80.0], [NAN, 120.0, 90.0], [1.0, 1.0, 1.0]])
    return SeriesWindow(("A", "B", "C", "D"), TIMES, {"pm25": pm25, "pm10": pm10})


def test_means_over_stations_skip_missing_values() -> None:
    city_window, counts = city_means(_window(), CITY_OF)
    assert city_window.sources == ("Beijing", "Tianjin")
    assert_array_equal(city_window.times, TIMES)
    assert_array_equal(city_window.values["pm25"], [[60.0, 20.0, NAN], [20.0, 30.0, NAN]])
    assert_array_equal(city_window.values["pm10"], [[NAN, 100.0, 85.0], [40.0, 50.0, 30.0]])
    assert_array_equal(counts, [[2, 1, 0], [1, 1, 0]])


def test_min_stations_blanks_thin_hours() -> None:
    city_window, counts = city_means(_window(), CITY_OF, min_stations=2)
    assert_array_equal(city_window.values["pm25"], [[60.0, NAN, NAN], [NAN, NAN, NAN]])
    assert_array_equal(counts, [[2, 1, 0], [1, 1, 0]])


def test_city_aqi_from_city_means() -> None:
    city_window, _ = city_means(_window(), CITY_OF)
    result = hourly_aqi(city_window, "Asia/Shanghai")
    # Expected IAQIs are the 2026 vectors of domain.md §10.1 (PM2.5) and §10.2 (PM10).
    # Beijing 00:00: PM2.5 mean 60 → 100, PM10 missing.
    assert (result.aqi[0, 0], result.level[0, 0], result.primary[0, 0]) == (100, 2, "pm25")
    # Beijing 01:00: PM2.5 mean 20 → 29, PM10 mean 100 → 86.
    assert (result.aqi[0, 1], result.level[0, 1], result.primary[0, 1]) == (86, 2, "pm10")
    # Tianjin 02:00: PM2.5 missing, PM10 30 → 30; AQI ≤ 50 has no primary pollutant.
    assert (result.aqi[1, 2], result.level[1, 2], result.primary[1, 2]) == (30, 1, "")


def test_no_pm25_gives_zero_counts_and_inputs_unchanged() -> None:
    window = _window()
    only_pm10 = SeriesWindow(window.sources, window.times, {"pm10": window.values["pm10"]})
    before = window.values["pm10"].copy()
    city_window, counts = city_means(only_pm10, CITY_OF)
    assert_array_equal(counts, np.zeros((2, 3), dtype=np.int64))
    assert set(city_window.values) == {"pm10"}
    assert_array_equal(window.values["pm10"], before)
