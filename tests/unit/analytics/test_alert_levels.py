"""Alert levels from a daily AQI forecast under data-driven schemes (domain.md §3)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pytest

from alerts.emergency_rules import scheme_from_config
from analytics.alert_levels import alert_levels, level_names, longest_runs
from config.emergency import load_emergency

CONFIG = Path(__file__).resolve().parents[3] / "config" / "emergency.yaml"
NAN = np.nan


def test_longest_runs_counts_consecutive_days_per_row() -> None:
    mask = np.array([[1, 1, 0, 1, 1, 1, 0], [0, 0, 0, 0, 0, 0, 0], [1, 1, 1, 1, 1, 1, 1],
                     [0, 1, 0, 1, 0, 1, 0]], dtype=bool)
    assert longest_runs(mask).tolist() == [3, 0, 7, 1]
    assert longest_runs(np.zeros((2, 0), dtype=bool)).tolist() == [0, 0]


@pytest.fixture
def national_2018():  # type: ignore[no-untyped-def]
    beijing = load_emergency(CONFIG).for_city("beijing")
    assert beijing is not None
    scheme = beijing.scheme_on(date(2020, 1, 1))
    assert scheme is not None and scheme.name == "national-2018"
    return scheme_from_config(scheme)


@pytest.mark.parametrize(("forecast", "expected"), [
    ([150, 180, 190, 120], None),
    ([150, 201, 190, 120], "blue"),        # > 200 for one day
    ([200, 200, 200, 200], None),          # exactly 200 is not above
    ([210, 220, 150, 120], "yellow"),      # > 200 for 2 days
    ([210, 220, 230, 120], "yellow"),      # 3 days but no day > 300: not orange
    ([210, 320, 230, 120], "orange"),      # 3 days and one > 300
    ([210, 320, 330, 230], "red"),         # 4 days and 2 days > 300
    ([210, 320, 150, 330, 230], "yellow"),  # a clean day splits the > 200 run: 2 + 2 days
    ([210, 320, 230, 150, 330, 310], "orange"),  # 2 days > 300, but > 200 only 3 in a row
    ([150, 500, 150, 120], "red"),         # AQI 500
    ([210, NAN, 230, 250], "yellow"),      # a missing day breaks a run
])
def test_national_2018_scheme(national_2018, forecast: list[float],  # type: ignore[no-untyped-def]
                              expected: str | None) -> None:
    assert level_names(alert_levels(np.array([forecast]), national_2018), national_2018) == [
        expected]


def test_many_cities_at_once_and_the_scheme_in_force_by_date() -> None:
    beijing = load_emergency(CONFIG).for_city("beijing")
    assert beijing is not None
    assert beijing.scheme_on(date(2013, 10, 16)) is None
    assert beijing.scheme_on(date(2017, 12, 31)).name == "beijing-2013"  # type: ignore[union-attr]
    assert beijing.scheme_on(date(2018, 1, 1)).name == "national-2018"  # type: ignore[union-attr]
    revised = beijing.scheme_on(date(2026, 11, 23))
    assert revised is not None and revised.name == "national-2024" and not revised.confirmed
    scheme = scheme_from_config(revised)
    forecasts = np.array([[160, 170, 120, 100], [160, 170, 180, 100], [210, 220, 230, 100],
                          [210, 220, 310, 100], [140, 100, 90, 80]])
    assert level_names(alert_levels(forecasts, scheme), scheme) == [
        "yellow", "orange", "orange", "red", None]


def test_bad_schemes_are_refused_with_reasons(tmp_path: Path) -> None:
    bad = tmp_path / "emergency.yaml"
    bad.write_text("jurisdictions:\n  - city: x\n    schemes:\n      - name: s\n"
                   "        effective_from: 2020-01-01\n        levels:\n"
                   "          - {name: red, response: I, any_of: [[{above: 300}]]}\n"
                   "          - {name: yellow, response: III, any_of: [[{days: 2}]]}\n",
                   encoding="utf-8")
    with pytest.raises(ValueError, match="exactly one of 'above' or 'at_least'"):
        load_emergency(bad)
    bad.write_text("jurisdictions:\n  - city: x\n    schemes:\n      - name: s\n"
                   "        effective_from: 2020-01-01\n        levels:\n"
                   "          - {name: red, response: I, any_of: [[{above: 300}]]}\n"
                   "          - {name: yellow, response: III, any_of: [[{above: 200}]]}\n",
                   encoding="utf-8")
    with pytest.raises(ValueError, match="ordered blue < yellow < orange < red"):
        load_emergency(bad)
