"""A seeded synthetic station network: background, diurnal cycle, noise and regional episodes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analytics.series_window import SeriesWindow

HOUR_S = 3600
DAY_S = 86400
LOCAL_OFFSET_S = 8 * HOUR_S  # the network's local clock is UTC+8 (Beijing)
BACKGROUND_PM25_UGM3 = 40.0  # regional clean-air PM2.5 level the episodes sit on


@dataclass(frozen=True)
class Episode:
    """Ground truth of one regional heavy-pollution episode.

    `start` is the beginning of the build-up, `end` the end of the clearance (both
    ``datetime64[s]`` UTC, regional clock: stations lag by up to ±3 h); `peak_pm25` is the
    regional peak 24-hour mean PM2.5 in µg/m³ that the episode was built to reach.
    """

    start: np.datetime64
    end: np.datetime64
    peak_pm25: float


@dataclass(frozen=True)
class _EpisodeShape:
    start_s: int
    build_s: float
    hold_s: float
    tau_s: float  # e-folding time of the clearance
    peak_pm25: float  # µg/m³, target regional peak 24-hour mean


def generate_network(
    n_stations: int,
    start: np.datetime64,
    n_steps: int,
    *,
    step_s: int = 3600,
    seed: int = 0,
) -> tuple[SeriesWindow, list[Episode]]:
    """Simulate `n_stations` stations ``SIM001…`` for `n_steps` periods of `step_s` seconds.

    Returns the window (pm25, pm10, so2, no2, o3 in µg/m³, co in mg/m³; no NaN, no negative
    value; times are UTC period starts from `start`) and the episodes that lie wholly inside
    it. Episodes and background depend only on `seed` and the time span, not on `n_stations`
    or `step_s`; the same arguments always give the same output.
    """
    if n_stations < 1 or n_steps < 1 or step_s < 1:
        raise ValueError("n_stations, n_steps and step_s must all be at least 1")
    station_rng, episode_rng, background_rng, noise_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4)
    )
    start_s = int(np.datetime64(start, "s").astype(np.int64))
    t_s = start_s + np.arange(n_steps, dtype=np.int64) * step_s
    shapes = _draw_episodes(episode_rng, start_s, start_s + n_steps * step_s)

    shape = (n_stations, n_steps)
    lag_s = station_rng.uniform(-3 * HOUR_S, 3 * HOUR_S, n_stations)[:, None]
    pm_factor = station_rng.lognormal(0.0, 0.2, n_stations)[:, None]
    pm_offset = station_rng.uniform(0.0, 12.0, n_stations)[:, None]
    coarse = station_rng.uniform(10.0, 35.0, n_stations)[:, None]
    no2_factor, so2_factor, o3_factor, co_factor = (
        station_rng.lognormal(0.0, s, n_stations)[:, None] for s in (0.3, 0.4, 0.1, 0.15)
    )

    hour = ((t_s + LOCAL_OFFSET_S) % DAY_S) / HOUR_S
    episode_ugm3, episode_frac = _episode_levels(shapes, t_s[None, :] - lag_s)
    regional = _background(background_rng, t_s)[None, :] + episode_ugm3
    pm25_smooth = (regional * pm_factor + pm_offset) * _pm_diurnal(hour)
    pm25 = pm25_smooth * _noise(noise_rng, 0.12, shape)
    ratio = 0.6 + 0.25 * episode_frac  # fine particles dominate in haze
    pm10 = pm25 / ratio + coarse * _noise(noise_rng, 0.25, shape)
    no2 = 38.0 * no2_factor * _no2_diurnal(hour) * (1 + 0.9 * episode_frac)
    no2 = no2 * _noise(noise_rng, 0.18, shape)
    # Titration by NO (tracked by NO2) lowers O3 where NO2 is high; sunlight makes it by day.
    o3 = 70.0 * o3_factor * (0.25 + 1.2 * _bump(hour, 15.0, 3.0)) * np.exp(-(no2 - 40.0) / 80.0)
    o3 = o3 * _noise(noise_rng, 0.15, shape)
    so2 = 9.0 * so2_factor * (1 + 0.2 * _bump(hour, 11.0, 3.0)) * (1 + 1.5 * episode_frac)
    so2 = so2 * _noise(noise_rng, 0.3, shape)
    co = (0.35 + 0.009 * pm25_smooth) * co_factor * _noise(noise_rng, 0.12, shape)

    window = SeriesWindow(
        sources=tuple(f"SIM{i:03d}" for i in range(1, n_stations + 1)),
        times=t_s.astype("datetime64[s]"),
        values={"pm25": pm25, "pm10": pm10, "so2": so2, "no2": no2, "o3": o3, "co": co},
        step_s=step_s,
    )
    return window, [_to_episode(s) for s in shapes]


def _draw_episodes(rng: np.random.Generator, first_s: int, stop_s: int) -> list[_EpisodeShape]:
    """Episodes wholly inside [first_s, stop_s): 2–4 d build-up, 12–30 h hold, 2–5 h clearance."""
    shapes: list[_EpisodeShape] = []
    cursor = first_s + rng.uniform(1.0, 4.0) * DAY_S
    while True:
        build_s = rng.uniform(2.0, 4.0) * DAY_S
        hold_s = rng.uniform(12.0, 30.0) * HOUR_S
        tau_s = rng.uniform(2.0, 5.0) * HOUR_S
        peak = rng.uniform(150.0, 400.0)
        gap_s = rng.uniform(3.0, 8.0) * DAY_S
        shape = _EpisodeShape(int(cursor), build_s, hold_s, tau_s, round(peak, 1))
        if _end_s(shape) > stop_s:
            return shapes
        shapes.append(shape)
        cursor = _end_s(shape) + gap_s


def _end_s(shape: _EpisodeShape) -> int:
    """Clearance is over after 4 e-folding times (under 2 % of the peak left)."""
    return int(shape.start_s + shape.build_s + shape.hold_s + 4 * shape.tau_s)


def _unit_shape(shape: _EpisodeShape, rel_s: np.ndarray) -> np.ndarray:
    """0 before the start, quadratic build-up to 1, hold, then exponential clearance."""
    top_end = shape.build_s + shape.hold_s
    ramp = np.clip(rel_s / shape.build_s, 0.0, 1.0) ** 2
    decay = np.exp(-np.maximum(rel_s - top_end, 0.0) / shape.tau_s)
    return np.where(rel_s < top_end, ramp, decay)


def _max_daily_mean(shape: _EpisodeShape) -> float:
    """Largest 24-hour mean of the unit shape, on a 10-minute grid."""
    grid = np.arange(0.0, _end_s(shape) - shape.start_s, 600.0)
    csum = np.concatenate([[0.0], np.cumsum(_unit_shape(shape, grid))])
    per_day = DAY_S // 600
    return float(((csum[per_day:] - csum[:-per_day]) / per_day).max())


def _episode_levels(shapes: list[_EpisodeShape], t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Added regional PM2.5 (µg/m³) and episode intensity in [0, 1] at times `t_s`."""
    added = np.zeros(t_s.shape)
    intensity = np.zeros(t_s.shape)
    for shape in shapes:
        unit = _unit_shape(shape, (t_s - shape.start_s).astype(np.float64))
        # Scaled so that background + episode peaks at the target 24-hour mean.
        added += (shape.peak_pm25 - BACKGROUND_PM25_UGM3) / _max_daily_mean(shape) * unit
        intensity = np.maximum(intensity, unit)
    return added, intensity


