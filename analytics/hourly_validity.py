"""GB 3095 validity of an hourly mean: enough of the hour must be covered by data."""

from __future__ import annotations

import math

import numpy as np

GB3095_MIN_MINUTES_PER_HOUR = 45


def min_values_per_hour(interval_s: np.ndarray | int,
                        min_minutes: int = GB3095_MIN_MINUTES_PER_HOUR) -> np.ndarray:
    """How many readings at `interval_s` seconds an hour needs to cover `min_minutes`.

    Hourly reporters (3600 s) need their one value; minute data needs 45. At least 1.
    """
    interval = np.asarray(interval_s, dtype=np.float64)
    if np.any(interval <= 0) or np.any(interval > 3600):
        raise ValueError("reporting intervals must be in (0, 3600] seconds")
    needed = np.ceil(min_minutes * 60 / interval - 1e-9)
    return np.maximum(needed, 1).astype(np.int64)


def mask_short_hours(means: np.ndarray, counts: np.ndarray, needed: np.ndarray) -> np.ndarray:
    """`means` (sources × hours) with NaN where `counts` < `needed` (per source, shape (S,)).

    A copy; inputs are not modified. NaN counts (no data) give NaN.
    """
    if means.shape != counts.shape or needed.shape != (means.shape[0],):
        raise ValueError("means and counts must match; needed is one number per source")
    short = ~(np.nan_to_num(counts, nan=0.0) >= needed[:, None])
    return np.where(short, math.nan, means)
