"""Exceedance detector: daily PM means above the GB 3095 Grade II limit in force that day."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np

from analytics.aqi import round_half_even
from analytics.daily_means import GB3095_MIN_HOURS_PER_DAY, DailyMeans, closed_days, daily_means
from analytics.findings import Finding
from analytics.series_window import SeriesWindow
from analytics.standards_calendar import gb3095_daily_limit


def _utc(instant: np.datetime64) -> datetime:
    """A datetime64[s] UTC instant as a timezone-aware datetime."""
    return instant.astype("datetime64[s]").astype(datetime).replace(tzinfo=UTC)


def _columns_by_day(daily: DailyMeans) -> list[np.ndarray]:
    """Window column indices of each day, in time order, found in one sort (not one scan a day)."""
    order = np.argsort(daily.day_of_time, kind="stable")
    bounds = np.cumsum(np.bincount(daily.day_of_time, minlength=len(daily.days)))[:-1]
    return np.split(order, bounds)


def _evidence_hours(values: np.ndarray) -> list[float | None]:
    """Hourly values as JSON-ready numbers, 1 decimal, None where missing."""
    return [None if v != v else v for v in np.round(values, 1).tolist()]  # v != v: NaN


def detect_exceedance(
    window: SeriesWindow,
    tz: str,
    *,
    pollutants: Sequence[str] = ("pm25", "pm10"),
    min_hours: int = GB3095_MIN_HOURS_PER_DAY,
    closed_before: np.datetime64 | None = None,
    daily: DailyMeans | None = None,
) -> list[Finding]:
    """Findings of type "exceedance": one per source, pollutant and local day over the limit.

    `window` holds hourly means (µg/m3) keyed by pollutant ("pm25", "pm10"; an absent key
    gives no finding); days are local natural days in `tz`. A day is judged when it lies wholly
    in the window, has ≥ `min_hours` valid hours and, if `closed_before` (UTC datetime64) is
    given, ended (next local midnight) at or before it. Its mean, rounded half-to-even to an
    integer as reported (GB/T 8170), must exceed the GB 3095 Grade II daily limit in force on
    that date. score = unrounded mean / limit. Start/end are the day's first and last hour
    starts (UTC). Ordered by pollutant, then source, then day. `daily`, when the caller already
    has it, must be ``daily_means(window, tz, min_hours)`` of this same window.
    """
    present = {p: window.values[p] for p in pollutants if p in window.values}
    if daily is None:
        sub_window = SeriesWindow(window.sources, window.times, present, window.step_s)
        daily = daily_means(sub_window, tz, min_hours=min_hours)
    judged = closed_days(daily, closed_before)
    columns_of_day = _columns_by_day(daily)
    findings: list[Finding] = []
    for pollutant in present:
        means = daily.means[pollutant]
        limits, labels = gb3095_daily_limit(pollutant, daily.days)
        reported = round_half_even(means, 0)
        over = (reported > limits[None, :]) & judged[None, :]
        for source_index, day_index in np.argwhere(over):
            columns = columns_of_day[day_index]
            hourly = present[pollutant][source_index, columns]
            mean = float(means[source_index, day_index])
            limit = float(limits[day_index])
            evidence: dict[str, Any] = {
                "date": str(daily.days[day_index]),
                "daily_mean_ugm3": round(mean, 1),
                "reported_mean_ugm3": int(reported[source_index, day_index]),
                "limit_ugm3": limit,
                "standard": str(labels[day_index]),
                "valid_hours": int(daily.valid_hours[pollutant][source_index, day_index]),
                "min_hours": min_hours,
                "ratio": round(mean / limit, 3),
                "hourly_ugm3": _evidence_hours(hourly),
                "max_hour_ugm3": round(float(np.nanmax(hourly)), 1),
            }
            findings.append(
                Finding(
                    type="exceedance",
                    source=window.sources[source_index],
                    pollutant=pollutant,
                    start=_utc(window.times[columns[0]]),
                    end=_utc(window.times[columns[-1]]),
                    score=mean / limit,
                    evidence=evidence,
                )
            )
    return findings