def _background(rng: np.random.Generator, t_s: np.ndarray) -> np.ndarray:
    """Regional clean-air PM2.5 (µg/m³): slow weather-scale swings around the background."""
    periods_s = np.array([1.7, 3.1, 5.3, 11.0]) * DAY_S
    phases = rng.uniform(0.0, 2 * np.pi, periods_s.size)
    waves = np.sin(2 * np.pi * t_s[:, None] / periods_s + phases).sum(axis=1)
    return BACKGROUND_PM25_UGM3 * np.exp(0.12 * waves)


def _bump(hour: np.ndarray, center: float, width: float) -> np.ndarray:
    """A Gaussian bump on the 24-hour circle (hours)."""
    distance = (hour - center + 12.0) % 24.0 - 12.0
    return np.exp(-0.5 * (distance / width) ** 2)


def _pm_diurnal(hour: np.ndarray) -> np.ndarray:
    """Morning rush and evening peak (shallow night boundary layer), afternoon dip."""
    return (
        1
        + 0.15 * _bump(hour, 8.0, 1.5)
        + 0.35 * _bump(hour, 21.0, 3.0)
        - 0.25 * _bump(hour, 14.5, 2.5)
    )


def _no2_diurnal(hour: np.ndarray) -> np.ndarray:
    return (
        1
        + 0.45 * _bump(hour, 8.0, 1.5)
        + 0.5 * _bump(hour, 19.5, 2.5)
        - 0.35 * _bump(hour, 14.0, 3.0)
    )


def _noise(rng: np.random.Generator, sigma: float, shape: tuple[int, int]) -> np.ndarray:
    """Multiplicative lognormal noise with mean 1."""
    return rng.lognormal(-0.5 * sigma**2, sigma, shape)


def _to_episode(shape: _EpisodeShape) -> Episode:
    return Episode(
        start=np.datetime64(shape.start_s, "s"),
        end=np.datetime64(_end_s(shape), "s"),
        peak_pm25=shape.peak_pm25,
    )
