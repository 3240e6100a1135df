"""neighbor_divergence: a station far below what its neighbours predict, for a day or more.

Covering, blocking or spraying an inlet (shared/domain.md §7.2 #2, #14) makes one station read
a fraction of what the air around it holds while the stations nearby keep seeing it.

Prediction: every neighbour j (another station within `radius_km`) predicts the station as
x_j × the station's usual ratio to j, the rolling median of log(x_i / x_j) over
`baseline_days` (a rural station such as Dingling reads less than the city and follows
Changping more closely than Dongsi; a two-week median absorbs that and its seasonal drift, yet
a 5-day event cannot move it much). The station's residual for an hour is the median over its
neighbours (≥ `min_neighbours` judged) of log(x_i / prediction_j).

Spans: hours whose 9-h smoothed residual is ≤ log `candidate_ratio`, short interruptions
closed, lasting ≥ `min_hours`. A span is reported when the median of its residuals is
≤ log `max_ratio` and ≥ `min_z` robust standard deviations of the station's residuals, its
mean is ≥ a floor's worth of µg/m³ below the prediction, and none of these hold: a neighbour
is a candidate over the same hours (a front or a regional pattern), the span is the station's
own earlier days pasted (copy_paste), or the station stopped following its neighbours' ups
and downs (a stuck or smoothed analyser is flatline or low_variance; a covered inlet still
breathes the same air, only less of it).

Hours where a neighbour is below `floors[p]` are not judged against it (at clean-air levels
ratios of a few µg/m³ are noise); missing and flagged hours are not judged (gaps are
gap_at_peak's). Works on hourly values; stations only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from analytics.falsification.audit_series import AuditSeries
from analytics.falsification.flatline import measured_hourly
from analytics.falsification.nan_median import (
    centred_rolling_median,
    daily_rolling_median,
    hours_of_days,
    nan_median,
)
from analytics.falsification.neighbours import distance_ranks, distances_km, neighbour_mask
from analytics.falsification.run_findings import close_gaps, finding, number, runs
from analytics.findings import Finding

NEIGHBOR_DIVERGENCE = "neighbor_divergence"


def _floors() -> dict[str, float]:
    # Neighbours' median below which a ratio is not judged (µg/m³, CO mg/m³): about five
    # times the analysers' hourly noise (PM beta gauges ±2–4 µg/m³), where a ratio of 0.6 is
    # no longer within noise.
    return {"pm25": 15.0, "pm10": 25.0, "so2": 10.0, "no2": 20.0, "o3": 30.0, "co": 0.5}


@dataclass(frozen=True)
class NeighborDivergenceSettings:
    """Thresholds of a station diverging from its neighbours (hours on the hourly grid)."""

    # Particulate matter: what covering or spraying an inlet changes; gases are also judged
    # if named (their station-to-station contrasts are larger, so they are not by default).
    pollutants: tuple[str, ...] = ("pm25", "pm10")
    # One city network's stations within ~40 km share the regional air mass (Beijing's lie
    # 5–45 km apart).
    radius_km: float = 40.0
    # A median of fewer than two neighbours is one station's opinion.
    min_neighbours: int = 2
    # The nearest ten carry the regional signal; a dense network's further stations add
    # cost (one rolling median per pair), not information.
    max_neighbours: int = 10
    floors: Mapping[str, float] = field(default_factory=_floors)
    # Rolling window of the station's usual log ratio to its neighbours: 30 days, six times
    # the longest event expected (5 days), so that the median stays on normal hours even
    # while a long event sits in it (15 days let 4–5-day events drag their own baseline
    # down: benchmark recall 0.85 against 0.92 with 30).
    baseline_days: float = 30.0
    # Hours of log ratio the baseline needs before it is trusted.
    min_baseline_hours: int = 72
    # Hourly log ratios are noisy (plumes pass one station); a centred 9-h median smooths
    # them before hours are picked as candidates.
    smooth_hours: int = 9
    # Candidate hours: smoothed ratio to the prediction ≤ this (or ≥ its inverse). Looser
    # than `max_ratio` so that a span is cut where the divergence ends, not where noise
    # lifts one hour above the line.
    candidate_ratio: float = 0.7
    # A span is reported when the median of its hourly ratios to the prediction is ≤ this:
    # a covered inlet reads 20–50 % of the air; real stations rarely stay below 55 % of
    # their usual share for a day.
    max_ratio: float = 0.55
    # …and that median is ≥ this many robust standard deviations (1.4826 × MAD of the
    # station's hourly residuals) from the usual ratio: noisy stations need more.
    min_z: float = 2.0
    # Shortest divergence reported: events of interest last a day or more, while fronts
    # reaching one edge of the city first and passing plumes last hours (Beijing 2014–2016:
    # 18 h gives twice the false spans of 24 h).
    min_hours: int = 24
    # Share of the span's hours that must be judged (neighbours above the floor, station
    # measured).
    min_judged_share: float = 0.6
    # Non-candidate or unjudged hours inside an event closed up to this length.
    max_gap_hours: int = 4
    # "below": a covered, blocked or sprayed inlet reads less. A station reading far more
    # than its neighbours has a local source nearby (a real pollution episode, often
    # Huairou's), which is not falsification; add "above" to report it too.
    directions: tuple[str, ...] = ("below",)
    # A neighbour diverging the same way for this share of the span's hours makes the
    # pattern regional (a front reaching the northern stations first), not one inlet.
    max_shared: float = 0.5
    # The span's mean must differ from the prediction by ≥ this many floors (µg/m³ apart,
    # not only a ratio): clean-air spans where stations differ by 10 µg/m³ are not events.
    min_gap_floors: float = 1.0
    # The station must keep following its neighbours: std of its log values in the span ≥
    # this share of the std of the neighbours' log median (a flatline has 0).
    min_tracking: float = 0.3


def detect_neighbor_divergence(series: AuditSeries,
                               settings: NeighborDivergenceSettings =
                               NeighborDivergenceSettings()) -> list[Finding]:
    """Sustained spans where a station reads far from its neighbours' prediction.

    Score = |mean z| over the span / `min_z`. Evidence: station mean vs predicted mean, the
    neighbours used with their means and distances, the ratio, z, hours.
    """
    if (series.kind != "station" or not series.sources or not len(series.times)
            or series.lat is None or series.lon is None):
        return []
    hourly = series.hourly()
    mask = _nearest(hourly, neighbour_mask(hourly, settings.radius_km),
                    settings.max_neighbours)
    if not np.any(mask.sum(axis=1) >= settings.min_neighbours):
        return []
    findings: list[Finding] = []
    for p in settings.pollutants:
        if p in hourly.values:
            findings += _detect(hourly, p, mask, settings)
    return findings


def _detect(hourly: AuditSeries, p: str, mask: np.ndarray,
            settings: NeighborDivergenceSettings) -> list[Finding]:
    x = measured_hourly(hourly, p)
    counts = mask.sum(axis=1)
    width = int(counts.max())
    index = np.zeros((len(counts), width), dtype=np.int64)
    present = np.arange(width)[None, :] < counts[:, None]
    index[present] = np.nonzero(mask)[1]
    gathered = np.where(present[:, :, None], x[index], np.nan)  # (S, K, T)
    floor = float(settings.floors.get(p, 0.0))
    window = max(1, round(settings.baseline_days * 24))
    n_cols = x.shape[1]
    keep = max(floor, 1e-6) * 0.01  # a reading of 0 still diverges; keeps the log finite
    with np.errstate(invalid="ignore", divide="ignore"):
        # Each neighbour j predicts the station as x_j × its usual ratio to j (a rolling
        # median of log(x_i / x_j)); the station's residual is the median over neighbours of
        # log(x_i / prediction_j). Pairs capture what one median of neighbours cannot:
        # Dingling follows Changping closely and the city centre only loosely.
        pair = np.where((gathered >= floor) & (x[:, None, :] >= 0),
                        np.log(np.maximum(x[:, None, :], keep) / gathered), np.nan)
    flat = pair.reshape(-1, n_cols)
    daily_base = daily_rolling_median(flat, window, settings.min_baseline_hours)
    pair_resid = (flat - hours_of_days(daily_base, n_cols)).reshape(pair.shape)
    voters = np.count_nonzero(~np.isnan(pair_resid), axis=1)
    resid = np.where(voters >= settings.min_neighbours, nan_median(pair_resid, axis=1), np.nan)
    daily_base = daily_base.reshape(*pair.shape[:2], -1)  # (S, K, days)
    judged = ~np.isnan(resid)
    smooth = centred_rolling_median(resid, settings.smooth_hours,
                                    (settings.smooth_hours + 1) // 2)
    smooth = np.where(judged, smooth, np.nan)
    # The robust scale of each station's residuals, the neighbours' median and the baseline
    # are needed only where a candidate span is judged: computed for those stations alone.
    scale: dict[int, np.ndarray] = {}
    limit = float(np.log(settings.candidate_ratio))
    findings: list[Finding] = []
    with np.errstate(invalid="ignore"):
        candidates = {"below": smooth <= limit, "above": smooth >= -limit}
    distance = distances_km(hourly.lat, hourly.lon)
    for direction in settings.directions:
        hits = candidates[direction]
        if not hits.any():
            continue
        sign = -1.0 if direction == "below" else 1.0
        closed = close_gaps(hits, settings.max_gap_hours)
        for row, first, last in zip(*runs(closed), strict=True):
            if last - first + 1 < settings.min_hours:
                continue
            cut = slice(first, last + 1)
            span_resid = resid[row, cut][judged[row, cut]]
            if len(span_resid) < settings.min_hours * settings.min_judged_share:
                continue
            level = float(np.median(span_resid))
            if row not in scale:
                scale[row] = _robust_scale(resid[row])
            span_z = level / scale[row]
            if not (sign * level >= -np.log(settings.max_ratio)
                    and sign * span_z >= settings.min_z):
                continue
            others = index[row][present[row]]
            shared = np.mean(hits[others, cut], axis=1)
            if np.any(shared >= settings.max_shared):
                continue  # neighbours diverge alike: a front or a regional pattern
            if _pasted(x[row], first, last):
                continue  # the station's own earlier days pasted in: copy_paste's
            around = _neighbours_median(gathered[row, :, cut], int(counts[row]),
                                        settings.min_neighbours)
            # The baseline is constant within a day: its median over neighbours is per day.
            base = np.where(voters[row, cut] >= settings.min_neighbours, hours_of_days(
                nan_median(daily_base[row], axis=0), n_cols)[cut], np.nan)
            evidence = _evidence(hourly, x, around, base, index[row], present[row],
                                 distance[row], int(row), int(first), int(last), direction,
                                 level, span_z, p, settings)
            if evidence is None:
                continue
            findings.append(finding(hourly, NEIGHBOR_DIVERGENCE, int(row), p, int(first),
                                    int(last), abs(span_z) / settings.min_z, evidence))
    return findings


def _neighbours_median(gathered: np.ndarray, n_neighbours: int, min_neighbours: int
                       ) -> np.ndarray:
    """(T,) median of a station's (K, T) neighbour values per hour; NaN where fewer than
    `min_neighbours` report, and everywhere for a station with fewer neighbours."""
    if n_neighbours < min_neighbours:
        return np.full(gathered.shape[1], np.nan)
    reporting = np.count_nonzero(~np.isnan(gathered), axis=0)
    return np.where(reporting >= min_neighbours, nan_median(gathered, axis=0), np.nan)


def _robust_scale(resid: np.ndarray) -> np.ndarray:
    """1.4826 × MAD of one station's (T,) residuals (≈ their std); NaN when not > 0."""
    with np.errstate(invalid="ignore"):
        mad = nan_median(np.abs(resid - nan_median(resid, axis=0)), axis=0)
    return 1.4826 * np.where(np.isfinite(mad) & (mad > 0), mad, np.nan)


