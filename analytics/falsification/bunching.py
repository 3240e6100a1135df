"""Bunching: converted values piled up just under the limit (domain.md §7.2 #9).

A stack whose real emissions sometimes exceed has every reason to make the reported hourly
value stop just short of the limit ("SO2 always 30–34.9 with limit 35"). What that leaves is
a distribution cut off at the limit: over days, nearly every hour falls in a narrow band just
below it, none above it, and far more hours in that band than the source's own data put
there at other times. A real process running close to its limit is different: its ordinary
variability spills over the limit now and then, and its band is no narrower than usual.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analytics.falsification.audit_series import AuditSeries
from analytics.falsification.nan_median import nan_median_last
from analytics.falsification.run_findings import close_gaps, finding, number, runs
from analytics.findings import Finding

BUNCHING = "bunching"


@dataclass(frozen=True)
class BunchingSettings:
    """Thresholds of the bunching detector (values as converted / limit, shares 0–1)."""

    # The band just under the limit: [band_low, 1.0] × limit. Manipulated values are set a
    # few percent under the limit (0.85–0.99 × limit); healthy simulated stacks stay below
    # 0.7 × limit.
    band_low: float = 0.8
    # Sliding window of hours judged together: a day, so that a daily load cycle cannot
    # make a band by itself.
    window_hours: int = 24
    # Share of a window's valid hours that must lie in the band.
    min_share: float = 0.8
    # Share of a window's valid hours allowed above the limit ("almost none": a real process
    # that close to its limit spills over within a day).
    max_above_share: float = 0.02
    # A window needs this share of its hours valid (HJ 75 validity: 75 %).
    min_valid_share: float = 0.75
    # The source's share of band hours outside the episode must be ≤ this: a source that is
    # always there runs that way (its whole window is no evidence of anything).
    max_normal_share: float = 0.25
    # ... judged on at least this many valid hours outside the episode.
    min_normal_hours: int = 72
    # The episode's relative spread (1.4826 × median absolute deviation / median) must be
    # ≤ this share of the source's usual within-day coefficient of variation (median over its
    # days): bunched values sit in an abnormally narrow band. Relative, because a source
    # whose usual level is a few percent of a loose limit varies little in limit units.
    max_spread_ratio: float = 0.6
    # Hours outside the band inside an episode that do not split it.
    max_gap_hours: int = 3


def detect_bunching(series: AuditSeries,
                    settings: BunchingSettings = BunchingSettings()) -> list[Finding]:
    """Findings of type "bunching" at outlets, one per pollutant and episode.

    On hourly converted values (a minute grid is averaged first) of pollutants with a limit.
    Episodes are the hours covered by windows of `window_hours` that hold ≥ `min_share` band
    hours and ≤ `max_above_share` hours above the limit, trimmed to their first and last band
    hour. An episode is reported when the source's band share elsewhere is ≤
    `max_normal_share` and its spread is ≤ `max_spread_ratio` of the usual within-day
    spread. Score = (band share − normal share) × log2(1 + days).
    """
    if series.kind != "outlet" or not series.sources or not len(series.times):
        return []
    limited = [p for p in series.pollutants() if np.isfinite(series.limit(p)).any()]
    if not limited:
        return []
    hourly = series.hourly()
    width = settings.window_hours
    if hourly.shape[1] < width:
        return []
    findings: list[Finding] = []
    for pollutant in limited:
        limit = hourly.limit(pollutant)
        with np.errstate(invalid="ignore", divide="ignore"):
            share = hourly.converted(pollutant) / limit[:, None]
        valid = np.isfinite(share)
        with np.errstate(invalid="ignore"):
            band = valid & (share >= settings.band_low) & (share <= 1.0)
            above = valid & (share > 1.0)
        n_valid, n_band, n_above = (_window_sums(m, width) for m in (valid, band, above))
        qualifies = ((n_valid >= settings.min_valid_share * width)
                     & (n_band >= settings.min_share * n_valid)
                     & (n_above <= settings.max_above_share * n_valid))
        covered = _covered(qualifies, width, hourly.shape[1])
        rows, firsts, lasts = runs(close_gaps(covered & band, settings.max_gap_hours))
        if not rows.size:
            continue
        usual_spread = _usual_spread(share, width)
        total_valid, total_band = valid.sum(axis=1), band.sum(axis=1)
        for row, first, last in zip(rows.tolist(), firsts.tolist(), lasts.tolist(),
                                    strict=True):
            span = slice(first, last + 1)
            values = share[row, span]
            values = values[np.isfinite(values)]
            hours_band = int(band[row, span].sum())
            outside_valid = int(total_valid[row] - valid[row, span].sum())
            if outside_valid < settings.min_normal_hours or values.size < width // 2:
                continue
            normal_share = float(total_band[row] - hours_band) / outside_valid
            band_share = hours_band / values.size
            # Robust (1.4826 × MAD ≈ std): a partial hour at either end must not widen it.
            middle = float(np.median(values))
            spread = 1.4826 * float(np.median(np.abs(values - middle))) / middle
            spread_ratio = spread / usual_spread[row] if usual_spread[row] > 0 else np.inf
            if (normal_share > settings.max_normal_share
                    or spread_ratio > settings.max_spread_ratio):
                continue
            hours = last - first + 1
            evidence = {
                "limit_mgm3": number(limit[row], 2),
                "band": [settings.band_low, 1.0],
                "hours": hours,
                "share_in_band": number(band_share, 3),
                "hours_above_limit": int(above[row, span].sum()),
                "normal_share_in_band": number(normal_share, 3),
                "converted_over_limit": {"min": number(values.min(), 3),
                                         "median": number(np.median(values), 3),
                                         "max": number(values.max(), 3),
                                         "relative_spread": number(spread, 4)},
                "usual_daily_variation": number(usual_spread[row], 4),
                "spread_ratio": number(spread_ratio, 3),
                "thresholds": {"min_share": settings.min_share,
                               "max_normal_share": settings.max_normal_share,
                               "max_spread_ratio": settings.max_spread_ratio},
            }
            score = (band_share - normal_share) * float(np.log2(1 + hours / 24))
            findings.append(finding(hourly, BUNCHING, row, pollutant, first, last, score,
                                    evidence))
    return findings


def _window_sums(mask: np.ndarray, width: int) -> np.ndarray:
    """(S, T − width + 1) counts of True in each window [t, t + width)."""
    cumulative = np.pad(np.cumsum(mask, axis=1), ((0, 0), (1, 0)))
    return cumulative[:, width:] - cumulative[:, :-width]


def _covered(qualifies: np.ndarray, width: int, n_times: int) -> np.ndarray:
    """(S, T): hours inside at least one qualifying window (window k covers [k, k + width))."""
    starts = np.zeros((qualifies.shape[0], n_times + 1), dtype=np.int32)
    starts[:, :qualifies.shape[1]] += qualifies
    starts[:, width:width + qualifies.shape[1]] -= qualifies
    return np.cumsum(starts, axis=1)[:, :n_times] > 0


def _usual_spread(share: np.ndarray, width: int) -> np.ndarray:
    """(S,) median over the series of the coefficient of variation (std / mean) within
    `width`-hour windows."""
    rolling = pd.DataFrame(share.T).rolling(width, min_periods=width // 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        variation = (rolling.std(ddof=0) / rolling.mean()).to_numpy().T
    return nan_median_last(np.where(np.isfinite(variation), variation, np.nan))
