"""flatline: a reading stuck at one value for hours (shared/domain.md §7.2 #8–9, #2).

A stuck or bypassed analyser, or a hand-typed constant, repeats one value. Real series also
repeat values when the air is clean and the resolution coarse: Beijing's integers sit at
SO2 = 2 µg/m³ for a week, CO moves in 0.1 mg/m³ steps and stays put for half a day, PM10 rests
at its reporting floor of 5 µg/m³ for a day after a dust front. So a repeated value is only a
flatline when the source's own history says such a run is wildly improbable at that level:

* the value lies well above the series' resolution (`min_quanta` steps of it) and above the
  source's own low floor (`floor_quantile`), where repeats are the rule;
* with p0 = how often the source repeats its previous value at a similar level (within a
  factor `level_band` of the stuck value, the run itself left out), a run of n repeats has
  probability p0ⁿ under independent hours. Real repeats cluster (calm nights), so p0ⁿ is
  asked to be far smaller (`max_log10_chance`) than a mere p < 0.01;
* the run lasts `min_hours` at least.

Works on hourly values (`series.hourly()`): stuck minutes make stuck hourly means, and the
hourly statistics are what the thresholds were measured on (12 Beijing stations, 2014–2016).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analytics.falsification.audit_series import AuditSeries
from analytics.falsification.run_findings import finding, number, runs
from analytics.findings import Finding

FLATLINE = "flatline"


@dataclass(frozen=True)
class FlatlineSettings:
    """Thresholds of a flatline (hours are hourly-grid hours)."""

    # Shortest stuck run reported: 6 h is the shortest a benchmark or an inspector calls a
    # flatline; shorter repeats happen in any clean night.
    min_hours: float = 6.0
    # Two readings are "the same" within this relative difference (float noise of hourly
    # means of identical minutes is ~1e-15; a real reading never repeats to 1e-9).
    rel_epsilon: float = 1e-9
    # A NaN gap up to this long inside a run does not break it (an hour lost in transmission
    # while the analyser stays stuck), provided the value after it is still the same.
    max_gap_hours: float = 3.0
    # The stuck value must be ≥ this many resolution steps (Beijing integers: ≥ 5 µg/m³; CO at
    # 0.1 mg/m³: ≥ 0.5 mg/m³). Below it the series can hardly move at all.
    min_quanta: float = 5.0
    # …and above this quantile of the source's own readings (its clean-air floor, where the
    # analyser rests: PM10 at 5 µg/m³ after a dust front).
    floor_quantile: float = 0.01
    # Pairs of hours whose level is within this factor of the stuck value estimate p0.
    level_band: float = 2.0
    # Fewer such pairs than this: p0 is taken from every pair of the source.
    min_pairs: int = 48
    # Hours either side of the run whose repeats tell whether the air was calm then: repeats
    # cluster in calm spells, so the run is judged against the larger of the repeat share at
    # its level and the share in the day around it.
    context_hours: int = 24
    # log10 of the largest p0ⁿ still called natural. −9 keeps 2014–2016 Beijing data quiet
    # but for six runs (three stations stuck together on 2014-09-23, O3 stuck in autumn
    # 2014); a typical PM level (p0 ≈ 0.04) then needs ~7 h and sticky CO (p0 ≈ 0.4) ~24 h.
    max_log10_chance: float = -9.0


def measured_hourly(series: AuditSeries, pollutant: str) -> np.ndarray:
    """Measured (flag N/T) values; a fast S1 → uint8 comparison instead of np.isin."""
    values = series.values[pollutant]
    flags = series.flags.get(pollutant)
    if flags is None:
        return values
    code = flags.view(np.uint8)
    return np.where((code == ord("N")) | (code == ord("T")), values, np.nan)


def stuck_runs(values: np.ndarray, rel_epsilon: float, max_gap: int
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(rows, first, last, n_equal) of runs where each valid reading equals the previous one.

    `first` is the column of the run's first reading (the value later ones repeat), `last`
    its last reading; NaN gaps of ≤ `max_gap` columns inside are bridged. n_equal counts the
    valid readings in [first, last].
    """
    n_rows, n_cols = values.shape
    valid = ~np.isnan(values)
    col = np.arange(n_cols)
    last_valid = np.maximum.accumulate(np.where(valid, col, -1), axis=1)
    prev_idx = np.full_like(last_valid, -1)
    prev_idx[:, 1:] = last_valid[:, :-1]
    rows_ix = np.arange(n_rows)[:, None]
    prev = values[rows_ix, np.maximum(prev_idx, 0)]
    with np.errstate(invalid="ignore"):
        same = (valid & (prev_idx >= 0) & (col - prev_idx - 1 <= max_gap)
                & (np.abs(values - prev) <= rel_epsilon * np.abs(values)))
    next_valid = np.minimum.accumulate(np.where(valid, col, n_cols)[:, ::-1], axis=1)[:, ::-1]
    bridged = ~valid & (next_valid < n_cols)
    bridged &= same[rows_ix, np.minimum(next_valid, n_cols - 1)]
    rows, firsts, lasts = runs(same | bridged)
    firsts = prev_idx[rows, firsts]
    count = np.cumsum(valid, axis=1)
    n_equal = count[rows, lasts] - count[rows, firsts] + 1
    return rows, firsts, lasts, n_equal


