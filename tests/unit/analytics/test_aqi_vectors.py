"""HJ 633 IAQI/AQI against the test vectors of shared/domain.md §10 (and the rules of §1)."""

from __future__ import annotations

import math
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from analytics.aqi import (
    CATEGORY_BY_LEVEL,
    aqi_level,
    compute_iaqi,
    hourly_aqi,
    round_half_even,
)
from analytics.series_window import SeriesWindow
from analytics.standards_calendar import hj633_edition, local_dates

TZ = "Asia/Shanghai"

# domain.md §10.1: C, 2012 IAQI, 2012 level, 2026 IAQI, 2026 level.
PM25_VECTORS = [
    (0, 0, 1, 0, 1), (20, 29, 1, 29, 1), (35, 50, 1, 50, 1), (35.6, 51, 2, 52, 2),
    (50, 69, 2, 80, 2), (60, 82, 2, 100, 2), (60.5, 82, 2, 100, 2), (61.5, 84, 2, 102, 3),
    (75, 100, 2, 114, 3), (75.5, 101, 3, 115, 3), (100, 132, 3, 137, 3), (115, 150, 3, 150, 3),
    (130, 172, 4, 172, 4), (150, 200, 4, 200, 4), (180, 230, 5, 230, 5), (250, 300, 5, 300, 5),
    (300, 350, 6, 350, 6), (350, 400, 6, 400, 6), (420, 447, 6, 447, 6), (500, 500, 6, 500, 6),
]
# domain.md §10.2.
PM10_VECTORS = [
    (0, 0, 1, 0, 1), (30, 30, 1, 30, 1), (50, 50, 1, 50, 1), (100, 75, 2, 86, 2),
    (120, 85, 2, 100, 2), (150, 100, 2, 112, 3), (151, 101, 3, 112, 3), (200, 125, 3, 131, 3),
    (250, 150, 3, 150, 3), (300, 175, 4, 175, 4), (350, 200, 4, 200, 4), (380, 243, 5, 243, 5),
    (420, 300, 5, 300, 5), (460, 350, 6, 350, 6), (500, 400, 6, 400, 6), (550, 450, 6, 450, 6),
    (600, 500, 6, 500, 6),
]


@pytest.mark.parametrize("edition", [2012, 2026])
@pytest.mark.parametrize(("indicator", "vectors"), [("pm25", PM25_VECTORS), ("pm10", PM10_VECTORS)])
def test_pm_vectors(indicator: str, vectors: list[tuple], edition: int) -> None:
    table = np.array(vectors, dtype=np.float64)
    iaqi_col, level_col = (1, 2) if edition == 2012 else (3, 4)
    iaqi = compute_iaqi(table[:, 0], indicator, edition)
    assert_array_equal(iaqi, table[:, iaqi_col])
    assert_array_equal(aqi_level(iaqi), table[:, level_col].astype(np.int8))


def test_edition_broadcasts_along_time_axis() -> None:
    conc = np.array([[60.5, 60.5], [75.0, 75.0]])  # (sources × times)
    iaqi = compute_iaqi(conc, "pm25", np.array([2012, 2026]))
    assert_array_equal(iaqi, [[82, 100], [100, 114]])


def test_pre_rounding_keeps_60_5_at_iaqi_100_in_2026() -> None:
    # domain.md §1.3: without pre-rounding one gets ceil(100.45) = 101.
    assert compute_iaqi(np.array([60.5]), "pm25", 2026)[0] == 100


def test_edition_switches_at_local_midnight_2026_03_01() -> None:
    times = np.array(["2026-02-28T15:00", "2026-02-28T16:00"], dtype="datetime64[s]")
    dates = local_dates(times, TZ)
    assert_array_equal(dates, np.array(["2026-02-28", "2026-03-01"], "datetime64[D]"))
    assert_array_equal(hj633_edition(dates), [2012, 2026])
    window = SeriesWindow(("s1",), times, {"pm25": np.array([[75.0, 75.0]])})
    result = hourly_aqi(window, TZ)
    assert_array_equal(result.edition, [2012, 2026])
    assert_array_equal(result.aqi, [[100, 114]])  # §0: 75 µg/m3 → 100 vs 114


@pytest.mark.parametrize(
    ("value", "decimals", "expected"),
    [(60.5, 0, 60), (61.5, 0, 62), (74.5, 0, 74), (75.5, 0, 76), (75.4, 0, 75), (75.6, 0, 76),
     (0.35, 1, 0.4), (0.45, 1, 0.4), (0.25, 1, 0.2), (0.26, 1, 0.3)],
)
def test_round_half_even(value: float, decimals: int, expected: float) -> None:
    assert round_half_even(np.array([value]), decimals)[0] == expected


