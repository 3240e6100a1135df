"""Flag abuse: maintenance, fault or calibration flags over high values (domain.md §7.2 #13).

Since the 2022 marking rules, data marked as maintenance or fault are not used to judge
exceedances, so a false mark hides an exceedance as well as a gap would, and leaves the
values in place. Routine upkeep reads something else than the stack: zero or span gas during
a calibration, ambient air or nothing during maintenance, a stuck or zero reading in a
fault. A marked period whose values are high for the source (near or above the limit at
outlets), or whose unmarked neighbours climb toward it as toward a hidden peak, is a mark
worth an inspector's question.

Flags judged (default M, D, C, S): maintenance, fault, calibration and manually set values
all claim "this is not a measurement of the sample" while the analyser keeps producing
values. F (stopped) is left out: a stopped stack reads ambient air, whose conversion to the
reference O2 divides by ~0, and its own check is stops against production. B (link failure)
is left out: values under it are not the analyser's but whatever the logger sent or
back-filled.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analytics.falsification.audit_series import AIR_O2_PCT, AuditSeries
from analytics.falsification.gap_at_peak import (
    GapAtPeakSettings,
    flank_bar,
    flanks,
    high_level,
    level_of,
    neighbour_estimate,
    neighbours_of,
)
from analytics.falsification.hour_baselines import local_hour
from analytics.falsification.nan_median import nan_median_last
from analytics.falsification.run_findings import close_gaps, finding, number, runs
from analytics.findings import Finding
from analytics.o2_conversion import to_reference_o2

FLAG_ABUSE = "flag_abuse"


@dataclass(frozen=True)
class FlagAbuseSettings:
    """Thresholds of the flag-abuse detector (quantiles and shares 0–1)."""

    # HJ 212 flags that claim "not a measurement" while values keep coming (module docstring
    # on why F and B are left out).
    flags: tuple[str, ...] = ("M", "D", "C", "S")
    # "High" is this quantile of the source's own measured values (converted at outlets) ...
    quantile: float = 0.9
    # ... and at outlets with a limit at least this share of the limit (the abuse hides an
    # exceedance; values marked near the source's usual top are not yet that).
    near_limit_share: float = 0.9
    # At least this many flagged hours must be high: one odd value in a fault is what faults
    # look like ...
    min_high_hours: int = 2
    # ... unless (stations) the neighbours saw it too: their estimate for the station at that
    # hour (usual ratio × their median) ≥ this share of the flagged value. A peak of one or two
    # hours is real when the region shows it; an analyser's spike is the station's alone.
    neighbour_confirm_share: float = 0.6
    # Flagged runs split by this many unflagged hours are one marked period.
    max_gap_hours: int = 1
    # Calibration-only runs up to this long are a zero/span check: their values are
    # reference gases, so only the flank rule judges them.
    max_calibration_hours: int = 2
    # Calibration-only runs whose every hour has a C flag within an hour of the same local
    # time on at least this many other days are the routine daily check, whatever their
    # length, and never reported.
    min_routine_days: int = 3
    # The flank rule, as gap_at_peak's (its settings explain the numbers): each unflagged
    # hour beside the run ≥ (1 + min_rise) × the median of the `rise_hours` beyond it (both
    # relative to their hour of day's usual value), the two rises multiplied ≥
    # min_joint_rise, the higher flank ≥ flank_share × min(quantile, flank_near_limit_share ×
    # limit). The joint rise is stricter than for gaps (1.5): routine maintenance visits are
    # many, and on simulated stacks visits during a natural bump reached 1.5–1.7; a peak
    # hidden from the top of an hour gives ~2. Like a gap, a marked period must last
    # `flank_min_hours` for its flanks to count: 1–2 h visits are routine and hide little.
    flank_min_hours: int = 3
    min_rise: float = 0.1
    min_joint_rise: float = 1.8
    rise_hours: int = 3
    flank_share: float = 0.9
    flank_near_limit_share: float = 0.7

    def flank_settings(self) -> GapAtPeakSettings:
        """These flank thresholds in the form gap_at_peak's flank rule takes."""
        return GapAtPeakSettings(quantile=self.quantile, estimate_share=self.flank_share,
                                 near_limit_share=self.flank_near_limit_share,
                                 min_rise=self.min_rise, min_joint_rise=self.min_joint_rise,
                                 rise_hours=self.rise_hours)


