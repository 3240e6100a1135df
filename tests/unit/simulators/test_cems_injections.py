"""Injected patterns leave their data signature, and nothing else moves; truth is written."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from config.outlets import Outlet
from simulators.cems_injections import (
    INJECTION_TYPES,
    Injection,
    apply_injections,
    simulate_cems,
)
from simulators.cems_model import SHANGHAI, CemsRun, OutletSeries, generate_cems
from simulators.cems_truth import (
    load_injections,
    parse_exceed,
    truth_records,
    write_ground_truth,
)

START = datetime(2026, 1, 10, tzinfo=SHANGHAI)
HOURS = 72
MN = "POWER0000000000000000001"


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return START + timedelta(days=day, hours=hour, minutes=minute)


def converted(series: OutletSeries, pollutant: str) -> np.ndarray:
    ref = series.outlet.reference_o2
    return series.values[pollutant] * (21 - ref) / (21 - series.values["o2"])


def hourly_mean(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    count = valid.reshape(-1, 60).sum(1)
    total = np.where(valid, values, 0.0).reshape(-1, 60).sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count >= 45, total / count, np.nan)


def hourly_converted(series: OutletSeries, pollutant: str) -> np.ndarray:
    """HJ 212 way: mean of the hour's N minutes, converted with the hour's mean O2."""
    valid = (series.flags[pollutant] == "N") & (series.flags["o2"] == "N")
    conc = hourly_mean(series.values[pollutant], valid)
    o2 = hourly_mean(series.values["o2"], valid)
    return conc * (21 - series.outlet.reference_o2) / (21 - o2)


def run_with(outlets: list[Outlet], *injections: Injection) -> tuple[CemsRun, CemsRun]:
    """(clean run with the same windows kept clear, injected run)."""
    clean = generate_cems(outlets, START, HOURS, seed=4, keep_clear=injections)
    return clean, apply_injections(clean, injections, seed=4)


def span(run: CemsRun, injection: Injection) -> slice:
    return slice(run.minute_index(injection.start), run.minute_index(injection.end))


@pytest.fixture(scope="module")
def power(cems_outlets: list[Outlet]) -> list[Outlet]:
    return cems_outlets[:1]


def test_exceedance_makes_exactly_its_hours_exceed(power: list[Outlet]) -> None:
    injection = Injection(MN, "so2", "exceedance", at(1, 13), at(1, 16))
    clean, run = run_with(power, injection)
    hourly = hourly_converted(run.series[MN], "so2")
    inside = np.zeros(HOURS, dtype=bool)
    inside[24 + 13:24 + 16] = True
    assert np.all(hourly[inside] > 1.3 * 35)
    assert np.all(hourly[~inside] < 35)
    others = ("particulate", "nox")
    for p in others:
        assert_array_equal(clean.series[MN].values[p], run.series[MN].values[p])


def test_exceedance_works_without_reference_o2(make_cems_outlet) -> None:
    outlet = make_cems_outlet(MN, "boiler", None, {"nox": 30})
    injection = Injection(MN, "nox", "exceedance", at(1, 2), at(1, 4))
    _, run = run_with([outlet], injection)
    valid = run.series[MN].flags["nox"] == "N"
    hourly = hourly_mean(run.series[MN].values["nox"], valid)
    assert np.all(hourly[26:28] > 30)
    assert np.nanmax(np.delete(hourly, [26, 27])) < 30


def test_input_run_is_not_modified(power: list[Outlet]) -> None:
    clean = generate_cems(power, START, HOURS, seed=4)
    before = clean.series[MN].values["so2"].copy()
    injected = apply_injections(clean, [Injection(MN, "so2", "step_drop", at(1, 0), at(2, 0))])
    assert_array_equal(clean.series[MN].values["so2"], before)
    assert clean.injections == ()
    assert len(injected.injections) == 1


def test_flatline_sticks_the_value(power: list[Outlet]) -> None:
    injection = Injection(MN, "nox", "flatline", at(1, 8), at(1, 14))
    _, run = run_with(power, injection)
    window = span(run, injection)
    nox = run.series[MN].values["nox"]
    assert np.ptp(nox[window]) == 0.0  # zero variance: one value throughout
    assert np.all(run.series[MN].spread["nox"][window] == 0.0)
    assert np.var(nox[window.stop:window.stop + 60]) > 0


def test_low_variance_shrinks_the_spread_not_the_level(power: list[Outlet]) -> None:
    injection = Injection(MN, "so2", "low_variance", at(1, 0), at(2, 0))
    clean, run = run_with(power, injection)
    window = span(run, injection)
    new, old = run.series[MN].values["so2"][window], clean.series[MN].values["so2"][window]
    assert new.std() < 0.05 * old.std()
    assert new.mean() == pytest.approx(old.mean())


def test_bunching_piles_converted_values_just_under_the_limit(power: list[Outlet]) -> None:
    injection = Injection(MN, "so2", "bunching", at(1, 0), at(1, 12))
    _, run = run_with(power, injection)
    values = converted(run.series[MN], "so2")[span(run, injection)]
    assert np.all((values >= 0.86 * 35 - 1e-9) & (values <= 0.99 * 35 + 1e-9))


def test_dilution_raises_o2_and_flow_and_lowers_measured(power: list[Outlet]) -> None:
    injection = Injection(MN, "so2", "dilution", at(1, 10), at(1, 16))
    clean, run = run_with(power, injection)
    window = span(run, injection)
    new, old = run.series[MN], clean.series[MN]
    assert new.values["o2"][window].mean() > old.values["o2"][window].mean() + 5
    assert new.values["flow"][window].mean() > 1.5 * old.values["flow"][window].mean()
    for p in ("particulate", "so2", "nox"):
        assert new.values[p][window].mean() < 0.65 * old.values[p][window].mean()
        ratio = converted(new, p)[window].mean() / converted(old, p)[window].mean()
        assert 0.9 < ratio < 1.1  # the conversion undoes the dilution
    assert np.all(new.flags["so2"][window] == "N")


def test_gap_at_peak_removes_the_peak_and_keeps_its_rising_flank(power: list[Outlet]) -> None:
    injection = Injection(MN, "nox", "gap_at_peak", at(1, 18), at(1, 20))
    clean, run = run_with(power, injection)
    window = span(run, injection)
    nox = converted(run.series[MN], "nox")
    assert np.all(np.isnan(run.series[MN].values["nox"][window]))
    assert not np.isnan(run.series[MN].values["so2"][window]).any()  # scope: the pollutant
    flank = nox[window.start - 10:window.start]
    assert flank.mean() > 0.75 * 50
    assert flank.mean() > 1.3 * converted(clean.series[MN], "nox")[window.start - 10:
                                                                    window.start].mean()
    assert np.nanmax(hourly_converted(run.series[MN], "nox")) < 50  # nothing left to see


def test_gap_at_peak_scope_all_empties_every_parameter(power: list[Outlet]) -> None:
    injection = Injection(MN, "nox", "gap_at_peak", at(1, 18), at(1, 19), {"scope": "all"})
    _, run = run_with(power, injection)
    for values in run.series[MN].values.values():
        assert np.all(np.isnan(values[span(run, injection)]))


def test_flag_abuse_marks_the_peak_as_maintenance(power: list[Outlet]) -> None:
    injection = Injection(MN, "so2", "flag_abuse", at(1, 9), at(1, 12))
    _, run = run_with(power, injection)
    window = span(run, injection)
    series = run.series[MN]
    assert np.all(series.flags["so2"][window] == "M")
    assert np.all(series.flags["nox"][window] == "N")
    assert converted(series, "so2")[window].mean() > 1.5 * 35
    assert not [e for e in series.events if e.kind == "maintenance"
                and e.start < injection.end and e.end > injection.start]


def test_step_drop_is_sudden_and_persistent(power: list[Outlet]) -> None:
    injection = Injection(MN, "nox", "step_drop", at(1, 12), at(3, 0), {"ratio": 0.3})
    clean, run = run_with(power, injection)
    window = span(run, injection)
    assert_array_equal(run.series[MN].values["nox"][window],
                       clean.series[MN].values["nox"][window] * 0.3)
    assert_array_equal(run.series[MN].values["nox"][:window.start],
                       clean.series[MN].values["nox"][:window.start])


def test_copy_paste_repeats_an_earlier_day(power: list[Outlet]) -> None:
    injection = Injection(MN, "so2", "copy_paste", at(2, 0), at(3, 0))
    _, run = run_with(power, injection)
    window = span(run, injection)
    so2 = run.series[MN].values["so2"]
    assert_array_equal(so2[window], so2[window.start - 1440:window.stop - 1440])
    assert_array_equal(run.series[MN].flags["so2"][window],
                       run.series[MN].flags["so2"][window.start - 1440:window.stop - 1440])
    assert not np.array_equal(run.series[MN].values["nox"][window],
                              run.series[MN].values["nox"][window.start - 1440:
                                                           window.stop - 1440])


def test_impossible_values_are_negative_or_over_range(power: list[Outlet]) -> None:
    negative = Injection(MN, "so2", "impossible_value", at(1, 3), at(1, 3, 20))
    over = Injection(MN, "nox", "impossible_value", at(1, 5), at(1, 5, 10),
                     {"mode": "over_range"})
    _, run = run_with(power, negative, over)
    series = run.series[MN]
    assert np.all(series.values["so2"][span(run, negative)] < -10)
    assert np.all(series.values["nox"][span(run, over)] > series.profile.analyser_range_mgm3["nox"])
    assert np.all(series.flags["nox"][span(run, over)] == "N")


def test_every_type_runs_through_simulate_cems(power: list[Outlet]) -> None:
    injections = [Injection(MN, "so2", kind, at(1, 0) + timedelta(hours=6 * i // 2),
                            at(1, 2) + timedelta(hours=6 * i // 2))
                  for i, kind in enumerate(INJECTION_TYPES) if kind != "copy_paste"]
    run = simulate_cems(power, START, HOURS, seed=1, injections=injections)
    assert [i.type for i in run.injections] == [i.type for i in injections]


def test_bad_injections_are_refused(power: list[Outlet], make_cems_outlet) -> None:
    with pytest.raises(ValueError, match="unknown injection type"):
        Injection(MN, "so2", "spoofing", at(1, 0), at(1, 1))
    with pytest.raises(ValueError, match="pollutant"):
        Injection(MN, "o2", "flatline", at(1, 0), at(1, 1))
    with pytest.raises(ValueError, match="timezone"):
        Injection(MN, "so2", "flatline", datetime(2026, 1, 11), at(1, 1))
    with pytest.raises(ValueError, match="unknown params"):
        Injection(MN, "so2", "flatline", at(1, 0), at(1, 1), {"factor": 2})
    clean = generate_cems(power, START, HOURS)
    with pytest.raises(ValueError, match="leaves the simulated span"):
        apply_injections(clean, [Injection(MN, "so2", "flatline", at(2, 20), at(3, 2))])
    with pytest.raises(ValueError, match="unknown MN"):
        apply_injections(clean, [Injection("X1", "so2", "flatline", at(1, 0), at(1, 1))])
    summer = make_cems_outlet("BOILER1", "boiler", 3.5, {"nox": 30})
    with pytest.raises(ValueError, match="stopped"):
        simulate_cems([summer], datetime(2026, 7, 1, tzinfo=SHANGHAI), 24, injections=[
            Injection("BOILER1", "nox", "exceedance", datetime(2026, 7, 1, 5, tzinfo=SHANGHAI),
                      datetime(2026, 7, 1, 6, tzinfo=SHANGHAI))])


def test_ground_truth_lines_have_the_finding_shape(tmp_path: Path) -> None:
    injections = [
        Injection(MN, "so2", "exceedance", at(1, 13), at(1, 16), {"factor": 2.0}),
        Injection(MN, "so2", "dilution", at(1, 13, 30), at(1, 14, 30)),
    ]
    path = tmp_path / "truth" / "cems.jsonl"
    assert write_ground_truth(injections, path, SHANGHAI) == 4
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 4
    for line in lines:
        assert set(line) == {"source", "pollutant", "type", "start", "end", "score", "evidence"}
        assert line["source"] == MN
        assert line["start"].endswith("+08:00") and line["end"].endswith("+08:00")
        assert "injected" in line["evidence"]
    exceedance = lines[0]
    assert exceedance["type"] == "exceedance" and exceedance["pollutant"] == "so2"
    assert exceedance["start"] == "2026-01-11T13:00:00+08:00"
    assert exceedance["end"] == "2026-01-11T15:00:00+08:00"  # inclusive hour starts
    assert exceedance["evidence"] == {"injected": {"factor": 2.0}}
    dilution = lines[1:]
    assert {d["pollutant"] for d in dilution} == {"particulate", "so2", "nox"}
    assert dilution[0]["start"] == "2026-01-11T13:00:00+08:00"
    assert dilution[0]["end"] == "2026-01-11T14:00:00+08:00"
    assert dilution[0]["evidence"] == {"injected": {"air_fraction": 0.4}}


def test_injections_from_files_and_the_shortcut(tmp_path: Path) -> None:
    path = tmp_path / "inject.yaml"
    path.write_text(
        "injections:\n"
        f"  - {{mn: {MN}, pollutant: nox, type: flatline, start: '2026-01-11T08:00',"
        " hours: 6}\n"
        f"  - {{mn: {MN}, pollutant: so2, type: step_drop, start: '2026-01-11T00:00+08:00',"
        " end: '2026-01-12T00:00+08:00', params: {ratio: 0.5}}\n",
        encoding="utf-8",
    )
    flat, drop = load_injections(path, SHANGHAI)
    assert flat.start == at(1, 8) and flat.end == at(1, 14)
    assert drop.resolved_params() == {"ratio": 0.5}
    json_path = tmp_path / "inject.json"
    json_path.write_text(json.dumps([{"mn": MN, "pollutant": "so2", "type": "bunching",
                                      "start": "2026-01-11T00:00", "hours": 2}]))
    assert load_injections(json_path, SHANGHAI)[0].type == "bunching"
    shortcut = parse_exceed(f"{MN}:so2:2026-01-11T13:00:3", SHANGHAI)
    assert (shortcut.type, shortcut.start, shortcut.end) == ("exceedance", at(1, 13), at(1, 16))
    with_offset = parse_exceed(f"{MN}:so2:2026-01-11T05:00+00:00:1", SHANGHAI)
    assert with_offset.start == at(1, 13)
    with pytest.raises(ValueError, match="MN:pollutant:start:hours"):
        parse_exceed("nonsense", SHANGHAI)
    with pytest.raises(ValueError, match="not found"):
        load_injections(tmp_path / "missing.yaml", SHANGHAI)
    assert truth_records([shortcut], SHANGHAI)[0]["score"] == 1.0


@pytest.mark.parametrize("index", range(5))
def test_exceedance_on_every_industry(cems_outlets: list[Outlet], index: int) -> None:
    outlet = cems_outlets[index]
    injections = [Injection(outlet.mn, p, "exceedance", at(1, 4 + 6 * k), at(1, 6 + 6 * k))
                  for k, p in enumerate(("particulate", "so2", "nox"))]
    _, run = run_with([outlet], *injections)
    for k, (p, limit) in enumerate(outlet.limits.items()):
        hourly = hourly_converted(run.series[outlet.mn], p)
        hours = [24 + 4 + 6 * k, 24 + 5 + 6 * k]
        assert np.all(hourly[hours] > 1.2 * limit), (outlet.industry, p)
        assert np.nanmax(np.delete(hourly, hours)) < limit, (outlet.industry, p)


def test_a_real_emission_cut_lowers_pollutants_and_flow_and_is_no_finding(
        power: list[Outlet]) -> None:
    injection = Injection(MN, "all", "emission_cut", at(1, 12), at(2, 0), {"cut": 0.4})
    clean, run = run_with(power, injection)
    window = span(run, injection)
    for q in ("particulate", "so2", "nox", "flow", "velocity"):
        assert_allclose(run.series[MN].values[q][window],
                        clean.series[MN].values[q][window] * 0.6)
    for q in ("o2", "temperature"):
        assert_array_equal(run.series[MN].values[q][window], clean.series[MN].values[q][window])
    assert truth_records([injection], SHANGHAI) == []
