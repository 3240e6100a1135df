"""impossible_value: readings no sample of air or flue gas can give (shared/domain.md §7.2 #8).

A concentration is never below zero beyond the analyser's zero drift, never above what any air
or stack ever holds; O2 lies in [0, 21] %, moisture in [0, 100] %, flow is not negative and
flue gas is neither colder than a north-China winter nor hotter than a furnace. Only readings
flagged N or T count: during a zero check (C) or maintenance (M) a negative value is expected,
and a T reading is the analyser saying "above my range", so a T value above a ceiling is the
truth of an overloaded analyser, not a fabrication (a negative T is still impossible).

Two rules, both cheap enough for the raw minute grid:

* hard: below `-drift` or above the ceiling → impossible whatever happens around it;
* drift: below zero but within `-drift` → impossible only when the air around it is far from
  zero, i.e. the median of the valid values in the `context_hours` on each side of the run is
  at least `context_factor × drift` above the reading. Zero drift only makes a near-zero true
  level read slightly negative; the same reading next to 40 µg/m³ is not drift.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from analytics.falsification.audit_series import AuditSeries
from analytics.falsification.run_findings import close_gaps, finding, number, numbers, runs
from analytics.findings import Finding

IMPOSSIBLE_VALUE = "impossible_value"
_N, _T = ord("N"), ord("T")


def _station_bounds() -> dict[str, tuple[float, float]]:
    # (drift, ceiling) in µg/m³, CO mg/m³. Drift: HJ 653/654 analysers' 24-h zero drift is
    # about ±2 nmol/mol (SO2 ≈ 5.7, NO2 ≈ 3.8, O3 ≈ 4.3 µg/m³) and beta-gauge hourly PM noise
    # a few µg/m³, so 5 µg/m³; CO zero drift ≈ 0.5 µmol/mol ≈ 0.5 mg/m³.
    # Ceilings: above the worst hours ever recorded in China's network (PM2.5 ≈ 1000, PM10
    # ≈ 1000 outside sandstorms, SO2 < 1000, NO2 < 500, O3 < 500 µg/m³, CO < 20 mg/m³; the
    # Beijing 2013–2017 maxima are 999/999/500/290/500/10) with a margin, and inside the
    # analysers' ranges (HJ 654: 500 nmol/mol ≈ 1430 µg/m³ SO2, 50 µmol/mol ≈ 62 mg/m³ CO).
    return {"pm25": (5.0, 1500.0), "pm10": (5.0, 2000.0), "so2": (5.0, 1000.0),
            "no2": (5.0, 800.0), "o3": (5.0, 800.0), "co": (0.5, 30.0)}


def _outlet_bounds() -> dict[str, tuple[float, float]]:
    # (lowest possible, highest possible) of each outlet parameter, as measured.
    # Pollutants mg/m³: HJ 75-2017 allows zero drift of 2–2.5 % of full scale; on the usual
    # 50–200 mg/m³ ranges that is 1–5 mg/m³, so −5. Ceilings above uncontrolled raw flue gas
    # (high-sulphur coal ≈ 9,000 mg/m³ SO2, uncontrolled coal/kiln NOx ≤ ~3,000, particulate
    # downstream of any collector far below 2,000).
    # O2 %: [0, 21] widened by the O2 analyser's ±0.5 % drift. Moisture %: a share, with the
    # same drift. Flow m³/h: never negative beyond a pitot tube's offset at standstill
    # (≈ 0.3 m³/s ≈ 1,000 m³/h). Temperature °C: no stack gas is colder than −50 (below north
    # China's coldest air) or hotter than 1,000 (analysers' probes are rated far below).
    return {"particulate": (-5.0, 2000.0), "so2": (-5.0, 10000.0), "nox": (-5.0, 5000.0),
            "o2": (-0.5, 21.5), "moisture": (-0.5, 100.0), "flow": (-1000.0, 1.0e9),
            "temperature": (-50.0, 1000.0)}


# Outlet parameters whose true value can sit at zero, so drift can read slightly below it
# (O2 in the stack is never near zero, temperature has no zero).
_OUTLET_ZERO_FLOORED = ("particulate", "so2", "nox", "moisture", "flow")


@dataclass(frozen=True)
class ImpossibleValueSettings:
    """Bounds of the physically possible, per parameter.

    `station_bounds[p]` = (zero drift ≥ 0, ceiling): hard below −drift or above the ceiling.
    `outlet_bounds[p]` = (lowest, highest) possible value; for zero-floored parameters the
    drift is −lowest.
    """

    station_bounds: Mapping[str, tuple[float, float]] = field(default_factory=_station_bounds)
    outlet_bounds: Mapping[str, tuple[float, float]] = field(default_factory=_outlet_bounds)
    # Hours of valid readings either side of a slightly negative run that tell the true level.
    # 3 h: the air changes little within that time, yet a few hours still survive a short gap.
    context_hours: float = 3.0
    # A slightly negative reading is impossible when its surroundings are ≥ this × drift above
    # it: 3× the drift is far beyond what drift plus hourly noise can explain.
    context_factor: float = 3.0
    # Impossible readings up to this many hours apart are one event (an analyser alternating
    # impossible and plausible readings is one episode, not several).
    merge_gap_hours: float = 1.0
    # How many of the run's values the evidence quotes (the rest are summarised).
    max_quoted: int = 48


def detect_impossible_value(series: AuditSeries,
                            settings: ImpossibleValueSettings = ImpossibleValueSettings()
                            ) -> list[Finding]:
    """Runs of physically impossible N/T readings, one finding per source and parameter run.

    Works on the grid as given (minutes or hours). Score = how far the worst reading lies
    beyond its bound, in units of that bound (drift or ceiling); ≥ 1. Evidence: the readings,
    the bound broken, how many readings broke it.
    """
    if not series.sources or not len(series.times):
        return []
    if series.kind == "station":
        bounds = {p: (-drift, ceiling, drift)
                  for p, (drift, ceiling) in settings.station_bounds.items()}
    else:
        bounds = {p: (low, high, -low if p in _OUTLET_ZERO_FLOORED and low < 0 else 0.0)
                  for p, (low, high) in settings.outlet_bounds.items()}
    findings: list[Finding] = []
    for p, (low, high, drift) in bounds.items():
        if p in series.values:
            findings += _detect(series, p, low, high, drift, settings)
    return findings


def _detect(series: AuditSeries, p: str, low: float, high: float, drift: float,
            settings: ImpossibleValueSettings) -> list[Finding]:
    values = series.values[p]
    if not values.size:
        return []
    # Fast exit (two C passes over a minute grid): nothing below zero or above the ceiling.
    lowest, highest = np.fmin.reduce(values, axis=None), np.fmax.reduce(values, axis=None)
    if not (lowest < min(low, 0.0) or (drift > 0 and lowest < 0) or highest > high):
        return []
    flags = series.flags.get(p)
    with np.errstate(invalid="ignore"):
        below = values < low
        above = values > high
        slightly = (values < 0) & ~below if drift > 0 else np.zeros_like(below)
    if flags is not None:
        code = flags.view(np.uint8)
        normal = code == _N
        below &= normal | (code == _T)
        slightly &= normal | (code == _T)
        above &= normal  # T: the analyser itself reports "above my range"
    hard = below | above
    context = np.full(values.shape, np.nan)
    if slightly.any():
        slightly = _not_drift(series, values, slightly, drift, settings, context)
    bad = hard | slightly
    if not bad.any():
        return []
    merged = close_gaps(bad, series.samples(settings.merge_gap_hours) if
                        settings.merge_gap_hours > 0 else 0)
    unit = _unit(series.kind, p)
    findings: list[Finding] = []
    for row, first, last in zip(*runs(merged), strict=True):
        span = values[row, first:last + 1]
        hit = bad[row, first:last + 1]
        quoted = span[hit]
        with np.errstate(divide="ignore", invalid="ignore"):
            severity = np.where(above[row, first:last + 1], span / high,
                                np.where(below[row, first:last + 1],
                                         span / low if low < 0 else (low - span) + 1.0,
                                         (context[row, first:last + 1] - span)
                                         / (settings.context_factor * drift)))
        broken = []
        if above[row, first:last + 1].any():
            broken.append({"bound": "ceiling", "value": number(high, 3), "unit": unit,
                           "count": int(above[row, first:last + 1].sum())})
        if below[row, first:last + 1].any():
            broken.append({"bound": "lowest possible", "value": number(low, 3), "unit": unit,
                           "count": int(below[row, first:last + 1].sum())})
        if slightly[row, first:last + 1].any():
            ctx = context[row, first:last + 1][slightly[row, first:last + 1]]
            broken.append({"bound": "below zero while the surrounding level is far above it",
                           "value": 0.0, "unit": unit,
                           "count": int(slightly[row, first:last + 1].sum()),
                           "surrounding_median": number(float(np.nanmax(ctx)), 3),
                           "needed_gap": number(settings.context_factor * drift, 3)})
        evidence = {
            "values": numbers(quoted[:settings.max_quoted], 3),
            "quoted": int(min(len(quoted), settings.max_quoted)),
            "impossible_readings": int(hit.sum()),
            "readings_in_span": int(np.count_nonzero(~np.isnan(span))),
            "min": number(float(np.nanmin(quoted)), 3),
            "max": number(float(np.nanmax(quoted)), 3),
            "unit": unit,
            "step_s": int(series.step_s),
            "bounds_broken": broken,
            "flags_counted": ["N", "T (negative only)"],
        }
        score = float(np.nanmax(np.where(hit, severity, np.nan)))
        findings.append(finding(series, IMPOSSIBLE_VALUE, int(row), p, int(first), int(last),
                                max(score, 1.0), evidence))
    return findings


def _not_drift(series: AuditSeries, values: np.ndarray, slightly: np.ndarray, drift: float,
               settings: ImpossibleValueSettings, context: np.ndarray) -> np.ndarray:
    """Which slightly negative readings cannot be zero drift; fills `context` for them.

    For each run of slightly negative readings, the median of up to 12 valid readings spread
    over `context_hours` before it and as many after it gives the true level around it.
    """
    rows, firsts, lasts = runs(slightly)
    span = series.samples(settings.context_hours)
    k = min(span, 12)
    offsets = np.maximum(1, np.round(np.arange(1, k + 1) * span / k)).astype(np.int64)
    n_cols = values.shape[1]
    before = firsts[:, None] - offsets[None, :]
    after = lasts[:, None] + offsets[None, :]
    cols = np.concatenate([before, after], axis=1)
    inside = (cols >= 0) & (cols < n_cols)
    picked = values[rows[:, None], np.clip(cols, 0, n_cols - 1)]
    picked = np.where(inside & ~slightly[rows[:, None], np.clip(cols, 0, n_cols - 1)],
                      picked, np.nan)
    with np.errstate(invalid="ignore"):
        picked = np.where(picked >= 0, picked, np.nan)  # other impossible readings say nothing
    count = np.count_nonzero(~np.isnan(picked), axis=1)
    level = np.full(len(rows), np.nan)
    some = count > 0
    if some.any():
        level[some] = np.nanmedian(picked[some], axis=1)
    lengths = lasts - firsts + 1
    starts = rows * n_cols + firsts
    flat = (np.repeat(starts - np.cumsum(lengths) + lengths, lengths)
            + np.arange(int(lengths.sum())))
    context.flat[flat] = np.repeat(level, lengths)
    with np.errstate(invalid="ignore"):
        far = (context - values) >= settings.context_factor * drift
    return slightly & far


def _unit(kind: str, p: str) -> str:
    if kind == "station":
        return "mg/m3" if p == "co" else "ug/m3"
    return {"o2": "%", "moisture": "%", "flow": "m3/h", "temperature": "degC"}.get(p, "mg/m3")