def detect_flag_abuse(series: AuditSeries,
                      settings: FlagAbuseSettings = FlagAbuseSettings()) -> list[Finding]:
    """Findings of type "flag_abuse", one per pollutant and marked period, stations and outlets.

    On hourly data (a minute grid is averaged first; an hour with < 45 valid minutes takes the
    commonest flag of its minutes and the mean of its values). A run of hours flagged with
    one of `flags` is reported when ≥ `min_high_hours` of its values are ≥ the bar (the
    source's `quantile`; at outlets with a limit, at least `near_limit_share` × limit, values
    converted with the hour's O2 if it was measured, else the source's median O2), or when
    its flanks climb toward it (gap_at_peak's flank rule). Routine calibrations stay quiet.
    Stations: a single high hour also counts when the neighbours saw the peak
    (`neighbour_confirm_share`). Score = the `min_high_hours`-th highest flagged value / bar
    (the highest when confirmed by the neighbours; flank rule: higher flank / quantile).
    """
    if not series.sources or not len(series.times) or not series.flags:
        return []
    hourly = series.hourly()
    wanted = np.array([f.encode("ascii") for f in settings.flags], dtype="S1")
    routine_hours = _routine_calibration(hourly, settings) if b"C" in wanted else None
    flank_rule = settings.flank_settings()
    neighbours = neighbours_of(hourly, flank_rule) if hourly.kind == "station" else None
    findings: list[Finding] = []
    for pollutant in hourly.pollutants():
        if pollutant not in hourly.flags:
            continue
        flags = hourly.flag(pollutant)
        marked = np.isin(flags, wanted)
        if marked.any():
            findings += _judge(hourly, pollutant, flags, marked, routine_hours, neighbours,
                               flank_rule, settings)
    return findings


def _judge(hourly: AuditSeries, pollutant: str, flags: np.ndarray, marked: np.ndarray,
           routine_hours: np.ndarray | None, neighbours: np.ndarray | None,
           flank_rule: GapAtPeakSettings, settings: FlagAbuseSettings) -> list[Finding]:
    """The findings of one pollutant's marked runs, screened together, explained one by one."""
    level, limit = level_of(hourly, pollutant)
    flagged = _flagged_level(hourly, pollutant, limit)
    high = high_level(level, settings.quantile)
    typical = high_level(level, 0.5)
    bar = (np.where(np.isfinite(limit), np.fmax(high, settings.near_limit_share), high)
           if hourly.kind == "outlet" else high)
    rows, firsts, lasts = runs(close_gaps(marked, settings.max_gap_hours))
    if not rows.size:
        return []
    lengths = lasts - firsts + 1

    def count(mask: np.ndarray) -> np.ndarray:
        """Per run, the True hours of `mask` inside it."""
        cumulative = np.pad(np.cumsum(mask, axis=1), ((0, 0), (1, 0)))
        return cumulative[rows, lasts + 1] - cumulative[rows, firsts]

    only_calibration = count(marked & (flags != b"C")) == 0
    calibration = only_calibration & (lengths <= settings.max_calibration_hours)
    routine = (only_calibration & (count(routine_hours) == lengths)
               if routine_hours is not None else np.zeros(rows.size, dtype=bool))
    with np.errstate(invalid="ignore"):
        high_marked = marked & (flagged >= bar[:, None]) & (bar[:, None] > 0)
    n_high = count(high_marked)
    enough = n_high >= settings.min_high_hours
    confirmed = np.zeros(rows.size, dtype=bool)
    if neighbours is not None and np.any(~enough & (n_high > 0)):
        # The flagged values included: the neighbours' median is what is compared.
        estimate = neighbour_estimate(np.where(marked, flagged, level), neighbours)[0]
        with np.errstate(invalid="ignore"):
            seen = high_marked & (estimate >= settings.neighbour_confirm_share * flagged)
        confirmed = ~enough & (count(seen) >= 1)
    by_values = ~calibration & (enough | confirmed)
    limit_bar = flank_bar(high[rows], limit[rows], flank_rule)
    sides = flanks(level, rows, firsts, lasts, limit_bar, typical[rows], flank_rule)
    by_flanks = (~by_values & (lengths >= settings.flank_min_hours) & sides.ok
                 & (high[rows] > 0))
    scale = np.where(np.isfinite(limit), limit, 1.0)
    quantile_key = f"normal_p{round(settings.quantile * 100)}"
    findings: list[Finding] = []
    for i in np.flatnonzero(~routine & (by_values | by_flanks)).tolist():
        row, first, last = int(rows[i]), int(firsts[i]), int(lasts[i])
        span = slice(first, last + 1)
        k = scale[row]
        under = marked[row, span]
        values = flagged[row, span][under]
        present = np.sort(values[np.isfinite(values)])[::-1]
        evidence: dict[str, object] = {
            "flags": sorted({f.decode() for f in flags[row, span][under]}),
            "flagged_hours": int(under.sum()),
            "normal_median": number(typical[row] * k, 3),
            quantile_key: number(high[row] * k, 3),
            "limit_mgm3": number(limit[row], 2) if hourly.kind == "outlet" else None,
            "bar": number(bar[row] * k, 3),
            "flagged_values": {
                "max": number(present[0] * k, 3) if present.size else None,
                "second": number(present[1] * k, 3) if present.size > 1 else None,
                "median": number(np.median(present) * k, 3) if present.size else None},
        }
        if by_values[i]:
            kth = 1 if confirmed[i] else settings.min_high_hours
            score = float(present[kth - 1] / bar[row])
            evidence["basis"] = ("values under the flag, the peak seen by the neighbours"
                                 if confirmed[i] else "values under the flag")
        else:
            score = max(float(sides.before[i]), float(sides.after[i])) / high[row]
            evidence["basis"] = "flanks climbing toward the flagged period"
            evidence["flank_values"] = [number(sides.before[i] * k, 3),
                                        number(sides.after[i] * k, 3)]
            evidence["flank_rise"] = [number(sides.rise_before[i], 3),
                                      number(sides.rise_after[i], 3)]
        if hourly.kind == "outlet":
            evidence["unit"] = ("mg/m3 at reference O2" if np.isfinite(limit[row])
                                else "mg/m3 as measured")
        else:
            evidence["unit"] = "mg/m3" if pollutant == "co" else "ug/m3"
        findings.append(finding(hourly, FLAG_ABUSE, row, pollutant, first, last, score,
                                evidence))
    return findings


