"""Synthetic station networks for the falsification detector tests (seeded, Beijing-like)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import numpy as np

from analytics.falsification.audit_series import AuditSeries
from analytics.findings import Finding
from simulators.cems_model import CemsRun

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


CEMS_PARAMETERS = ("particulate", "so2", "nox", "o2", "flow", "temperature", "moisture")


def cems_minute_series(run: CemsRun) -> AuditSeries:
    """A simulated CEMS run as an AuditSeries on its minute grid (flow m³/s → m³/h, as bundles
    carry it), with the outlets' coordinates, reference O2 and limits."""
    mns = list(run.series)
    outlets = [run.series[m].outlet for m in mns]
    values = {p: np.stack([run.series[m].values[p] for m in mns]) * (3600.0 if p == "flow"
                                                                       else 1.0)
              for p in CEMS_PARAMETERS}
    flags = {p: np.stack([run.series[m].flags[p] for m in mns]).astype("S1")
             for p in CEMS_PARAMETERS}
    return AuditSeries(
        "outlet", tuple(mns), run.times, values, flags, step_s=60,
        lat=np.array([o.lat for o in outlets], dtype=float),
        lon=np.array([o.lon for o in outlets], dtype=float),
        reference_o2=np.array([o.reference_o2 for o in outlets], dtype=float),
        limits={p: np.array([o.limits.get(p, np.nan) for o in outlets])
                for p in ("particulate", "so2", "nox")})


def with_values(series: AuditSeries, pollutant: str, row: int, cols: slice,
                new: np.ndarray | float) -> AuditSeries:
    """A copy of `series` with `pollutant` of source `row` over `cols` replaced by `new`."""
    values = {p: v.copy() for p, v in series.values.items()}
    values[pollutant][row, cols] = new
    return replace(series, values=values)


def hour(h: int) -> datetime:
    """The UTC start of hour `h` after START."""
    return datetime.fromtimestamp(int(START.astype(np.int64)) + 3600 * h, UTC)


def only(findings: list[Finding], type_: str, source: str, pollutant: str) -> Finding:
    """The single finding, checked to be of `type_` at `source` for `pollutant`."""
    assert len(findings) == 1, findings
    f = findings[0]
    assert (f.type, f.source, f.pollutant) == (type_, source, pollutant)
    return f


def near(found: datetime, expected: datetime, hours: int = 2) -> bool:
    """Whether two instants are within `hours` of each other."""
    return abs((found - expected).total_seconds()) <= hours * 3600
