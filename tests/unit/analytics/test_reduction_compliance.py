"""Emission-reduction audit during alerts: shortfall runs, per-source status, and step drops."""

from __future__ import annotations

import copy
import json
import math
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from analytics.reduction_compliance import (
    SHORTFALL,
    STATUS_COMPLIANT,
    STATUS_NO_DATA,
    STATUS_NOT_COMPLIANT,
    STEP_DROP,
    ReductionAudit,
    audit_reduction,
    detect_step_drop,
)

NAN = math.nan
START = np.datetime64("2026-01-10T00:00:00", "s")
N_HOURS = 12
ALERT = slice(4, 10)  # hours 4..9 (UTC) require the cut


def _times(n: int = N_HOURS) -> np.ndarray:
    return START + np.arange(n) * np.timedelta64(3600, "s")


def _utc(hour: int) -> datetime:
    return datetime(2026, 1, 10, hour, tzinfo=UTC)


def _cut(n_sources: int, value: float = 0.3) -> np.ndarray:
    cut = np.full((n_sources, N_HOURS), NAN)
    cut[:, ALERT] = value
    return cut


def _audit(cut: np.ndarray, conc: np.ndarray | None = None, mass: np.ndarray | None = None,
           base_conc: list[float] | None = None, base_mass: list[float] | None = None,
           **kwargs: Any) -> ReductionAudit:
    """Audit of SO2 only, sources s0, s1, …; a basis left out has no data and no baseline."""
    n_sources = cut.shape[0]
    return audit_reduction(
        tuple(f"s{i}" for i in range(n_sources)), _times(), cut,
        {} if conc is None else {"so2": conc}, {} if mass is None else {"so2": mass},
        {} if base_conc is None else {"so2": np.array(base_conc)},
        {} if base_mass is None else {"so2": np.array(base_mass)},
        **kwargs,
    )


def test_outlet_at_sixty_percent_of_baseline_under_thirty_percent_cut_is_compliant() -> None:
    rng = np.random.default_rng(1)
    conc = 60.0 + rng.uniform(-2, 2, (1, N_HOURS))  # baseline 100, allowed 70
    conc[:, :4] = 100.0  # before the alert at baseline: not judged
    audit = _audit(_cut(1), conc, base_conc=[100.0])
    assert audit.sources == ("s0",)
    assert audit.status.tolist() == [STATUS_COMPLIANT]
    assert audit.required_hours.tolist() == [6]
    assert audit.data_hours.tolist() == [6]
    assert audit.over_hours.tolist() == [0]
    assert audit.findings == []


def test_outlet_ignoring_the_cut_gets_one_shortfall_over_exactly_the_required_hours() -> None:
    rng = np.random.default_rng(2)
    conc = np.vstack([np.full(N_HOURS, 60.0), 100.0 + rng.uniform(-8, 8, N_HOURS)])
    mass = np.vstack([np.full(N_HOURS, 3.0), 5.0 + rng.uniform(-0.4, 0.4, N_HOURS)])
    audit = _audit(_cut(2), conc, mass, base_conc=[100.0, 100.0], base_mass=[5.0, 5.0])
    assert audit.status.tolist() == [STATUS_COMPLIANT, STATUS_NOT_COMPLIANT]
    assert audit.over_hours.tolist() == [0, 6]
    assert len(audit.findings) == 1
    finding = audit.findings[0]
    assert (finding.type, finding.source, finding.pollutant) == (SHORTFALL, "s1", "so2")
    assert (finding.start, finding.end) == (_utc(4), _utc(9))
    during_conc, during_mass = conc[1, ALERT], mass[1, ALERT]
    conc_excess = float(np.mean(during_conc / 70.0 - 1))
    mass_excess = float(np.mean(during_mass / 3.5 - 1))
    assert finding.score == pytest.approx(max(conc_excess, mass_excess))
    evidence = finding.evidence
    assert evidence["hours"] == 6
    assert evidence["required_cut_pct"] == [30.0]
    assert evidence["worst_basis"] == ("concentration" if conc_excess > mass_excess else "mass")
    assert evidence["concentration"] == {
        "unit": "mg/m3 at reference O2",
        "baseline": 100.0,
        "allowed": [70.0],
        "hours_measured": 6,
        "hours_over": 6,
        "mean_observed": round(float(np.mean(during_conc)), 3),
        "max_observed": round(float(np.max(during_conc)), 3),
        "achieved_cut_pct": round((1 - float(np.mean(during_conc)) / 100.0) * 100, 3),
    }
    assert evidence["mass"]["unit"] == "kg/h"
    assert evidence["mass"]["allowed"] == [3.5]
    assert evidence["mass"]["mean_observed"] == round(float(np.mean(during_mass)), 3)
    assert evidence["mass"]["achieved_cut_pct"] == round(
        (1 - float(np.mean(during_mass)) / 5.0) * 100, 3)
    json.dumps(finding.to_record(UTC))  # evidence is JSON-ready


