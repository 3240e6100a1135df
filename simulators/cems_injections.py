"""Falsification and fault patterns written into simulated CEMS data (shared/domain.md §7).

Each type leaves the data signature an auditor looks for; the applied injections travel with
the run (`CemsRun.injections`) and become ground truth through cems_truth.py. The finding
`type` names are those of shared/formats.md §3.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, tzinfo
from typing import Any

import numpy as np

from config.outlets import Outlet
from simulators.cems_model import (
    PARAMETERS,
    SHANGHAI,
    CemsRun,
    OutletSeries,
    generate_cems,
)
from simulators.cems_physics import AMBIENT_MOISTURE_PCT
from simulators.cems_profiles import AIR_O2_PCT, POLLUTANTS

# type → default parameters (what `params` may override); documented in apply_injections.
DEFAULT_PARAMS: dict[str, dict[str, Any]] = {
    "exceedance": {"factor": 1.6},
    "flatline": {},
    "low_variance": {"ratio": 0.03},
    "bunching": {"low": 0.86, "high": 0.99},
    "dilution": {"air_fraction": 0.4},
    "gap_at_peak": {"factor": 1.8, "shoulder_min": 60, "scope": "pollutant"},
    "flag_abuse": {"factor": 1.8, "shoulder_min": 60, "flag": "M"},
    "step_drop": {"ratio": 0.35},
    "copy_paste": {"source_offset_days": -1},
    "impossible_value": {"mode": "negative", "value": -20.0},
    "emission_cut": {"cut": 0.35},
}
# Real behaviour, not manipulation: no finding is expected for these (cems_truth skips them).
LEGITIMATE_TYPES = frozenset({"emission_cut"})
INJECTION_TYPES: tuple[str, ...] = tuple(DEFAULT_PARAMS)
# Types that only make sense while the stack runs (a stopped stack has nothing to hide).
_NEEDS_RUNNING = frozenset(INJECTION_TYPES) - {"copy_paste", "impossible_value"}
_SHOULDER_LEVEL = 0.85  # a hidden peak's visible flanks climb to this share of the limit


@dataclass(frozen=True)
class Injection:
    """One pattern on one stack: `type` applied to `pollutant` over [start, end) (aware).

    `pollutant` is particulate, so2 or nox (``all`` too for dilution and copy_paste, which act
    on every parameter); `params` override DEFAULT_PARAMS[type].
    """

    mn: str
    pollutant: str
    type: str
    start: datetime
    end: datetime
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.type not in DEFAULT_PARAMS:
            raise ValueError(f"unknown injection type {self.type!r}; one of "
                             f"{', '.join(INJECTION_TYPES)}")
        allowed = POLLUTANTS + (("all",) if self.type in ("dilution", "copy_paste",
                                                           "emission_cut") else ())
        if self.pollutant not in allowed:
            raise ValueError(f"{self.type} injection: pollutant {self.pollutant!r} is not one "
                             f"of {', '.join(allowed)}")
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("injection start and end must be timezone-aware")
        if self.end <= self.start:
            raise ValueError(f"injection ends ({self.end}) before it starts ({self.start})")
        unknown = set(self.params) - set(DEFAULT_PARAMS[self.type])
        if unknown:
            raise ValueError(f"{self.type} injection: unknown params {sorted(unknown)}; "
                             f"known: {sorted(DEFAULT_PARAMS[self.type])}")

    def resolved_params(self) -> dict[str, Any]:
        """Defaults overridden by `params`: what was actually applied."""
        return {**DEFAULT_PARAMS[self.type], **self.params}


def simulate_cems(outlets: Sequence[Outlet], start: datetime, hours: float, *, seed: int = 0,
                  tz: tzinfo = SHANGHAI, injections: Sequence[Injection] = ()) -> CemsRun:
    """generate_cems with stops and upkeep kept clear of the injections, then apply them."""
    run = generate_cems(outlets, start, hours, seed=seed, tz=tz, keep_clear=injections)
    return apply_injections(run, injections, seed=seed)


def apply_injections(run: CemsRun, injections: Sequence[Injection], *, seed: int = 0) -> CemsRun:
    """A new run with `injections` applied in order (the input run is not modified).

    Pollutant levels are set on the reference-O2 basis, then diluted back to measured values
    with the minute's O2. Per type:
    exceedance — converted level `factor` × limit, the minute-to-minute variation kept;
    flatline — the value stuck at the span's first value, no within-minute spread;
    low_variance — deviations from the span's mean shrunk to `ratio`;
    bunching — converted values uniform in [`low`, `high`] × limit (piled under the limit);
    dilution — a fraction `air_fraction` of ambient air drawn in: O2 → 20.9 % in proportion,
    flow and velocity up by 1/(1 − a), every pollutant and the moisture down by (1 − a);
    gap_at_peak / flag_abuse — a peak of `factor` × limit over the span with flanks rising to
    0.85 × limit over `shoulder_min` either side; inside the span the values are removed
    (`scope` pollutant or all parameters) or flagged `flag`;
    step_drop — values × `ratio` from start to end (flow, O2 and temperature untouched: the
    signature of a faked cut); emission_cut — a real emergency cut: load and abatement reduce
    the pollutant (``all``: every one) and the flue-gas flow and velocity by `cut`;
    copy_paste — values, spreads and flags copied from `source_offset_days` days earlier;
    impossible_value — ``negative``: `value`
    (default −20 mg/m³), ``over_range``: 1.2 × the analyser's range, flag left N.
    ValueError when a window leaves the run, the stack is stopped in it (types needing a
    running stack) or the pollutant has no limit where the type needs one.
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x1A7]))
    series = {mn: _copy(s) for mn, s in run.series.items()}
    for injection in injections:
        if injection.mn not in series:
            raise ValueError(f"injection on unknown MN {injection.mn}")
        _apply(run, series[injection.mn], injection, rng)
    return replace(run, series=series, injections=run.injections + tuple(injections))


