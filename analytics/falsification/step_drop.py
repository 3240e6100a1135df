"""Step drop: a pollutant falls abruptly while production goes on unchanged (domain.md §7.2 #6, #8).

A real cut in emissions comes from less load (flow, O2 and temperature move with it) or from
switching on abatement, which a data set cannot tell from tampering on its own; what it can
tell is a drop the flue gas does not explain: the pollutant's level over the following hours
at ≤ (1 − `min_drop`) of its usual level at those hours of the day, with flow, O2 and
temperature where they usually are. That is the signature of an analyser that was tampered
with (a diluted sample line, a changed calibration factor) or of a faked cut.

This is the general detector over any window; analytics/reduction_compliance.py has a
detector of the same name tied to known emission-reduction periods.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analytics.falsification.audit_series import AIR_O2_PCT, AuditSeries
from analytics.falsification.nan_median import nan_median_last
from analytics.falsification.run_findings import close_gaps, finding, number, runs
from analytics.findings import Finding

STEP_DROP = "step_drop"


@dataclass(frozen=True)
class StepDropSettings:
    """Thresholds of the step-drop detector (shares are fractions 0–1)."""

    # The level after the change must be ≤ 1 − min_drop of the usual level (and of the
    # source's long-run level). A drop of a third is far outside the ±10–15 % a 12-hour median
    # of a healthy stack wanders; falsified drops worth the trouble are larger.
    min_drop: float = 0.25
    # Hours after the change whose median is "the level after": long enough that one odd hour
    # does not make a step, short enough to catch a drop lasting half a day.
    after_hours: int = 12
    # The usual level of those hours: the median of the same clock hours on each of this many
    # previous days, then the median of those (daily load cycles cancel, one odd day is
    # outvoted).
    reference_days: int = 3
    # Hours either side of the change that must show the step by themselves: a fall spread
    # over a day is drift, a falsified one happens from one hour to the next.
    abrupt_hours: int = 3
    # The median of those hours after / before the change must be ≤ this: on healthy
    # simulated stacks 3-hour medians either side of any hour differ by < 35 % (slow process
    # noise), while a falsified step is a factor ≤ 0.6 applied from one hour to the next.
    max_abrupt_ratio: float = 0.65
    # The source's long-run level: median of its daily medians over ± this many days (a
    # month either side: two week-long high episodes must not become the norm). The level
    # after must also lie ≤ 1 − min_drop of it, and the usual level ≤ 1 / (1 − min_drop) of
    # it: the end of a high episode (an exceedance, bunching) is not a drop.
    long_half_days: int = 30
    # Share of valid hours a median needs (HJ 75 validity: 75 %).
    min_valid_share: float = 0.75
    # Production unchanged: flow ratio within ± this (hourly flow noise is ±3 %, a real load
    # cut of a third moves it by a third).
    flow_tolerance: float = 0.15
    # Flue-gas share (20.9 − O2) ratio within ± this: measured concentrations scale with it,
    # so a dilution or a load change that could explain the drop moves it by ≥ 0.2.
    o2_tolerance: float = 0.1
    # Stack temperature within ± this many °C (hourly noise ≤ 1 °C; a load change of a third
    # moves a stack by several degrees).
    temperature_tolerance_c: float = 5.0
    # After the change, hours still count as dropped while below the geometric midpoint of
    # the levels before and after; gaps of up to this many hours above it do not end the drop.
    max_gap_hours: int = 3


def detect_step_drop(series: AuditSeries,
                     settings: StepDropSettings = StepDropSettings()) -> list[Finding]:
    """Findings of type "step_drop" at outlets: one per pollutant and abrupt drop.

    On hourly measured values (a minute grid is averaged first; values ≤ 0 are impossible
    values, not levels). A change hour t qualifies when the median of [t, t + after_hours) is
    ≤ (1 − min_drop) × the usual level of those clock hours (previous days), the median of
    the hours before t and the long-run level, the `abrupt_hours` medians either side of t
    differ by ≤ `max_abrupt_ratio`, and flow, O2 and temperature compared the same way
    stayed within tolerance (flow or O2 must be known). The finding runs from t while the
    level stays low. Score = 1 − after / usual.

    The medians are only taken at hours passing a necessary condition of the abrupt test
    (min of the hours after ≤ max_abrupt_ratio × max of those before), ~0.2 % of them on
    healthy stacks: the cost follows the candidates, not the window.
    """
    if series.kind != "outlet" or not series.sources or not len(series.times):
        return []
    pollutants = series.pollutants()
    hourly = series.hourly()
    n_times = hourly.shape[1]
    if n_times < 24 + settings.after_hours:
        return []
    process: dict[str, np.ndarray] = {}
    for name in ("flow", "o2", "temperature"):
        if name in hourly.values:
            values = hourly.measured(name)
            process[name] = (AIR_O2_PCT - np.where(values < AIR_O2_PCT, values, np.nan)
                             if name == "o2" else values)
    if "flow" not in process and "o2" not in process:
        return []
    findings: list[Finding] = []
    for pollutant in pollutants:
        values = hourly.measured(pollutant)
        values = np.where(values > 0, values, np.nan)
        rows, columns = _screen(values, settings)
        if rows.size:
            findings += _judge(hourly, pollutant, values, process, rows, columns, settings)
    return findings


def _screen(values: np.ndarray, settings: StepDropSettings) -> tuple[np.ndarray, np.ndarray]:
    """(rows, columns) where min(hours after) ≤ max_abrupt_ratio × max(hours before): the
    3-hour medians cannot pass the abrupt test anywhere else."""
    reach = settings.abrupt_hours
    with np.errstate(invalid="ignore"):
        low_after = np.fmin.reduce([_shift(values, -k) for k in range(reach)])
        high_before = np.fmax.reduce([_shift(values, k) for k in range(1, reach + 1)])
        return np.nonzero(low_after <= settings.max_abrupt_ratio * high_before)


def _judge(hourly: AuditSeries, pollutant: str, values: np.ndarray,
           process: dict[str, np.ndarray], rows: np.ndarray, columns: np.ndarray,
           settings: StepDropSettings) -> list[Finding]:
    """The findings of one pollutant from the screened hours (rows, columns)."""
    at = _Positions(rows, columns, settings)
    span, short = settings.after_hours, settings.abrupt_hours
    after, usual = at.after_and_usual(values)
    before = at.median(values, -span, span, at.needed)
    after_short = at.median(values, 0, short, 2)
    before_short = at.median(values, -short, short, 2)
    long_run = at.long_run(values, settings.long_half_days)
    steady = np.ones(rows.size, dtype=bool)
    known = np.zeros(rows.size, dtype=bool)
    levels: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name, signal in process.items():
        after_p, usual_p = levels[name] = at.after_and_usual(signal)
        measured = np.isfinite(after_p) & np.isfinite(usual_p)
        with np.errstate(invalid="ignore", divide="ignore"):
            if name == "temperature":
                within = np.abs(after_p - usual_p) <= settings.temperature_tolerance_c
            else:
                tolerance = settings.flow_tolerance if name == "flow" else settings.o2_tolerance
                within = np.abs(after_p / usual_p - 1) <= tolerance
        steady &= ~measured | within
        if name != "temperature":
            known |= measured
    keep = 1 - settings.min_drop
    with np.errstate(invalid="ignore", divide="ignore"):
        abrupt = after_short / before_short
        qualifies = (steady & known & (usual > 0) & (after <= keep * usual)
                     & (after <= keep * before) & (after <= keep * long_run)
                     & (keep * usual <= long_run) & (abrupt <= settings.max_abrupt_ratio))
    if not qualifies.any():
        return []
    full = _Scatter(hourly.shape, rows, columns)
    candidate = full.mask(qualifies)
    abrupt_at, after_at, usual_at = full(abrupt), full(after), full(usual)
    findings: list[Finding] = []
    reported_until = np.full(hourly.shape[0], -1)
    for row, first, last in zip(*(a.tolist() for a in runs(candidate)), strict=True):
        if first <= reported_until[row]:
            continue  # a later dip inside a drop already reported
        best = first + int(np.nanargmin(abrupt_at[row, first:last + 1]))
        k = full.index(row, best)
        change = _first_low(values[row], best, before_short[k], after_short[k], short)
        end = _drop_end(values[row], change, usual_at[row, best], after_at[row, best],
                        settings.max_gap_hours)
        reported_until[row] = end
        ratio = float(after[k] / usual[k])
        evidence = {
            "change_hour_utc": str(hourly.times[change]) + "Z",
            "hours": end - change + 1,
            "concentration_mgm3": {"usual": number(usual[k], 3),
                                   "after": number(after[k], 3),
                                   "hours_before": number(before[k], 3),
                                   "ratio": number(ratio, 3),
                                   "long_run": number(long_run[k], 3),
                                   "short_before_after": [number(before_short[k], 3),
                                                          number(after_short[k], 3)]},
            **{_PROCESS_KEYS[name]: {"usual": number(_back(name, usual_p[k]), 3),
                                     "after": number(_back(name, after_p[k]), 3)}
               for name, (after_p, usual_p) in levels.items()},
            "after_hours": span,
            "reference": f"same clock hours on the {settings.reference_days} previous days",
            "thresholds": {"min_drop": settings.min_drop,
                           "max_abrupt_ratio": settings.max_abrupt_ratio,
                           "flow_tolerance": settings.flow_tolerance,
                           "o2_tolerance": settings.o2_tolerance,
                           "temperature_tolerance_c": settings.temperature_tolerance_c},
        }
        findings.append(finding(hourly, STEP_DROP, row, pollutant, change, end,
                                1.0 - ratio, evidence))
    return findings


_PROCESS_KEYS = {"flow": "flow_m3h", "o2": "o2_pct", "temperature": "temperature_c"}


def _back(name: str, value: float) -> float:
    """O2 is compared as its flue-gas share 20.9 − O2; report it as O2 again."""
    return AIR_O2_PCT - value if name == "o2" else value


class _Positions:
    """Medians of windows of hours around a set of (row, column) positions."""

    def __init__(self, rows: np.ndarray, columns: np.ndarray, settings: StepDropSettings
                 ) -> None:
        self.rows, self.columns, self.settings = rows, columns, settings
        self.needed = max(1, round(settings.min_valid_share * settings.after_hours))

    def median(self, values: np.ndarray, offset: int, length: int, needed: int) -> np.ndarray:
        """(n,) median of values[row, column + offset : column + offset + length] ignoring
        NaN; NaN with fewer than `needed` values."""
        index = self.columns[:, None] + offset + np.arange(length)
        inside = (index >= 0) & (index < values.shape[1])
        window = values[self.rows[:, None], np.clip(index, 0, values.shape[1] - 1)]
        return nan_median_last(np.where(inside, window, np.nan), needed)

    def after_and_usual(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(median of the `after_hours` from the position, the usual level of those hours).

        Usual: median over the `reference_days` previous days of the same window's median;
        before any previous day exists, the median of the `after_hours` just before.
        """
        span, days = self.settings.after_hours, self.settings.reference_days
        after = self.median(values, 0, span, self.needed)
        lagged = np.stack([self.median(values, -24 * k, span, self.needed)
                           for k in range(1, days + 1)], axis=-1)
        usual = nan_median_last(lagged)
        fallback = self.median(values, -span, span, self.needed)
        return after, np.where(np.isnan(usual), fallback, usual)

    def long_run(self, values: np.ndarray, half_days: int) -> np.ndarray:
        """(n,) median of the row's daily medians (days of 24 columns) over ± `half_days`."""
        n_times = values.shape[1]
        n_days = -(-n_times // 24)
        grid = np.full((values.shape[0], n_days * 24), np.nan)
        grid[:, :n_times] = values
        used = np.unique(self.rows)
        daily = np.full((values.shape[0], n_days), np.nan)
        daily[used] = nan_median_last(grid[used].reshape(used.size, n_days, 24), 6)
        day = self.columns // 24
        index = day[:, None] + np.arange(-half_days, half_days + 1)
        inside = (index >= 0) & (index < n_days)
        window = daily[self.rows[:, None], np.clip(index, 0, n_days - 1)]
        return nan_median_last(np.where(inside, window, np.nan))


class _Scatter:
    """Per-position numbers put back on the (S, T) grid (NaN / False elsewhere)."""

    def __init__(self, shape: tuple[int, int], rows: np.ndarray, columns: np.ndarray) -> None:
        self.shape, self.rows, self.columns = shape, rows, columns
        self.position = {(int(r), int(c)): i for i, (r, c) in enumerate(zip(rows, columns,
                                                                             strict=True))}

    def __call__(self, numbers: np.ndarray) -> np.ndarray:
        grid = np.full(self.shape, np.nan)
        grid[self.rows, self.columns] = numbers
        return grid

    def mask(self, flags: np.ndarray) -> np.ndarray:
        grid = np.zeros(self.shape, dtype=bool)
        grid[self.rows[flags], self.columns[flags]] = True
        return grid

    def index(self, row: int, column: int) -> int:
        """The position number of (row, column)."""
        return self.position[(row, column)]


def _first_low(values: np.ndarray, best: int, before: float, after: float, reach: int) -> int:
    """The change hour: the first hour within `reach` of `best` from which two hours in a row
    lie at or below the geometric midpoint of the short medians before and after."""
    midpoint = float(np.sqrt(before * after)) if before > 0 and after > 0 else before / 2
    first = max(best - reach + 1, 0)
    window = values[first:best + reach + 1]
    low = window <= midpoint
    both = low[:-1] & low[1:]
    return first + int(np.argmax(both)) if both.any() else best


def _shift(values: np.ndarray, by: int) -> np.ndarray:
    """values[:, t − by] at column t (NaN where that leaves the window)."""
    out = np.full(values.shape, np.nan)
    n = values.shape[1]
    if abs(by) >= n:
        return out
    if by >= 0:
        out[:, by:] = values[:, :n - by]
    else:
        out[:, :n + by] = values[:, -by:]
    return out


def _drop_end(values: np.ndarray, change: int, usual: float, after: float,
              max_gap: int) -> int:
    """Last hour of the drop starting at `change`: while the 3-hour median stays below the
    geometric midpoint of the levels before and after (gaps up to `max_gap` hours closed)."""
    midpoint = float(np.sqrt(usual * after)) if usual > 0 and after > 0 else usual / 2
    tail = values[change:]
    smooth = pd.Series(tail).rolling(3, center=True, min_periods=1).median().to_numpy()
    low = (smooth <= midpoint) | np.isnan(smooth)
    low = close_gaps(low[None, :], max_gap)[0]
    if not low[0]:
        return change
    ends = np.flatnonzero(~low)
    last = (ends[0] - 1) if ends.size else len(tail) - 1
    valid = np.flatnonzero(~np.isnan(tail[:last + 1]))
    return change + int(valid[-1] if valid.size else 0)
