"""What a source usually reads at this hour of the day: medians over the same local hour of
the surrounding days (a stack's O2, flow and load follow its daily production curve)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np

from analytics.falsification.audit_series import AuditSeries
from analytics.falsification.nan_median import nan_median_last


def local_hour(series: AuditSeries, column: int) -> int:
    """Local (series.tz) hour of day of grid column `column`."""
    seconds = int(series.times[column].astype(np.int64))
    return datetime.fromtimestamp(seconds, UTC).astimezone(ZoneInfo(series.tz)).hour


def same_hour_median(values: np.ndarray, half_days: int, min_days: int) -> np.ndarray:
    """(S, T) median of each hourly value's hour of day over ± `half_days` days (columns
    24 apart, the day itself included); NaN ignored, NaN with fewer than `min_days` values.

    Columns 24 h apart keep the local hour of day except across a daylight-saving change.
    """
    n_times = values.shape[1]
    offsets = 24 * np.arange(-half_days, half_days + 1)
    stacked = np.full((*values.shape, offsets.size), np.nan)
    for k, offset in enumerate(offsets.tolist()):  # 2·half_days + 1 shifted copies
        lo, hi = max(0, -offset), min(n_times, n_times - offset)
        if lo < hi:
            stacked[:, lo:hi, k] = values[:, lo + offset:hi + offset]
    return nan_median_last(stacked, min_days)


def same_hour_at(values: np.ndarray, rows: np.ndarray, columns: np.ndarray, half_days: int,
                 min_days: int) -> np.ndarray:
    """same_hour_median at the positions (rows, columns) only, shaped (n,)."""
    n_times = values.shape[1]
    index = columns[:, None] + 24 * np.arange(-half_days, half_days + 1)
    inside = (index >= 0) & (index < n_times)
    picked = values[rows[:, None], np.clip(index, 0, n_times - 1)]
    return nan_median_last(np.where(inside, picked, np.nan), min_days)