def _copy(s: OutletSeries) -> OutletSeries:
    return replace(s, values={p: v.copy() for p, v in s.values.items()},
                   spread={p: v.copy() for p, v in s.spread.items()},
                   flags={p: v.copy() for p, v in s.flags.items()})


def _span(run: CemsRun, injection: Injection) -> slice:
    a = run.minute_index(injection.start)
    b = math.ceil((injection.end - run.start).total_seconds() / 60)
    if a < 0 or b > run.n_minutes:
        raise ValueError(f"{injection.type} injection {injection.start}–{injection.end} on "
                         f"{injection.mn} leaves the simulated span")
    return slice(a, b)


def _dilution_factor(s: OutletSeries) -> np.ndarray:
    """measured / converted for every minute: (21 − O2) / (21 − reference O2), 1 if none."""
    if s.outlet.reference_o2 is None:
        return np.ones_like(s.values["o2"])
    return np.clip(21.0 - s.values["o2"], 0.01, None) / (21.0 - s.outlet.reference_o2)


def _limit(s: OutletSeries, injection: Injection) -> float:
    limit = s.outlet.limits.get(injection.pollutant)
    if limit is None:
        raise ValueError(f"{injection.type} injection on {injection.mn}: no {injection.pollutant}"
                         " limit in the outlet register")
    return limit


def _set(s: OutletSeries, p: str, span: slice, new: np.ndarray, spread_share: float = 0.04
         ) -> None:
    s.values[p][span] = new
    s.spread[p][span] = spread_share * np.abs(new)


Span = slice
Params = Mapping[str, Any]


def _apply(run: CemsRun, s: OutletSeries, inj: Injection, rng: np.random.Generator) -> None:
    span = _span(run, inj)
    if inj.type in _NEEDS_RUNNING and np.any(s.flags["o2"][span] == "F"):
        raise ValueError(f"{inj.mn} is stopped during part of the {inj.type} injection "
                         f"{inj.start}–{inj.end} (unit stop or out of season); pick a time "
                         "when it runs")
    _APPLIERS[inj.type](run, s, inj, span, inj.resolved_params(), rng)


def _exceedance(run: CemsRun, s: OutletSeries, inj: Injection, span: Span, par: Params,
                rng: np.random.Generator) -> None:
    factor = _dilution_factor(s)[span]
    converted = s.values[inj.pollutant][span] / factor
    shape = converted / np.nanmean(converted)  # keep the minute-to-minute variation
    _set(s, inj.pollutant, span, par["factor"] * _limit(s, inj) * shape * factor)


def _flatline(run: CemsRun, s: OutletSeries, inj: Injection, span: Span, par: Params,
              rng: np.random.Generator) -> None:
    s.values[inj.pollutant][span] = s.values[inj.pollutant][span.start]
    s.spread[inj.pollutant][span] = 0.0


def _low_variance(run: CemsRun, s: OutletSeries, inj: Injection, span: Span, par: Params,
                  rng: np.random.Generator) -> None:
    values = s.values[inj.pollutant]
    mean = np.nanmean(values[span])
    values[span] = mean + (values[span] - mean) * par["ratio"]
    s.spread[inj.pollutant][span] *= par["ratio"]


def _bunching(run: CemsRun, s: OutletSeries, inj: Injection, span: Span, par: Params,
              rng: np.random.Generator) -> None:
    level = rng.uniform(par["low"], par["high"], span.stop - span.start) * _limit(s, inj)
    _set(s, inj.pollutant, span, level * _dilution_factor(s)[span], 0.01)


def _dilution(run: CemsRun, s: OutletSeries, inj: Injection, span: Span, par: Params,
              rng: np.random.Generator) -> None:
    _dilute(s, span, float(par["air_fraction"]))