def test_mass_only_plan_is_audited_on_mass_alone() -> None:
    # Concentrations far above 70 are not judged: the plan has no concentration baseline.
    conc = np.full((2, N_HOURS), 150.0)
    mass = np.vstack([np.full(N_HOURS, 2.0), np.full(N_HOURS, 4.0)])  # allowed 3.5 kg/h
    audit = _audit(_cut(2), conc, mass, base_conc=[NAN, NAN], base_mass=[5.0, 5.0])
    assert audit.status.tolist() == [STATUS_COMPLIANT, STATUS_NOT_COMPLIANT]
    [finding] = audit.findings
    assert finding.source == "s1"
    assert "concentration" not in finding.evidence
    assert finding.evidence["worst_basis"] == "mass"
    assert finding.evidence["mass"]["achieved_cut_pct"] == 20.0
    assert finding.score == pytest.approx(4.0 / 3.5 - 1)


def test_stop_order_allows_nothing() -> None:
    conc = np.zeros((2, N_HOURS))
    conc[1, 6] = 5.0  # one hour of emission during a stop order
    audit = _audit(_cut(2, 1.0), conc, base_conc=[100.0, 100.0], tolerance=0.1)
    assert audit.status.tolist() == [STATUS_COMPLIANT, STATUS_NOT_COMPLIANT]
    [finding] = audit.findings
    assert (finding.start, finding.end) == (_utc(6), _utc(6))
    assert finding.evidence["required_cut_pct"] == [100.0]
    assert finding.evidence["concentration"]["allowed"] == [0.0]
    assert finding.score == pytest.approx(0.05)  # still emitting 5 % of the baseline


def test_stop_order_is_audited_even_without_a_baseline() -> None:
    conc = np.zeros((1, N_HOURS))
    conc[0, 7:9] = 12.0
    audit = _audit(_cut(1, 1.0), conc)
    assert audit.status.tolist() == [STATUS_NOT_COMPLIANT]
    [finding] = audit.findings
    assert (finding.start, finding.end) == (_utc(7), _utc(8))
    assert finding.score == 1.0
    assert finding.evidence["concentration"]["baseline"] is None
    assert finding.evidence["concentration"]["achieved_cut_pct"] is None
    assert "mass" not in finding.evidence


def test_missing_hours_give_no_data_and_no_required_cut_gives_empty_status() -> None:
    conc = np.full((3, N_HOURS), 100.0)
    conc[0, ALERT] = NAN  # nothing measured while the cut applied
    conc[1, 5] = NAN  # one hour missing, the rest compliant
    conc[1, ALERT] = np.where(np.isnan(conc[1, ALERT]), NAN, 50.0)
    cut = _cut(3)
    cut[2] = NAN  # not on the list during this window
    audit = _audit(cut, conc, base_conc=[100.0, 100.0, 100.0])
    assert audit.status.tolist() == [STATUS_NO_DATA, STATUS_COMPLIANT, ""]
    assert audit.required_hours.tolist() == [6, 6, 0]
    assert audit.data_hours.tolist() == [0, 5, 0]
    assert audit.over_hours.tolist() == [0, 0, 0]
    assert audit.findings == []


def test_plan_baseline_without_any_readings_is_no_data() -> None:
    audit = _audit(_cut(1), None, None, base_conc=[100.0])
    assert audit.status.tolist() == [STATUS_NO_DATA]


