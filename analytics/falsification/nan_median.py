"""NaN-ignoring medians by sorting: NaN sorts last, so each cell's median is picked by its own
count of values. Far faster than np.nanmedian's masked path on many short windows, which is
what the detectors take medians over (days of one hour, a station's neighbours)."""

from __future__ import annotations

import numpy as np


def nan_median_last(windows: np.ndarray, min_count: int = 1) -> np.ndarray:
    """Median over the last axis ignoring NaN; NaN where fewer than `min_count` values.

    Sorting puts NaN last, so the median is picked by each cell's own count (faster than
    np.nanmedian on many small windows).
    """
    width = windows.shape[-1]
    ordered = np.sort(windows, axis=-1).reshape(-1, width)
    count = np.count_nonzero(~np.isnan(ordered), axis=-1)
    rows = np.arange(ordered.shape[0])
    low = ordered[rows, np.maximum((count - 1) // 2, 0)]
    high = ordered[rows, np.maximum(count // 2, 0)]
    median = np.where(count >= max(min_count, 1), (low + high) / 2, np.nan)
    return median.reshape(windows.shape[:-1])


def nan_median(values: np.ndarray, axis: int, min_count: int = 1) -> np.ndarray:
    """Median along `axis` ignoring NaN; NaN where fewer than `min_count` values."""
    return nan_median_last(np.moveaxis(values, axis, -1), min_count)
