"""Heavy-pollution alert levels from a daily AQI forecast, by data-driven rules.

Every jurisdiction publishes its own plan (shared/domain.md §3), so a scheme is data: ordered
levels, each met when any of its alternatives holds, an alternative being all of its clauses,
a clause "daily AQI above `threshold` on at least `min_days` consecutive forecast days". The
2018 national orange level, for example, is one alternative with two clauses: > 200 for 3 days
and > 300 for 1 day.

Simplification (documented, not hidden): each clause looks for its longest run anywhere in the
forecast window; the clauses of one alternative are not required to overlap in time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Clause:
    """Daily AQI above `threshold` (or at least it, with `inclusive`) on ≥ `min_days`
    consecutive days."""

    threshold: float
    min_days: int = 1
    inclusive: bool = False


@dataclass(frozen=True, slots=True)
class LevelRule:
    """One alert level: met when any alternative has all its clauses met."""

    name: str
    response: str
    any_of: tuple[tuple[Clause, ...], ...]


@dataclass(frozen=True, slots=True)
class AlertScheme:
    """Levels from mildest to most severe."""

    name: str
    levels: tuple[LevelRule, ...]


def longest_runs(mask: np.ndarray) -> np.ndarray:
    """Length of the longest run of True along the last axis, per row of a (rows × days) mask.

    Vectorized: at each day, the run length so far is the day index minus the index of the
    last False seen (a running maximum), which needs no loop over days.
    """
    mask = np.asarray(mask, dtype=bool)
    days = mask.shape[-1]
    if days == 0:
        return np.zeros(mask.shape[:-1], dtype=np.int64)
    index = np.arange(1, days + 1)
    last_false = np.maximum.accumulate(np.where(mask, 0, index), axis=-1)
    return (index - last_false).max(axis=-1)


def _clause_met(aqi: np.ndarray, clause: Clause) -> np.ndarray:
    above = aqi >= clause.threshold if clause.inclusive else aqi > clause.threshold
    return longest_runs(above & ~np.isnan(aqi)) >= clause.min_days


def alert_levels(forecast_aqi: np.ndarray, scheme: AlertScheme) -> np.ndarray:
    """The level each row's forecast reaches: 0 = none, i = scheme.levels[i - 1].

    `forecast_aqi` is (cities × days) of daily AQI for the coming days (NaN = no forecast
    for that day, never counts as above a threshold).
    """
    aqi = np.atleast_2d(np.asarray(forecast_aqi, dtype=np.float64))
    level = np.zeros(aqi.shape[0], dtype=np.int64)
    for number, rule in enumerate(scheme.levels, start=1):
        met = np.zeros(aqi.shape[0], dtype=bool)
        for alternative in rule.any_of:
            all_clauses = np.ones(aqi.shape[0], dtype=bool)
            for clause in alternative:
                all_clauses &= _clause_met(aqi, clause)
            met |= all_clauses
        level = np.where(met, number, level)
    return level


def level_names(levels: np.ndarray, scheme: AlertScheme) -> list[str | None]:
    """Level numbers as names (None for no alert)."""
    names: Sequence[str | None] = [None, *(rule.name for rule in scheme.levels)]
    return [names[int(n)] for n in np.asarray(levels).ravel()]
