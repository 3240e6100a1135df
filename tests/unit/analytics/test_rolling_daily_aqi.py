"""Daily AQI over any 24 h: equal to the natural-day AQI where the 24 h are a local day, valid
only with 20 hours, and crossing midnight otherwise."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from analytics.aqi import daily_aqi
from analytics.daily_means import daily_means
from analytics.ozone_daily import o3_daily_max_1h, o3_daily_max_8h
from analytics.rolling_daily_aqi import rolling_24h_aqi, rolling_24h_means
from analytics.series_window import SeriesWindow

TZ = "Asia/Shanghai"
POLLUTANTS = ("pm25", "pm10", "so2", "no2", "co", "o3")


def _window(start_utc: str, values: dict[str, np.ndarray]) -> SeriesWindow:
    n = next(iter(values.values())).shape[1]
    times = np.datetime64(start_utc, "s") + np.arange(n) * np.timedelta64(3600, "s")
    sources = tuple(f"s{i}" for i in range(next(iter(values.values())).shape[0]))
    return SeriesWindow(sources, times, values)


def _random(rng: np.random.Generator, sources: int, hours: int) -> dict[str, np.ndarray]:
    scale = {"pm25": 180, "pm10": 260, "so2": 40, "no2": 90, "co": 3, "o3": 160}
    return {p: rng.uniform(0.1, 1.0, (sources, hours)) * scale[p] for p in POLLUTANTS}


@pytest.mark.parametrize("start", ["2016-11-30T16:00", "2026-02-27T16:00"])
def test_the_24_h_closing_a_local_day_give_that_days_aqi(start: str) -> None:
    rng = np.random.default_rng(11)
    window = _window(start, _random(rng, 3, 72))  # three whole local days
    rolling = rolling_24h_aqi(window, TZ)
    daily = daily_means(window, TZ)
    natural = daily_aqi(daily, o3_daily_max_8h(window, daily), o3_daily_max_1h(window, daily))
    closing = np.array([23, 47, 71])  # 23:00 local of each day
    assert_allclose(rolling.aqi[:, closing], natural.aqi)
    assert_array_equal(rolling.primary[:, closing], natural.primary)
    assert np.isnan(rolling.aqi[:, :19]).all()  # fewer than 20 hours of history
    assert not np.isnan(rolling.aqi[:, 19:]).any()


def test_a_window_crossing_midnight_uses_the_24_h_before() -> None:
    pm25 = np.full((1, 48), 35.0)
    pm25[0, 12:36] = 250.0  # noon to noon local: no natural day is above 150 µg/m³
    window = _window("2016-11-30T16:00", {"pm25": pm25})
    means = rolling_24h_means(window)["pm25"]
    assert means[0, 35] == pytest.approx(250.0)
    rolling = rolling_24h_aqi(window, TZ)
    daily = daily_aqi(daily_means(window, TZ))
    assert rolling.aqi[0, 35] == 300  # 250 µg/m³ PM2.5 is IAQI 300
    assert daily.aqi.max() < rolling.aqi[0, 35]


def test_twenty_valid_hours_make_a_24_h_value() -> None:
    pm25 = np.full((2, 30), 100.0)
    pm25[0, 6:11] = np.nan  # 19 valid of the 24 ending at column 29
    pm25[1, 6:10] = np.nan  # 20 valid
    means = rolling_24h_means(_window("2016-12-01T00:00", {"pm25": pm25}))["pm25"]
    assert np.isnan(means[0, 29])
    assert means[1, 29] == pytest.approx(100.0)


def test_inputs_are_left_alone() -> None:
    rng = np.random.default_rng(3)
    values = _random(rng, 2, 40)
    values["pm25"][0, 5] = np.nan
    copies = {p: v.copy() for p, v in values.items()}
    rolling_24h_aqi(_window("2016-12-01T00:00", values), TZ)
    for p in POLLUTANTS:
        assert_array_equal(values[p], copies[p])


def test_non_hourly_windows_are_refused() -> None:
    window = SeriesWindow(("s",), np.array(["2016-12-01"], "datetime64[s]"),
                          {"pm25": np.ones((1, 1))}, 86400)
    with pytest.raises(ValueError, match="hourly"):
        rolling_24h_means(window)
