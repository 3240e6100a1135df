"""Emission-reduction compliance during heavy-pollution alerts: shortfall hours and fake cuts."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from analytics.emission_exceedance import as_utc, exceeding_runs, rounded
from analytics.findings import Finding

SHORTFALL = "reduction_shortfall"
STEP_DROP = "step_drop"
STATUS_COMPLIANT, STATUS_NOT_COMPLIANT, STATUS_NO_DATA = "compliant", "not_compliant", "no_data"
# (basis, unit quoted in the evidence): the two ways a plan states its baseline.
BASES = (("concentration", "mg/m3 at reference O2"), ("mass", "kg/h"))
DECIMALS = 3


@dataclass(frozen=True)
class ReductionAudit:
    """Per-source verdict on the required cuts over the window, and the shortfall runs found.

    `status` (S,) str: "compliant", "not_compliant", "no_data", or "" where no hour required a
    cut. `required_hours` (S,) int: hours with a required cut; `data_hours` (S,) int: those with
    a judgeable value on at least one audited basis; `over_hours` (S,) int: those above the
    allowed value on any audited basis (counted whatever `min_run_hours` is).
    """

    sources: tuple[str, ...]
    status: np.ndarray
    required_hours: np.ndarray
    data_hours: np.ndarray
    over_hours: np.ndarray
    findings: list[Finding]


@dataclass(frozen=True)
class _Basis:
    """One audited basis of one pollutant: (S, T) values and allowed values, (S,) baseline."""

    name: str
    unit: str
    values: np.ndarray
    baseline: np.ndarray
    allowed: np.ndarray
    over: np.ndarray
    excess: np.ndarray  # relative excess per hour: 0.25 = 25 % above allowed


def _hour_starts(times: np.ndarray) -> np.ndarray:
    hours = np.asarray(times).astype("datetime64[s]")
    if hours.ndim != 1:
        raise ValueError(f"times must be a 1-D array of hour starts, got shape {hours.shape}")
    return hours


def _array(name: str, value: Any, shape: tuple[int, ...]) -> np.ndarray:
    array = np.asarray(value, dtype=np.float64)
    if array.shape != shape:
        raise ValueError(f"{name} must be shaped {shape}, got {array.shape}")
    return array


def _basis(name: str, unit: str, values: np.ndarray, baseline: np.ndarray, cut: np.ndarray,
           tolerance: float) -> _Basis:
    """Allowed = baseline × (1 − cut) × (1 + tolerance); a stop order (cut 1) allows 0 even
    where the plan has no baseline (stop-only plans need none). NaN allowed = not audited."""
    allowed = np.where(cut >= 1.0, 0.0, baseline[:, None] * (1.0 - cut) * (1.0 + tolerance))
    # Against a stop order the excess is measured as a share of the baseline (finite score).
    reference = np.where(allowed > 0, allowed, baseline[:, None])
    with np.errstate(invalid="ignore", divide="ignore"):
        excess = (values - allowed) / reference  # NaN where not audited or missing
    return _Basis(name, unit, values, baseline, allowed, values > allowed, excess)


def _shortfall_evidence(bases: list[_Basis], row: int, columns: slice, cut: np.ndarray,
                        tolerance: float) -> tuple[float, dict[str, Any]]:
    """(score, evidence) of one run: the worst basis' mean relative excess, and per basis the
    baseline, allowed value(s), observed mean/max and the cut achieved against the baseline."""
    cuts = np.unique(cut[row, columns])  # ascending; usually one level for the whole run
    evidence: dict[str, Any] = {
        "hours": int(columns.stop - columns.start),
        "required_cut_pct": [round(float(c) * 100, DECIMALS) for c in cuts],
        "tolerance_pct": round(tolerance * 100, DECIMALS),
    }
    worst, score = None, -np.inf
    for basis in bases:
        judged = ~np.isnan(basis.allowed[row, columns])
        baseline = float(basis.baseline[row])
        values = basis.values[row, columns][judged]
        measured = values[~np.isnan(values)]
        if not values.size or (np.isnan(baseline) and not measured.size):
            continue  # basis not audited in this run (no baseline, no stop-order readings)
        mean = float(np.mean(measured)) if measured.size else np.nan
        allowed = [0.0 if c >= 1 else baseline * (1 - c) * (1 + tolerance) for c in cuts]
        evidence[basis.name] = {
            "unit": basis.unit,
            "baseline": rounded(baseline, DECIMALS),
            "allowed": [rounded(float(a), DECIMALS) for a in allowed],
            "hours_measured": int(measured.size),
            "hours_over": int(np.count_nonzero(basis.over[row, columns])),
            "mean_observed": rounded(mean, DECIMALS),
            "max_observed": rounded(float(np.max(measured)), DECIMALS) if measured.size else None,
            "achieved_cut_pct": rounded((1 - mean / baseline) * 100, DECIMALS),
        }
        excess = basis.excess[row, columns]
        if np.any(~np.isnan(excess)) and (basis_score := float(np.nanmean(excess))) > score:
            worst, score = basis.name, basis_score
    evidence["worst_basis"] = worst
    # A stop order broken where the plan has no baseline cannot be scaled: call it 100 %.
    return (score if worst is not None else 1.0), evidence


def audit_reduction(
    sources: Sequence[str],
    times: np.ndarray,
    required_cut: np.ndarray,
    concentration: Mapping[str, np.ndarray],
    mass: Mapping[str, np.ndarray],
    baseline_concentration: Mapping[str, np.ndarray],
    baseline_mass: Mapping[str, np.ndarray],
    *,
    tolerance: float = 0.0,
    min_run_hours: int = 1,
) -> ReductionAudit:
    """Hour-by-hour audit of the cuts required during an alert, per source and pollutant.

    `times` (T,) datetime64 UTC hour starts; `required_cut` (S, T) share of the baseline to cut
    (0..1, 1 = stop order), NaN = no cut required that hour. `concentration[p]` (S, T) mg/m³ at
    reference O2 and `mass[p]` (S, T) kg/h, NaN = missing; `baseline_concentration[p]` and
    `baseline_mass[p]` (S,) in the same units, NaN = not in the plan (a missing key likewise).
    A basis is audited where it has a baseline (or in stop-order hours, whose allowed value is
    0 whatever the baseline). An hour is over for a pollutant when on any audited basis the
    value is > baseline × (1 − cut) × (1 + `tolerance`); missing values are never over.
    Consecutive over hours (≥ `min_run_hours`) of a source and pollutant make one
    "reduction_shortfall" finding, start/end = first/last hour start; score = mean relative
    excess over the allowed value on the worst basis (0.25 = 25 % above; for a stop order, the
    share of the baseline still emitted). Findings ordered by pollutant, source, start.
    Status per source: "" when no cut was required, else not_compliant if any hour was over,
    no_data if no required hour could be judged, compliant otherwise.
    """
    names = tuple(sources)
    hours = _hour_starts(times)
    shape = (len(names), hours.size)
    cut = _array("required_cut", required_cut, shape)
    if np.any((cut < 0) | (cut > 1)):
        raise ValueError("required_cut must be a share between 0 and 1 (NaN = none required)")
    if not tolerance >= 0:
        raise ValueError(f"tolerance must be ≥ 0 (a relative slack), got {tolerance}")
    if min_run_hours < 1:
        raise ValueError(f"min_run_hours must be ≥ 1, got {min_run_hours}")
    required = ~np.isnan(cut)
    judged_any, over_any = np.zeros(shape, dtype=bool), np.zeros(shape, dtype=bool)
    findings: list[Finding] = []
    inputs = ((concentration, baseline_concentration), (mass, baseline_mass))  # as in BASES
    no_data = np.full(shape, np.nan)  # a basis without readings for a pollutant
    pollutants = dict.fromkeys([*baseline_concentration, *baseline_mass, *concentration, *mass])
    for pollutant in pollutants:
        bases = []
        for (name, unit), (data, baselines) in zip(BASES, inputs, strict=True):
            baseline = _array(f"baseline_{name}[{pollutant!r}]",
                              baselines.get(pollutant, np.full(shape[:1], np.nan)), shape[:1])
            if np.any(baseline <= 0):
                raise ValueError(f"baseline_{name}[{pollutant!r}] must be positive (NaN = none)")
            values = _array(f"{name}[{pollutant!r}]", data.get(pollutant, no_data), shape)
            bases.append(_basis(name, unit, values, baseline, cut, tolerance))
        over_any |= (over := np.logical_or.reduce([b.over for b in bases]))
        judged_any |= np.logical_or.reduce(
            [~np.isnan(b.allowed) & ~np.isnan(b.values) for b in bases])
        for row, first, last in zip(*exceeding_runs(over), strict=True):
            if last - first + 1 < min_run_hours:
                continue
            score, evidence = _shortfall_evidence(bases, row, slice(first, last + 1), cut,
                                                  tolerance)
            findings.append(Finding(SHORTFALL, names[row], pollutant, as_utc(hours[first]),
                                    as_utc(hours[last]), float(score), evidence))
    required_hours = np.count_nonzero(required, axis=1)
    data_hours = np.count_nonzero(judged_any & required, axis=1)
    over_hours = np.count_nonzero(over_any & required, axis=1)
    status = np.select([required_hours == 0, over_hours > 0, data_hours == 0],
                       ["", STATUS_NOT_COMPLIANT, STATUS_NO_DATA], STATUS_COMPLIANT)
    return ReductionAudit(names, status, required_hours, data_hours, over_hours, findings)


def _medians(values: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(median, count of valid values) per row over the columns in `mask`; NaN where none."""
    masked = np.where(mask, values, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows: median NaN is the answer
        median = np.nanmedian(masked, axis=1)
    return median, np.count_nonzero(~np.isnan(masked), axis=1)


def _pair(before: float, during: float, change: float, change_name: str) -> dict[str, Any]:
    """Evidence for one signal: its two medians and how they compare (None where missing)."""
    return {"median_before": rounded(float(before), DECIMALS),
            "median_during": rounded(float(during), DECIMALS),
            change_name: rounded(float(change), DECIMALS)}


def _unchanged(before: np.ndarray, during: np.ndarray, change: np.ndarray,
               limit: float) -> np.ndarray:
    """Per source: |change| within `limit`, or the signal missing in both periods (no check)."""
    return (np.isnan(before) & np.isnan(during)) | (np.abs(change) <= limit)


def detect_step_drop(
    sources: Sequence[str],
    times: np.ndarray,
    concentration: Mapping[str, np.ndarray],
    flow: np.ndarray,
    o2: np.ndarray,
    temperature: np.ndarray,
    reduction_start: np.ndarray,
    reduction_end: np.ndarray,
    *,
    reference_hours: int = 24,
    min_drop: float = 0.3,
    flow_tolerance: float = 0.1,
    temperature_tolerance: float = 0.1,
    o2_tolerance_pp: float = 1.0,
    min_hours: int = 3,
) -> list[Finding]:
    """Findings of type "step_drop": concentration fell at the alert while the process did not.

    A real cut lowers load, so flow (and usually temperature, O2) move with the concentration;
    a concentration that drops by ≥ `min_drop` of its median while the medians of flow (m³/s,
    ratio within `flow_tolerance`), temperature (°C, ratio within `temperature_tolerance`) and
    O2 (%, within `o2_tolerance_pp` points) stay put points at a tampered analyser or a faked
    cut. Compared: the `reference_hours` columns before `reduction_start` (S,) (clipped to the
    window; -1 = no reduction for that source) and [start, `reduction_end`). Concentration and
    flow need ≥ `min_hours` valid values in each period; the temperature or O2 check is skipped
    only when that signal is missing in both periods (missing in one: not flagged). Arrays are
    (S, T), `concentration[p]` mg/m³ at reference O2, NaN = missing. Start = first hour from
    reduction_start at or below the midpoint of the two medians, end = last valid hour in the
    period; score = drop share 1 − during/before. Ordered by pollutant, then source.
    """
    names = tuple(sources)
    hours = _hour_starts(times)
    n_sources, n_times = shape = (len(names), hours.size)
    flow_m, o2_m, temperature_m = (_array(name, value, shape) for name, value in
                                   (("flow", flow), ("o2", o2), ("temperature", temperature)))
    start, end = np.asarray(reduction_start), np.asarray(reduction_end)
    for name, array in (("reduction_start", start), ("reduction_end", end)):
        if array.shape != (n_sources,) or not np.issubdtype(array.dtype, np.integer):
            raise ValueError(f"{name} must be integer columns shaped ({n_sources},)")
    active = start >= 0
    if np.any(start < -1) or np.any(active & ((start >= n_times) | (end <= start) |
                                              (end > n_times))):
        raise ValueError("each reduction must satisfy 0 ≤ start < end ≤ len(times), or start = -1")
    if reference_hours < 1 or min_hours < 1 or not 0 < min_drop < 1:
        raise ValueError("need reference_hours ≥ 1, min_hours ≥ 1 and 0 < min_drop < 1")
    if not active.any():
        return []
    columns = np.arange(n_times)
    first_reference = np.maximum(start - reference_hours, 0)
    before = active[:, None] & (columns >= first_reference[:, None]) & (columns < start[:, None])
    during = active[:, None] & (columns >= start[:, None]) & (columns < end[:, None])
    (flow_b, flow_nb), (flow_d, flow_nd) = _medians(flow_m, before), _medians(flow_m, during)
    o2_b, o2_d = _medians(o2_m, before)[0], _medians(o2_m, during)[0]
    temp_b, temp_d = _medians(temperature_m, before)[0], _medians(temperature_m, during)[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        flow_ratio, temp_ratio = flow_d / flow_b, temp_d / temp_b
    o2_change = o2_d - o2_b
    steady = (active & (flow_nb >= min_hours) & (flow_nd >= min_hours)
              & (np.abs(flow_ratio - 1) <= flow_tolerance)
              & _unchanged(temp_b, temp_d, temp_ratio - 1, temperature_tolerance)
              & _unchanged(o2_b, o2_d, o2_change, o2_tolerance_pp))
    thresholds = {"min_drop": min_drop, "flow_tolerance": flow_tolerance,
                  "temperature_tolerance": temperature_tolerance,
                  "o2_tolerance_pp": o2_tolerance_pp, "min_hours": min_hours}
    findings: list[Finding] = []
    for pollutant, data in concentration.items():
        conc = _array(f"concentration[{pollutant!r}]", data, shape)
        (conc_b, conc_nb), (conc_d, conc_nd) = _medians(conc, before), _medians(conc, during)
        flagged = (steady & (conc_nb >= min_hours) & (conc_nd >= min_hours) & (conc_b > 0)
                   & (conc_d <= (1 - min_drop) * conc_b))
        valid_during = during & ~np.isnan(conc)
        dropped = valid_during & (conc <= ((conc_b + conc_d) / 2)[:, None])
        first = np.where(dropped.any(axis=1), dropped.argmax(axis=1), start)
        last = n_times - 1 - valid_during[:, ::-1].argmax(axis=1)
        for row in np.flatnonzero(flagged):
            ratio = float(conc_d[row] / conc_b[row])
            evidence = {
                "reference_hours": int(start[row] - first_reference[row]),
                "reduction_hours": int(end[row] - start[row]),
                "valid_hours_before": int(conc_nb[row]),
                "valid_hours_during": int(conc_nd[row]),
                "concentration_mgm3": _pair(conc_b[row], conc_d[row], ratio, "ratio"),
                "flow_m3s": _pair(flow_b[row], flow_d[row], flow_ratio[row], "ratio"),
                "o2_pct": _pair(o2_b[row], o2_d[row], o2_change[row], "change_pp"),
                "temperature_c": _pair(temp_b[row], temp_d[row], temp_ratio[row], "ratio"),
                "thresholds": dict(thresholds),
            }
            findings.append(Finding(STEP_DROP, names[row], pollutant, as_utc(hours[first[row]]),
                                    as_utc(hours[last[row]]), 1.0 - ratio, evidence))
    return findings
