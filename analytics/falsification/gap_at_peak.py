"""Gap at peak: data missing exactly when they would have been high (domain.md §7.2 #5, #14).

Cutting the sample pump, the analyser or the link for the hours of a pollution peak leaves
nothing to judge, so the hidden level has to be estimated from what is still there. At a
station: the neighbouring stations (regional pollution moves together; the station's usual
ratio to their median scales them) and the station's own companion PM measurement. At an
outlet: the hours on either side of the gap, which climb toward it.

Ordinary gaps are frequent: the 12 Beijing stations 2014–2016 have ~2,500 PM2.5 gaps, ~1,000
of them 2 h or longer, some in haze. So a gap is only reported when the estimate says it hid
a high value, the station was otherwise up and the network was not out too.

Only truly missing values count (NaN in `series.values`); values present under a flag are
flag_abuse's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analytics.falsification.audit_series import AuditSeries
from analytics.falsification.hour_baselines import same_hour_at
from analytics.falsification.nan_median import nan_median_last
from analytics.falsification.neighbours import distances_km
from analytics.falsification.run_findings import finding, number, runs
from analytics.findings import Finding

GAP_AT_PEAK = "gap_at_peak"
# PM2.5 is a fraction of PM10: each estimates the other through the station's usual ratio.
COMPANIONS = {"pm25": "pm10", "pm10": "pm25"}


@dataclass(frozen=True)
class GapAtPeakSettings:
    """Thresholds of the gap-at-peak detector (quantiles and shares 0–1)."""

    # Station pollutants judged. PM2.5 and PM10 are what cities are assessed and ranked on
    # and what heavy-pollution alerts key on, so what a station operator has a motive to
    # hide; real gaps of the gases at their peaks are mostly analyser limits (Beijing CO
    # missing above 10 mg/m³, O3 gaps beside zero checks) and would swamp the findings
    # (0.6 false findings per 100 station-days with them, 0.1 without).
    station_pollutants: tuple[str, ...] = ("pm25", "pm10")
    # Gaps of 1–2 h are routine (~2,000 of the ~2,500 PM2.5 gaps at the 12 Beijing stations
    # 2014–2016) and hide too little to matter; concealing a peak takes hours. An hour of
    # minute data with < 45 valid minutes is missing too, so a 3-hour gap of minutes never
    # leaves fewer than 3 missing hours.
    min_gap_hours: int = 3
    # Longer gaps are outages: no peak lasts that long, and a two-day estimate from the
    # neighbours says little about the station.
    max_gap_hours: int = 48
    # "High" is this quantile of the source's own measured values (converted at outlets).
    quantile: float = 0.9
    # The estimate over the middle of the gap must reach this share of the quantile (the
    # neighbour estimate's typical error is 10–20 %). With the defaults, on nine 4-month
    # windows of Beijing 2014–2016: ~96 % of 3–24 h PM2.5 gaps centred on an hour ≥ the
    # station's 90th percentile (that ≥ 2 neighbours see) are found, and the ordinary gaps
    # give 0.05 findings per 100 station-days.
    estimate_share: float = 0.9
    # The middle of the gap judged: the central share of its hours. A gap that hides a peak
    # is centred on it; an ordinary gap during a long haze episode often merely touches high
    # hours at one end.
    central_share: float = 0.7
    # Neighbours: other stations within this distance (the same air mass), at most this many
    # (nearest first).
    neighbour_km: float = 40.0
    max_neighbours: int = 8
    # At least this share of the neighbours must report during the gap (median over its
    # hours); fewer and the network (or a good part of it) was out, not the station.
    min_neighbours_reporting: float = 0.7
    # At least this share of the station's other pollutants must report during the gap (mean
    # over pollutants and hours): the station was up and only this pollutant went missing (a
    # station off altogether is an outage for the operator's log) ...
    min_station_up_share: float = 0.7
    # ... and, for PM, the companion PM at least this share of the gap: PM2.5 and PM10 lost
    # together is mostly the PM sampling line, common in Beijing's ordinary gaps (this halves
    # the findings on them).
    min_companion_share: float = 0.5
    # The station's companion PM (PM10 for PM2.5 and back), scaled by its usual ratio, may
    # stand in for a neighbour estimate that misses a local peak when it reaches the bar and
    # the neighbour estimate reaches at least this share of the bar (PM10 over-reads PM2.5 in
    # dust). Adds ~3 % of the injected gaps at ~0.01 findings per 100 station-days.
    companion_support: float = 0.8
    # The station's own values just before and after the gap must agree with the neighbour
    # estimate at those hours within this factor: an analyser reading 3 µg/m³ while the
    # neighbours say 250 was already failing, and the gap is its fault. On the Beijing
    # windows: a third fewer findings on ordinary gaps, ~2 % of the injected ones lost.
    max_flank_disagreement: float = 4.0
    # Station PM analysers commonly measure up to 1,000 µg/m³ (the Beijing data never exceed
    # 999; the range is not confirmed from a standard): a gap beside a value ≥ this share of
    # it is the analyser over its range (Huairou's PM10 at 917–973 µg/m³ in the 2015 Spring
    # Festival fireworks), not a hidden peak.
    pm_range_ugm3: float = 1000.0
    over_range_share: float = 0.9
    # Outlets, and stations without neighbours: the flank rule, on values taken relative to
    # their hour of day's usual value. Each hour beside the gap must be ≥ (1 + min_rise) × the
    # median of the `rise_hours` hours beyond it (at least the usual level), the two rises
    # multiplied ≥ min_joint_rise (the level climbs toward the gap from both sides), and the
    # higher flank ≥ estimate_share × min(quantile, near_limit_share × limit). Of ~1,000
    # random 0.5–12 h gaps cut into simulated stacks none passes; every peak hidden from the
    # top of an hour (its 1-hour flanks filling the hours beside it) does, and ~70 % of those
    # starting mid-hour (the hour holding the top of the climb has < 45 minutes, so it is
    # missing too).
    min_rise: float = 0.1
    min_joint_rise: float = 1.5
    rise_hours: int = 3
    near_limit_share: float = 0.7


def detect_gap_at_peak(series: AuditSeries,
                       settings: GapAtPeakSettings = GapAtPeakSettings()) -> list[Finding]:
    """Findings of type "gap_at_peak", one per pollutant and gap, at stations and outlets.

    On hourly data (a minute grid is averaged first), gaps of [`min_gap_hours`,
    `max_gap_hours`] missing hours with data on both sides. Stations: reported when the
    neighbour estimate (or the companion PM, backed by the neighbours) over the gap's middle
    reaches `estimate_share` × the station's `quantile`, the station's other pollutants and
    ≥ `min_neighbours_reporting` of the neighbours kept reporting. Outlets and stations
    without neighbours: reported when both flanks climb toward the gap (see the settings).
    Score = estimate / the source's quantile.
    """
    if not series.sources or not len(series.times):
        return []
    present = series.pollutants()
    names = (present if series.kind == "outlet"
             else tuple(p for p in present if p in settings.station_pollutants))
    if not names:
        return []
    hourly = series.hourly()
    neighbours = neighbours_of(hourly, settings) if hourly.kind == "station" else None
    findings: list[Finding] = []
    for pollutant in names:
        rows, firsts, lasts = runs(np.isnan(hourly.values[pollutant]))
        lengths = lasts - firsts + 1
        keep = ((lengths >= settings.min_gap_hours) & (lengths <= settings.max_gap_hours)
                & (firsts > 0) & (lasts < hourly.shape[1] - 1))
        if not keep.any():
            continue
        gaps = (rows[keep], firsts[keep], lasts[keep])
        if hourly.kind == "station":
            findings += _station_gaps(hourly, pollutant, neighbours, *gaps, settings)
        else:
            findings += _outlet_gaps(hourly, pollutant, *gaps, settings)
    return findings


def level_of(series: AuditSeries, pollutant: str) -> tuple[np.ndarray, np.ndarray]:
    """((S, T) measured level, (S,) limit) on the basis a source is judged on.

    Outlets: converted / limit where there is a limit, converted otherwise (limit NaN).
    Stations: measured values (limit NaN).
    """
    if series.kind == "outlet":
        limit = series.limit(pollutant)
        scale = np.where(np.isfinite(limit), limit, 1.0)
        return series.converted(pollutant) / scale[:, None], limit
    return series.measured(pollutant), np.full(len(series.sources), np.nan)


def high_level(level: np.ndarray, quantile: float) -> np.ndarray:
    """(S,) the `quantile` of each source's measured level (NaN with fewer than 24 hours)."""
    count = np.isfinite(level).sum(axis=1)
    ordered = np.sort(np.where(np.isfinite(level), level, np.nan), axis=1)
    position = np.clip(np.round(quantile * (count - 1)).astype(int), 0, None)
    picked = np.take_along_axis(ordered, position[:, None], axis=1)[:, 0]
    return np.where(count >= 24, picked, np.nan)


