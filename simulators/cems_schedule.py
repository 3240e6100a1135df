"""When a simulated stack runs: production cycles, random outages, start-up and shut-down ramps.

Pure NumPy on the local clock (seconds since 1970-01-01 local, one value a minute).
"""

from __future__ import annotations

import numpy as np

from simulators.cems_noise import ar1
from simulators.cems_profiles import CemsProfile

MONTH_MIN = 30 * 1440


def production_load(profile: CemsProfile, local_s: np.ndarray, rng: np.random.Generator
                    ) -> tuple[np.ndarray, np.ndarray]:
    """(load 0–1 before ramps, in-season bool) from the profile's cycle on the local clock."""
    n = len(local_s)
    hour = (local_s % 86400) / 3600.0 + 0.5 / 60
    in_season = np.ones(n, dtype=bool)
    if profile.cycle == "continuous":
        wander = ar1(rng, n, tau_min=720.0, sigma=0.03)
        return np.clip(0.97 + wander, profile.min_load, 1.0), in_season
    width_h = 3.0 if profile.cycle == "daily_load" else 5.0
    shape = np.zeros(n)
    for peak in profile.peak_hours:
        distance = (hour - peak + 12.0) % 24.0 - 12.0
        shape += np.exp(-0.5 * (distance / width_h) ** 2)
    grid = np.linspace(0.0, 24.0, 1441)
    top = max(sum(np.exp(-0.5 * (((grid - p + 12) % 24 - 12) / width_h) ** 2)
                  for p in profile.peak_hours).max(), 1e-9)
    load = profile.min_load + (1 - profile.min_load) * shape / top
    load = np.clip(load + ar1(rng, n, tau_min=120.0, sigma=0.03), 0.9 * profile.min_load, 1.0)
    if profile.season is not None:
        days = local_s // 86400
        today = month_day(days)
        (m0, d0), (m1, d1) = profile.season
        begin, end = m0 * 100 + d0, m1 * 100 + d1
        in_season = ((today >= begin) | (today < end) if begin > end
                     else (today >= begin) & (today < end))
    return load, in_season


def month_day(days: np.ndarray) -> np.ndarray:
    """month × 100 + day of each day number since 1970-01-01 (vectorized civil calendar)."""
    dates = days.astype("datetime64[D]")
    months = dates.astype("datetime64[M]")
    month = months.astype(np.int64) % 12 + 1
    day = (dates - months).astype(np.int64) + 1
    return month * 100 + day


def draw_spans(rng: np.random.Generator, n: int, per_30d: float, minutes: tuple[float, float]
               ) -> list[tuple[int, int]]:
    """Random [a, b) minute spans: Poisson count at `per_30d`, durations uniform in range."""
    count = rng.poisson(per_30d * n / MONTH_MIN)
    starts = rng.integers(0, n, count)
    lengths = rng.uniform(minutes[0], minutes[1], count).round().astype(int)
    return [(int(a), int(min(a + d, n))) for a, d in zip(starts, lengths, strict=True)]


def ramp_factor(running: np.ndarray, up_min: int, down_min: int) -> np.ndarray:
    """0–1 factor: rises over `up_min` after each start-up, falls over `down_min` before a stop."""
    n = len(running)
    ramp = running.astype(float)
    edges = np.flatnonzero(np.diff(np.concatenate(([0], running.astype(np.int8), [0]))))
    for a, b in zip(edges[::2], edges[1::2], strict=True):  # one iteration per run segment
        i = np.arange(a, b)
        up = np.clip((i - a + 1) / up_min, 0, 1) if a > 0 else np.ones(b - a)
        down = np.clip((b - i) / down_min, 0, 1) if b < n else np.ones(b - a)
        ramp[a:b] = np.minimum(up, down)
    return ramp
