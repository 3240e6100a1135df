"""Daily means per local natural day, with the GB 3095 ≥ 20 valid hours rule."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from analytics.daily_means import daily_means
from analytics.series_window import SeriesWindow

TZ = "Asia/Shanghai"


def _hourly_window(start_utc: str, values: np.ndarray, step_s: int = 3600) -> SeriesWindow:
    times = np.datetime64(start_utc, "s") + np.arange(values.shape[1]) * np.timedelta64(step_s, "s")
    sources = tuple(f"s{i}" for i in range(values.shape[0]))
    return SeriesWindow(sources, times, {"pm25": values}, step_s)


def test_local_days_group_48_utc_hours_into_two_full_days() -> None:
    rng = np.random.default_rng(7)
    values = rng.uniform(10, 200, size=(2, 48))
    daily = daily_means(_hourly_window("2016-12-01T16:00", values), TZ)
    assert_array_equal(daily.days, np.array(["2016-12-02", "2016-12-03"], "datetime64[D]"))
    assert_array_equal(
        daily.day_start_utc, np.array(["2016-12-01T16:00", "2016-12-02T16:00"], "datetime64[s]")
    )
    assert_array_equal(
        daily.day_end_utc, np.array(["2016-12-02T16:00", "2016-12-03T16:00"], "datetime64[s]")
    )
    assert_array_equal(daily.hours_in_window, [24, 24])
    assert_allclose(daily.means["pm25"], values.reshape(2, 2, 24).mean(axis=2))
    assert_array_equal(daily.valid_hours["pm25"], [[24, 24], [24, 24]])


def test_validity_needs_twenty_valid_hours() -> None:
    values = np.tile(np.arange(24, dtype=np.float64), (2, 1))
    values[0, :5] = np.nan  # 19 valid hours
    values[1, :4] = np.nan  # 20 valid hours
    daily = daily_means(_hourly_window("2016-12-01T16:00", values), TZ)
    assert_array_equal(daily.valid_hours["pm25"][:, 0], [19, 20])
    assert np.isnan(daily.means["pm25"][0, 0])
    assert daily.means["pm25"][1, 0] == pytest.approx(np.mean(np.arange(4, 24)))


def test_min_hours_is_a_parameter() -> None:
    values = np.full((1, 24), 50.0)
    values[0, :6] = np.nan
    daily = daily_means(_hourly_window("2016-12-01T16:00", values), TZ, min_hours=18)
    assert daily.means["pm25"][0, 0] == 50.0


def test_window_edge_cuts_days_and_counts_hours_in_window() -> None:
    # 2016-12-01T10:00Z is 18:00 local: 6 hours of Dec 1, then all 24 of Dec 2.
    values = np.full((1, 30), 40.0)
    daily = daily_means(_hourly_window("2016-12-01T10:00", values), TZ)
    assert_array_equal(daily.days, np.array(["2016-12-01", "2016-12-02"], "datetime64[D]"))
    assert_array_equal(daily.hours_in_window, [6, 24])
    assert_array_equal(
        daily.day_start_utc, np.array(["2016-11-30T16:00", "2016-12-01T16:00"], "datetime64[s]")
    )
    assert np.isnan(daily.means["pm25"][0, 0]) and daily.means["pm25"][0, 1] == 40.0
    assert_array_equal(daily.day_of_time, [0] * 6 + [1] * 24)


def test_inputs_not_mutated() -> None:
    rng = np.random.default_rng(11)
    values = rng.uniform(0, 100, size=(3, 48))
    values[rng.uniform(size=values.shape) < 0.2] = np.nan
    window = _hourly_window("2016-12-01T16:00", values)
    before_values, before_times = values.copy(), window.times.copy()
    daily_means(window, TZ)
    assert_array_equal(window.values["pm25"], before_values)
    assert_array_equal(window.times, before_times)


def test_non_hourly_window_is_rejected() -> None:
    with pytest.raises(ValueError, match="hourly"):
        daily_means(_hourly_window("2016-12-01T16:00", np.zeros((1, 4)), step_s=1800), TZ)


def test_empty_window_gives_no_days() -> None:
    daily = daily_means(_hourly_window("2016-12-01T16:00", np.zeros((2, 0))), TZ)
    assert daily.days.shape == (0,) and daily.means["pm25"].shape == (2, 0)


def test_dst_day_has_23_hours() -> None:
    # EU summer time starts on the last Sunday of March at 01:00 UTC: 2026-03-29 lasts 23 hours,
    # from 2026-03-28T23:00Z (CET midnight) to 2026-03-29T22:00Z (CEST midnight).
    daily = daily_means(_hourly_window("2026-03-28T23:00", np.full((1, 23), 10.0)), "Europe/Berlin")
    assert_array_equal(daily.days, np.array(["2026-03-29"], "datetime64[D]"))
    assert_array_equal(daily.day_start_utc, np.array(["2026-03-28T23:00"], "datetime64[s]"))
    assert_array_equal(daily.day_end_utc, np.array(["2026-03-29T22:00"], "datetime64[s]"))
    assert_array_equal(daily.hours_in_window, [23])
    assert daily.means["pm25"][0, 0] == 10.0