def test_tolerance_widens_the_allowed_value() -> None:
    conc = np.full((1, N_HOURS), 72.0)  # allowed 70; with 5 % slack 73.5
    assert _audit(_cut(1), conc, base_conc=[100.0]).status.tolist() == [STATUS_NOT_COMPLIANT]
    relaxed = _audit(_cut(1), conc, base_conc=[100.0], tolerance=0.05)
    assert relaxed.status.tolist() == [STATUS_COMPLIANT]
    assert relaxed.findings == []
    just_over = _audit(_cut(1), np.full((1, N_HOURS), 74.0), base_conc=[100.0], tolerance=0.05)
    [finding] = just_over.findings
    assert finding.evidence["concentration"]["allowed"] == [73.5]
    assert finding.evidence["tolerance_pct"] == 5.0
    assert finding.score == pytest.approx(74.0 / 73.5 - 1)


def test_value_exactly_at_allowed_complies() -> None:
    audit = _audit(_cut(1), np.full((1, N_HOURS), 70.0), base_conc=[100.0])
    assert audit.status.tolist() == [STATUS_COMPLIANT]


def test_runs_split_by_a_compliant_hour_and_min_run_hours() -> None:
    conc = np.full((1, N_HOURS), 90.0)
    conc[0, 6] = 60.0  # hours 4-5 over, 6 compliant, 7-9 over
    audit = _audit(_cut(1), conc, base_conc=[100.0])
    assert [(f.start, f.end) for f in audit.findings] == [(_utc(4), _utc(5)), (_utc(7), _utc(9))]
    assert [f.evidence["hours"] for f in audit.findings] == [2, 3]
    long_only = _audit(_cut(1), conc, base_conc=[100.0], min_run_hours=3)
    assert [(f.start, f.end) for f in long_only.findings] == [(_utc(7), _utc(9))]
    # Short runs still count against the source: the status reports every over hour.
    assert long_only.status.tolist() == [STATUS_NOT_COMPLIANT]
    assert long_only.over_hours.tolist() == [5]


def test_cut_changing_within_a_run_is_quoted_per_level() -> None:
    cut = _cut(1)
    cut[0, 7:10] = 0.5  # alert raised from orange to red
    audit = _audit(cut, np.full((1, N_HOURS), 80.0), base_conc=[100.0])
    [finding] = audit.findings
    assert finding.evidence["required_cut_pct"] == [30.0, 50.0]
    assert finding.evidence["concentration"]["allowed"] == [70.0, 50.0]
    assert finding.score == pytest.approx((3 * (80 / 70 - 1) + 3 * (80 / 50 - 1)) / 6)


