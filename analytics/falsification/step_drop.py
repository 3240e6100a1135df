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

from analytics.falsification.audit_series import AuditSeries
from analytics.falsification.dilution import AIR_O2_PCT, hourly_of, nan_median_last
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
    # The source's long-run level: median over a centred window of this many days. The level
    # after must also lie ≤ 1 − min_drop of it, and the usual level ≤ 1 / (1 − min_drop) of
    # it: the end of a high episode (an exceedance, bunching) is not a drop.
    long_days: int = 30
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

    On hourly measured values (a minute grid is averaged first). A change hour t qualifies
    when the median of [t, t + after_hours) is ≤ (1 − min_drop) × both the usual level of
    those clock hours (previous days) and the long-run median, the `abrupt_hours` medians
    either side of t show the fall, and flow, O2 and temperature compared the same way stayed
    within tolerance (flow or O2 must be known). The finding runs from t while the level stays
    low. Score = 1 − after / usual.
    """
    if series.kind != "outlet" or not series.sources or not len(series.times):
        return []
    pollutants = series.pollutants()
    hourly = hourly_of(series, (*pollutants, "o2", "flow", "temperature"))
    n_times = hourly.shape[1]
    after_hours = settings.after_hours
    if n_times < 24 + after_hours:
        return []
    profile = _Levels(settings, n_times)
    process: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name in ("flow", "o2", "temperature"):
        if name in hourly.values:
            values = hourly.measured(name)
            if name == "o2":
                values = AIR_O2_PCT - np.where(values < AIR_O2_PCT, values, np.nan)
            process[name] = profile.after_and_usual(values)
    if "flow" not in process and "o2" not in process:
        return []
    with np.errstate(invalid="ignore", divide="ignore"):
        ratios = {name: after / usual for name, (after, usual) in process.items()}
    steady = np.ones(hourly.shape, dtype=bool)
    known = np.zeros(hourly.shape, dtype=bool)
    for name, (after, usual) in process.items():
        measured = np.isfinite(after) & np.isfinite(usual)
        if name == "temperature":
            within = np.abs(after - usual) <= settings.temperature_tolerance_c
        else:
            tolerance = settings.flow_tolerance if name == "flow" else settings.o2_tolerance
            within = np.abs(ratios[name] - 1) <= tolerance
        steady &= ~measured | within
        if name != "temperature":
            known |= measured

    findings: list[Finding] = []
    for pollutant in pollutants:
        values = hourly.measured(pollutant)
        after, usual = profile.after_and_usual(values)
        long_run = _rolling_median(values, settings.long_days * 24, center=True,
                                   min_periods=after_hours * 2)
        before_short = _rolling_median(values, settings.abrupt_hours, shift=1)
        after_short = _rolling_median(values, settings.abrupt_hours,
                                      shift=-(settings.abrupt_hours - 1))
        before = _shift(_rolling_median(values, after_hours, min_periods=_needed(settings)), 1)
        keep = 1 - settings.min_drop
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = after / usual
            abrupt = after_short / before_short
            candidate = (steady & known & (usual > 0) & (ratio <= keep)
                         & (after <= keep * before) & (after <= keep * long_run)
                         & (keep * usual <= long_run)
                         & (abrupt <= settings.max_abrupt_ratio))
        reported_until = np.full(hourly.shape[0], -1)
        for row, first, last in zip(*runs(candidate), strict=True):
            if first <= reported_until[row]:
                continue  # a later dip inside a drop already reported
            best = int(first + np.nanargmin(abrupt[row, first:last + 1]))
            change = _first_low(values[row], best, before_short[row, best],
                                after_short[row, best], settings.abrupt_hours)
            end = _drop_end(values[row], change, usual[row, best], after[row, best],
                            settings.max_gap_hours)
            reported_until[row] = end
            evidence = {
                "change_hour_utc": str(hourly.times[change]) + "Z",
                "hours": int(end - change + 1),
                "concentration_mgm3": {"usual": number(usual[row, best], 3),
                                       "after": number(after[row, best], 3),
                                       "hours_before": number(before[row, best], 3),
                                       "ratio": number(ratio[row, best], 3),
                                       "long_run": number(long_run[row, best], 3),
                                       "hours_before_after": [
                                           number(before_short[row, best], 3),
                                           number(after_short[row, best], 3)]},
                **{_PROCESS_KEYS[name]: {"usual": number(_back(name, usual_p[row, best]), 3),
                                         "after": number(_back(name, after_p[row, best]), 3)}
                   for name, (after_p, usual_p) in process.items()},
                "flow_ratio": number(ratios["flow"][row, best], 3) if "flow" in ratios
                else None,
                "flue_gas_share_ratio": number(ratios["o2"][row, best], 3) if "o2" in ratios
                else None,
                "after_hours": after_hours,
                "reference": f"same clock hours on the {settings.reference_days} previous days",
                "thresholds": {"min_drop": settings.min_drop,
                               "flow_tolerance": settings.flow_tolerance,
                               "o2_tolerance": settings.o2_tolerance,
                               "temperature_tolerance_c": settings.temperature_tolerance_c},
            }
            findings.append(finding(hourly, STEP_DROP, int(row), pollutant, change, end,
                                    1.0 - float(ratio[row, best]), evidence))
    return findings


_PROCESS_KEYS = {"flow": "flow_m3h", "o2": "o2_pct", "temperature": "temperature_c"}


def _back(name: str, value: float) -> float:
    """O2 is compared as its flue-gas share 20.9 − O2; report it as O2 again."""
    return AIR_O2_PCT - value if name == "o2" else value


class _Levels:
    """Medians of the hours after each hour, and of the same clock hours on previous days."""

    def __init__(self, settings: StepDropSettings, n_times: int) -> None:
        self.settings = settings
        self.n_times = n_times

    def after_and_usual(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(median of [t, t + after), median over k of the same median at t − 24 k).

        Before `reference_days` previous days exist, the usual level falls back to the median
        of the `after_hours` hours just before t.
        """
        s = self.settings
        span = s.after_hours
        ending = _rolling_median(values, span, min_periods=_needed(s))  # median of (t−span, t]
        after = _shift(ending, -(span - 1))
        lagged = np.stack([_shift(after, 24 * k) for k in range(1, s.reference_days + 1)],
                          axis=-1)
        usual = nan_median_last(lagged)
        usual = np.where(np.isnan(usual), _shift(ending, 1), usual)
        return after, usual


def _needed(settings: StepDropSettings) -> int:
    """Valid hours an `after_hours` median needs."""
    return max(1, round(settings.min_valid_share * settings.after_hours))


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


def _rolling_median(values: np.ndarray, window: int, *, shift: int = 0, center: bool = False,
                    min_periods: int | None = None) -> np.ndarray:
    """Rolling median along time of an (S, T) array (pandas' C loop), then shifted by `shift`.

    Without `center` the window at t is (t − window, t]; NaN is ignored, and the result is
    NaN with fewer than `min_periods` values (default: more than half the window).
    """
    needed = min_periods if min_periods is not None else window // 2 + 1
    frame = pd.DataFrame(values.T)
    medians = frame.rolling(window, center=center, min_periods=needed).median().to_numpy().T
    return _shift(medians, shift) if shift else medians


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
