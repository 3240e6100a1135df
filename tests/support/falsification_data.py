"""Synthetic station networks for the falsification detector tests (seeded, Beijing-like)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from analytics.falsification.audit_series import AuditSeries

START = np.datetime64("2024-01-01T00:00:00", "s")
POLLUTANTS = ("pm25", "pm10", "so2", "no2", "o3", "co")
LEVEL = {"pm25": 55.0, "pm10": 80.0, "so2": 12.0, "no2": 40.0, "o3": 50.0, "co": 0.9}


def station_network(seed: int, n_stations: int = 6, days: int = 30) -> AuditSeries:
    """Hourly stations ~10 km apart seeing one regional air mass, Beijing-like resolution.

    Regional log level: AR(1) (φ 0.97, σ 0.15/h) plus a diurnal swing; each station scales it
    by its own factor (rural vs urban) and adds 10 % noise; integers (CO to 0.1 mg/m³).
    """
    rng = np.random.default_rng(seed)
    n = days * 24
    values: dict[str, np.ndarray] = {}
    for p in POLLUTANTS:
        shocks = rng.normal(0.0, 0.15, n)
        ar = np.zeros(n)
        for t in range(1, n):  # test data only: a short AR(1) recursion
            ar[t] = 0.97 * ar[t - 1] + shocks[t]
        diurnal = 0.25 * np.sin(2 * np.pi * (np.arange(n) % 24) / 24)
        factor = rng.uniform(0.7, 1.3, (n_stations, 1))
        noise = np.exp(rng.normal(0.0, 0.1, (n_stations, n)))
        raw = LEVEL[p] * factor * np.exp(ar + diurnal)[None, :] * noise
        values[p] = np.round(raw, 1) if p == "co" else np.round(raw)
    lat = 39.9 + rng.uniform(-0.05, 0.05, n_stations)
    lon = 116.4 + rng.uniform(-0.05, 0.05, n_stations)
    times = START + np.arange(n) * np.timedelta64(3600, "s")
    return AuditSeries("station", tuple(f"S{i}" for i in range(n_stations)), times, values,
                       lat=lat, lon=lon)


def on_minutes(hourly: AuditSeries, seed: int) -> AuditSeries:
    """The same network on a 1-minute grid: each hour's value with 3 % minute noise."""
    rng = np.random.default_rng(seed)
    values = {p: np.repeat(v, 60, axis=1) * np.exp(rng.normal(0.0, 0.03, (v.shape[0],
                                                                            v.shape[1] * 60)))
              for p, v in hourly.values.items()}
    times = START + np.arange(len(hourly.times) * 60) * np.timedelta64(60, "s")
    return replace(hourly, times=times, values=values, step_s=60)
