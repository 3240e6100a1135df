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

from dataclasses import dataclass

import numpy as np

from analytics.falsification.audit_series import AIR_O2_PCT, AuditSeries
from analytics.falsification.hour_baselines import same_hour_at, same_hour_median
from analytics.falsification.run_findings import close_gaps, finding, number, runs
from analytics.findings import Finding

DILUTION = "dilution"


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
    # Measured concentrations must fall to ≤ 1 − this share × the implied air fraction of
    # their level around the episode: "down roughly in proportion". Each hour is taken
    # against its usual value, the level around is the median of the `reference_hours`
    # either side; the median over pollutants is judged. Half the proportional fall leaves
    # room for a pollutant's own ±10–20 % drift within a day.
    concentration_share: float = 0.5
    reference_hours: int = 6
    # The usual value of an hour: median of the same hour of day over ± this many days (a
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
    pollutants fell in proportion: the median over pollutants of (during / the hours around
    the episode, each hour taken against its usual value) ≤ 1 − `concentration_share` × the
    air fraction. Score = implied air fraction × log2(1 + hours).

    Only the O2 baseline is computed for every hour; flow, moisture and pollutant baselines
    only where O2 makes an hour a candidate (the cost follows the candidates).
    """
    if series.kind != "outlet" or not series.sources or not len(series.times):
        return []
    if "o2" not in series.values:
        return []
    pollutants = series.pollutants()
    hourly = series.hourly()
    if hourly.shape[1] < 24:
        return []
    days, min_days = settings.baseline_half_days, settings.min_baseline_days
    o2 = hourly.measured("o2")
    o2 = np.where(o2 < AIR_O2_PCT, o2, np.nan)
    o2_usual = same_hour_median(o2, days, min_days)
    with np.errstate(invalid="ignore", divide="ignore"):
        air = (o2 - o2_usual) / (AIR_O2_PCT - o2_usual)
        by_o2 = (air >= settings.min_air_fraction) & (air <= settings.max_air_fraction)
    rows, columns = np.nonzero(by_o2)
    if not rows.size:
        return []
    a = air[rows, columns]
    flow, flow_usual, flow_known, flow_ok = _confirm(hourly, "flow", rows, columns, a,
                                                     settings)
    moisture, moist_usual, moist_known, moist_ok = _confirm(hourly, "moisture", rows,
                                                            columns, a, settings)
    confirmed = (flow_ok | moist_ok) & ~(flow_known & ~flow_ok) & ~(moist_known & ~moist_ok)
    candidate = np.zeros(hourly.shape, dtype=bool)
    candidate[rows[confirmed], columns[confirmed]] = True
    candidate = close_gaps(candidate, settings.max_gap_hours)
    at = {(int(r), int(c)): i for i, (r, c) in enumerate(zip(rows, columns, strict=True))}
    measured = {p: hourly.measured(p) for p in pollutants}

    findings: list[Finding] = []
    for row, first, last in zip(*(x.tolist() for x in runs(candidate)), strict=True):
        core = np.flatnonzero(by_o2[row, first:last + 1]) + first
        if core.size < settings.min_hours:
            continue
        near = np.r_[max(first - settings.reference_hours, 0):first,
                     last + 1:min(last + 1 + settings.reference_hours, hourly.shape[1])]
        near = near[~candidate[row, near]]
        fraction = float(np.median(air[row, core]))
        per_pollutant = {}
        for p, values in measured.items():
            during = _relative(values, row, core, days, min_days)
            if not np.isfinite(during).any():
                continue
            around = _relative(values, row, near, days, min_days)
            reference = float(np.nanmedian(around)) if np.isfinite(around).any() else 1.0
            per_pollutant[p] = float(np.nanmedian(during)) / reference
        if not per_pollutant:
            continue
        concentration_ratio = float(np.median(list(per_pollutant.values())))
        if concentration_ratio > 1 - settings.concentration_share * fraction:
            continue
        picks = np.array([at[(row, c)] for c in core.tolist()])
        with np.errstate(invalid="ignore", divide="ignore"):
            flow_ratio = flow[picks] / flow_usual[picks]
        hours = last - first + 1
        evidence = {
            "hours": hours,
            "o2_pct": {"usual": _median(o2_usual[row, core], 2),
                       "during": _median(o2[row, core], 2)},
            "flow_m3h": {"usual": _median(flow_usual[picks], 0),
                         "during": _median(flow[picks], 0),
                         "ratio": _median(flow_ratio, 3)},
            "moisture_pct": {"usual": _median(moist_usual[picks], 2),
                             "during": _median(moisture[picks], 2)},
            "concentration_ratio": {p: number(v, 3) for p, v in per_pollutant.items()},
            "implied_air_fraction": {"o2": number(fraction, 3),
                                     "flow": _median(1 - 1 / flow_ratio, 3),
                                     "concentration": number(1 - concentration_ratio, 3)},
            "baseline": f"median of the same hour of day over ±{days} days",
            "thresholds": {"min_air_fraction": settings.min_air_fraction,
                           "flow_share": settings.flow_share,
                           "concentration_share": settings.concentration_share},
        }
        findings.append(finding(hourly, DILUTION, row, "all", first, last,
                                fraction * float(np.log2(1 + hours)), evidence))
    return findings


def _confirm(hourly: AuditSeries, name: str, rows: np.ndarray, columns: np.ndarray,
             air: np.ndarray, settings: DilutionSettings
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """At the candidate positions: (value, usual value, known, consistent with dilution by
    `air`) of flow (rose by ≥ flow_share of 1 / (1 − a) − 1) or moisture (fell by ≥
    moisture_share of a × (usual − ambient), known only where that is ≥
    min_moisture_change_pct)."""
    n = rows.size
    if name not in hourly.values:
        nothing = np.full(n, np.nan)
        return nothing, nothing, np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    values = hourly.measured(name)
    value = values[rows, columns]
    usual = same_hour_at(values, rows, columns, settings.baseline_half_days,
                         settings.min_baseline_days)
    with np.errstate(invalid="ignore", divide="ignore"):
        if name == "flow":
            known = np.isfinite(value) & (usual > 0)
            ok = known & (value / usual >= 1 + settings.flow_share * (1 / (1 - air) - 1))
        else:
            implied_fall = air * (usual - settings.ambient_moisture_pct)
            known = (np.isfinite(value) & np.isfinite(implied_fall)
                     & (implied_fall >= settings.min_moisture_change_pct))
            ok = known & (usual - value >= settings.moisture_share * implied_fall)
    return value, usual, known, ok


def _relative(values: np.ndarray, row: int, columns: np.ndarray, half_days: int,
              min_days: int) -> np.ndarray:
    """values / their usual value (same hour of day) at `columns` of `row`."""
    rows = np.full(columns.size, row)
    usual = same_hour_at(values, rows, columns, half_days, min_days)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(usual > 0, values[row, columns] / usual, np.nan)


def _median(values: np.ndarray, decimals: int) -> float | None:
    finite = values[np.isfinite(values)]
    return number(np.median(finite), decimals) if finite.size else None
