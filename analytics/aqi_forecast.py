"""The built-in statistical AQI forecast: damped persistence in log space.

Used only when no official forecast is present (the forecast centre's numerical forecast is
always preferred). A city's log daily AQI behaves roughly like an AR(1) process around a
seasonal level: tomorrow keeps a share φ of today's departure from the recent mean μ. Both are
fitted per city on the trailing `fit_days` natural days before each forecast, so the model
follows the season without a climatology table:

    forecast(lead k) = exp(μ + φ^k · (log anchor − μ)),   k = 0 for today

where the anchor is the latest daily AQI over the last 24 h. Its skill, against persistence and
climatology, is back-tested on the Beijing data in docs/forecast_backtest.md. Everything is
vectorized across cities and days (cumulative sums, no loop over time).
"""

from __future__ import annotations

import numpy as np

FLOOR_AQI = 1.0  # log of a zero AQI is undefined; AQI 0-1 carries no alert information
MAX_PHI = 0.98  # a fitted φ ≥ 1 would never decay back to the mean


def _trailing_sum(values: np.ndarray, days: int) -> np.ndarray:
    """(C, D) sum of the `days` columns strictly before each column (NaN-free input)."""
    zero = np.zeros((values.shape[0], 1))
    sums = np.concatenate([zero, np.cumsum(values, axis=1)], axis=1)
    ends = np.arange(values.shape[1])
    starts = np.maximum(ends - days, 0)
    return sums[:, ends] - sums[:, starts]


def fit_damped_persistence(daily_aqi: np.ndarray, *, fit_days: int = 60,
                           min_pairs: int = 14) -> tuple[np.ndarray, np.ndarray]:
    """(μ, φ), each (C, D): the model available at the start of each day, fitted only on the
    `fit_days` days before it (never on the day itself, so back-tests are honest).

    `daily_aqi` is (cities × consecutive local days), NaN = no valid day. μ is the mean log
    AQI of the valid days; φ the lag-1 regression slope of log AQI on the previous day's,
    clipped to [0, 0.98], from pairs of consecutive valid days. Where fewer than `min_pairs`
    pairs exist both are NaN (the caller then has no statistical forecast).
    """
    if fit_days < 2 or min_pairs < 2:
        raise ValueError("fit_days and min_pairs must be at least 2")
    aqi = np.atleast_2d(np.asarray(daily_aqi, dtype=np.float64))
    log_aqi = np.log(np.fmax(aqi, FLOOR_AQI))
    valid = ~np.isnan(aqi)
    y = np.where(valid, log_aqi, 0.0)
    n = _trailing_sum(valid.astype(np.float64), fit_days)
    with np.errstate(invalid="ignore", divide="ignore"):
        mu = _trailing_sum(y, fit_days) / n
    # Pairs (day j−1, day j) with both valid, j inside the trailing window.
    prev = np.pad(y[:, :-1], ((0, 0), (1, 0)))
    pair = valid & np.pad(valid[:, :-1], ((0, 0), (1, 0)))
    # The first day of a window has its predecessor outside it: a window of `fit_days` days
    # holds fit_days − 1 pairs (j from start + 1), summed as pairs ending before the day.
    n_pairs = _trailing_sum(pair.astype(np.float64), fit_days - 1)
    s_x = _trailing_sum(np.where(pair, prev, 0.0), fit_days - 1)
    s_y = _trailing_sum(np.where(pair, y, 0.0), fit_days - 1)
    s_xy = _trailing_sum(np.where(pair, prev * y, 0.0), fit_days - 1)
    s_xx = _trailing_sum(np.where(pair, prev * prev, 0.0), fit_days - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        # Σ(x−μ)(y−μ) and Σ(x−μ)² around the window mean μ, expanded into the sums above.
        cov = s_xy - mu * (s_x + s_y) + n_pairs * mu * mu
        var = s_xx - 2 * mu * s_x + n_pairs * mu * mu
        phi = np.clip(cov / var, 0.0, MAX_PHI)
    enough = n_pairs >= min_pairs
    return np.where(enough, mu, np.nan), np.where(enough & (var > 0), phi, np.nan)


def damped_forecast(anchor_aqi: np.ndarray, mu: np.ndarray, phi: np.ndarray,
                    horizon: int) -> np.ndarray:
    """Forecast daily AQI for leads 0 … horizon−1 days: shape ``anchor.shape + (horizon,)``.

    `anchor_aqi` is the latest daily AQI over the last 24 h; `mu`, `phi` broadcast with it
    (from fit_damped_persistence of the day the forecast is made). Lead 0 is today and equals
    the anchor. NaN where the anchor or the model is missing. Clipped to the AQI scale 0–500.
    """
    if horizon < 1:
        raise ValueError("horizon must be at least 1 day")
    anchor = np.log(np.fmax(np.asarray(anchor_aqi, dtype=np.float64), FLOOR_AQI))
    anchor = np.where(np.isnan(anchor_aqi), np.nan, anchor)
    leads = np.arange(horizon)
    mu_, phi_ = np.asarray(mu)[..., None], np.asarray(phi)[..., None]
    log_forecast = mu_ + phi_ ** leads * (anchor[..., None] - mu_)
    return np.clip(np.exp(log_forecast), 0.0, 500.0)
