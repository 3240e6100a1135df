"""low_variance: a span of readings that barely move while the air keeps its level.

Smoothing or hand-made data (shared/domain.md §7.2 #9: "implausibly smooth series") keep a
plausible mean but lose the hour-to-hour movement every real analyser shows. Real movement
grows with the level (Beijing 2014–2016: the median 12-hour std of hourly steps goes roughly
as level^0.4–0.7), so each source's own norm is fitted as log sd = a + β·log level through
the medians of its level octaves; an hour is "quiet" when the std of the steps in the
`window_hours` around it is ≤ `max_ratio` of that norm. A run of quiet hours long enough
(`min_quiet_hours`, reported widened by half a window on each side) is a finding unless

* its mean is at the series' noise floor (few resolution steps: coarse data at 2 µg/m³ do
  not move at all), or
* most of its steps are exactly zero: that is a flatline, reported by flatline.py.

Works on hourly values (`series.hourly()`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analytics.falsification.audit_series import AuditSeries
from analytics.falsification.flatline import measured_hourly
from analytics.falsification.nan_median import nan_median
from analytics.falsification.neighbours import distance_ranks, distances_km, neighbour_mask
from analytics.falsification.run_findings import close_gaps, finding, number, runs
from analytics.findings import Finding

LOW_VARIANCE = "low_variance"
_BANDS = 32  # octaves of the resolution


@dataclass(frozen=True)
class LowVarianceSettings:
    """Thresholds of a too-smooth span (hours on the hourly grid)."""

    # Hours over which the std of hourly steps is taken: half a day holds enough steps (11)
    # for a stable std yet fits twice into the shortest span worth reporting (24 h).
    window_hours: int = 12
    # Steps a window needs to be judged (the rest is missing).
    min_steps: int = 8
    # Quiet: window std ≤ this share of the source's norm at that level. Real 12-h windows
    # sit at ≥ ~0.3 of the norm in their quietest 1 % (Beijing 2014–2016); smoothed data
    # keep 2–15 % of their movement.
    max_ratio: float = 0.2
    # Where neighbours vouch too (stations with ≥ `min_neighbours` within `radius_km`), the
    # own-norm test only needs to say "clearly below normal".
    max_ratio_with_neighbours: float = 0.4
    # Consecutive quiet window centres needed; the finding spans them ± half a window, so 13
    # centres ≈ 24 h of data.
    min_quiet_hours: int = 13
    # Quiet centres interrupted by up to this many hours stay one span.
    max_gap_hours: int = 3
    # The span's mean level must be ≥ this many resolution steps: below it a coarse series
    # cannot move (SO2 at 2–3 µg/m³).
    min_level_quanta: float = 5.0
    # A span holding one constant run this long (share of its hours) is a flatline, not low
    # variance (flatline.py reports it).
    max_constant_share: float = 0.5
    # Stations: the window std must also be ≤ this share of what the neighbours within
    # `radius_km` show at the same hours (scaled to the station's level by √level): real calm
    # spells are regional (Beijing NO2, 19–21 Nov 2015, all 12 stations), smoothing is not.
    max_neighbour_ratio: float = 0.15
    radius_km: float = 40.0
    min_neighbours: int = 2
    # The nearest ten neighbours are plenty for a median (and bound the cost in dense
    # networks).
    max_neighbours: int = 10
    # Level octaves need this many windows for their median to enter the norm fit.
    min_band_windows: int = 24


def detect_low_variance(series: AuditSeries,
                        settings: LowVarianceSettings = LowVarianceSettings()
                        ) -> list[Finding]:
    """Spans whose hour-to-hour variability is far below the source's norm at their level.

    Score = `max_ratio` / the span's median ratio (≥ 1). Evidence: the span's variability,
    the source's normal variability at that level, their ratio, the mean level, hours.
    """
    if not series.sources or not len(series.times):
        return []
    hourly = series.hourly()
    if len(hourly.times) < settings.window_hours + settings.min_quiet_hours:
        return []
    findings: list[Finding] = []
    for p in hourly.judged():
        findings += _detect(hourly, p, settings)
    return findings


def _detect(hourly: AuditSeries, p: str, settings: LowVarianceSettings) -> list[Finding]:
    values = measured_hourly(hourly, p)
    n_cols = values.shape[1]
    step = np.full(values.shape, np.nan)
    step[:, 1:] = np.diff(values, axis=1)
    w = settings.window_hours
    sd = pd.DataFrame(step.T).rolling(w, min_periods=settings.min_steps,
                                      center=True).std().to_numpy().T
    level = pd.DataFrame(values.T).rolling(w, min_periods=settings.min_steps,
                                           center=True).mean().to_numpy().T
    resolution = _resolution(np.abs(step))
    with np.errstate(invalid="ignore", divide="ignore"):
        quanta = level / np.where(resolution > 0, resolution, np.nan)[:, None]
        ok = (quanta >= settings.min_level_quanta) & (sd >= 0)
    norm = _norm(sd, level, quanta, ok, settings)
    nbr = _neighbour_norm(hourly, sd, level, settings)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = sd / norm
        nbr_ratio = sd / nbr
        alone = np.isnan(nbr_ratio)
        quiet = ok & np.where(alone, ratio <= settings.max_ratio,
                              (ratio <= settings.max_ratio_with_neighbours)
                              & (nbr_ratio <= settings.max_neighbour_ratio))
    if not quiet.any():
        return []
    quiet = close_gaps(quiet, settings.max_gap_hours)
    half = w // 2
    findings: list[Finding] = []
    for row, a, b in zip(*runs(quiet), strict=True):
        if b - a + 1 < settings.min_quiet_hours:
            continue
        first, last = max(a - half, 0), min(b + half, n_cols - 1)
        span = values[row, first:last + 1]
        steps = step[row, first + 1:last + 1]
        steps = steps[~np.isnan(steps)]
        if not len(steps):
            continue
        mean = float(np.nanmean(span))
        if mean < settings.min_level_quanta * resolution[row]:
            continue
        zero_share = float(np.mean(steps == 0))
        if _longest_constant(span) >= settings.max_constant_share * (last - first + 1):
            continue  # a flatline
        core = step[row, a + 1:b + 1]  # the quiet centres: edges of the span mix in normal hours
        core = core[~np.isnan(core)]
        span_sd = float(np.std(core, ddof=1)) if len(core) > 1 else 0.0
        normal = float(np.nanmedian(norm[row, a:b + 1]))
        span_ratio = float(np.nanmedian(ratio[row, a:b + 1]))
        nbr_med = float(np.nanmedian(nbr[row, a:b + 1])) if np.any(
            ~np.isnan(nbr[row, a:b + 1])) else float("nan")
        evidence = {
            "hours": int(last - first + 1),
            "neighbours_step_std_at_level": number(nbr_med, 4),
            "step_std": number(span_sd, 4),
            "normal_step_std_at_level": number(normal, 4),
            "ratio": number(span_sd / normal if normal > 0 else float("nan"), 4),
            "median_window_ratio": number(span_ratio, 4),
            "threshold_ratio": settings.max_ratio,
            "mean_level": number(mean, 3),
            "zero_step_share": number(zero_share, 3),
            "resolution": number(float(resolution[row]), 4),
            "window_hours": w,
        }
        score = settings.max_ratio / max(span_ratio, 1e-6)
        findings.append(finding(hourly, LOW_VARIANCE, int(row), p, int(first), int(last),
                                max(score, 1.0), evidence))
    return findings


def _neighbour_norm(hourly: AuditSeries, sd: np.ndarray, level: np.ndarray,
                    settings: LowVarianceSettings) -> np.ndarray:
    """(S, T) median over a station's neighbours of their window std scaled to its level.

    NaN for outlets, unlocated stations and those with < `min_neighbours` neighbours.
    """
    out = np.full(sd.shape, np.nan)
    if hourly.kind != "station" or hourly.lat is None or hourly.lon is None:
        return out
    mask = neighbour_mask(hourly, settings.radius_km)
    if mask.sum(axis=1).max(initial=0) > settings.max_neighbours:
        distance = np.where(mask, distances_km(hourly.lat, hourly.lon), np.inf)
        rank = distance_ranks(distance)
        mask &= rank < settings.max_neighbours
    counts = mask.sum(axis=1)
    if not np.any(counts >= settings.min_neighbours):
        return out
    width = int(counts.max())
    index = np.zeros((len(counts), width), dtype=np.int64)
    present = np.arange(width)[None, :] < counts[:, None]
    index[present] = np.nonzero(mask)[1]
    with np.errstate(invalid="ignore", divide="ignore"):
        scaled = sd[index] * np.sqrt(level[:, None, :] / level[index])
    scaled = np.where(present[:, :, None], scaled, np.nan)
    enough = np.count_nonzero(~np.isnan(scaled), axis=1) >= settings.min_neighbours
    rows = counts >= settings.min_neighbours
    if rows.any():
        picked = scaled if rows.all() else scaled[rows]  # a copy only when some rows lack
        out[rows] = np.where(enough[rows], nan_median(picked, axis=1), np.nan)
    return out


def _longest_constant(span: np.ndarray) -> int:
    """Length of the longest run of one repeated value (NaN skipped) in `span`."""
    x = span[~np.isnan(span)]
    if not len(x):
        return 0
    change = np.flatnonzero(np.diff(x) != 0)
    bounds = np.concatenate(([-1], change, [len(x) - 1]))
    return int(np.diff(bounds).max())


def _norm(sd: np.ndarray, level: np.ndarray, quanta: np.ndarray, ok: np.ndarray,
          settings: LowVarianceSettings) -> np.ndarray:
    """(S, T) the source's usual window std at each hour's level: log sd = a + β log level.

    Fitted per source through the medians of log sd in each octave of level (medians: a
    smoothed span of a few days cannot pull them), weighted by windows; β clipped to
    [0.2, 1.0] (0.4–0.7 in real data). Sources with a single usable octave get β = 0.5.
    """
    n_rows = sd.shape[0]
    use = ok & (sd > 0) & (level > 0)
    rows = np.broadcast_to(np.arange(n_rows)[:, None], sd.shape)[use]
    band = np.clip(np.floor(np.log2(quanta[use])), 0, _BANDS - 1).astype(np.int64)
    keys = rows * _BANDS + band
    log_sd = np.log(sd[use])
    log_level = np.log(level[use])
    med_sd, counts = _grouped_median(keys, log_sd, n_rows * _BANDS)
    med_level, _ = _grouped_median(keys, log_level, n_rows * _BANDS)
    weight = np.where(counts >= settings.min_band_windows, counts, 0).astype(np.float64)
    weight = weight.reshape(n_rows, _BANDS)
    x = np.nan_to_num(med_level.reshape(n_rows, _BANDS))
    y = np.nan_to_num(med_sd.reshape(n_rows, _BANDS))
    sw = weight.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mx = (weight * x).sum(axis=1) / sw
        my = (weight * y).sum(axis=1) / sw
        sxx = (weight * (x - mx[:, None]) ** 2).sum(axis=1)
        sxy = (weight * (x - mx[:, None]) * (y - my[:, None])).sum(axis=1)
        beta = np.where(sxx > 1e-6, sxy / sxx, 0.5)
    beta = np.clip(np.nan_to_num(beta, nan=0.5), 0.2, 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        log_norm = my[:, None] + beta[:, None] * (np.log(level) - mx[:, None])
    return np.exp(log_norm)


def _grouped_median(keys: np.ndarray, values: np.ndarray, size: int
                    ) -> tuple[np.ndarray, np.ndarray]:
    """(median per key, count per key) for integer keys in [0, size); NaN where empty."""
    span = float(values.max() - values.min()) if len(values) else 0.0
    scaled = (values - (values.min() if len(values) else 0.0)) / (span * 1.001 or 1.0)
    order = np.argsort(keys + scaled)  # by key, then by value within a key (scaled < 1)
    keys_sorted, values_sorted = keys[order], values[order]
    counts = np.bincount(keys, minlength=size)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    medians = np.full(size, np.nan)
    has = counts > 0
    lo = starts[has] + (counts[has] - 1) // 2
    hi = starts[has] + counts[has] // 2
    medians[has] = 0.5 * (values_sorted[lo] + values_sorted[hi])
    del keys_sorted
    return medians, counts


def _resolution(abs_step: np.ndarray) -> np.ndarray:
    """(S,) smallest meaningful step of each source: the 5th percentile of its nonzero |Δ|
    (robust to a stray odd value); 0 when it never moves."""
    with np.errstate(invalid="ignore"):
        nonzero = np.where(abs_step > 0, abs_step, np.inf)
    ordered = np.sort(nonzero, axis=1)
    n = np.count_nonzero(np.isfinite(ordered), axis=1)
    pick = np.take_along_axis(ordered, (0.05 * np.maximum(n - 1, 0)).astype(np.int64)[:, None],
                              axis=1)[:, 0]
    return np.where(n > 0, pick, 0.0)