def test_round_half_even_keeps_nan_and_shape() -> None:
    out = round_half_even(np.array([[np.nan, 2.5]]))
    assert out.shape == (1, 2)
    assert np.isnan(out[0, 0]) and out[0, 1] == 2


@pytest.mark.parametrize("decimals", [0, 1, 2])
def test_round_half_even_matches_decimal_on_the_string(decimals: int) -> None:
    # Oracle: GB/T 8170 applied by Decimal to the decimal string (domain.md §1.3). With 2
    # decimals a plain np.round(x * 100) gets e.g. 1.015 → 1.01 (1.015 * 100 = 101.4999…).
    strings = [f"{i / 1000:.3f}" for i in range(0, 20001)]
    quantum = Decimal(1).scaleb(-decimals)
    expected = [float(Decimal(s).quantize(quantum, ROUND_HALF_EVEN)) for s in strings]
    values = np.array([float(s) for s in strings])
    assert_array_equal(round_half_even(values, decimals), expected)


# GB-table columns copied from domain.md §1.1, for an exact-arithmetic oracle.
PM25_2012 = [0, 35, 75, 115, 150, 250, 350, 500]
CO_1H = [0, 5, 10, 35, 60, 90, 120, 150]
IAQI_ROWS = [0, 50, 100, 150, 200, 300, 400, 500]


def _exact_iaqi(text: str, column: list[int]) -> int:
    """HJ 633 §1.2 formula in rational arithmetic, then ceiling."""
    c = Fraction(text)
    hi = next(i for i in range(1, len(column)) if c <= column[i])
    lo = hi - 1
    slope = Fraction(IAQI_ROWS[hi] - IAQI_ROWS[lo], column[hi] - column[lo])
    return math.ceil(IAQI_ROWS[lo] + slope * (c - column[lo]))


@pytest.mark.parametrize(("indicator", "column"), [("pm25", PM25_2012), ("co_1h", CO_1H)])
def test_ceiling_is_not_bumped_by_float_noise(indicator: str, column: list[int]) -> None:
    # 2012 (no pre-rounding), every 0.1 step: e.g. PM2.5 4.9 → exactly 7 and CO 1.1 → exactly 11,
    # which naive float arithmetic lands a hair above and would ceil to 8 and 12.
    strings = [f"{i / 10:.1f}" for i in range(0, column[-1] * 10 + 1)]
    expected = [_exact_iaqi(s, column) for s in strings]
    conc = np.array([float(s) for s in strings])
    assert_array_equal(compute_iaqi(conc, indicator, 2012), expected)


def test_co_is_pre_rounded_to_one_decimal_in_2026_only() -> None:
    # 0.45 mg/m3 → 0.4 (GB/T 8170) → 50 × 0.4 / 5 = 4 in 2026; 2012 keeps 0.45 → ceil(4.5) = 5.
    assert_array_equal(compute_iaqi(np.array([0.45, 0.45]), "co_1h", [2012, 2026]), [5, 4])


def _window(times: list[str], **values: list[list[float]]) -> SeriesWindow:
    arrays = {k: np.array(v, dtype=np.float64) for k, v in values.items()}
    n_sources = next(iter(arrays.values())).shape[0]
    sources = tuple(f"s{i}" for i in range(n_sources))
    return SeriesWindow(sources, np.array(times, dtype="datetime64[s]"), arrays)


# domain.md §10.3: PM2.5, PM10 → per edition (IAQI pm25, IAQI pm10, AQI, level, primary).
AQI_VECTORS = [
    ((45, 80), (63, 65, 65, 2, "pm10"), (70, 72, 72, 2, "pm10")),
    ((80, 160), (107, 105, 107, 3, "pm25"), (119, 116, 119, 3, "pm25")),
    ((65, 130), (88, 90, 90, 2, "pm10"), (105, 104, 105, 3, "pm25")),
    ((160, 420), (210, 300, 300, 5, "pm10"), (210, 300, 300, 5, "pm10")),
    ((30, 40), (43, 40, 43, 1, ""), (43, 40, 43, 1, "")),
]


