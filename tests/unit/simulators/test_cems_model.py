"""The CEMS model: seeded, physically consistent, compliant when clean, states flagged right."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from config.outlets import Outlet
from simulators.cems_model import (
    PARAMETERS,
    SHANGHAI,
    CemsRun,
    OutletSeries,
    generate_cems,
)
from simulators.cems_noise import ar1, exp_filter, local_seconds

CEMS_START = datetime(2026, 1, 10, tzinfo=SHANGHAI)  # heating season: the boiler runs too
DAYS = 45


@pytest.fixture(scope="module")
def long_run(cems_outlets: list[Outlet]) -> CemsRun:
    return generate_cems(cems_outlets, CEMS_START, DAYS * 24, seed=11)


def hourly_converted(series: OutletSeries, pollutant: str) -> np.ndarray:
    """Hourly converted means of N minutes (≥ 45 of them, else NaN); the run starts on an hour."""
    valid = (series.flags[pollutant] == "N") & (series.flags["o2"] == "N")
    n = len(valid) // 60 * 60
    shape = (-1, 60)
    count = valid[:n].reshape(shape).sum(1)
    conc = np.where(valid, series.values[pollutant], 0.0)[:n].reshape(shape).sum(1)
    o2 = np.where(valid, series.values["o2"], 0.0)[:n].reshape(shape).sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ref = series.outlet.reference_o2
        converted = conc / count * (21 - ref) / (21 - o2 / count)
    return np.where(count >= 45, converted, np.nan)


def test_shapes_units_and_grid(long_run: CemsRun, cems_outlets: list[Outlet]) -> None:
    assert long_run.n_minutes == DAYS * 1440
    assert long_run.start == CEMS_START
    assert list(long_run.series) == [o.mn for o in cems_outlets]
    assert long_run.times[0] == np.datetime64("2026-01-09T16:00:00")  # 00:00 local = 16:00Z
    for series in long_run.series.values():
        assert set(series.values) == set(series.flags) == set(series.spread) == set(PARAMETERS)
        for p in PARAMETERS:
            assert series.values[p].shape == (long_run.n_minutes,)
            assert np.all(series.spread[p] >= 0)
            assert set(np.unique(series.flags[p])) <= set("NFMCD")
        assert np.all((series.values["o2"] >= 0) & (series.values["o2"] < 21))


def test_same_seed_same_data_other_seed_other_data(cems_outlets: list[Outlet]) -> None:
    a = generate_cems(cems_outlets, CEMS_START, 72, seed=5)
    b = generate_cems(cems_outlets, CEMS_START, 72, seed=5)
    c = generate_cems(cems_outlets, CEMS_START, 72, seed=6)
    for mn in a.series:
        for p in PARAMETERS:
            assert_array_equal(a.series[mn].values[p], b.series[mn].values[p])
            assert_array_equal(a.series[mn].flags[p], b.series[mn].flags[p])
        assert a.series[mn].events == b.series[mn].events
        assert not np.array_equal(a.series[mn].values["so2"], c.series[mn].values["so2"])


def test_a_stack_does_not_depend_on_the_others(cems_outlets: list[Outlet]) -> None:
    alone = generate_cems(cems_outlets[:1], CEMS_START, 48, seed=5)
    together = generate_cems(cems_outlets, CEMS_START, 48, seed=5)
    mn = cems_outlets[0].mn
    assert_array_equal(alone.series[mn].values["nox"], together.series[mn].values["nox"])


def test_clean_stacks_never_exceed_their_hourly_limits(long_run: CemsRun) -> None:
    for series in long_run.series.values():
        for pollutant, limit in series.outlet.limits.items():
            hourly = hourly_converted(series, pollutant)
            assert np.nanmax(hourly) < 0.85 * limit, (series.outlet.industry, pollutant)
            assert np.nanmin(hourly) > 0.1 * limit


def test_every_kind_of_event_occurs_and_is_flagged_in_its_window(long_run: CemsRun) -> None:
    kinds = set()
    for series in long_run.series.values():
        for event in series.events:
            kinds.add(event.kind)
            a, b = long_run.minute_index(event.start), long_run.minute_index(event.end)
            assert 0 <= a < b <= long_run.n_minutes
            letter = {"stop": "F", "maintenance": "M", "calibration": "C", "fault": "D"}
            if event.kind == "stop":  # analysers may calibrate while the unit stands
                assert np.all(series.flags["flow"][a:b] == "F")
                assert np.all(series.flags["temperature"][a:b] == "F")
            elif event.kind == "fault":  # a later calibration or visit may overwrite it
                assert np.isin(series.flags[event.parameters[0]][a:b], list("DCM")).all()
            else:
                for p in event.parameters:
                    assert np.all(series.flags[p][a:b] == letter[event.kind]), event
    assert kinds == {"stop", "maintenance", "calibration", "fault"}


def test_flags_are_normal_outside_events(long_run: CemsRun) -> None:
    for series in long_run.series.values():
        covered = {p: np.zeros(long_run.n_minutes, dtype=bool) for p in PARAMETERS}
        for event in series.events:
            a, b = long_run.minute_index(event.start), long_run.minute_index(event.end)
            for p in event.parameters:
                covered[p][a:b] = True
        for p in PARAMETERS:
            assert np.all(series.flags[p][~covered[p]] == "N"), p


def test_calibration_is_daily_zero_then_span_in_the_early_morning(long_run: CemsRun) -> None:
    series = next(iter(long_run.series.values()))
    calibrations = [e for e in series.events if e.kind == "calibration"]
    assert len(calibrations) == DAYS
    for event in calibrations:
        local = event.start.astimezone(SHANGHAI)
        assert 2 <= local.hour < 4
        a = long_run.minute_index(event.start)
        so2 = series.values["so2"]
        assert so2[a:a + 5].max() < 2.0  # zero gas
        assert so2[a + 5:a + 10].min() > 100.0  # span gas: 80 % of a 200 mg/m³ range
        assert abs(series.values["o2"][a + 5:a + 10].mean() - 20.9) < 0.2
    assert any("particulate" in e.parameters for e in calibrations)  # weekly


def test_stopped_stack_breathes_air_and_restarts_on_a_ramp(long_run: CemsRun) -> None:
    stops = [(mn, e) for mn, s in long_run.series.items() for e in s.events
             if e.kind == "stop" and e.end < long_run.at(long_run.n_minutes - 300)]
    assert stops
    for mn, event in stops:
        series = long_run.series[mn]
        a, b = long_run.minute_index(event.start), long_run.minute_index(event.end)
        stopped = series.flags["flow"][a:b] == "F"
        assert abs(series.values["o2"][a:b][series.flags["o2"][a:b] == "F"].mean() - 20.9) < 0.1
        assert series.values["flow"][a:b][stopped].max() < 0.01 * series.profile.flow_m3s
        assert series.values["so2"][a:b][series.flags["so2"][a:b] == "F"].mean() < 2.0
        ramp = series.load[b:b + series.profile.startup_min]
        assert ramp[0] < 0.05 and ramp[-1] > 0.5
        assert np.all(np.diff(ramp[: len(ramp) // 2]) > -0.05)  # rising, AR wobble aside


def test_heating_boiler_is_stopped_in_summer(cems_outlets: list[Outlet]) -> None:
    boiler = cems_outlets[4]
    run = generate_cems([boiler], datetime(2026, 7, 1, tzinfo=SHANGHAI), 24)
    assert np.all(run.series[boiler.mn].flags["flow"] == "F")


def test_power_load_follows_the_day(long_run: CemsRun) -> None:
    series = long_run.series["POWER0000000000000000001"]
    local_hour = (np.arange(long_run.n_minutes) // 60) % 24  # run starts at 00:00 local
    running = series.flags["flow"] == "N"
    night = series.load[running & (local_hour == 3)].mean()
    day = series.load[running & (local_hour == 10)].mean()
    assert day > night + 0.25


def test_naive_start_is_local_and_start_must_be_whole_minutes(power_outlet: Outlet) -> None:
    run = generate_cems([power_outlet], datetime(2026, 1, 10), 1)
    assert run.start == CEMS_START
    with pytest.raises(ValueError, match="whole minute"):
        generate_cems([power_outlet], CEMS_START + timedelta(seconds=30), 1)


def test_keep_clear_moves_no_other_data(cems_outlets: list[Outlet]) -> None:
    steel = cems_outlets[1]

    class Window:
        mn = steel.mn
        start = CEMS_START + timedelta(days=2)
        end = CEMS_START + timedelta(days=2, hours=6)

    plain = generate_cems([steel], CEMS_START, 96, seed=3)
    cleared = generate_cems([steel], CEMS_START, 96, seed=3, keep_clear=[Window()])
    a = plain.minute_index(Window.start) - 60
    b = plain.minute_index(Window.end) + 60
    assert np.all(cleared.series[steel.mn].flags["so2"][a:b] == "N")
    assert_array_equal(plain.series[steel.mn].values["flow"],
                       cleared.series[steel.mn].values["flow"])


def test_noise_helpers() -> None:
    rng = np.random.default_rng(0)
    x = ar1(rng, 200_000, tau_min=30.0, sigma=0.5)
    assert abs(x.std() - 0.5) < 0.03
    lag = np.corrcoef(x[:-30], x[30:])[0, 1]
    assert abs(lag - np.exp(-1)) < 0.05
    step = np.concatenate((np.zeros(10), np.ones(500)))
    smoothed = exp_filter(step, 60.0)
    assert smoothed[0] == pytest.approx(0.0, abs=1e-9)
    assert smoothed[10 + 60] == pytest.approx(1 - np.exp(-61 / 60), abs=0.01)
    assert_array_equal(exp_filter(np.full(50, 3.0), 20.0).round(9), np.full(50, 3.0))
    utc = np.array([0, 3600 * 16], dtype=np.int64)
    assert_array_equal(local_seconds(utc, SHANGHAI), utc + 8 * 3600)
