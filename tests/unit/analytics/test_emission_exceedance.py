"""Emission exceedance: runs of hours whose converted mean (1 decimal) is above the limit."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import numpy as np
import pytest

from analytics.emission_exceedance import detect_emission_exceedance
from analytics.emission_hourly import BASIS_MINUTE, HourlyEmissions, hourly_emissions
from analytics.series_window import SeriesWindow

NAN = math.nan
TZ = "Asia/Shanghai"  # UTC+8
START = np.datetime64("2026-03-15T00:00:00", "s")


def _times(n: int) -> np.ndarray:
    return START + np.arange(n) * np.timedelta64(3600, "s")


def _hours(converted: dict[str, list[list[float]]]) -> HourlyEmissions:
    """Minute-based hours whose converted values are given (measured = converted, O2 = 6 %)."""
    arrays = {p: np.asarray(v, dtype=np.float64) for p, v in converted.items()}
    n_sources, n_times = next(iter(arrays.values())).shape
    present = {p: ~np.isnan(a) for p, a in arrays.items()}
    return HourlyEmissions(
        sources=tuple(f"stack{i}" for i in range(n_sources)),
        times=_times(n_times),
        measured=arrays,
        o2={p: np.where(present[p], 6.0, NAN) for p in arrays},
        converted=arrays,
        basis={p: np.where(present[p], BASIS_MINUTE, 0).astype(np.int8) for p in arrays},
        valid_count={p: np.where(present[p], 60.0, NAN) for p in arrays},
    )


def _utc(hour: int) -> datetime:
    return datetime(2026, 3, 15, hour, tzinfo=UTC)


def test_three_hour_run_is_one_finding_with_exact_evidence() -> None:
    # stack0 SO2 at O2 9 %, reference 6 %: converted = measured × 15/12.
    # Hour 3 has only 44 valid minutes, so the unit's reported value (29.6 at 9 %) stands in.
    minute = SeriesWindow(("stack0",), _times(5), {
        "so2": np.array([[20.0, 30.0, 32.0, 5.0, 20.0]]),
        "so2_count": np.array([[60.0, 60.0, 59.0, 44.0, 60.0]]),
        "o2": np.array([[9.0, 9.0, 9.0, 9.0, 9.0]]),
    })
    reported = SeriesWindow(("stack0",), _times(5), {
        "so2": np.array([[20.0, 30.0, 32.0, 29.6, 20.0]]),
        "o2": np.array([[9.0, 9.0, 9.0, 9.0, 9.0]]),
    })
    hours = hourly_emissions(minute, None, reported, needed_minute=np.array([45]),
                             needed_rtd=np.array([135]), reference_o2=np.array([6.0]))
    findings = detect_emission_exceedance(hours, {"so2": np.array([35.0])}, np.array([6.0]), TZ)
    assert len(findings) == 1
    finding = findings[0]
    assert (finding.type, finding.source, finding.pollutant) == ("exceedance", "stack0", "so2")
    assert (finding.start, finding.end) == (_utc(1), _utc(3))
    assert finding.score == pytest.approx(40.0 / 35.0)  # 32 × 1.25 = 40
    assert finding.evidence == {
        "limit_mgm3": 35.0,
        "reference_o2_pct": 6.0,
        "standard": "hourly mean at reference O2 (HJ 75-2017 / HJ 212-2017)",
        "exceeded_hours": 3,
        "max_converted_mgm3": 40.0,
        "max_ratio": 1.143,
        "hours": [
            {"hour": "2026-03-15T09:00:00+08:00", "measured_mgm3": 30.0, "o2_pct": 9.0,
             "converted_mgm3": 37.5, "basis": "minute", "valid_values": 60},
            {"hour": "2026-03-15T10:00:00+08:00", "measured_mgm3": 32.0, "o2_pct": 9.0,
             "converted_mgm3": 40.0, "basis": "minute", "valid_values": 59},
            {"hour": "2026-03-15T11:00:00+08:00", "measured_mgm3": 29.6, "o2_pct": 9.0,
             "converted_mgm3": 37.0, "basis": "reported", "valid_values": None},
        ],
    }
    json.dumps(finding.evidence, allow_nan=False)  # JSON-ready, no NaN


def test_two_separate_runs_give_two_findings_in_order() -> None:
    hours = _hours({
        "nox": [[60.0, 60.0, 40.0, 70.0, 40.0], [40.0] * 5],
        "so2": [[10.0] * 5, [36.0, NAN, 36.0, 10.0, 10.0]],  # a missing hour splits a run
    })
    limits = {"so2": np.array([35.0, 35.0]), "nox": np.array([50.0, 50.0])}
    found = detect_emission_exceedance(hours, limits, np.array([6.0, 6.0]), TZ)
    assert [(f.pollutant, f.source, f.start, f.end) for f in found] == [
        ("nox", "stack0", _utc(0), _utc(1)),
        ("nox", "stack0", _utc(3), _utc(3)),
        ("so2", "stack1", _utc(0), _utc(0)),
        ("so2", "stack1", _utc(2), _utc(2)),
    ]
    assert [f.evidence["exceeded_hours"] for f in found] == [2, 1, 1, 1]
    assert found[1].score == pytest.approx(70.0 / 50.0)


@pytest.mark.parametrize(
    ("value", "exceeds"),
    [
        (35.0, False),  # at the limit complies
        (35.04, False),  # reported 35.0
        (35.05, False),  # half to even: 35.0 (GB/T 8170), not 35.1
        (35.06, True),  # reported 35.1
        (35.15, True),  # half to even: 35.2
    ],
)
def test_judged_on_the_value_rounded_half_even_to_one_decimal(value: float, exceeds: bool) -> None:
    found = detect_emission_exceedance(
        _hours({"so2": [[value]]}), {"so2": np.array([35.0])}, np.array([6.0]), TZ
    )
    assert bool(found) is exceeds


def test_no_finding_where_the_limit_is_nan_or_absent() -> None:
    hours = _hours({"so2": [[500.0, 500.0], [500.0, 500.0]], "nox": [[900.0, 900.0]] * 2})
    found = detect_emission_exceedance(
        hours, {"so2": np.array([NAN, 35.0])}, np.array([6.0, 6.0]), TZ
    )
    assert [(f.pollutant, f.source) for f in found] == [("so2", "stack1")]


def test_run_touching_the_last_hour_is_reported() -> None:
    hours = _hours({"particulate": [[5.0, 5.0, 12.0, 11.0]]})
    found = detect_emission_exceedance(
        hours, {"particulate": np.array([10.0])}, np.array([NAN]), TZ
    )
    assert [(f.start, f.end) for f in found] == [(_utc(2), _utc(3))]
    assert found[0].evidence["reference_o2_pct"] is None


def test_missing_converted_hours_never_exceed() -> None:
    assert detect_emission_exceedance(
        _hours({"so2": [[NAN, NAN]]}), {"so2": np.array([35.0])}, np.array([6.0]), TZ
    ) == []


def test_bad_shapes_raise() -> None:
    hours = _hours({"so2": [[40.0], [40.0]]})
    with pytest.raises(ValueError, match="limits"):
        detect_emission_exceedance(hours, {"so2": np.array([35.0])}, np.array([6.0, 6.0]), TZ)
    with pytest.raises(ValueError, match="reference_o2"):
        detect_emission_exceedance(hours, {"so2": np.array([35.0, 35.0])}, np.array([6.0]), TZ)