def _nearest(hourly: AuditSeries, mask: np.ndarray, k: int) -> np.ndarray:
    """`mask` keeping each station's `k` nearest neighbours only."""
    if k <= 0 or mask.sum(axis=1).max(initial=0) <= k:
        return mask
    distance = np.where(mask, distances_km(hourly.lat, hourly.lon), np.inf)
    rank = distance_ranks(distance)
    return mask & (rank < k)


def _pasted(own: np.ndarray, first: int, last: int) -> bool:
    """Whether most of [first, last] equals the station's own readings 1–7 days earlier."""
    span = own[first:last + 1]
    valid = ~np.isnan(span)
    for days in range(1, 8):
        a = first - 24 * days
        if a < 0:
            break
        earlier = own[a:a + len(span)]
        if np.count_nonzero(valid & (earlier == span)) >= 0.5 * max(valid.sum(), 1):
            return True
    return False


def _evidence(hourly: AuditSeries, x: np.ndarray, around: np.ndarray, base: np.ndarray,
              index: np.ndarray, present: np.ndarray, distance: np.ndarray, row: int,
              first: int, last: int, direction: str, level: float, span_z: float,
              hourly_pollutant: str, settings: NeighborDivergenceSettings
              ) -> dict[str, Any] | None:
    """The numbers an inspector cites, or None when the station stopped tracking at all.

    `around` and `base` are the neighbours' median and the usual log ratio over the span."""
    cut = slice(first, last + 1)
    own = x[row, cut]
    both = ~np.isnan(own) & ~np.isnan(around) & (own > 0) & (around > 0)
    if np.count_nonzero(both) < settings.min_hours:
        return None
    own_sd = float(np.std(np.log(own[both])))
    around_sd = float(np.std(np.log(around[both])))
    if around_sd > 0 and own_sd < settings.min_tracking * around_sd:
        return None  # stuck or smoothed: flatline / low_variance, not a covered inlet
    predicted = around * np.exp(base)
    neighbours = [
        {"station": hourly.sources[j], "distance_km": number(float(distance[j]), 1),
         "mean": number(float(np.nanmean(x[j, cut])) if np.any(~np.isnan(x[j, cut]))
                        else float("nan"), 1)}
        for j in index[present]]
    station_mean = float(np.nanmean(own[both]))
    predicted_mean = float(np.nanmean(predicted[both]))
    floor = float(settings.floors.get(hourly_pollutant, 0.0))
    if abs(predicted_mean - station_mean) < settings.min_gap_floors * floor:
        return None  # a few µg/m³ apart in clean air: within what stations disagree by
    return {
        "direction": direction,
        "hours": int(last - first + 1),
        "judged_hours": int(np.count_nonzero(both)),
        "station_mean": number(station_mean, 1),
        "predicted_mean": number(predicted_mean, 1),
        "ratio": number(station_mean / predicted_mean if predicted_mean > 0
                        else float("nan"), 3),
        "median_ratio_to_prediction": number(float(np.exp(level)), 3),
        "usual_ratio_to_neighbours": number(float(np.exp(np.nanmedian(base))),
                                            3),
        "neighbours_median_mean": number(float(np.nanmean(around[both])), 1),
        "z": number(span_z, 2),
        "min_z": settings.min_z,
        "max_ratio": settings.max_ratio,
        "neighbours": neighbours,
    }
