"""Daily (local natural day) means of hourly values, with the GB 3095 20-valid-hours rule."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analytics.series_window import SeriesWindow
from analytics.standards_calendar import local_dates

# GB 3095 Table 4: a 24-h mean of SO2, NO2, CO, PM10, PM2.5 needs at least 20 hourly means.
GB3095_MIN_HOURS_PER_DAY = 20


@dataclass(frozen=True)
class DailyMeans:
    """Daily means of each pollutant per source and local natural day touched by a window.

    `days` datetime64[D] (D,) local dates, increasing; `means[p]` float64 (S, D), NaN where
    fewer than `min_hours` valid hours; `valid_hours[p]` int64 (S, D); `day_start_utc` /
    `day_end_utc` datetime64[s] (D,) UTC instants of the day's local midnight and of the next
    one; `hours_in_window` int64 (D,) grid hours of the day inside the window (less than the
    day's length for a day cut by the window edge); `day_of_time` intp (T,) index into `days`
    of each window column.
    """

    sources: tuple[str, ...]
    days: np.ndarray
    means: dict[str, np.ndarray]
    valid_hours: dict[str, np.ndarray]
    day_start_utc: np.ndarray
    day_end_utc: np.ndarray
    hours_in_window: np.ndarray
    day_of_time: np.ndarray
    min_hours: int = GB3095_MIN_HOURS_PER_DAY


def local_midnights_utc(days: np.ndarray, tz: str) -> np.ndarray:
    """UTC instant (datetime64[s]) at which each local date in `days` begins in `tz`.

    A midnight that does not exist (DST jump at 00:00) moves forward to the first local
    instant of the day; an ambiguous one takes the earlier occurrence.
    """
    naive = pd.DatetimeIndex(np.asarray(days).astype("datetime64[s]"))
    local = naive.tz_localize(
        tz, ambiguous=np.ones(len(naive), dtype=bool), nonexistent="shift_forward"
    )
    return local.tz_convert("UTC").tz_localize(None).to_numpy().astype("datetime64[s]")


def _sum_by_day(values: np.ndarray, day_of_time: np.ndarray, n_days: int) -> np.ndarray:
    """Sum (S, T) -> (S, D) over the columns of each day, in one bincount over the flat array."""
    n_sources = values.shape[0]
    cell = (np.arange(n_sources)[:, None] * n_days + day_of_time[None, :]).ravel()
    summed = np.bincount(cell, weights=values.ravel(), minlength=n_sources * n_days)
    return summed.reshape(n_sources, n_days)


def daily_means(
    window: SeriesWindow, tz: str, min_hours: int = GB3095_MIN_HOURS_PER_DAY
) -> DailyMeans:
    """Mean of the valid hourly values of each pollutant per source and local day in `tz`.

    `window` must be hourly (step 3600 s); every pollutant in `window.values` is averaged in
    its own units. A mean needs ≥ `min_hours` non-NaN hours (GB 3095: 20), else NaN; it is
    the plain mean of those hours, not rounded. Inputs are not modified.
    """
    if window.step_s != 3600:
        raise ValueError(f"daily means need an hourly window, got a step of {window.step_s} s")
    dates = local_dates(window.times, tz)
    # np.unique, not run boundaries: a DST fall-back across midnight can revisit a date.
    days, day_of_time = np.unique(dates, return_inverse=True)
    n_days = len(days)
    means: dict[str, np.ndarray] = {}
    valid_hours: dict[str, np.ndarray] = {}
    for pollutant, values in window.values.items():
        valid = ~np.isnan(values)
        counts = np.rint(_sum_by_day(valid.astype(np.float64), day_of_time, n_days))
        sums = _sum_by_day(np.where(valid, values, 0.0), day_of_time, n_days)
        enough = counts >= min_hours
        means[pollutant] = np.where(enough, sums / np.where(enough, counts, 1.0), np.nan)
        valid_hours[pollutant] = counts.astype(np.int64)
    next_days = days + np.timedelta64(1, "D")
    return DailyMeans(
        sources=window.sources,
        days=days,
        means=means,
        valid_hours=valid_hours,
        day_start_utc=local_midnights_utc(days, tz),
        day_end_utc=local_midnights_utc(next_days, tz),
        hours_in_window=np.bincount(day_of_time, minlength=n_days).astype(np.int64),
        day_of_time=day_of_time,
        min_hours=min_hours,
    )


def closed_days(daily: DailyMeans, closed_before: np.datetime64 | None) -> np.ndarray:
    """(D,) bool: days wholly inside the window and, if `closed_before` is given, already over.

    A day cut by the window edge is not judged: its mean would silently ignore hours the
    window does not hold. A day still in progress is never judged.
    """
    day_seconds = (daily.day_end_utc - daily.day_start_utc).astype(np.int64)
    judged = daily.hours_in_window * 3600 == day_seconds
    if closed_before is not None:
        judged &= daily.day_end_utc <= np.datetime64(closed_before, "s")
    return judged
