"""bunching, dilution and step_drop on simulated CEMS stacks (simulators/cems_*).

The register's six outlets run 30 winter days (the gas boiler's heating season) minute by
minute; each detector must find the pattern cems_injections.py writes (right source,
pollutant and hours) and stay silent on the clean run and on the look-alikes it must not
confuse with it: a plant near its limit, a real load cut, a stop, the other detectors' types.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from support.falsification_data import cems_minute_series

import config
from analytics.falsification.audit_series import AuditSeries
from analytics.falsification.bunching import BunchingSettings, detect_bunching
from analytics.falsification.dilution import DilutionSettings, detect_dilution
from analytics.falsification.step_drop import StepDropSettings, detect_step_drop
from analytics.findings import Finding
from config.outlets import Outlet, load_outlets
from simulators.cems_injections import Injection, simulate_cems
from simulators.cems_model import SHANGHAI, generate_cems

START = datetime(2026, 1, 5, tzinfo=SHANGHAI)  # heating season: the gas boiler runs too
DAYS = 30
SEED = 7
PARAMETERS = ("particulate", "so2", "nox", "o2", "flow", "temperature", "moisture")
OUTLETS: list[Outlet] = load_outlets(Path(config.__file__).parent / "outlets.yaml").outlets
# One stack per industry (the register's second power unit left out).
MN = {o.industry: o.mn for o in reversed(OUTLETS)}


def at(day: int, hour: int) -> datetime:
    """Local time `day` days and `hour` hours after the start."""
    return START + timedelta(days=day, hours=hour)


def simulated(*injections: Injection) -> AuditSeries:
    """Hourly means of the 30-day run with `injections` (stops kept clear of them)."""
    return cems_minute_series(simulate_cems(OUTLETS, START, DAYS * 24, seed=SEED,
                                       injections=injections)).hourly()


@pytest.fixture(scope="module")
def clean() -> AuditSeries:
    return cems_minute_series(generate_cems(OUTLETS, START, DAYS * 24, seed=SEED)).hourly()


def assert_one(findings: list[Finding], type_: str, mn: str, pollutant: str, start: datetime,
               end: datetime, tolerance_h: float = 2.0) -> Finding:
    """Exactly one finding, of this type, source and pollutant, with start and end (the last
    hour start of the injected span [start, end)) within `tolerance_h` hours."""
    assert len(findings) == 1, findings
    found = findings[0]
    assert (found.type, found.source, found.pollutant) == (type_, mn, pollutant)
    tolerance = timedelta(hours=tolerance_h)
    assert abs(found.start - start) <= tolerance, (found.start, start)
    assert abs(found.end - (end - timedelta(hours=1))) <= tolerance, (found.end, end)
    return found


def with_values(series: AuditSeries, row: int, **changes: np.ndarray) -> AuditSeries:
    """`series` with parameters of source `row` replaced (each a (T,) array)."""
    values = {p: v.copy() for p, v in series.values.items()}
    for p, new in changes.items():
        values[p][row] = new
    return replace(series, values=values)


# ------------------------------------------------------------------------------ bunching


def test_bunching_found_on_hourly_and_minute_grids() -> None:
    injection = Injection(MN["power"], "nox", "bunching", at(10, 8), at(13, 2),
                          {"low": 0.86, "high": 0.98})
    run = simulate_cems(OUTLETS, START, DAYS * 24, seed=SEED, injections=[injection])
    for series in (cems_minute_series(run), cems_minute_series(run).hourly()):
        found = assert_one(detect_bunching(series), "bunching", MN["power"], "nox",
                           injection.start, injection.end)
        assert found.evidence["share_in_band"] >= 0.8
        assert found.evidence["hours_above_limit"] == 0
        assert found.evidence["normal_share_in_band"] == 0.0
        assert found.evidence["limit_mgm3"] == 50.0


def test_bunching_quiet_on_clean_stacks(clean: AuditSeries) -> None:
    assert detect_bunching(clean) == []


def test_bunching_quiet_on_a_plant_running_near_its_limit(clean: AuditSeries) -> None:
    """0.95 × limit with its normal variability spills over the limit: a real process."""
    row = clean.sources.index(MN["steel"])
    limit = clean.limit("nox")[row]
    scale = 0.95 * limit / np.nanmedian(clean.converted("nox")[row])
    near = with_values(clean, row, nox=clean.values["nox"][row] * scale)
    assert np.nansum(near.converted("nox")[row] > limit) > 24  # it does exceed sometimes
    assert detect_bunching(near) == []


def test_bunching_quiet_on_a_plant_always_just_under_its_limit(clean: AuditSeries) -> None:
    """A source that runs at 0.9 × limit with a narrow band all month runs that way: nothing
    elsewhere in its own data says the band is abnormal."""
    row = clean.sources.index(MN["cement"])
    nox = clean.values["nox"][row]
    level = np.nanmedian(nox)
    steady = level + 0.3 * (nox - level)
    scale = 0.9 * clean.limit("nox")[row] / np.nanmedian(clean.converted("nox")[row])
    assert detect_bunching(with_values(clean, row, nox=steady * scale)) == []


def test_bunching_ignores_other_falsifications() -> None:
    series = simulated(
        Injection(MN["power"], "so2", "exceedance", at(5, 9), at(5, 17), {"factor": 2.0}),
        Injection(MN["cement"], "nox", "step_drop", at(12, 0), at(14, 0), {"ratio": 0.4}),
        Injection(MN["coking"], "all", "dilution", at(20, 3), at(21, 3),
                  {"air_fraction": 0.4}))
    assert detect_bunching(series) == []


# ------------------------------------------------------------------------------ dilution


def test_dilution_found_with_its_air_fraction() -> None:
    injection = Injection(MN["cement"], "all", "dilution", at(14, 6), at(14, 18),
                          {"air_fraction": 0.3})
    run = simulate_cems(OUTLETS, START, DAYS * 24, seed=SEED, injections=[injection])
    for series in (cems_minute_series(run), cems_minute_series(run).hourly()):
        found = assert_one(detect_dilution(series), "dilution", MN["cement"], "all",
                           injection.start, injection.end)
        implied = found.evidence["implied_air_fraction"]
        assert implied["o2"] == pytest.approx(0.3, abs=0.05)
        assert implied["flow"] == pytest.approx(0.3, abs=0.08)
        assert found.evidence["flow_m3h"]["ratio"] > 1.3


def test_dilution_found_at_night_on_a_daily_load_cycle() -> None:
    """The power unit's O2 and flow follow its load; the baseline is the same hour's."""
    injection = Injection(MN["power"], "all", "dilution", at(9, 22), at(10, 4),
                          {"air_fraction": 0.2})
    assert_one(detect_dilution(simulated(injection)), "dilution", MN["power"], "all",
               injection.start, injection.end)


def test_dilution_found_from_flow_alone_without_moisture() -> None:
    """The live window carries O2, flow and temperature, no moisture."""
    injection = Injection(MN["steel"], "all", "dilution", at(18, 0), at(19, 12),
                          {"air_fraction": 0.25})
    series = simulated(injection)
    live = replace(series, values={p: v for p, v in series.values.items() if p != "moisture"},
                   flags={p: f for p, f in series.flags.items() if p != "moisture"})
    assert_one(detect_dilution(live), "dilution", MN["steel"], "all", injection.start,
               injection.end)


def test_dilution_quiet_on_clean_stacks(clean: AuditSeries) -> None:
    assert detect_dilution(clean) == []


def test_dilution_quiet_on_a_real_load_cut() -> None:
    """An emergency cut lowers flow with the pollutants: O2 does not rise, flow falls."""
    series = simulated(Injection(MN["power"], "all", "emission_cut", at(8, 0), at(10, 0),
                                 {"cut": 0.4}),
                       Injection(MN["cement"], "nox", "step_drop", at(20, 0), at(21, 0),
                                 {"ratio": 0.3}))
    assert detect_dilution(series) == []


def test_dilution_quiet_on_a_stop(clean: AuditSeries) -> None:
    """A stop: O2 → ambient, flow → 0, nothing to measure; flagged F (bundle) or with O2 and
    flow left unflagged (live window, where only the pollutants carry F)."""
    row = clean.sources.index(MN["coking"])
    span = slice(200, 212)
    values = {p: v.copy() for p, v in clean.values.items()}
    flags = {p: f.copy() for p, f in clean.flags.items()}
    values["o2"][row, span] = 20.85
    values["flow"][row, span] = 50.0
    values["moisture"][row, span] = 1.6
    for p in ("particulate", "so2", "nox"):
        values[p][row, span] = 0.05
        flags[p][row, span] = b"F"
    live = replace(clean, values=values, flags=flags)
    assert detect_dilution(live) == []
    for p in ("o2", "flow", "moisture", "temperature"):
        flags[p][row, span] = b"F"
    assert detect_dilution(replace(clean, values=values, flags=flags)) == []


def test_dilution_ignores_stations_and_empty_series(clean: AuditSeries) -> None:
    empty = clean.rows(np.arange(0))
    assert detect_dilution(empty) == []
    station = AuditSeries("station", ("S1",), clean.times,
                          {"pm25": np.ones((1, clean.shape[1]))})
    assert detect_dilution(station, DilutionSettings()) == []


# ------------------------------------------------------------------------------ step_drop


def test_step_drop_found_at_the_change_hour() -> None:
    injection = Injection(MN["coking"], "so2", "step_drop", at(11, 9), at(12, 21),
                          {"ratio": 0.4})
    run = simulate_cems(OUTLETS, START, DAYS * 24, seed=SEED, injections=[injection])
    for series in (cems_minute_series(run), cems_minute_series(run).hourly()):
        found = assert_one(detect_step_drop(series), "step_drop", MN["coking"], "so2",
                           injection.start, injection.end, tolerance_h=3)
        assert found.evidence["concentration_mgm3"]["ratio"] == pytest.approx(0.4, abs=0.1)
        assert found.evidence["flow_m3h"]["after"] == pytest.approx(
            found.evidence["flow_m3h"]["usual"], rel=0.1)
        assert found.score == pytest.approx(0.6, abs=0.1)


def test_step_drop_found_on_a_daily_load_cycle() -> None:
    injection = Injection(MN["power"], "nox", "step_drop", at(16, 20), at(19, 8),
                          {"ratio": 0.55})
    assert_one(detect_step_drop(simulated(injection)), "step_drop", MN["power"], "nox",
               injection.start, injection.end, tolerance_h=3)


def test_step_drop_quiet_on_clean_stacks(clean: AuditSeries) -> None:
    assert detect_step_drop(clean) == []


def test_step_drop_quiet_when_the_process_moved() -> None:
    """A real load cut (flow down with the pollutants) and dilution (O2 and flow up) explain
    the fall; bunching's end and an exceedance's end are no drop below the usual level."""
    series = simulated(
        Injection(MN["power"], "all", "emission_cut", at(6, 0), at(8, 0), {"cut": 0.45}),
        Injection(MN["steel"], "nox", "emission_cut", at(9, 0), at(11, 0), {"cut": 0.5}),
        Injection(MN["cement"], "all", "dilution", at(15, 0), at(16, 12),
                  {"air_fraction": 0.5}),
        Injection(MN["coking"], "so2", "bunching", at(10, 0), at(15, 0),
                  {"low": 0.86, "high": 0.98}),
        Injection(MN["boiler"], "nox", "exceedance", at(20, 0), at(20, 11), {"factor": 2.5}))
    assert detect_step_drop(series) == []


def test_step_drop_quiet_on_a_stop(clean: AuditSeries) -> None:
    """Twelve hours stopped (F, flow ≈ 0) and back: no drop at the shutdown."""
    row = clean.sources.index(MN["steel"])
    span = slice(300, 312)
    values = {p: v.copy() for p, v in clean.values.items()}
    flags = {p: f.copy() for p, f in clean.flags.items()}
    values["flow"][row, span] = 100.0
    values["o2"][row, span] = 20.8
    for p in ("particulate", "so2", "nox"):
        values[p][row, span] = 0.05
        flags[p][row, span] = b"F"
    assert detect_step_drop(replace(clean, values=values, flags=flags)) == []


def test_step_drop_needs_flow_or_o2(clean: AuditSeries) -> None:
    only = replace(clean, values={p: clean.values[p] for p in ("so2", "temperature")},
                   flags={})
    assert detect_step_drop(only, StepDropSettings()) == []


def test_settings_are_plain_values() -> None:
    """Defaults are plain numbers (YAML overrides coerce into them)."""
    for settings in (BunchingSettings(), DilutionSettings(), StepDropSettings()):
        for value in vars(settings).values():
            assert isinstance(value, int | float | tuple | str | bool)
