"""copy_paste: a stretch of a source's data equal to its own data whole days earlier.

Filling a gap or hiding an episode by pasting an earlier day (shared/domain.md §7.2 #8, #10)
leaves hours whose readings equal, to the last digit, the readings exactly 24·d hours before.
Real air never repeats a varying day hour for hour, but a constant repeats itself at any lag
(a flatline, or an analyser resting at its floor): so a stretch only counts when the copied
readings themselves move, hour after hour, by more than the series' resolution.

Per lag d = 1 … `max_lag_days` (one vectorised comparison of the whole (S, T) array per lag),
hours equal to the hour 24·d earlier form runs; gaps of a few hours are closed; a run is kept
when it holds ≥ `min_equal_hours` equal hours, they are ≥ `min_equal_share` of its valid
hours, and the hours repeating the earlier day's move are too many to be chance given how
often the source's moves match that lag elsewhere (coarse CO at 0.1 mg/m³ matches far
more often than PM2.5 does). Outlets'
copy-paste copies every parameter at once, so an outlet whose pollutants are copied at the
same lag over overlapping hours gives one finding with pollutant "all".

Works on hourly values (`series.hourly()`): pasted minutes make equal hourly means.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from analytics.falsification.audit_series import AuditSeries
from analytics.falsification.flatline import measured_hourly
from analytics.falsification.run_findings import close_gaps, finding, number, runs
from analytics.findings import Finding

COPY_PASTE = "copy_paste"
_BANDS = 32  # octaves of the resolution: 2³² steps is beyond any series


@dataclass(frozen=True)
class CopyPasteSettings:
    """Thresholds of a pasted stretch (hours on the hourly grid)."""

    # Lags tried, in whole days: a week covers "same weekday last week" as well as "yesterday"
    # (the usual sources of a paste); longer lags add cost and chance matches only.
    max_lag_days: int = 7
    # Shortest pasted stretch reported. Half a day of varying hours equal to the last digit
    # never happens by chance (even at p = 0.1 per hour, 0.1¹² is nothing).
    min_equal_hours: int = 12
    # Readings equal within this relative difference (float noise of equal hourly means).
    rel_epsilon: float = 1e-9
    # Non-equal or missing hours inside a pasted stretch closed up to this length (a value
    # edited by hand inside the paste, or a gap copied along).
    max_gap_hours: int = 2
    # The stretch's valid hours that must be equal (after closing gaps).
    min_equal_share: float = 0.8
    # An hour "moved" when it differs from the previous one by ≥ this many resolution steps.
    min_move_quanta: float = 1.0
    # Equal hours that repeat a move of the earlier day (the only ones a flat or
    # floor-resting series cannot produce, since a constant equals itself at any lag)
    # needed at least…
    min_telling_hours: int = 6
    # …and log10 of the largest chance (per-source chance that an hour repeats the move of
    # the hour a lag earlier, to the power of their number) still called coincidence. −8:
    # far beyond the ~10⁴ stretches × 7 lags tried per source-year, so chance never gets there.
    max_log10_chance: float = -8.0
    # Outlet pollutants pasted at the same lag and overlapping: one "all" finding when at
    # least this many of them are (copy-paste on a stack copies every parameter).
    outlet_all_min: int = 2


def detect_copy_paste(series: AuditSeries, settings: CopyPasteSettings = CopyPasteSettings()
                      ) -> list[Finding]:
    """Stretches equal to the same source's data 1 … `max_lag_days` days earlier.

    Score = log10 chance / `max_log10_chance` (≥ 1). Evidence: lag in days, the
    copied-from span, equal hours, the share equal, the stretch's typical hour-to-hour change.
    """
    if not series.sources or not len(series.times):
        return []
    hourly = series.hourly()
    per_pollutant: list[tuple[str, int, int, int, int, float, dict[str, Any]]] = []
    for p in hourly.pollutants():
        per_pollutant += _detect(hourly, p, settings)
    if hourly.kind == "outlet":
        per_pollutant = _merge_outlet(per_pollutant, settings)
    return [finding(hourly, COPY_PASTE, row, p, first, last, score, evidence)
            for p, row, first, last, _lag, score, evidence in per_pollutant]


def _detect(hourly: AuditSeries, p: str, settings: CopyPasteSettings
            ) -> list[tuple[str, int, int, int, int, float, dict[str, Any]]]:
    values = measured_hourly(hourly, p)
    n_cols = values.shape[1]
    step = np.full(values.shape, np.nan)
    step[:, 1:] = np.abs(np.diff(values, axis=1))
    resolution = _resolution(step)
    with np.errstate(invalid="ignore", divide="ignore"):
        moved = step >= settings.min_move_quanta * resolution[:, None]
        # Level band of each hour: octaves of the resolution (coarse series match more often
        # at low levels, where they toggle between a few values).
        quanta = values / np.where(resolution > 0, resolution, 1.0)[:, None]
        band = np.clip(np.floor(np.log2(np.maximum(np.nan_to_num(quanta), 1.0))), 0,
                       _BANDS - 1).astype(np.int64)
    n_rows = values.shape[0]
    keys = np.arange(n_rows)[:, None] * _BANDS + band
    out: list[tuple[str, int, int, int, int, float, dict[str, Any]]] = []
    taken = np.zeros(values.shape, dtype=bool)  # hours already explained by a shorter lag
    for days in range(1, settings.max_lag_days + 1):
        lag = 24 * days
        if lag + settings.min_equal_hours > n_cols:
            break
        now, before = values[:, lag:], values[:, :-lag]
        with np.errstate(invalid="ignore"):
            equal = np.abs(now - before) <= settings.rel_epsilon * np.abs(now)
        if np.count_nonzero(equal) < settings.min_equal_hours:
            continue
        # An hour tells of a paste when it and the hour before both equal their counterparts
        # a lag earlier although the series moved between them: the same move on both days.
        # A resting series equals itself at any lag, and one toggling between two coarse
        # values lands on its usual value by chance; neither repeats a move often.
        telling = equal & moved[:, lag:]
        telling[:, 1:] &= equal[:, :-1]
        telling[:, 0] = False
        lag_keys = keys[:, lag:]
        size = n_rows * _BANDS
        n_moved = np.bincount(lag_keys[moved[:, lag:]], minlength=size).reshape(n_rows, -1)
        n_telling = np.bincount(lag_keys[telling], minlength=size).reshape(n_rows, -1)
        closed = close_gaps(equal, settings.max_gap_hours)
        for row, a, b in zip(*runs(closed), strict=True):
            if b - a + 1 < settings.min_equal_hours:
                continue
            n_equal = int(np.count_nonzero(equal[row, a:b + 1]))
            n_valid = int(np.count_nonzero(~np.isnan(now[row, a:b + 1])))
            if n_equal < settings.min_equal_hours or n_equal < settings.min_equal_share * n_valid:
                continue
            first, last = a + lag, b + lag
            if taken[row, first:last + 1].all():
                continue
            tell = telling[row, a:b + 1]
            k = int(np.count_nonzero(tell))
            if k < settings.min_telling_hours:
                continue
            # Chance that a moving hour at this level repeats the move a lag earlier, from the
            # rest of the source's series (the stretch left out; +1/+2 keeps it off 0 and 1).
            bands = band[row, first:last + 1]
            k_b = np.bincount(bands[tell], minlength=_BANDS)
            m_b = np.bincount(bands[moved[row, first:last + 1]], minlength=_BANDS)
            chance_b = ((n_telling[row] - k_b + 1)
                        / (np.maximum(n_moved[row] - m_b, 0) + 2)).clip(max=1.0)
            log10_chance = float(np.sum(k_b * np.log10(chance_b)))
            chance = 10 ** (log10_chance / k)
            if log10_chance > settings.max_log10_chance:
                continue
            taken[row, first:last + 1] = True
            share = n_equal / max(n_valid, 1)
            moves = step[row, first + 1:last + 1]
            moves = moves[~np.isnan(moves)]
            evidence: dict[str, Any] = {
                "lag_days": days,
                "copied_from_start": _iso(hourly, a),
                "copied_from_end": _iso(hourly, b),
                "equal_hours": n_equal,
                "hours": int(b - a + 1),
                "share_equal": number(share, 3),
                "same_moves": k,
                "chance_same_move_geomean": number(chance, 4),
                "log10_chance": number(log10_chance, 2),
                "typical_abs_change": number(float(np.median(moves)) if len(moves)
                                             else float("nan"), 4),
            }
            out.append((p, int(row), int(first), int(last), days,
                        log10_chance / settings.max_log10_chance, evidence))
    return out


def _merge_outlet(found: list[tuple[str, int, int, int, int, float, dict[str, Any]]],
                  settings: CopyPasteSettings
                  ) -> list[tuple[str, int, int, int, int, float, dict[str, Any]]]:
    """Overlapping same-lag stretches of ≥ `outlet_all_min` pollutants → one "all" finding."""
    merged: list[tuple[str, int, int, int, int, float, dict[str, Any]]] = []
    used = [False] * len(found)
    for i, (p, row, first, last, lag, score, evidence) in enumerate(found):
        if used[i]:
            continue
        group = [j for j, g in enumerate(found) if not used[j] and g[1] == row and g[4] == lag
                 and g[2] <= last and g[3] >= first]
        pollutants = {found[j][0] for j in group}
        if len(pollutants) < settings.outlet_all_min:
            used[i] = True
            merged.append((p, row, first, last, lag, score, evidence))
            continue
        for j in group:
            used[j] = True
        lo = min(found[j][2] for j in group)
        hi = max(found[j][3] for j in group)
        best = max(group, key=lambda j: found[j][5])
        evidence = {**found[best][6], "pollutants": sorted(pollutants),
                    "per_pollutant": {found[j][0]: found[j][6] for j in group}}
        merged.append(("all", row, lo, hi, lag, found[best][5], evidence))
    return merged


def _resolution(step: np.ndarray) -> np.ndarray:
    """(S,) smallest meaningful step of each source: a low quantile of its nonzero |Δ|."""
    with np.errstate(invalid="ignore"):
        nonzero = np.where(step > 0, step, np.nan)
    out = np.full(step.shape[0], 0.0)
    has = np.any(~np.isnan(nonzero), axis=1)
    if has.any():
        out[has] = np.nanpercentile(nonzero[has], 5, axis=1)
    return out


def _iso(hourly: AuditSeries, column: int) -> str:
    return str(hourly.times[column]) + "Z"
