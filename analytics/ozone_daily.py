"""O3 daily indicators (HJ 663): the daily maximum 8-hour moving mean and the 1-hour maximum."""

from __future__ import annotations

import numpy as np

from analytics.daily_means import DailyMeans
from analytics.series_window import SeriesWindow

# GB 3095 Table 4: an 8-h mean needs ≥ 6 hourly values. HJ 663: the daily max 8-h needs ≥ 14
# valid 8-h means among the 17 of the day (those ending 08:00 … 24:00 local).
MIN_HOURS_PER_8H = 6
MIN_8H_MEANS_PER_DAY = 14
LAST_8H_START_HOUR = 16  # the last 8-h window of a day covers 16:00–24:00


def o3_daily_max_8h(window: SeriesWindow, daily: DailyMeans, *,
                    min_hours: int = MIN_HOURS_PER_8H,
                    min_means: int = MIN_8H_MEANS_PER_DAY) -> np.ndarray:
    """(S, D) daily maximum of the 8-h moving means of hourly O3 (µg/m3) per local day.

    `daily` must come from the same window (its day index per column is reused). Only 8-h
    windows that lie wholly inside one local day and start at 00:00–16:00 count; a window needs
    `min_hours` valid hours and a day `min_means` valid windows, else NaN. Missing "o3" → NaN.
    """
    n_sources, n_times = len(window.sources), len(window.times)
    out = np.full((n_sources, len(daily.days)), np.nan)
    o3 = window.values.get("o3")
    if o3 is None or n_times < 8:
        return out
    valid = ~np.isnan(o3)
    zero = np.zeros((n_sources, 1))
    sums = np.concatenate([zero, np.cumsum(np.where(valid, o3, 0.0), axis=1)], axis=1)
    counts = np.concatenate([zero, np.cumsum(valid, axis=1)], axis=1)
    sum8, count8 = sums[:, 8:] - sums[:, :-8], counts[:, 8:] - counts[:, :-8]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean8 = np.where(count8 >= min_hours, sum8 / count8, np.nan)
    start_day = daily.day_of_time[: n_times - 7]
    start_hour = ((window.times[: n_times - 7] - daily.day_start_utc[start_day])
                  .astype(np.int64) // 3600)
    in_day = (start_day == daily.day_of_time[7:]) & (start_hour <= LAST_8H_START_HOUR)
    mean8 = np.where(in_day[None, :], mean8, np.nan)
    np.fmax.at(out, (slice(None), start_day), mean8)
    n_means = np.zeros(out.shape, dtype=np.int64)
    np.add.at(n_means, (slice(None), start_day), ~np.isnan(mean8))
    return np.where(n_means >= min_means, out, np.nan)


def o3_daily_max_1h(window: SeriesWindow, daily: DailyMeans) -> np.ndarray:
    """(S, D) daily maximum hourly O3 (µg/m3), NaN unless the day has `daily.min_hours` valid
    hours (the daily-mean rule, applied here too). Needed by the 2012 daily AQI only."""
    out = np.full((len(window.sources), len(daily.days)), np.nan)
    o3 = window.values.get("o3")
    if o3 is None:
        return out
    np.fmax.at(out, (slice(None), daily.day_of_time), o3)
    n_hours = np.zeros(out.shape, dtype=np.int64)
    np.add.at(n_hours, (slice(None), daily.day_of_time), ~np.isnan(o3))
    return np.where(n_hours >= daily.min_hours, out, np.nan)
