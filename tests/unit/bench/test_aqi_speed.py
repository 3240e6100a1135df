"""The AQI benchmark's helpers: the exact HJ 633 oracle, the peers' deviation models, the sample."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from analytics.hj633_tables import breakpoints
from analytics.standards_calendar import hj633_edition, local_dates
from bench.aqi_speed import (
    HOURS,
    PEER_DEVIATIONS,
    POLLUTANTS,
    TZ_NAME,
    VECTORS,
    draw_sample,
    exact_iaqi,
    explain,
    failed_vectors,
    make_window,
    ratio_to_faster,
    same_iaqi,
    tally_disagreements,
)

STANDARD = {2012: frozenset(), 2026: frozenset({"preround"})}
PYTHON_AQI = frozenset(PEER_DEVIATIONS["python-aqi"])

# domain.md §10.1, last column: python-aqi 0.6.1 (`aqi.algos.mep`) on PM2.5, as installed and run.
PYTHON_AQI_PM25 = [
    ("0", 0), ("20", 29), ("35", 50), ("35.6", 50), ("50", 69), ("60", 81), ("60.5", 81),
    ("61.5", 82), ("75", 100), ("75.5", 100), ("100", 131), ("115", 150), ("130", 171),
    ("150", 200), ("180", 230), ("250", 300), ("300", 350), ("350", 400), ("420", 447),
    ("500", 500),
]


def column(indicator: str, edition: int) -> list[float]:
    return [float(bp) for bp in breakpoints(indicator, edition) if not math.isnan(bp)]


@pytest.mark.parametrize(("edition", "position"), [(2012, 2), (2026, 3)])
def test_the_exact_oracle_gives_the_standards_vectors(edition: int, position: int) -> None:
    for indicator, text, *expected in VECTORS:
        got = exact_iaqi(text, column(indicator, edition), STANDARD[edition])
        assert got == expected[position - 2], (indicator, text, edition)


def test_the_oracle_keeps_the_worked_examples_of_domain_md() -> None:
    pm25_2026 = column("pm25", 2026)
    # §1.3: 60.5 → 60 (GB/T 8170) → exactly 100; skipping the pre-rounding gives ceil(100.45).
    assert exact_iaqi("60.5", pm25_2026, STANDARD[2026]) == 100
    assert exact_iaqi("60.5", pm25_2026) == 101
    # CO rounds to 0.1 mg/m3 in 2026: 0.45 → 0.4 → 4, where 2012 gives ceil(4.5) = 5.
    assert exact_iaqi("0.45", column("co_1h", 2026), STANDARD[2026], decimals=1) == 4
    assert exact_iaqi("0.45", column("co_1h", 2012)) == 5
    # Exact arithmetic: O3 1-h 140.8 is exactly IAQI 44 in 2012 (no float noise, no bump).
    assert exact_iaqi("140.8", column("o3_1h", 2012)) == 44
    assert exact_iaqi("520", pm25_2026) is None  # beyond the table


def test_the_python_aqi_model_reproduces_its_column_in_domain_md() -> None:
    pm25 = column("pm25", 2012)
    for text, expected in PYTHON_AQI_PM25:
        assert exact_iaqi(text, pm25, PYTHON_AQI) == expected, text
    assert exact_iaqi("520", pm25, PYTHON_AQI) is None  # python-aqi raises IndexError


def test_python_aqi_truncates_co_to_whole_milligrams() -> None:
    assert exact_iaqi("0.93", column("co_1h", 2012), PYTHON_AQI) == 0  # standard: ceil(9.3)


@pytest.mark.parametrize(("got", "text", "expected"), [
    (50, "35.6", "truncate"),       # 35 → 50, standard 50.75 → 51
    (81, "60", "half_even"),        # 81.25 → 81, standard 82
    (82, "61.5", "truncate+half_even"),
    (None, "520", "beyond"),
    (999, "60", "unexplained"),
])
def test_python_aqi_disagreements_are_explained(got: int | None, text: str,
                                                expected: str) -> None:
    deviations = PEER_DEVIATIONS["python-aqi"]
    assert explain(got, text, column("pm25", 2012), STANDARD[2012], deviations) == expected


@pytest.mark.parametrize(("indicator", "text", "decimals", "got", "expected"), [
    ("pm25", "60.5", 0, 101, "preround"),
    # 50/35 × 16.1 is exactly 23 but 23.000000000000004 in float64 (aqi-hub gives 24; the
    # standard rounds 16.1 to 16 first: 22.86 → 23).
    ("pm25", "16.1", 0, 24, "preround+binary_float"),
    ("co_1h", "65.4", 1, 219, "binary_float"),  # exactly 218 (65.4 needs no rounding)
])
def test_aqi_hub_disagreements_are_explained(indicator: str, text: str, decimals: int,
                                             got: int, expected: str) -> None:
    deviations = PEER_DEVIATIONS["aqi-hub"]
    assert explain(got, text, column(indicator, 2026), STANDARD[2026], deviations,
                   decimals) == expected


def test_same_iaqi_treats_nan_and_none_as_no_value() -> None:
    assert same_iaqi(math.nan, None)
    assert same_iaqi(50.0, 50)
    assert not same_iaqi(math.nan, 50)
    assert not same_iaqi(50.0, None)


def test_failed_vectors_lists_python_aqis_misses_as_domain_md_marks_them() -> None:
    standard = [row[2] for row in VECTORS]
    assert failed_vectors(standard, 2012) == []
    python_aqi = dict(PYTHON_AQI_PM25)
    got = [python_aqi[text] if indicator == "pm25" else row_2012
           for indicator, text, row_2012, _ in VECTORS]
    assert failed_vectors(got, 2012) == [
        "pm25 35.6: 50 ≠ 51", "pm25 60: 81 ≠ 82", "pm25 60.5: 81 ≠ 82", "pm25 61.5: 82 ≠ 84",
        "pm25 75.5: 100 ≠ 101", "pm25 100: 131 ≠ 132", "pm25 130: 171 ≠ 172",
    ]
    assert failed_vectors([None] + [row[3] for row in VECTORS[1:]], 2026) == ["pm25 0: none ≠ 0"]


def test_tally_counts_only_disagreements_by_cause() -> None:
    items = [("pm25", "35.6"), ("pm25", "60"), ("pm25", "20"), ("so2", "900.0")]
    ours = [51.0, 82.0, 29.0, math.nan]  # so2 1-h > 800 in 2012: no IAQI, as python-aqi
    theirs = [50, 81, 29, None]
    assert tally_disagreements(items, ours, theirs, "python-aqi", 2012) == Counter(
        {"truncate": 1, "half_even": 1})


def test_ratio_is_to_the_faster_peer() -> None:
    assert ratio_to_faster(50e6, [0.3e6, 1.25e6]) == pytest.approx(40.0)


def test_window_spans_both_editions_and_the_sample_is_seeded() -> None:
    window = make_window(len(POLLUTANTS) * HOURS * 2, seed=1)
    assert len(window.sources) == 2 and set(window.values) == set(POLLUTANTS)
    edition = hj633_edition(local_dates(window.times, TZ_NAME))
    assert np.mean(edition == 2026) == 0.5
    sample = draw_sample(window, 500, seed=2)
    assert sample == draw_sample(window, 500, seed=2) and len(sample) == 500
    co = [text for pollutant, text in sample if pollutant == "co"]
    assert co and all(len(text.split(".")[1]) == 2 for text in co)  # CO sent as mg/m3 x.xx
    values = {p: set(window.values[p].ravel().tolist()) for p in POLLUTANTS}
    assert all(float(text) in values[pollutant] for pollutant, text in sample)


@pytest.mark.parametrize("edition", [2012, 2026])
def test_lantian_matches_the_exact_oracle_on_every_real_time_indicator(edition: int) -> None:
    # The benchmark's correctness claim beyond the PM vectors: every whole concentration up to
    # the top breakpoint and 1,000 seeded ones with the decimals sent (table lookup of bands,
    # pre-rounding and the ceiling all checked against rational arithmetic).
    from analytics.aqi import compute_iaqi
    from analytics.hj633_tables import PREROUND_DECIMALS_2026

    rng = np.random.default_rng(7)
    for indicator, *_, decimals, _median, _sigma in POLLUTANTS.values():
        bps = column(indicator, edition)
        texts = [str(c) for c in range(int(bps[-1]) + 1)]
        texts += [f"{c:.{decimals}f}" for c in rng.uniform(0, bps[-1], 1000)]
        got = compute_iaqi(np.array([float(t) for t in texts]), indicator, edition)
        expected = [exact_iaqi(t, bps, STANDARD[edition], PREROUND_DECIMALS_2026[indicator])
                    for t in texts]
        mismatched = [(t, g, e) for t, g, e in zip(texts, got.tolist(), expected, strict=True)
                      if e is not None and g != e]
        assert not mismatched, (indicator, mismatched[:5])
