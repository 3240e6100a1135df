"""HJ 633 individual and overall air-quality index (IAQI, AQI), vectorized over sources × time."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analytics.daily_means import DailyMeans
from analytics.hj633_tables import (
    BEYOND_TABLE_IAQI,
    CATEGORY_BY_LEVEL,
    EDITIONS,
    IAQI_ROWS,
    LEVEL_UPPER_AQI,
    OVERFLOW_IAQI,
    PREROUND_DECIMALS_2026,
    breakpoints,
)
from analytics.series_window import SeriesWindow
from analytics.standards_calendar import hj633_edition, local_dates

__all__ = [
    "CATEGORY_BY_LEVEL",
    "AqiResult",
    "aqi_level",
    "compute_iaqi",
    "daily_aqi",
    "hourly_aqi",
    "round_half_even",
]

# Reporting order; also the order of tied primary pollutants.
POLLUTANTS: tuple[str, ...] = ("pm25", "pm10", "so2", "no2", "co", "o3")
HOURLY_INDICATORS: dict[str, str] = {
    "pm25": "pm25", "pm10": "pm10", "so2": "so2_1h", "no2": "no2_1h", "co": "co_1h", "o3": "o3_1h",
}
# O3's daily indicators (max 8-h, and in 2012 max 1-h) come separately (analytics/ozone_daily.py).
DAILY_INDICATORS: dict[str, str] = {
    "pm25": "pm25", "pm10": "pm10", "so2": "so2_24h", "no2": "no2_24h", "co": "co_24h",
}

# HJ 633 rounds IAQI *up*; float interpolation can land a hair above an exact integer
# (PM2.5 4.9 µg/m3 gives 7.000000000000001, exact 7). Inputs carry at most a few decimals, so a
# true IAQI is either an integer or at least ~1e-7 away from one; 1e-9 removes only float noise.
_CEIL_TOLERANCE = 1e-9


def round_half_even(values: np.ndarray, decimals: int = 0) -> np.ndarray:
    """Round as GB/T 8170 does on the decimal string: half to even (60.5→60, 61.5→62, 0.35→0.4).

    Returns float64 shaped like `values`; NaN stays NaN.
    """
    scale = 10.0**decimals
    scaled = np.asarray(values, dtype=np.float64) * scale
    # Concentrations arrive as decimal strings with at most a few decimals, but scaling the
    # binary float can miss the half the string meant (1.015 * 100 = 101.49999999999999);
    # snapping to 6 decimals restores it before NumPy's half-to-even rounding decides.
    return np.round(np.round(scaled, 6)) / scale


def _interpolate(conc: np.ndarray, indicator: str, edition: int) -> np.ndarray:
    """IAQI for non-negative finite `conc` under one edition's column (no pre-rounding here)."""
    column = breakpoints(indicator, edition)
    defined = ~np.isnan(column)
    bp, rows = column[defined], IAQI_ROWS[defined]
    # First breakpoint >= conc: a value on a breakpoint uses the band below it, which gives the
    # breakpoint's own IAQI (bands share endpoints); 0 falls in the first band.
    hi = np.clip(np.searchsorted(bp, conc, side="left"), 1, len(bp) - 1)
    lo = hi - 1
    exact = rows[lo] + (rows[hi] - rows[lo]) * (conc - bp[lo]) / (bp[hi] - bp[lo])
    iaqi = np.ceil(exact - _CEIL_TOLERANCE) + 0.0  # + 0.0 turns -0.0 into 0.0
    beyond_iaqi = OVERFLOW_IAQI.get(indicator, {}).get(edition, BEYOND_TABLE_IAQI)
    return np.where(conc > bp[-1], beyond_iaqi, iaqi)


def compute_iaqi(conc: np.ndarray, indicator: str, edition: np.ndarray | int) -> np.ndarray:
    """IAQI (float64 holding integers) of concentrations `conc` for one HJ 633 indicator.

    `conc` in µg/m3 (CO mg/m3), any shape; `edition` (2012/2026) broadcastable to it, e.g.
    shape (n_times,) for (sources × times). NaN where conc is NaN or negative. 2026 rows are
    pre-rounded (GB/T 8170, CO to 0.1, others to 1) before interpolation; 2012 rows are not.
    Above the top breakpoint: 500 (display ">500"); SO2 1-h > 800 → 200 (2026) / NaN (2012:
    use the 24-h IAQI); O3 8-h > 800 → 300 (2026) / NaN (2012: use the 1-h IAQI).
    """
    conc = np.asarray(conc, dtype=np.float64)
    editions = np.broadcast_to(np.asarray(edition), conc.shape)
    unknown = set(np.unique(editions).tolist()) - set(EDITIONS)
    if unknown:
        raise ValueError(f"unknown HJ 633 edition(s) {sorted(unknown)}; expected {EDITIONS}")
    out = np.full(conc.shape, np.nan)
    usable = np.isfinite(conc) & (conc >= 0)
    for ed in EDITIONS:
        selected = usable & (editions == ed)
        if not selected.any():
            continue
        values = conc[selected]
        if ed == 2026:
            values = round_half_even(values, PREROUND_DECIMALS_2026[indicator])
        out[selected] = _interpolate(values, indicator, ed)
    return out


