"""Forecast back-test: scores checked by hand on tiny series, lead 0 shared by model and
persistence, and a short real Beijing winter run end to end (data loading, anchor, report)."""

from __future__ import annotations

import math
from dataclasses import astuple
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from analytics.aqi import daily_aqi
from analytics.city_aqi import city_means
from analytics.daily_means import daily_means
from analytics.ozone_daily import o3_daily_max_1h, o3_daily_max_8h
from analytics.rolling_daily_aqi import rolling_24h_aqi
from lantian.forecast_backtest import (
    METHODS,
    CityDays,
    backtest,
    load_city_days,
    load_scheme,
    render_report,
)
from simulators.beijing_replay import load_beijing

MU_100 = math.log(100.0)
# Observed daily AQI and the anchor issued each day (none on the last day).
OBSERVED = np.array([100.0, 250.0, 300.0, 150.0, 220.0])
ANCHOR = np.array([120.0, 210.0, 180.0, 260.0, np.nan])


def _run(observed: np.ndarray, anchor: np.ndarray, horizon: int = 3):  # type: ignore[no-untyped-def]
    days = len(observed)
    return backtest(observed, anchor, np.full(days, MU_100), np.full(days, 0.5), horizon)


def test_persistence_errors_and_event_scores_match_hand_counts() -> None:
    lead1 = _run(OBSERVED, ANCHOR).leads["persistence"][1]
    # Pairs (anchor of day d, observed day d+1): 120/250, 210/300, 180/150, 260/220.
    errors = np.array([120 - 250, 210 - 300, 180 - 150, 260 - 220])
    assert lead1.n == 4
    assert lead1.mae == pytest.approx(290 / 4)
    assert lead1.bias == pytest.approx(-150 / 4)
    assert lead1.rmse == pytest.approx(math.sqrt((errors**2).mean()))
    # > 200 forecast on d1, d3; observed on targets of d0, d1, d3: 2 hits, 1 miss, 0 false.
    assert (lead1.hits, lead1.misses, lead1.false_alarms) == (2, 1, 0)
    assert (lead1.pod, lead1.far, lead1.csi) == (pytest.approx(2 / 3), 0.0, pytest.approx(2 / 3))
    # Onsets: day 1 (after 100) and day 4 (after 150); only day 4's was forecast (260).
    assert (lead1.onsets, lead1.onset_hits) == (2, 1)


def test_model_and_climatology_follow_their_formulas() -> None:
    result = _run(OBSERVED, ANCHOR)
    model = result.leads["model"][1]
    # exp(μ + φ(log a − μ)) with μ = log 100, φ = ½ is √(100·a).
    forecast = np.sqrt(100 * ANCHOR[:4])
    assert model.mae == pytest.approx(np.abs(forecast - OBSERVED[1:]).mean())
    assert (model.hits, model.misses, model.false_alarms) == (0, 3, 0)
    assert model.pod == 0.0 and math.isnan(model.far) and model.csi == 0.0
    climatology = result.leads["climatology"][1]
    assert climatology.mae == pytest.approx((150 + 200 + 50 + 120) / 4)
    assert climatology.bias == pytest.approx(-130.0)


def test_lead_zero_of_model_and_persistence_is_the_anchor() -> None:
    rng = np.random.default_rng(11)
    days = 200
    observed = np.clip(np.exp(rng.normal(4.6, 0.6, days)), 1, 500)  # the AQI scale
    observed[rng.integers(0, days, 10)] = np.nan
    anchor = np.clip(observed * np.exp(rng.normal(0.0, 0.2, days)), 1, 500)
    result = backtest(observed, anchor, rng.normal(4.6, 0.2, days), rng.uniform(0, 0.9, days))
    # exp(log anchor) may differ from the anchor in the last bit, hence approx.
    model, persistence = result.leads["model"][0], result.leads["persistence"][0]
    assert astuple(model) == pytest.approx(astuple(persistence), nan_ok=True)
    assert model.n > 150 and model.hits + model.misses > 0
    assert result.leads["model"][1] != result.leads["persistence"][1]


