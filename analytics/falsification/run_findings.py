"""From boolean masks and columns to Findings: the bookkeeping every detector shares."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np

from analytics.emission_exceedance import exceeding_runs
from analytics.falsification.audit_series import AuditSeries
from analytics.findings import Finding


def runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, first columns, last columns, inclusive) of each run of True in an (S, T) mask."""
    return exceeding_runs(mask)


def close_gaps(mask: np.ndarray, max_gap: int) -> np.ndarray:
    """`mask` with runs of False no longer than `max_gap` between two True runs set True.

    Keeps one event from splitting into several findings over a brief interruption.
    """
    if max_gap < 1 or mask.size == 0:
        return mask
    rows, starts, ends = runs(~mask)
    inner = (starts > 0) & (ends < mask.shape[1] - 1) & (ends - starts + 1 <= max_gap)
    closed = mask.copy()
    for row, a, b in zip(rows[inner], starts[inner], ends[inner], strict=True):
        closed[row, a:b + 1] = True
    return closed


def hour_of(series: AuditSeries, column: int) -> datetime:
    """The UTC hour start holding grid column `column` (findings are about whole hours)."""
    seconds = int(series.times[column].astype(np.int64))
    return datetime.fromtimestamp(seconds - seconds % 3600, UTC)


def number(value: float, decimals: int = 3) -> float | None:
    """A JSON-ready number rounded to `decimals`; None for NaN or infinity."""
    value = float(value)
    return None if not math.isfinite(value) else round(value, decimals)


def numbers(values: Sequence[float] | np.ndarray, decimals: int = 3) -> list[float | None]:
    """A JSON-ready list of numbers (None for NaN)."""
    return [number(v, decimals) for v in np.asarray(values, dtype=np.float64).ravel()]


def finding(series: AuditSeries, type_: str, row: int, pollutant: str, first: int, last: int,
            score: float, evidence: dict[str, Any]) -> Finding:
    """A Finding of `type_` at source `row` over grid columns [first, last] (inclusive)."""
    return Finding(type_, series.sources[row], pollutant, hour_of(series, first),
                   hour_of(series, last), float(score), evidence)