def _hidden_peak(run: CemsRun, s: OutletSeries, inj: Injection, span: Span, par: Params,
                 rng: np.random.Generator) -> None:
    if inj.type == "flag_abuse" and (len(str(par["flag"])) != 1
                                     or str(par["flag"]) not in "FMSDCTB"):
        raise ValueError(f"flag_abuse flag {par['flag']!r} is not an abnormal HJ 212 flag")
    _peak(run, s, inj, span, par, rng)
    if inj.type == "flag_abuse":
        s.flags[inj.pollutant][span] = par["flag"]
        return
    for q in (PARAMETERS if par["scope"] == "all" else (inj.pollutant,)):
        s.values[q][span] = math.nan


def _step_drop(run: CemsRun, s: OutletSeries, inj: Injection, span: Span, par: Params,
               rng: np.random.Generator) -> None:
    s.values[inj.pollutant][span] *= par["ratio"]
    s.spread[inj.pollutant][span] *= par["ratio"]


def _emission_cut(run: CemsRun, s: OutletSeries, inj: Injection, span: Span, par: Params,
                  rng: np.random.Generator) -> None:
    keep = 1.0 - float(par["cut"])
    if not 0.0 <= keep <= 1.0:
        raise ValueError(f"emission_cut on {inj.mn}: cut {par['cut']} is not a share 0-1")
    for q in (*(POLLUTANTS if inj.pollutant == "all" else (inj.pollutant,)), "flow",
              "velocity"):
        s.values[q][span] *= keep
        s.spread[q][span] *= keep


def _copy_paste(run: CemsRun, s: OutletSeries, inj: Injection, span: Span, par: Params,
                rng: np.random.Generator) -> None:
    shift = round(float(par["source_offset_days"]) * 1440)
    if span.start + shift < 0 or span.stop + shift > run.n_minutes or shift == 0:
        raise ValueError(f"copy_paste on {inj.mn}: the source day lies outside the run")
    source = slice(span.start + shift, span.stop + shift)
    for q in (PARAMETERS if inj.pollutant == "all" else (inj.pollutant,)):
        s.values[q][span] = s.values[q][source]
        s.spread[q][span] = s.spread[q][source]
        s.flags[q][span] = s.flags[q][source]


def _impossible_value(run: CemsRun, s: OutletSeries, inj: Injection, span: Span, par: Params,
                      rng: np.random.Generator) -> None:
    if par["mode"] == "over_range":
        value = 1.2 * s.profile.analyser_range_mgm3[inj.pollutant]
    elif par["mode"] == "negative":
        value = -abs(float(par["value"]))
    else:
        raise ValueError(f"impossible_value mode {par['mode']!r} is not negative/over_range")
    noise = 1 + 0.03 * rng.standard_normal(span.stop - span.start)
    _set(s, inj.pollutant, span, value * noise, 0.01)


def _dilute(s: OutletSeries, span: Span, air: float) -> None:
    if not 0 < air < 1:
        raise ValueError(f"dilution air_fraction {air} must lie in (0, 1)")
    for q in POLLUTANTS:
        s.values[q][span] *= 1 - air
        s.spread[q][span] *= 1 - air
    s.values["o2"][span] = s.values["o2"][span] * (1 - air) + AIR_O2_PCT * air
    s.values["moisture"][span] = (s.values["moisture"][span] * (1 - air)
                                  + AMBIENT_MOISTURE_PCT * air)
    for q in ("flow", "velocity"):
        s.values[q][span] /= 1 - air
        s.spread[q][span] /= 1 - air


def _peak(run: CemsRun, s: OutletSeries, inj: Injection, span: Span, par: Params,
          rng: np.random.Generator) -> None:
    """A pollution peak over `span` whose visible flanks climb to 0.85 × limit either side."""
    p = inj.pollutant
    limit = _limit(s, inj)
    factor = _dilution_factor(s)
    values = s.values[p]
    k = span.stop - span.start
    values[span] = par["factor"] * limit * factor[span] * np.exp(0.05 * rng.standard_normal(k))
    shoulder = int(par["shoulder_min"])
    before = slice(max(span.start - shoulder, 0), span.start)
    after = slice(span.stop, min(span.stop + shoulder, run.n_minutes))
    for part, rising in ((before, True), (after, False)):
        n = part.stop - part.start
        if n <= 0:
            continue
        weight = np.arange(1, n + 1) / n if rising else np.arange(n, 0, -1) / n
        converted = values[part] / factor[part]
        lift = np.clip(_SHOULDER_LEVEL * limit - converted, 0, None) * weight
        values[part] = (converted + lift * (1 + 0.03 * rng.standard_normal(n))) * factor[part]
        s.spread[p][part] = 0.04 * values[part]


# type → how it is applied: a new type is one function and one line here.
_APPLIERS: dict[str, Callable[[CemsRun, OutletSeries, Injection, Span, Params,
                               np.random.Generator], None]] = {
    "exceedance": _exceedance,
    "flatline": _flatline,
    "low_variance": _low_variance,
    "bunching": _bunching,
    "dilution": _dilution,
    "gap_at_peak": _hidden_peak,
    "flag_abuse": _hidden_peak,
    "step_drop": _step_drop,
    "copy_paste": _copy_paste,
    "impossible_value": _impossible_value,
    "emission_cut": _emission_cut,
}