def flank_bar(high: np.ndarray, limit: np.ndarray, settings: GapAtPeakSettings
              ) -> np.ndarray:
    """The level the higher flank must reach (level_of's scale): `estimate_share` × the
    source's quantile, capped at `estimate_share` × `near_limit_share` × limit."""
    cap = settings.near_limit_share  # where there is a limit, the level is converted / limit
    capped = np.where(np.isfinite(high), np.fmin(high, cap), cap)
    return settings.estimate_share * np.where(np.isfinite(limit), capped, high)


@dataclass(frozen=True)
class Flanks:
    """The flank rule over n spans (each array shaped (n,)): the hours just before and after
    each span, how far each rose, and whether they climb toward the span."""

    before: np.ndarray
    after: np.ndarray
    rise_before: np.ndarray
    rise_after: np.ndarray
    ok: np.ndarray


def flanks(level: np.ndarray, rows: np.ndarray, firsts: np.ndarray, lasts: np.ndarray,
           bar: np.ndarray, typical: np.ndarray, settings: GapAtPeakSettings) -> Flanks:
    """The flank rule for spans [firsts, lasts] of `rows` of the (S, T) hourly `level`.

    Every hour is first taken relative to its usual value (median of the same hour of day
    over ± 7 days; the source's `typical` level (n,) where that is unknown), so that a daily
    load curve climbing toward midday is no climb. A span passes when the hour just before
    and the hour just after it each rose ≥ (1 + min_rise) × their base, the two rises
    multiplied ≥ min_joint_rise, and the higher of the two values ≥ `bar` (n,). A flank's
    base is the median of the `rise_hours` beyond it, at least the usual level: a flank high
    only against an unusually low stretch (a cut, a stop, a start-up) climbs toward nothing.
    """
    n_times = level.shape[1]
    reach = np.arange(settings.rise_hours)

    def relative(columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(value, value / its usual value) at `columns` ((n,) or (n, k)) of `rows`."""
        inside = (columns >= 0) & (columns < n_times)
        clipped = np.clip(columns, 0, n_times - 1)
        row_of = np.broadcast_to(rows.reshape(-1, *[1] * (columns.ndim - 1)), columns.shape)
        value = np.where(inside, level[row_of, clipped], np.nan)
        usual = same_hour_at(level, row_of.ravel(), clipped.ravel(), 7, 4).reshape(
            columns.shape)
        fallback = typical.reshape(-1, *[1] * (columns.ndim - 1))
        with np.errstate(invalid="ignore", divide="ignore"):
            scale = np.where(np.isfinite(usual) & (usual > 0), usual, fallback)
            return value, value / scale

    before, before_r = relative(firsts - 1)
    after, after_r = relative(lasts + 1)
    outer_before = nan_median_last(relative((firsts - 2)[:, None] - reach)[1])
    outer_after = nan_median_last(relative((lasts + 2)[:, None] + reach)[1])
    with np.errstate(invalid="ignore", divide="ignore"):
        rise_before = before_r / np.fmax(outer_before, 1.0)
        rise_after = after_r / np.fmax(outer_after, 1.0)
        single = 1 + settings.min_rise
        ok = ((typical > 0) & (rise_before >= single) & (rise_after >= single)
              & (rise_before * rise_after >= settings.min_joint_rise)
              & (np.fmax(before, after) >= bar))
    return Flanks(before, after, rise_before, rise_after, ok)


def _outlet_gaps(hourly: AuditSeries, pollutant: str, rows: np.ndarray, firsts: np.ndarray,
                 lasts: np.ndarray, settings: GapAtPeakSettings) -> list[Finding]:
    level, limit = level_of(hourly, pollutant)
    high = high_level(level, settings.quantile)
    typical = high_level(level, 0.5)
    bar = flank_bar(high[rows], limit[rows], settings)
    sides = flanks(level, rows, firsts, lasts, bar, typical[rows], settings)
    scale = np.where(np.isfinite(limit), limit, 1.0)
    quantile_key = f"p{round(settings.quantile * 100)}_mgm3"
    findings: list[Finding] = []
    for i in np.flatnonzero(sides.ok).tolist():
        row, first, last = int(rows[i]), int(firsts[i]), int(lasts[i])
        k = scale[row]
        evidence = {
            "gap_hours": last - first + 1,
            "flank_values_mgm3": [number(sides.before[i] * k, 2), number(sides.after[i] * k, 2)],
            "flank_rise": [number(sides.rise_before[i], 3), number(sides.rise_after[i], 3)],
            quantile_key: number(high[row] * k, 2),
            "limit_mgm3": number(limit[row], 2),
            "basis": ("converted to reference O2" if np.isfinite(limit[row])
                      else "as measured"),
        }
        estimate = max(float(sides.before[i]), float(sides.after[i]))
        findings.append(finding(hourly, GAP_AT_PEAK, row, pollutant, first, last,
                                estimate / high[row] if high[row] > 0 else 1.0, evidence))
    return findings


def _station_gaps(hourly: AuditSeries, pollutant: str, neighbours: np.ndarray | None,
                  rows: np.ndarray, firsts: np.ndarray, lasts: np.ndarray,
                  settings: GapAtPeakSettings) -> list[Finding]:
    level = hourly.measured(pollutant)
    high = high_level(level, settings.quantile)
    typical = high_level(level, 0.5)
    others = [p for p in hourly.pollutants() if p != pollutant]
    up = (np.mean([np.isfinite(hourly.values[p]) for p in others], axis=0) if others
          else np.ones(hourly.shape))
    if neighbours is not None:
        estimate, reporting = neighbour_estimate(level, neighbours)
        has_neighbours = (neighbours >= 0).any(axis=1)
    else:
        estimate, reporting = np.full(hourly.shape, np.nan), np.zeros(hourly.shape)
        has_neighbours = np.zeros(len(hourly.sources), dtype=bool)
    partner = COMPANIONS.get(pollutant)
    companion = (_scaled_to(level, hourly.measured(partner)) if partner in hourly.values
                 else np.full(hourly.shape, np.nan))
    bars = settings.estimate_share * high
    alone = flanks(level, rows, firsts, lasts, bars[rows], typical[rows], settings)
    unit = "mg/m3" if pollutant == "co" else "ug/m3"
    quantile_key = f"p{round(settings.quantile * 100)}"
    findings: list[Finding] = []
    for i, (row, first, last) in enumerate(zip(rows.tolist(), firsts.tolist(), lasts.tolist(),
                                               strict=True)):
        if not np.isfinite(high[row]) or high[row] <= 0:
            continue
        span = slice(first, last + 1)
        if float(np.mean(up[row, span])) < settings.min_station_up_share:
            continue
        if (partner in hourly.values and float(np.mean(np.isfinite(
                hourly.values[partner][row, span]))) < settings.min_companion_share):
            continue
        if (pollutant in COMPANIONS and np.nanmax(level[row, [first - 1, last + 1]], initial=0)
                >= settings.over_range_share * settings.pm_range_ugm3):
            continue  # the analyser went over its range
        bar = bars[row]
        evidence: dict[str, object] = {"gap_hours": last - first + 1}
        if has_neighbours[row]:
            if float(np.median(reporting[row, span])) < settings.min_neighbours_reporting:
                continue  # the network was out as well
            beside = [first - 1, last + 1]
            with np.errstate(invalid="ignore", divide="ignore"):
                agreement = level[row, beside] / estimate[row, beside]
            factor = settings.max_flank_disagreement
            if np.any((agreement > factor) | (agreement < 1 / factor)):
                continue  # the analyser was failing around the gap already
            middle = _middle(first, last, settings.central_share)
            value = _max(estimate[row, middle])
            own = _max(companion[row, middle])
            if not (value >= bar
                    or (own >= bar and value >= settings.companion_support * bar)):
                continue  # NaN compares False: no estimate, no finding
            score = max(value, own if np.isfinite(own) else 0.0) / high[row]
            evidence.update({
                "neighbour_estimate": {"max_middle": number(value, 1),
                                       "median": number(np.nanmedian(estimate[row, span]), 1)},
                "companion_estimate": {"pollutant": partner, "max_middle": number(own, 1)},
                "neighbours_reporting_share": number(np.median(reporting[row, span]), 2),
            })
        else:
            if not alone.ok[i]:
                continue
            score = max(float(alone.before[i]), float(alone.after[i])) / high[row]
            evidence["flank_rise"] = [number(alone.rise_before[i], 3),
                                      number(alone.rise_after[i], 3)]
        evidence.update({
            "flank_values": [number(level[row, first - 1], 1), number(level[row, last + 1], 1)],
            quantile_key: number(high[row], 1),
            "station_up_share": number(np.mean(up[row, span]), 2),
            "unit": unit,
        })
        findings.append(finding(hourly, GAP_AT_PEAK, row, pollutant, first, last, score,
                                evidence))
    return findings


def _max(values: np.ndarray) -> float:
    """Largest finite value, NaN when there is none."""
    finite = values[np.isfinite(values)]
    return float(finite.max()) if finite.size else np.nan


def _middle(first: int, last: int, share: float) -> slice:
    """The central `share` of the columns [first, last] (at least one column)."""
    centre = (first + last) / 2
    half = max(share * (last - first + 1) / 2, 0.5)
    return slice(max(first, int(np.floor(centre - half + 0.5))),
                 min(last, int(np.ceil(centre + half - 0.5))) + 1)


def neighbours_of(series: AuditSeries, settings: GapAtPeakSettings) -> np.ndarray | None:
    """(S, K) row indices of each station's neighbours, nearest first, −1 padding."""
    if series.lat is None or series.lon is None or len(series.sources) < 2:
        return None
    distance = distances_km(series.lat, series.lon)
    distance = np.where(np.isfinite(distance), distance, np.inf)
    np.fill_diagonal(distance, np.inf)
    k = min(settings.max_neighbours, len(series.sources) - 1)
    nearest = np.argsort(distance, axis=1)[:, :k]
    close = np.take_along_axis(distance, nearest, axis=1) <= settings.neighbour_km
    return np.where(close, nearest, -1)


def neighbour_estimate(level: np.ndarray, neighbours: np.ndarray
                        ) -> tuple[np.ndarray, np.ndarray]:
    """((S, T) the station's usual ratio × its neighbours' median, (S, T) share reporting).

    The median across neighbours ignores one neighbour's outlier (a stuck or absurd value).
    """
    valid = neighbours >= 0
    stacked = np.where(valid[:, :, None], level[np.maximum(neighbours, 0)], np.nan)
    stacked = np.moveaxis(stacked, 1, -1)  # (S, T, K)
    median = nan_median_last(stacked)
    n_valid = np.maximum(valid.sum(axis=1), 1)
    reporting = np.isfinite(stacked).sum(axis=-1) / n_valid[:, None]
    return _scaled_to(level, median), reporting


def _scaled_to(level: np.ndarray, other: np.ndarray) -> np.ndarray:
    """(S, T) `other` × each source's usual ratio level / other.

    The usual ratio is the median over time of level / other on hours where both exceed a
    fifth of the block's median level (integer data near zero make ratios meaningless).
    """
    finite = level[np.isfinite(level)]
    floor = 0.2 * float(np.median(finite)) if finite.size else 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        both = (level > floor) & (other > floor)
        log_ratio = np.where(both, np.log(level / other), np.nan)
    return other * np.exp(nan_median_last(log_ratio))[:, None]