def detect_flatline(series: AuditSeries, settings: FlatlineSettings = FlatlineSettings()
                    ) -> list[Finding]:
    """Runs of identical hourly readings that the source's own behaviour cannot explain.

    Score = −log10 of the run's chance (p0ⁿ) divided by −`max_log10_chance` (≥ 1 when
    reported). Evidence: the stuck value, hours, n repeated readings, the source's typical
    |Δ| overall and near that level, p0, resolution and floor.
    """
    if not series.sources or not len(series.times):
        return []
    hourly = series.hourly()
    findings: list[Finding] = []
    for p in hourly.judged():
        findings += _detect(hourly, p, settings)
    return findings


def _detect(hourly: AuditSeries, p: str, settings: FlatlineSettings) -> list[Finding]:
    values = measured_hourly(hourly, p)
    rows, firsts, lasts, n_equal = stuck_runs(values, settings.rel_epsilon,
                                              max(0, round(settings.max_gap_hours)))
    long = (lasts - firsts + 1) >= settings.min_hours
    findings: list[Finding] = []
    stats: dict[int, _SourceStats] = {}
    for row, first, last, n in zip(rows[long], firsts[long], lasts[long], n_equal[long],
                                   strict=True):
        row = int(row)
        if row not in stats:
            stats[row] = _SourceStats(values[row], settings.floor_quantile)
        judged = stats[row].judge(float(values[row, first]), int(first), int(last), int(n),
                                  settings)
        if judged is None:
            continue
        score, evidence = judged
        findings.append(finding(hourly, FLATLINE, row, p, int(first), int(last), score,
                                evidence))
    return findings


class _SourceStats:
    """Hour-to-hour behaviour of one source's series, computed once per source."""

    def __init__(self, x: np.ndarray, floor_quantile: float) -> None:
        cols = np.flatnonzero(~np.isnan(x))
        self.level = x[cols[:-1]]
        self.step = np.abs(np.diff(x[cols]))
        self.pair_col = cols[1:]  # column of the later reading of each pair
        self.values = x[cols]
        nonzero = self.step[self.step > 0]
        # 5th percentile of nonzero steps: the resolution, robust to a stray odd value.
        self.resolution = float(np.percentile(nonzero, 5)) if len(nonzero) else 0.0
        self.typical = float(np.median(self.step)) if len(self.step) else float("nan")
        self.floor = (float(np.quantile(self.values, floor_quantile)) if len(self.values)
                      else float("nan"))

    def judge(self, value: float, first: int, last: int, n: int,
              settings: FlatlineSettings) -> tuple[float, dict[str, object]] | None:
        if len(self.values) < 2 or not np.isfinite(value):
            return None
        floor = self.floor
        if value <= floor or abs(value) < settings.min_quanta * self.resolution:
            return None
        outside = (self.pair_col <= first) | (self.pair_col > last)
        tol = settings.rel_epsilon * np.abs(self.level)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.abs(self.level / value)
        near = outside & (ratio >= 1 / settings.level_band) & (ratio <= settings.level_band)
        pool = near if near.sum() >= settings.min_pairs else outside
        n_pool = int(pool.sum())
        if n_pool == 0:
            return None
        same = self.step <= tol
        repeats = int(np.count_nonzero(same[pool]))
        p0_level = max(repeats, 1) / (n_pool + 1)
        around = outside & (self.pair_col > first - settings.context_hours) & (
            self.pair_col <= last + settings.context_hours)
        n_around = int(around.sum())
        p0_around = (int(np.count_nonzero(same[around])) + 1) / (n_around + 2)
        p0 = max(p0_level, p0_around)
        log10_chance = (n - 1) * float(np.log10(p0))
        if log10_chance > settings.max_log10_chance:
            return None
        typical_near = float(np.median(self.step[pool]))
        evidence: dict[str, object] = {
            "value": number(value, 4),
            "hours": int(last - first + 1),
            "readings": n,
            "typical_abs_change": number(self.typical, 4),
            "typical_abs_change_at_level": number(typical_near, 4),
            "repeat_share_at_level": number(repeats / n_pool, 4),
            "repeat_share_around": number(p0_around, 4),
            "log10_chance": number(log10_chance, 2),
            "resolution": number(self.resolution, 4),
            "floor": number(floor, 4),
        }
        return log10_chance / settings.max_log10_chance, evidence