def test_aqi_level_and_primary_from_pm_vectors() -> None:
    # One source per vector row; hour 0 in 2016 (2012 edition), hour 1 in 2026-06 (2026 edition).
    pm25 = [[row[0][0]] * 2 for row in AQI_VECTORS]
    pm10 = [[row[0][1]] * 2 for row in AQI_VECTORS]
    result = hourly_aqi(_window(["2016-06-01T00:00", "2016-06-01T01:00"], pm25=pm25, pm10=pm10), TZ)
    later = hourly_aqi(_window(["2026-06-01T00:00", "2026-06-01T01:00"], pm25=pm25, pm10=pm10), TZ)
    for result_for_edition, column in ((result, 1), (later, 2)):
        expected = [row[column] for row in AQI_VECTORS]
        assert_array_equal(result_for_edition.iaqi["pm25"][:, 0], [e[0] for e in expected])
        assert_array_equal(result_for_edition.iaqi["pm10"][:, 0], [e[1] for e in expected])
        assert_array_equal(result_for_edition.aqi[:, 0], [e[2] for e in expected])
        assert_array_equal(result_for_edition.level[:, 0], [e[3] for e in expected])
        assert list(result_for_edition.primary[:, 0]) == [e[4] for e in expected]
    assert_array_equal(later.edition, [2026, 2026])


def test_v1_packet_real_time_aqi_2026() -> None:
    # domain.md §10.6 V1: DataTime 2026-03-15 14:30 local = 06:30 UTC.
    window = _window(
        ["2026-03-15T06:30"],
        pm25=[[58]], pm10=[[96]], so2=[[9]], no2=[[41]], co=[[0.8]], o3=[[112]],
    )
    result = hourly_aqi(window, TZ)
    expected = {"pm25": 96, "pm10": 83, "so2": 3, "no2": 21, "co": 8, "o3": 35}
    assert {k: float(v[0, 0]) for k, v in result.iaqi.items()} == expected
    assert result.aqi[0, 0] == 96 and result.level[0, 0] == 2 and result.primary[0, 0] == "pm25"
    assert CATEGORY_BY_LEVEL[2].name_zh == "良" and CATEGORY_BY_LEVEL[2].colour_hex == "#FFFF00"


def test_missing_values_give_no_aqi_and_others_still_count() -> None:
    times = ["2026-06-01T00:00", "2026-06-01T01:00"]
    window = _window(times, pm25=[[np.nan, np.nan]], pm10=[[np.nan, 150]])
    result = hourly_aqi(window, TZ)
    assert np.isnan(result.aqi[0, 0]) and result.level[0, 0] == 0 and result.primary[0, 0] == ""
    assert result.aqi[0, 1] == 112 and result.primary[0, 1] == "pm10"  # §10.2 2026: 150 → 112


def test_negative_concentration_is_not_an_iaqi() -> None:
    assert np.isnan(compute_iaqi(np.array([-1.0]), "pm25", 2026)[0])


def test_tied_iaqis_list_all_primaries_in_order() -> None:
    # §10.1/§10.2: PM2.5 115 → 150 and PM10 250 → 150 in both editions; ties list all (§1.4).
    result = hourly_aqi(_window(["2026-06-01T00:00"], pm10=[[250]], pm25=[[115]]), TZ)
    assert result.primary[0, 0] == "pm25,pm10"


def test_above_top_breakpoint_is_500_by_convention() -> None:
    # §10.1 PM2.5 520 and §10.2 PM10 650 are "beyond table": Lantian reports 500 (">500").
    for indicator, conc in (("pm25", 520.0), ("pm10", 650.0)):
        assert_array_equal(compute_iaqi(np.array([conc] * 2), indicator, [2012, 2026]), 500)
    assert aqi_level(np.array([500.0]))[0] == 6


def test_overflow_rules_differ_by_edition() -> None:
    # §1.1 footnotes (a), (b): 2026 fixes SO2 1-h > 800 at 200 and O3 8-h > 800 at 300;
    # 2012 stops computing (the caller substitutes the 24-h / 1-h IAQI).
    so2 = compute_iaqi(np.array([850.0, 850.0]), "so2_1h", [2012, 2026])
    o3 = compute_iaqi(np.array([900.0, 900.0]), "o3_8h", [2012, 2026])
    assert np.isnan(so2[0]) and so2[1] == 200
    assert np.isnan(o3[0]) and o3[1] == 300


def test_level_boundaries_follow_category_table() -> None:
    # §1.5: 0–50 I, 51–100 II, 101–150 III, 151–200 IV, 201–300 V, > 300 VI.
    aqi = np.array([0, 50, 51, 100, 101, 150, 151, 200, 201, 300, 301, np.nan])
    assert_array_equal(aqi_level(aqi), [1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 0])
    assert [CATEGORY_BY_LEVEL[lv].colour_hex for lv in range(1, 7)] == [
        "#00E400", "#FFFF00", "#FF7E00", "#FF0000", "#99004C", "#7E0023",
    ]
