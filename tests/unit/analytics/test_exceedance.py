"""Exceedance detector: daily PM means vs the GB 3095 Grade II limit in force (domain.md §2.1)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
from numpy.testing import assert_array_equal

from analytics.exceedance import detect_exceedance
from analytics.series_window import SeriesWindow

TZ = "Asia/Shanghai"  # UTC+8, no DST: local midnight is 16:00 UTC the day before


def _day_window(local_day: str, hourly: list[list[float]] | np.ndarray, pollutant: str = "pm25",
                extra_hours: int = 0, start_offset_h: int = 0) -> SeriesWindow:
    """Hourly values starting at local midnight of `local_day` (+ offset), one row per source."""
    values = np.asarray(hourly, dtype=np.float64)
    midnight_utc = np.datetime64(local_day, "s") - np.timedelta64(8, "h")
    start = midnight_utc + np.timedelta64(start_offset_h, "h")
    n = values.shape[1] + extra_hours
    values = np.pad(values, ((0, 0), (0, extra_hours)), constant_values=np.nan)
    times = start + np.arange(n) * np.timedelta64(3600, "s")
    sources = tuple(f"st{i}" for i in range(values.shape[0]))
    return SeriesWindow(sources, times, {pollutant: values})


def _flat_day(mean: float) -> list[float]:
    return [mean] * 24


def test_mean_80_in_2016_is_flagged_with_exact_evidence() -> None:
    hourly = [80.0 + (10.0 if h % 2 else -10.0) for h in range(24)]  # mean 80, max 90
    window = _day_window("2016-12-02", [hourly, _flat_day(30.0)])
    findings = detect_exceedance(window, TZ)
    assert len(findings) == 1
    finding = findings[0]
    assert (finding.type, finding.source, finding.pollutant) == ("exceedance", "st0", "pm25")
    assert finding.start == datetime(2016, 12, 1, 16, tzinfo=UTC)
    assert finding.end == datetime(2016, 12, 2, 15, tzinfo=UTC)
    assert finding.score == 80.0 / 75.0
    assert finding.evidence == {
        "date": "2016-12-02",
        "daily_mean_ugm3": 80.0,
        "reported_mean_ugm3": 80,
        "limit_ugm3": 75.0,
        "standard": "GB 3095-2012 Grade II",
        "valid_hours": 24,
        "min_hours": 20,
        "ratio": 1.067,
        "hourly_ugm3": hourly,
        "max_hour_ugm3": 90.0,
    }


def test_reported_mean_is_rounded_half_even_before_comparing() -> None:
    # 75.4 → 75 is not above 75; 75.5 → 76 is (GB/T 8170, domain.md §1.3).
    window = _day_window("2016-12-02", [_flat_day(75.4), _flat_day(75.5)])
    findings = detect_exceedance(window, TZ)
    assert [f.source for f in findings] == ["st1"]
    assert findings[0].evidence["reported_mean_ugm3"] == 76


def test_limit_depends_on_the_day_date() -> None:
    # 65 µg/m3: below the 2012 limit 75, above the 2026 transition limit 60.
    assert detect_exceedance(_day_window("2016-06-10", [_flat_day(65.0)]), TZ) == []
    found = detect_exceedance(_day_window("2026-06-10", [_flat_day(65.0)]), TZ)
    assert len(found) == 1
    assert found[0].evidence["limit_ugm3"] == 60.0
    assert found[0].evidence["standard"] == "GB 3095-2026 Grade II (transition)"


def test_final_2026_limit_from_2031() -> None:
    assert detect_exceedance(_day_window("2030-12-31", [_flat_day(55.0)]), TZ) == []
    found = detect_exceedance(_day_window("2031-01-01", [_flat_day(55.0)]), TZ)
    assert [(f.evidence["limit_ugm3"], f.evidence["standard"]) for f in found] == [
        (50.0, "GB 3095-2026 Grade II")
    ]


def test_first_day_of_2026_standard_uses_new_limit() -> None:
    found = detect_exceedance(_day_window("2026-03-01", [_flat_day(65.0)]), TZ)
    assert len(found) == 1 and found[0].evidence["limit_ugm3"] == 60.0
    assert detect_exceedance(_day_window("2026-02-28", [_flat_day(65.0)]), TZ) == []


def test_day_in_progress_is_not_judged() -> None:
    window = _day_window("2026-06-10", [_flat_day(90.0)])
    day_end = np.datetime64("2026-06-10T16:00", "s")
    assert detect_exceedance(window, TZ, closed_before=day_end - np.timedelta64(1, "h")) == []
    assert len(detect_exceedance(window, TZ, closed_before=day_end)) == 1


def test_day_cut_by_window_edge_is_not_judged() -> None:
    # 22 valid hours would satisfy the 20-hour rule, but the day's first 2 hours are outside.
    window = _day_window("2026-06-10", [[90.0] * 22], start_offset_h=2)
    assert detect_exceedance(window, TZ) == []


def test_day_with_fewer_than_20_valid_hours_is_not_judged() -> None:
    nineteen = [100.0] * 19 + [np.nan] * 5
    twenty = [100.0] * 20 + [np.nan] * 4
    findings = detect_exceedance(_day_window("2016-12-02", [nineteen, twenty]), TZ)
    assert [f.source for f in findings] == ["st1"]
    assert findings[0].evidence["valid_hours"] == 20
    assert findings[0].evidence["hourly_ugm3"] == [100.0] * 20 + [None] * 4


def test_pm10_limits() -> None:
    # PM10 daily Grade II: 150 (2012), 120 (2026 transition).
    assert detect_exceedance(_day_window("2016-12-02", [_flat_day(130.0)], "pm10"), TZ) == []
    found_2016 = detect_exceedance(_day_window("2016-12-02", [_flat_day(160.0)], "pm10"), TZ)
    found_2026 = detect_exceedance(_day_window("2026-06-10", [_flat_day(130.0)], "pm10"), TZ)
    assert [(f.pollutant, f.evidence["limit_ugm3"]) for f in found_2016 + found_2026] == [
        ("pm10", 150.0), ("pm10", 120.0)
    ]


def test_all_missing_is_never_flagged_and_input_unchanged() -> None:
    window = _day_window("2016-12-02", [[np.nan] * 24, _flat_day(200.0)], extra_hours=24)
    before = window.values["pm25"].copy()
    findings = detect_exceedance(window, TZ)
    assert [(f.source, f.evidence["date"]) for f in findings] == [("st1", "2016-12-02")]
    assert_array_equal(window.values["pm25"], before)


def test_a_23_hour_dst_day_is_judged_whole() -> None:
    # Europe/Berlin 2026-03-29 runs 2026-03-28T23:00Z .. 2026-03-29T22:00Z (23 hours).
    times = np.datetime64("2026-03-28T23:00", "s") + np.arange(23) * np.timedelta64(1, "h")
    window = SeriesWindow(("st0",), times, {"pm25": np.full((1, 23), 90.0)})
    found = detect_exceedance(window, "Europe/Berlin")
    assert [(f.start, f.end) for f in found] == [
        (datetime(2026, 3, 28, 23, tzinfo=UTC), datetime(2026, 3, 29, 21, tzinfo=UTC))
    ]


def test_precomputed_daily_means_give_the_same_findings() -> None:
    """The analytics loop hands its daily means in, so they are computed once per cycle."""
    from analytics.daily_means import daily_means as compute_daily

    rng = np.random.default_rng(7)
    times = np.datetime64("2016-11-30T16:00:00", "s") + np.arange(72) * np.timedelta64(3600, "s")
    values = {"pm25": rng.uniform(20, 140, (4, 72)), "pm10": rng.uniform(40, 260, (4, 72)),
              "so2": rng.uniform(5, 50, (4, 72))}
    window = SeriesWindow(("A", "B", "C", "D"), times, values)
    closed = np.datetime64("2016-12-03T16:00:00", "s")
    own = detect_exceedance(window, "Asia/Shanghai", closed_before=closed)
    given = detect_exceedance(window, "Asia/Shanghai", closed_before=closed,
                              daily=compute_daily(window, "Asia/Shanghai"))
    assert own and given == own