def test_findings_are_per_pollutant() -> None:
    conc = {"so2": np.full((1, N_HOURS), 90.0), "nox": np.full((1, N_HOURS), 50.0)}
    audit = audit_reduction(("s0",), _times(), _cut(1), conc, {},
                            {"so2": np.array([100.0]), "nox": np.array([100.0])}, {})
    assert [f.pollutant for f in audit.findings] == ["so2"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"required_cut": np.full((1, N_HOURS), 0.3)}, "required_cut must be shaped"),
        ({"concentration": {"so2": np.ones((2, N_HOURS - 1))}}, r"concentration\['so2'\]"),
        ({"baseline_concentration": {"so2": np.ones(3)}}, r"baseline_concentration\['so2'\]"),
        ({"baseline_mass": {"so2": np.array([5.0, -1.0])}}, "must be positive"),
        ({"times": _times().reshape(3, 4)}, "1-D"),
        ({"required_cut": np.full((2, N_HOURS), 1.5)}, "between 0 and 1"),
    ],
)
def test_audit_rejects_bad_inputs(change: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {
        "sources": ("s0", "s1"), "times": _times(), "required_cut": _cut(2),
        "concentration": {"so2": np.ones((2, N_HOURS))}, "mass": {},
        "baseline_concentration": {"so2": np.ones(2)}, "baseline_mass": {},
    }
    with pytest.raises(ValueError, match=message):
        audit_reduction(**(arguments | change))


def test_audit_rejects_bad_parameters() -> None:
    with pytest.raises(ValueError, match="min_run_hours"):
        _audit(_cut(1), np.ones((1, N_HOURS)), base_conc=[1.0], min_run_hours=0)
    with pytest.raises(ValueError, match="tolerance"):
        _audit(_cut(1), np.ones((1, N_HOURS)), base_conc=[1.0], tolerance=-0.1)


# --- step drop ---------------------------------------------------------------------------------

STEP_HOURS = 48
REDUCTION = 24  # the alert's required reduction runs over columns 24..47


def _plant(rng: np.random.Generator, n_sources: int = 1) -> dict[str, np.ndarray]:
    """Steady production: SO2 ~80 mg/m³, flow ~50 m³/s, O2 ~9 %, flue gas ~120 °C."""
    shape = (n_sources, STEP_HOURS)
    return {
        "so2": 80.0 + rng.normal(0, 2, shape),
        "flow": 50.0 + rng.normal(0, 0.5, shape),
        "o2": 9.0 + rng.normal(0, 0.1, shape),
        "temperature": 120.0 + rng.normal(0, 1, shape),
    }


def _step_drop(plant: dict[str, np.ndarray], start: list[int] | None = None,
               end: list[int] | None = None, **kwargs: Any) -> list[Any]:
    n_sources = plant["so2"].shape[0]
    return detect_step_drop(
        tuple(f"s{i}" for i in range(n_sources)), _times(STEP_HOURS), {"so2": plant["so2"]},
        plant["flow"], plant["o2"], plant["temperature"],
        np.array(start or [REDUCTION] * n_sources), np.array(end or [STEP_HOURS] * n_sources),
        **kwargs,
    )


def _median_pair(series: np.ndarray) -> tuple[float, float]:
    return float(np.median(series[:REDUCTION])), float(np.median(series[REDUCTION:]))


def test_concentration_cut_with_unchanged_process_is_a_step_drop() -> None:
    plant = _plant(np.random.default_rng(10))
    plant["so2"][0, REDUCTION + 2:] *= 0.35  # the analyser "cuts" two hours into the alert
    [finding] = _step_drop(plant)
    assert (finding.type, finding.source, finding.pollutant) == (STEP_DROP, "s0", "so2")
    assert finding.start == datetime(2026, 1, 11, 2, tzinfo=UTC)  # column 26
    assert finding.end == datetime(2026, 1, 11, 23, tzinfo=UTC)  # column 47
    conc_before, conc_during = _median_pair(plant["so2"][0])
    flow_before, flow_during = _median_pair(plant["flow"][0])
    o2_before, o2_during = _median_pair(plant["o2"][0])
    assert finding.score == pytest.approx(1 - conc_during / conc_before)
    evidence = finding.evidence
    assert evidence["reference_hours"] == 24
    assert evidence["valid_hours_before"] == 24 and evidence["valid_hours_during"] == 24
    assert evidence["concentration_mgm3"] == {
        "median_before": round(conc_before, 3), "median_during": round(conc_during, 3),
        "ratio": round(conc_during / conc_before, 3),
    }
    assert evidence["flow_m3s"]["ratio"] == round(flow_during / flow_before, 3)
    assert evidence["o2_pct"]["change_pp"] == round(o2_during - o2_before, 3)
    assert evidence["thresholds"]["min_drop"] == 0.3
    json.dumps(finding.to_record(UTC))


def test_genuine_load_cut_is_not_flagged() -> None:
    plant = _plant(np.random.default_rng(11))
    plant["flow"][0, REDUCTION:] *= 0.6
    plant["so2"][0, REDUCTION:] *= 0.5
    assert _step_drop(plant) == []


def test_too_little_data_is_not_flagged() -> None:
    plant = _plant(np.random.default_rng(12))
    plant["so2"][0, REDUCTION:] *= 0.35
    sparse = {name: series.copy() for name, series in plant.items()}
    sparse["so2"][0, REDUCTION + 2:] = NAN  # two valid hours during, three needed
    assert _step_drop(sparse) == []
    no_flow = {name: series.copy() for name, series in plant.items()}
    no_flow["flow"][0, :REDUCTION] = NAN  # flow unknown before: cannot vouch for steady load
    assert _step_drop(no_flow) == []
    assert _step_drop(plant, start=[1]) == []  # one reference hour only


def test_o2_change_beyond_tolerance_is_not_flagged() -> None:
    plant = _plant(np.random.default_rng(13))
    plant["so2"][0, REDUCTION:] *= 0.35
    plant["o2"][0, REDUCTION:] += 2.5
    assert _step_drop(plant) == []
    assert len(_step_drop(plant, o2_tolerance_pp=3.0)) == 1


def test_temperature_check_is_skipped_only_when_temperature_is_absent() -> None:
    plant = _plant(np.random.default_rng(14))
    plant["so2"][0, REDUCTION:] *= 0.35
    plant["temperature"][0] = NAN
    [finding] = _step_drop(plant)
    assert finding.start == datetime(2026, 1, 11, 0, tzinfo=UTC)
    assert finding.evidence["temperature_c"] == {
        "median_before": None, "median_during": None, "ratio": None}
    plant["temperature"][0, :REDUCTION] = 120.0  # known before, unknown during: no verdict
    assert _step_drop(plant) == []


def test_several_sources_and_clipped_reference() -> None:
    plant = _plant(np.random.default_rng(15), n_sources=3)
    plant["so2"][:, 10:] *= 0.35
    findings = _step_drop(plant, start=[10, -1, 10], end=[20, 0, 48])
    assert [f.source for f in findings] == ["s0", "s2"]
    assert [f.evidence["reference_hours"] for f in findings] == [10, 10]
    assert findings[0].end == datetime(2026, 1, 10, 19, tzinfo=UTC)  # column 19, end exclusive


def test_small_drop_is_not_flagged() -> None:
    plant = _plant(np.random.default_rng(16))
    plant["so2"][0, REDUCTION:] *= 0.8
    assert _step_drop(plant) == []


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [([48], [48], "start < end"), ([10], [5], "start < end"), ([-2], [0], "start < end")],
)
def test_step_drop_rejects_bad_periods(start: list[int], end: list[int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _step_drop(_plant(np.random.default_rng(17)), start=start, end=end)


def test_step_drop_rejects_bad_shapes() -> None:
    plant = _plant(np.random.default_rng(18))
    plant["flow"] = plant["flow"][:, :-1]
    with pytest.raises(ValueError, match="flow must be shaped"):
        _step_drop(plant)
    with pytest.raises(ValueError, match="integer columns"):
        detect_step_drop(("s0",), _times(STEP_HOURS), {}, np.ones((1, STEP_HOURS)),
                         np.ones((1, STEP_HOURS)), np.ones((1, STEP_HOURS)),
                         np.array([1.0]), np.array([5]))


def test_inputs_are_not_modified() -> None:
    rng = np.random.default_rng(19)
    conc = {"so2": 100.0 + rng.normal(0, 5, (2, N_HOURS))}
    conc["so2"][0, 5] = NAN
    mass = {"so2": 5.0 + rng.normal(0, 0.2, (2, N_HOURS))}
    base_conc, base_mass = {"so2": np.array([100.0, NAN])}, {"so2": np.array([5.0, 5.0])}
    cut = _cut(2)
    cut[1, ALERT] = 1.0
    arguments = (("s0", "s1"), _times(), cut, conc, mass, base_conc, base_mass)
    before = copy.deepcopy(arguments)
    audit_reduction(*arguments, tolerance=0.05)
    for original, after in zip(before, arguments, strict=True):
        if isinstance(original, dict):
            assert original.keys() == after.keys()
            for key in original:
                assert_array_equal(original[key], after[key])
        else:
            assert_array_equal(original, after)
    plant = _plant(rng, n_sources=2)
    plant["so2"][:, REDUCTION:] *= 0.35
    plant["o2"][1] = NAN
    kept = copy.deepcopy(plant)
    assert len(_step_drop(plant)) == 2
    for name in plant:
        assert_array_equal(plant[name], kept[name])
