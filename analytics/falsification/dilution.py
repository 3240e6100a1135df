"""Dilution: ambient air let into the stack so that concentrations fall (domain.md §7.2 #4).

Air drawn in at a fraction a of the flue gas moves every measured parameter along a mixing
line toward ambient air: O2 → 20.9 % (O2' = O2 (1 − a) + 20.9 a), pollutants and moisture ×
(1 − a) (moisture toward the air's own), flow × 1 / (1 − a). The conversion to reference O2
multiplies by (21 − O2_ref) / (21 − O2'), which undoes the fall, so the converted value the
limit is judged on hides the dilution. What gives it away is the combination: O2 far above
the source's usual O2 at that hour, with the flue-gas flow up (or the moisture down) in
proportion and the measured concentrations down by about the same share.

A load reduction also raises O2 and lowers measured concentrations (less fuel, more excess
air) but lowers the flow; a stop takes O2 to ambient with no flow at all. Both stay quiet.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np

from analytics.falsification.audit_series import AuditSeries
from analytics.falsification.run_findings import close_gaps, finding, number, runs
from analytics.findings import Finding

DILUTION = "dilution"
AIR_O2_PCT = 20.9  # what an O2 analyser reads in dry ambient air


@dataclass(frozen=True)
class DilutionSettings:
    """Thresholds of the dilution detector (shares are fractions 0–1, O2 and moisture in %)."""

    # Implied air fraction from O2, (O2 − O2_usual) / (20.9 − O2_usual), at which an hour is a
    # candidate. Load swings of the simulated power units move it by ≤ 0.05 against the same
    # hour's usual O2 and O2 noise by ≤ 0.06 at a sinter plant (O2 ≈ 15.5 %); dilution worth
    # doing draws in ≥ 0.2 (a fifth of the gas).
    min_air_fraction: float = 0.12
    # Above this the stack holds (almost) only ambient air: a stop or a purge, not dilution.
    max_air_fraction: float = 0.85
    # Flow must rise by at least this share of the rise dilution implies (1 / (1 − a) − 1);
    # a load cut that raises O2 lowers the flow instead. Half leaves room for flow noise (±3 %).
    flow_share: float = 0.5
    # Moisture must fall by at least this share of the fall dilution implies,
    # a × (moisture_usual − ambient_moisture_pct).
    moisture_share: float = 0.5
    # Dry ambient air's moisture, % (the end of the moisture mixing line).
    ambient_moisture_pct: float = 1.5
    # Moisture can only confirm when dilution would move it by ≥ this many points (hourly
    # moisture noise is ~0.2 points).
    min_moisture_change_pct: float = 0.6
    # Measured concentrations (median over pollutants and hours) must fall to ≤ 1 − this share
    # × the implied air fraction of their usual level: "down roughly in proportion". Half the
    # proportional fall leaves room for the pollutants' own ±10 % hourly variation.
    concentration_share: float = 0.5
    # The usual value of an hour: median of the same local hour over ± this many days (a
    # power unit's O2 and flow follow its daily load curve).
    baseline_half_days: int = 7
    # ... from at least this many days (fewer: the hour is not judged).
    min_baseline_days: int = 4
    # Episodes shorter than this are start-up transients or noise; injected or real dilution
    # worth the trouble lasts hours.
    min_hours: int = 3
    # Candidate hours this close together are one episode (a noisy hour inside it).
    max_gap_hours: int = 2


def detect_dilution(series: AuditSeries,
                    settings: DilutionSettings = DilutionSettings()) -> list[Finding]:
    """Findings of type "dilution" (pollutant "all", one per episode) at outlets.

    Works on hourly means (a minute grid is averaged first). An hour is a candidate when the
    air fraction implied by O2 against its usual value lies in [`min_air_fraction`,
    `max_air_fraction`] and the flow rose (or, without flow, the moisture fell) consistently
    with it, neither contradicting it. Episodes of ≥ `min_hours` are kept when the measured
    pollutants fell in proportion. Score = implied air fraction × log2(1 + hours).
    """
    if series.kind != "outlet" or not series.sources or not len(series.times):
        return []
    if "o2" not in series.values:
        return []
    pollutants = series.pollutants()
    hourly = hourly_of(series, (*pollutants, "o2", "flow", "moisture"))
    if hourly.shape[1] < 24:
        return []
    first_hour = local_hour(hourly, 0)
    median = _Baseline(first_hour, settings.baseline_half_days, settings.min_baseline_days)
    o2 = hourly.measured("o2")
    o2 = np.where(o2 < AIR_O2_PCT, o2, np.nan)
    o2_usual = median(o2)
    with np.errstate(invalid="ignore", divide="ignore"):
        air = (o2 - o2_usual) / (AIR_O2_PCT - o2_usual)
    expected_flow = 1.0 / (1.0 - np.clip(air, 0.0, 0.99))

    flow_known = np.zeros(hourly.shape, dtype=bool)
    flow_ok = np.zeros(hourly.shape, dtype=bool)
    flow_ratio = np.full(hourly.shape, np.nan)
    flow_usual = np.full(hourly.shape, np.nan)
    if "flow" in hourly.values:
        flow = hourly.measured("flow")
        flow_usual = median(flow)
        with np.errstate(invalid="ignore", divide="ignore"):
            flow_ratio = flow / flow_usual
        flow_known = np.isfinite(flow_ratio) & (flow_usual > 0)
        flow_ok = flow_known & (flow_ratio >= 1 + settings.flow_share * (expected_flow - 1))

    moist_known = np.zeros(hourly.shape, dtype=bool)
    moist_ok = np.zeros(hourly.shape, dtype=bool)
    moisture = moist_usual = np.full(hourly.shape, np.nan)
    if "moisture" in hourly.values:
        moisture = hourly.measured("moisture")
        moist_usual = median(moisture)
        implied_fall = air * (moist_usual - settings.ambient_moisture_pct)
        moist_known = (np.isfinite(moisture) & np.isfinite(implied_fall)
                       & (implied_fall >= settings.min_moisture_change_pct))
        moist_ok = moist_known & (moist_usual - moisture
                                  >= settings.moisture_share * implied_fall)

    with np.errstate(invalid="ignore"):
        candidate = ((air >= settings.min_air_fraction) & (air <= settings.max_air_fraction)
                     & (flow_ok | moist_ok) & ~(flow_known & ~flow_ok)
                     & ~(moist_known & ~moist_ok))
    candidate = close_gaps(candidate, settings.max_gap_hours)

    ratios = {}
    for p in pollutants:
        measured = hourly.measured(p)
        usual = median(measured)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratios[p] = np.where(usual > 0, measured / usual, np.nan)

    findings: list[Finding] = []
    for row, first, last in zip(*runs(candidate), strict=True):
        span = slice(int(first), int(last) + 1)
        air_run = air[row, span]
        core = np.isfinite(air_run) & (air_run >= settings.min_air_fraction)
        if core.sum() < settings.min_hours:
            continue
        a = float(np.median(air_run[core]))
        per_pollutant = {p: float(np.nanmedian(r[row, span][core]))
                         for p, r in ratios.items() if np.isfinite(r[row, span][core]).any()}
        if not per_pollutant:
            continue
        concentration_ratio = float(np.median(list(per_pollutant.values())))
        if concentration_ratio > 1 - settings.concentration_share * a:
            continue
        hours = int(last - first + 1)
        evidence = {
            "hours": hours,
            "o2_pct": {"usual": _median(o2_usual[row, span][core], 2),
                       "during": _median(o2[row, span][core], 2)},
            "flow_m3h": {"usual": _median(flow_usual[row, span][core], 0),
                         "during": _median(np.where(flow_known, flow_ratio * flow_usual,
                                                    np.nan)[row, span][core], 0),
                         "ratio": _median(flow_ratio[row, span][core], 3)},
            "moisture_pct": {"usual": _median(moist_usual[row, span][core], 2),
                             "during": _median(moisture[row, span][core], 2)},
            "concentration_ratio": {p: number(v, 3) for p, v in per_pollutant.items()},
            "implied_air_fraction": {
                "o2": number(a, 3),
                "flow": _median(1 - 1 / flow_ratio[row, span][core], 3),
                "concentration": number(1 - concentration_ratio, 3)},
            "baseline": f"median of the same local hour over ±{settings.baseline_half_days} days",
            "thresholds": {"min_air_fraction": settings.min_air_fraction,
                           "flow_share": settings.flow_share,
                           "concentration_share": settings.concentration_share},
        }
        findings.append(finding(hourly, DILUTION, int(row), "all", int(first), int(last),
                                a * float(np.log2(1 + hours)), evidence))
    return findings


def hourly_of(series: AuditSeries, names: Iterable[str]) -> AuditSeries:
    """The hourly series (series.hourly(), cached on the series) if it holds `names`.

    `names` documents what the caller reads; every detector shares the one cached
    aggregation of a minute grid, so no subset is built here.
    """
    del names
    return series.hourly()


def local_hour(series: AuditSeries, column: int) -> int:
    """Local (series.tz) hour of day of grid column `column`; one UTC offset for the window."""
    seconds = int(series.times[column].astype(np.int64))
    moment = datetime.fromtimestamp(seconds, UTC).astimezone(ZoneInfo(series.tz))
    return moment.hour


def same_hour_median(values: np.ndarray, first_hour: int, half_days: int,
                     min_days: int) -> np.ndarray:
    """(S, T) median of each hourly value's local hour of day over ± `half_days` days.

    `values` is an hourly (S, T) array whose column 0 is at local hour `first_hour`; NaN is
    ignored and the result is NaN where fewer than `min_days` days had a value. The day itself
    counts, so an episode needs to cover more than half the days of the window to shift it.
    """
    n_sources, n_times = values.shape
    n_days = -(-(first_hour + n_times) // 24)
    grid = np.full((n_sources, n_days * 24), np.nan)
    grid[:, first_hour:first_hour + n_times] = values
    days = grid.reshape(n_sources, n_days, 24)
    padded = np.pad(days, ((0, 0), (half_days, half_days), (0, 0)), constant_values=np.nan)
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * half_days + 1, axis=1)
    medians = nan_median_last(windows, min_days)
    return medians.reshape(n_sources, n_days * 24)[:, first_hour:first_hour + n_times]


def nan_median_last(windows: np.ndarray, min_count: int = 1) -> np.ndarray:
    """Median over the last axis ignoring NaN; NaN where fewer than `min_count` values.

    Sorting puts NaN last, so the median is picked by each cell's own count (faster than
    np.nanmedian on many small windows).
    """
    ordered = np.sort(windows, axis=-1)
    count = np.sum(~np.isnan(windows), axis=-1)
    low = np.take_along_axis(ordered, np.maximum((count - 1) // 2, 0)[..., None], -1)[..., 0]
    high = np.take_along_axis(ordered, np.maximum(count // 2, 0)[..., None], -1)[..., 0]
    return np.where(count >= max(min_count, 1), (low + high) / 2, np.nan)


class _Baseline:
    """same_hour_median with this window's settings."""

    def __init__(self, first_hour: int, half_days: int, min_days: int) -> None:
        self.first_hour, self.half_days, self.min_days = first_hour, half_days, min_days

    def __call__(self, values: np.ndarray) -> np.ndarray:
        return same_hour_median(values, self.first_hour, self.half_days, self.min_days)


def _median(values: np.ndarray, decimals: int) -> float | None:
    finite = values[np.isfinite(values)]
    return number(np.median(finite), decimals) if finite.size else None
