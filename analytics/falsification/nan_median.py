"""NaN-ignoring medians by sorting: NaN sorts last, so each cell's median is picked by its own
count of values. Far faster than np.nanmedian's masked path (or pandas' rolling median, one
column at a time) on many short windows, which is what the detectors take medians over (days
of one hour, a station's neighbours, a few hours or days around each hour, rolling by day)."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def nan_median_last(windows: np.ndarray, min_count: int = 1) -> np.ndarray:
    """Median over the last axis ignoring NaN; NaN where fewer than `min_count` values.

    Sorting puts NaN last, so the median is picked by each cell's own count (faster than
    np.nanmedian on many small windows).
    """
    if windows.shape[-1] == 0:
        return np.full(windows.shape[:-1], np.nan)
    # Counted on the input, whose window axis is usually not the innermost in memory (a
    # moved axis), which NumPy reduces faster than many short contiguous lanes.
    return _median_by_count(windows, np.count_nonzero(~np.isnan(windows), axis=-1), min_count)


def _median_by_count(windows: np.ndarray, count: np.ndarray, min_count: int) -> np.ndarray:
    """nan_median_last given `count`, the number of non-NaN values of each window."""
    width = windows.shape[-1]
    # Copied C-contiguous, then sorted in place: sorting lanes of a strided view (a moved
    # axis) copies each short lane in and out and costs ~3× as much.
    ordered = np.array(windows, order="C")
    ordered.sort(axis=-1)
    ordered = ordered.reshape(-1)
    count = count.reshape(-1)
    starts = np.arange(0, ordered.size, width)
    low = ordered.take(starts + np.maximum((count - 1) // 2, 0), mode="clip")
    high = ordered.take(starts + np.maximum(count // 2, 0), mode="clip")
    median = np.where(count >= max(min_count, 1), (low + high) / 2, np.nan)
    return median.reshape(windows.shape[:-1])


def nan_median(values: np.ndarray, axis: int, min_count: int = 1) -> np.ndarray:
    """Median along `axis` ignoring NaN; NaN where fewer than `min_count` values."""
    return nan_median_last(np.moveaxis(values, axis, -1), min_count)


def centred_rolling_median(values: np.ndarray, window: int, min_count: int) -> np.ndarray:
    """Centred rolling median along the last axis, as pandas' ``rolling(window, min_periods=
    min_count, center=True).median()`` on each row, to the bit.

    The window of column i is [i − (window − 1 − (window − 1) // 2), i + (window − 1) // 2],
    cut at both ends; ±inf counts as missing (pandas turns it into NaN) and NaN is ignored;
    NaN where fewer than `min_count` values. Holds a (…, T, window) copy: short windows only.
    """
    after = (window - 1) // 2
    padded = np.full((*values.shape[:-1], values.shape[-1] + window - 1), np.nan)
    padded[..., window - 1 - after:padded.shape[-1] - after] = np.where(
        np.isinf(values), np.nan, values)
    # Values per window from a running count: counting each overlapping window costs ×window.
    running = np.cumsum(~np.isnan(padded), axis=-1)
    count = running[..., window - 1:] - np.concatenate(
        (np.zeros((*values.shape[:-1], 1), running.dtype), running[..., :-window]), axis=-1)
    return _median_by_count(sliding_window_view(padded, window, axis=-1), count, min_count)


def daily_rolling_median(flat: np.ndarray, window: int, min_hours: int) -> np.ndarray:
    """(n, days) centred rolling median of (n, hours) over `window` hours, on daily medians.

    The median of each 24-h block (NaN with < 6 values), then a centred rolling median over
    the blocks (NaN with < `min_hours` // 24 days): a usual ratio changes over days, not hours,
    and this costs 1/24 of an hourly rolling median (neighbor_divergence has one series per
    station pair). `hours_of_days` spreads it back over the hours.
    """
    n_series, n_cols = flat.shape
    days = -(-n_cols // 24)
    padded = np.full((n_series, days * 24), np.nan)
    padded[:, :n_cols] = flat
    blocks = padded.reshape(n_series, days, 24).transpose(0, 2, 1)  # (n, 24, days)
    daily = nan_median(blocks, axis=1)  # (n, days)
    counts = np.count_nonzero(~np.isnan(blocks), axis=1)
    daily = np.where(counts >= 6, daily, np.nan)  # a day needs a quarter of its hours
    window_days = max(1, round(window / 24))
    return centred_rolling_median(daily, window_days, max(1, min_hours // 24))


def hours_of_days(daily: np.ndarray, n_cols: int) -> np.ndarray:
    """(…, n_cols) hourly values from (…, days) daily ones: each day's value on its 24 hours."""
    return np.repeat(daily, 24, axis=-1)[..., :n_cols]