def _flagged_level(hourly: AuditSeries, pollutant: str, limit: np.ndarray) -> np.ndarray:
    """(S, T) every value of `pollutant` whatever its flag, on level_of's scale.

    Outlets: converted with the hour's O2 where that O2 was measured (N/T) and below
    ambient, else with the source's median measured O2 (an O2 purged with air during
    maintenance would blow the conversion up); divided by the limit where there is one.
    """
    values = hourly.values[pollutant]
    if hourly.kind != "outlet":
        return values
    if hourly.reference_o2 is not None and "o2" in hourly.values:
        o2 = hourly.measured("o2")
        o2 = np.where(o2 < AIR_O2_PCT, o2, np.nan)
        usual = nan_median_last(o2)
        trusted = np.where(np.isfinite(o2), o2, usual[:, None])
        values = to_reference_o2(values, trusted, hourly.reference_o2)
    scale = np.where(np.isfinite(limit), limit, 1.0)
    return values / scale[:, None]


def _routine_calibration(hourly: AuditSeries, settings: FlagAbuseSettings) -> np.ndarray:
    """(S, T) True at hours whose local hour of day (± 1 h) carries a C flag (any pollutant)
    on at least `min_routine_days` other days of the window: the daily zero/span check."""
    n_sources, n_times = hourly.shape
    calibrating = np.zeros(hourly.shape, dtype=bool)
    for flags in hourly.flags.values():
        calibrating |= flags == b"C"
    first_hour = local_hour(hourly, 0)
    hour_of_day = (first_hour + np.arange(n_times)) % 24
    day = (first_hour + np.arange(n_times)) // 24
    n_days = int(day[-1]) + 1
    seen = np.zeros((n_sources, n_days, 24), dtype=bool)
    rows, columns = np.nonzero(calibrating)
    seen[rows, day[columns], hour_of_day[columns]] = True
    around = seen | np.roll(seen, 1, axis=2) | np.roll(seen, -1, axis=2)
    days_per_hour = around.sum(axis=1)  # (S, 24): days with a C within an hour of it
    own_day = around[:, day, hour_of_day]  # this hour's own day counts in days_per_hour
    other_days = days_per_hour[:, hour_of_day] - own_day
    return other_days >= settings.min_routine_days

