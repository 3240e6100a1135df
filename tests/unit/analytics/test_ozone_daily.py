"""O3 daily max 8-h (HJ 663 windows and validity), daily max 1-h, and O3 in the daily AQI."""

from __future__ import annotations

import numpy as np
import pytest

from analytics.aqi import daily_aqi
from analytics.daily_means import daily_means
from analytics.ozone_daily import o3_daily_max_1h, o3_daily_max_8h
from analytics.series_window import SeriesWindow

TZ = "Asia/Shanghai"


def window_of(o3_rows: list[np.ndarray], local_midnight_utc: str) -> SeriesWindow:
    o3 = np.array(o3_rows, dtype=float)
    start = np.datetime64(local_midnight_utc, "s")
    times = start + np.arange(o3.shape[1]) * np.timedelta64(3600, "s")
    return SeriesWindow(tuple(f"S{i}" for i in range(len(o3))), times, {"o3": o3})


def test_max_8h_uses_only_windows_inside_the_day() -> None:
    afternoon = np.full(48, 50.0)
    afternoon[12:20] = 200.0  # window 12:00–20:00 lies in the day
    evening = np.full(48, 50.0)
    evening[18:26] = 200.0  # crosses midnight: day one's best window is 16:00–24:00
    window = window_of([afternoon, evening], "2016-06-30T16:00:00")  # local 2016-07-01 00:00
    daily = daily_means(window, TZ)
    max8 = o3_daily_max_8h(window, daily)
    assert max8[0, 0] == 200.0
    assert max8[1, 0] == pytest.approx((2 * 50 + 6 * 200) / 8)
    assert max8[1, 1] == pytest.approx((2 * 200 + 6 * 50) / 8)  # day two, 00:00–08:00
    np.testing.assert_array_equal(o3_daily_max_1h(window, daily)[:, 0], [200.0, 200.0])


@pytest.mark.parametrize(("missing_hours", "valid"), [(4, True), (5, True), (6, False)])
def test_a_day_needs_14_valid_8h_means(missing_hours: int, valid: bool) -> None:
    row = np.full(24, 80.0)
    row[:missing_hours] = np.nan
    window = window_of([row], "2016-06-30T16:00:00")
    value = o3_daily_max_8h(window, daily_means(window, TZ))[0, 0]
    assert (value == 80.0) if valid else np.isnan(value)


def test_o3_in_the_daily_aqi_follows_the_edition() -> None:
    """O3 1-h max 300 (IAQI 150) and 8-h max 100 (IAQI 50): 2012 counts both, 2026 only 8-h."""
    row = np.full(24, 100.0)
    row[14] = 300.0  # raises the 1-h max; 8-h means stay ≤ 125 → still IAQI ≤ 100
    for day, expected_edition in (("2016-06-30T16:00:00", 2012), ("2026-06-30T16:00:00", 2026)):
        window = window_of([row], day)
        daily = daily_means(window, TZ)
        max8, max1 = o3_daily_max_8h(window, daily), o3_daily_max_1h(window, daily)
        result = daily_aqi(daily, max8, max1)
        assert result.edition[0] == expected_edition
        assert max8[0, 0] == 125.0 and max1[0, 0] == 300.0
        # 8-h 125 → IAQI 50 + (125-100)/(160-100)*50 = 70.83 → 71; 1-h 300 → 150
        assert result.iaqi["o3"][0, 0] == (150.0 if expected_edition == 2012 else 71.0)
    assert daily_aqi(daily).iaqi.get("o3") is None  # no O3 indicators given, no O3 IAQI