def test_alert_levels_by_the_national_2018_scheme() -> None:
    observed = np.array([350.0, 320.0, 310.0, 100.0, 100.0, 100.0])
    # Day 0: persistence 380 ×3 is orange like the observed; the model (380, 195, 140) is
    # blue. Day 1: observed 320, 310, 100 is yellow, both forecasts of 150 give none.
    anchor = np.array([380.0, 150.0, np.nan, np.nan, np.nan, np.nan])
    result = _run(observed, anchor)
    assert result.level_names == ("none", "blue", "yellow", "orange", "red")
    persistence, model = result.alerts["persistence"], result.alerts["model"]
    assert persistence.n == model.n == 2
    assert persistence.same_level == 0.5 and model.same_level == 0.0
    assert (persistence.observed_severe, persistence.severe_warned) == (1, 1)
    assert (model.observed_severe, model.severe_warned) == (1, 0)
    assert persistence.confusion[3, 3] == 1 and persistence.confusion[2, 0] == 1
    assert model.confusion[3, 1] == 1


def test_an_unknown_scheme_is_refused() -> None:
    with pytest.raises(ValueError, match="no scheme"):
        load_scheme(name="national-1999")


@pytest.fixture(scope="module")
def winter(beijing_data: Path) -> CityDays:
    return load_city_days(beijing_data, start=date(2015, 11, 1), end=date(2016, 1, 31))


def test_a_real_winter_gives_finite_scores(winter: CityDays) -> None:
    result = backtest(winter.daily_aqi, winter.anchor, winter.mu, winter.phi)
    assert np.isfinite(winter.anchor).sum() >= 85  # 92 issue days, a few may lack data
    for method in METHODS:
        for scores in result.leads[method]:
            assert scores.n >= 80
            assert np.isfinite([scores.mae, scores.bias, scores.rmse]).all()
        assert result.alerts[method].n >= 80
    # December 2015 had Beijing's first red alerts: heavy days must be there to score.
    assert result.leads["persistence"][1].hits + result.leads["persistence"][1].misses > 5
    report = render_report(result, winter)
    assert "fallback" in report and "2015-11-01" in report and "| 1 | model |" in report


def test_anchor_and_observed_match_direct_computations(beijing_data: Path,
                                                       winter: CityDays) -> None:
    day = np.flatnonzero(winter.days == np.datetime64("2015-12-01"))[0]
    # The 24 h ending at 16:00 local on 1 December, loaded on their own.
    hours = load_beijing(beijing_data, start="2015-11-30 16:00", end="2015-12-01 16:00")
    city, _ = city_means(hours, dict.fromkeys(hours.sources, "beijing"))
    assert len(city.times) == 24
    assert winter.anchor[day] == rolling_24h_aqi(city, "Asia/Shanghai").aqi[0, -1]
    one_day = load_beijing(beijing_data, start="2015-12-01", end="2015-12-02")
    city, _ = city_means(one_day, dict.fromkeys(one_day.sources, "beijing"))
    daily = daily_means(city, "Asia/Shanghai")
    expected = daily_aqi(daily, o3_daily_max_8h(city, daily), o3_daily_max_1h(city, daily))
    assert winter.daily_aqi[day] == expected.aqi[0, 0]


def test_the_command_writes_the_report(beijing_data: Path, tmp_path: Path) -> None:
    import typer

    from lantian.forecast_backtest import main

    app = typer.Typer()
    app.command()(main)
    out = tmp_path / "backtest.md"
    result = CliRunner().invoke(app, ["--out", str(out), "--start", "2015-12-01",
                                      "--end", "2015-12-31", "--data", str(beijing_data)])
    assert result.exit_code == 0, result.output
    assert "persistence" in result.output and "MAE" in result.output
    assert out.read_text(encoding="utf-8").startswith("# Back-test")
