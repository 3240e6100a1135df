"""Daily AQI over any 24 h: the heavy-pollution alert rules (shared/domain.md §3) judge the daily
AQI of any consecutive 24 hours, which may cross midnight, not only of natural days.

For each hour t the indicator covers hours t−23 … t (the 24 h ending with hour t): 24-h means of
PM2.5, PM10, SO2, NO2 and CO under GB 3095's ≥ 20 valid hours, and for O3 the largest 8-h moving
mean (≥ 6 valid hours each) among the 8-h windows inside those 24 h, plus for the 2012 edition
the largest 1-h value. The HJ 633 edition follows the local date of the hour that closes the
window. Vectorized with cumulative sums along time.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from analytics.aqi import DAILY_INDICATORS, AqiResult, combine_iaqi, compute_iaqi
from analytics.daily_means import GB3095_MIN_HOURS_PER_DAY
from analytics.ozone_daily import MIN_HOURS_PER_8H
from analytics.series_window import SeriesWindow
from analytics.standards_calendar import hj633_edition, local_dates

HOURS = 24


def _trailing(values: np.ndarray, hours: int, min_hours: int) -> np.ndarray:
    """(S, T) mean of the `hours` hours ending at each column, NaN with fewer than `min_hours`
    valid values (the first hours−1 columns lack history and are NaN unless min_hours allows)."""
    valid = ~np.isnan(values)
    zero = np.zeros((values.shape[0], 1))
    sums = np.concatenate([zero, np.cumsum(np.where(valid, values, 0.0), axis=1)], axis=1)
    counts = np.concatenate([zero, np.cumsum(valid, axis=1)], axis=1)
    starts = np.maximum(np.arange(values.shape[1]) + 1 - hours, 0)
    total = sums[:, 1:] - sums[:, starts]
    count = counts[:, 1:] - counts[:, starts]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count >= min_hours, total / count, np.nan)


def _trailing_max(values: np.ndarray, hours: int) -> np.ndarray:
    """(S, T) NaN-aware maximum of the `hours` columns ending at each column."""
    padded = np.pad(values, ((0, 0), (hours - 1, 0)), constant_values=np.nan)
    windows = sliding_window_view(padded, hours, axis=1)
    with np.errstate(invalid="ignore"):
        valid = ~np.isnan(windows)
        out = np.where(valid, windows, -np.inf).max(axis=2)
    return np.where(valid.any(axis=2), out, np.nan)


def rolling_24h_means(window: SeriesWindow, min_hours: int = GB3095_MIN_HOURS_PER_DAY
                      ) -> dict[str, np.ndarray]:
    """Per pollutant of `window` (hourly, NaN = invalid hour), the (S, T) mean of the 24 h ending
    with each hour; O3 gives ``o3_8h`` (max 8-h mean inside those 24 h) and ``o3_1h``."""
    if window.step_s != 3600:
        raise ValueError(f"rolling 24-h means need an hourly window, got step {window.step_s} s")
    out = {p: _trailing(window.values[p], HOURS, min_hours)
           for p in DAILY_INDICATORS if p in window.values}
    if "o3" in window.values:
        o3 = window.values["o3"]
        mean8 = _trailing(o3, 8, MIN_HOURS_PER_8H)
        # 8-h windows lying inside the 24 h: those ending at t−16 … t.
        out["o3_8h"] = _trailing_max(mean8, HOURS - 7)
        out["o3_1h"] = _trailing_max(o3, HOURS)
        day_count = _trailing(np.where(np.isnan(o3), np.nan, 1.0), HOURS, min_hours)
        out["o3_8h"] = np.where(np.isnan(day_count), np.nan, out["o3_8h"])
        out["o3_1h"] = np.where(np.isnan(day_count), np.nan, out["o3_1h"])
    return out


def rolling_24h_aqi(window: SeriesWindow, tz: str,
                    min_hours: int = GB3095_MIN_HOURS_PER_DAY) -> AqiResult:
    """Daily AQI (HJ 633 24-h columns) of the 24 h ending with each hour of `window`.

    Units as hourly_aqi (µg/m³, CO mg/m³). Column t is NaN until 24 h of history with
    ≥ `min_hours` valid hours exist, so pass a window that starts a day before the hours wanted.
    """
    means = rolling_24h_means(window, min_hours)
    # The edition of the hour that closes the window: column t covers up to t + 1 h.
    edition = hj633_edition(local_dates(window.times, tz))
    iaqi = {p: compute_iaqi(means[p], indicator, edition)
            for p, indicator in DAILY_INDICATORS.items() if p in means}
    if "o3_8h" in means:
        o3 = compute_iaqi(means["o3_8h"], "o3_8h", edition)
        one_hour = compute_iaqi(means["o3_1h"], "o3_1h", edition)
        iaqi["o3"] = np.where(edition == 2012, np.fmax(o3, one_hour), o3)
    return combine_iaqi(iaqi, (len(window.sources), len(window.times)), edition)