def aqi_level(aqi: np.ndarray) -> np.ndarray:
    """AQI level (int8): 1..6 per HJ 633 Table 2 (≤50, ≤100, ≤150, ≤200, ≤300, >300); 0 if NaN."""
    aqi = np.asarray(aqi, dtype=np.float64)
    level = np.searchsorted(LEVEL_UPPER_AQI, np.nan_to_num(aqi), side="left") + 1
    return np.where(np.isnan(aqi), 0, level).astype(np.int8)


@dataclass(frozen=True)
class AqiResult:
    """AQI of (sources × periods): overall index, per-pollutant IAQIs, level, primary pollutant.

    `aqi` float64 (S, T), NaN where no IAQI is available; `iaqi` maps pollutant (pm25, pm10,
    so2, no2, co, o3 — only those present) to float64 (S, T); `level` int8 (S, T), 0 = no AQI;
    `primary` object (S, T): comma-joined pollutants with the top IAQI when AQI > 50, else "";
    `edition` int16 (T,): the HJ 633 edition used for each period.
    """

    aqi: np.ndarray
    iaqi: dict[str, np.ndarray]
    level: np.ndarray
    primary: np.ndarray
    edition: np.ndarray


def combine_iaqi(iaqi: dict[str, np.ndarray], shape: tuple[int, int],
                 edition: np.ndarray) -> AqiResult:
    """AQI = NaN-aware max of the IAQIs; primary pollutant(s) = those reaching it when AQI > 50."""
    aqi = np.full(shape, np.nan)
    for values in iaqi.values():
        aqi = np.fmax(aqi, values)
    primary = np.full(shape, "", dtype=object)
    for pollutant in POLLUTANTS:
        if pollutant not in iaqi:
            continue
        is_top = (iaqi[pollutant] == aqi) & (aqi > 50)
        previous = primary[is_top]
        primary[is_top] = np.where(previous == "", pollutant, previous + "," + pollutant)
    return AqiResult(aqi=aqi, iaqi=iaqi, level=aqi_level(aqi), primary=primary, edition=edition)


def hourly_aqi(window: SeriesWindow, tz: str) -> AqiResult:
    """Real-time (1-hour) AQI of each source and hour in `window`.

    Reads the 1-hour means keyed pm25, pm10, so2, no2, co, o3 (µg/m3, CO mg/m3) in
    `window.values`; an absent key or NaN means not available and the AQI is the max of the
    rest. PM uses the daily column; the edition follows each hour's local date in `tz`.
    """
    edition = hj633_edition(local_dates(window.times, tz))
    iaqi = {
        pollutant: compute_iaqi(window.values[pollutant], indicator, edition)
        for pollutant, indicator in HOURLY_INDICATORS.items()
        if pollutant in window.values
    }
    return combine_iaqi(iaqi, (len(window.sources), len(window.times)), edition)


def daily_aqi(daily: DailyMeans, o3_max_8h: np.ndarray | None = None,
              o3_max_1h: np.ndarray | None = None) -> AqiResult:
    """Daily AQI from daily means of pm25, pm10, so2, no2, co (the 24-h columns) and O3.

    Means as given (µg/m3, CO mg/m3; NaN = invalid day); edition by each local day's date.
    O3's daily indicator is the daily max 8-h mean (`o3_max_8h`, (S, D)); HJ 633-2012 also
    lists the daily max 1-h value (`o3_max_1h`), and there the O3 IAQI is the larger of the
    two (which also covers its rule "8-h above 800 → use the 1-h IAQI"). Without them, no O3.
    """
    edition = hj633_edition(daily.days)
    iaqi = {
        pollutant: compute_iaqi(daily.means[pollutant], indicator, edition)
        for pollutant, indicator in DAILY_INDICATORS.items()
        if pollutant in daily.means
    }
    if o3_max_8h is not None:
        o3 = compute_iaqi(o3_max_8h, "o3_8h", edition)
        if o3_max_1h is not None:
            one_hour = compute_iaqi(o3_max_1h, "o3_1h", edition)
            o3 = np.where(edition == 2012, np.fmax(o3, one_hour), o3)
        iaqi["o3"] = o3
    return combine_iaqi(iaqi, (len(daily.sources), len(daily.days)), edition)
