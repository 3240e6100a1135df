"""The built-in statistical forecast: fits an AR(1) it was given, never looks ahead, decays."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from analytics.aqi_forecast import damped_forecast, fit_damped_persistence


def _ar1(rng: np.random.Generator, days: int, mu: float, phi: float, sigma: float) -> np.ndarray:
    log_aqi = np.empty(days)
    log_aqi[0] = mu
    shocks = rng.normal(0.0, sigma, days)
    for day in range(1, days):  # building the test series, not the code under test
        log_aqi[day] = mu + phi * (log_aqi[day - 1] - mu) + shocks[day]
    return np.exp(log_aqi)


def test_fit_recovers_the_process_it_was_given() -> None:
    rng = np.random.default_rng(5)
    aqi = np.stack([_ar1(rng, 3000, np.log(100), 0.7, 0.3), _ar1(rng, 3000, np.log(60), 0.3, 0.2)])
    mu, phi = fit_damped_persistence(aqi, fit_days=2000, min_pairs=100)
    assert_allclose(phi[:, -1], [0.7, 0.3], atol=0.05)
    assert_allclose(np.exp(mu[:, -1]), [100, 60], rtol=0.1)
    assert np.isnan(mu[:, :101]).all()  # fewer than 100 pairs before day 101


def test_the_fit_of_a_day_never_sees_that_day_or_later() -> None:
    rng = np.random.default_rng(9)
    aqi = _ar1(rng, 200, np.log(120), 0.6, 0.4)[None, :]
    mu, phi = fit_damped_persistence(aqi)
    changed = aqi.copy()
    changed[0, 150:] = 499.0
    mu2, phi2 = fit_damped_persistence(changed)
    assert_allclose(mu2[:, :151], mu[:, :151])
    assert_allclose(phi2[:, :151], phi[:, :151])
    assert not np.isclose(mu2[0, 151], mu[0, 151])


def test_missing_days_are_left_out_of_the_fit() -> None:
    rng = np.random.default_rng(2)
    aqi = _ar1(rng, 400, np.log(90), 0.5, 0.3)[None, :]
    gappy = aqi.copy()
    gappy[0, ::7] = np.nan
    mu, phi = fit_damped_persistence(gappy, fit_days=300, min_pairs=50)
    assert np.isfinite(mu[0, -1]) and np.isfinite(phi[0, -1])
    assert phi[0, -1] == pytest.approx(0.5, abs=0.15)


def test_forecast_starts_at_the_anchor_and_decays_to_the_mean() -> None:
    forecast = damped_forecast(np.array([400.0, 30.0, np.nan]), np.log([100.0, 100.0, 100.0]),
                               np.array([0.5, 0.5, 0.5]), horizon=4)
    assert_allclose(forecast[0], [400, 200, 141.421356, 118.920712], rtol=1e-6)
    assert_allclose(forecast[1, 0], 30.0)
    assert (np.diff(forecast[1]) > 0).all()  # a clean day is forecast to worsen toward μ
    assert np.isnan(forecast[2]).all()
    assert np.isnan(damped_forecast(np.array([300.0]), np.array([np.nan]), np.array([np.nan]),
                                    2)).all()


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="horizon"):
        damped_forecast(np.array([1.0]), np.array([0.0]), np.array([0.5]), 0)
    with pytest.raises(ValueError, match="at least 2"):
        fit_damped_persistence(np.ones((1, 10)), fit_days=1)
