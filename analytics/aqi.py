"""HJ 633 individual and overall air-quality index (IAQI, AQI), vectorized over sources × time."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analytics.aqi_bands import BandTable, band_table
from analytics.daily_means import DailyMeans
from analytics.hj633_tables import (
    CATEGORY_BY_LEVEL,
    EDITIONS,
    LEVEL_UPPER_AQI,
    PREROUND_DECIMALS_2026,
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

# The primary-pollutant label of each set of tied pollutants, indexed by a bit mask over
# POLLUTANTS (bit i = POLLUTANTS[i]), in reporting order: 0b11 → "pm25,pm10"; 0 → "".
_PRIMARY_LABELS: np.ndarray = np.array(
    [",".join(p for i, p in enumerate(POLLUTANTS) if mask >> i & 1)
     for mask in range(1 << len(POLLUTANTS))],
    dtype=object,
)

# HJ 633 rounds IAQI *up*; float interpolation can land a hair above an exact integer
# (PM2.5 4.9 µg/m3 gives 7.000000000000001, exact 7). Inputs carry at most a few decimals, so a
# true IAQI is either an integer or at least ~1e-7 away from one; 1e-9 removes only float noise.
_CEIL_TOLERANCE = 1e-9
# Level of each ceil(AQI) from 0 to 301; the level bounds are whole numbers, so the first
# bound ≥ AQI is the first bound ≥ ceil(AQI) (the same argument as analytics/aqi_bands.py).
_LEVEL_OF_CEIL: np.ndarray = (
    np.searchsorted(LEVEL_UPPER_AQI, np.arange(LEVEL_UPPER_AQI[-1] + 2), side="left") + 1
).astype(np.int8)
# Values per chunk of compute_iaqi: the chunk's scratch arrays (~1.3 MB) stay in a core's L2
# cache, where each NumPy pass runs several times faster than over arrays in main memory.
_CHUNK_VALUES = 1 << 14
_PREROUNDED_EDITION = 2026


def round_half_even(values: np.ndarray, decimals: int = 0,
                    out: np.ndarray | None = None) -> np.ndarray:
    """Round as GB/T 8170 does on the decimal string: half to even (60.5→60, 61.5→62, 0.35→0.4).

    Returns float64 shaped like `values`; NaN stays NaN. With `out` (float64, same shape) the
    result is written there and returned, allocating nothing.
    """
    scale = 10.0**decimals
    # Concentrations arrive as decimal strings with at most a few decimals, but scaling the
    # binary float can miss the half the string meant (1.015 * 100 = 101.49999999999999);
    # snapping to 6 decimals restores it before NumPy's half-to-even rounding decides.
    if out is None:
        scaled = np.asarray(values, dtype=np.float64) * scale
        return np.round(np.round(scaled, 6)) / scale
    # The same steps in place; × and ÷ by 1.0 change nothing, so decimals=0 skips them.
    if decimals:
        np.multiply(values, scale, out=out)
        np.round(out, 6, out=out)
    else:
        np.round(values, 6, out=out)
    np.round(out, out=out)
    return np.divide(out, scale, out=out) if decimals else out


@dataclass(frozen=True)
class _ChunkScratch:
    """Work arrays of one chunk of compute_iaqi, reused from chunk to chunk."""

    conc: np.ndarray
    rounded: np.ndarray
    term: np.ndarray
    index: np.ndarray
    band: np.ndarray
    invalid: np.ndarray
    infinite: np.ndarray

    @classmethod
    def of(cls, size: int) -> _ChunkScratch:
        floats = [np.empty(size) for _ in range(3)]
        ints = [np.empty(size, dtype=np.intp) for _ in range(2)]
        return cls(*floats, *ints, np.empty(size, dtype=bool), np.empty(size, dtype=bool))


def _iaqi_chunk(out: np.ndarray, conc: np.ndarray, prerounded: np.ndarray | bool,
                table: BandTable, decimals: int, scratch: _ChunkScratch) -> None:
    """Write into `out` the IAQI of the 1-D chunk `conc` (any float64, NaN/negative/inf → NaN).

    `prerounded` says which values are under the pre-rounding edition (bool per value, or one
    bool for all): those are rounded to `decimals` (GB/T 8170) and use that edition's bands.
    """
    n = len(conc)
    x, index, band, term = scratch.conc[:n], scratch.index[:n], scratch.band[:n], scratch.term[:n]
    if isinstance(prerounded, np.ndarray):
        rounded = round_half_even(conc, decimals, out=scratch.rounded[:n])
        np.copyto(x, conc)
        np.copyto(x, rounded, where=prerounded)
    elif prerounded:
        round_half_even(conc, decimals, out=x)
    else:
        x = conc
    # Band of each value: ceil(c), clipped to the table (NaN → 0: it stays NaN below).
    np.ceil(x, out=term)
    np.fmax(term, 0.0, out=term)
    np.fmin(term, table.stride - 1, out=term)
    np.copyto(index, term, casting="unsafe")
    edition_offset = EDITIONS.index(_PREROUNDED_EDITION) * table.stride
    if isinstance(prerounded, np.ndarray):
        np.add(index, edition_offset, out=index, where=prerounded)
    elif prerounded:
        index += edition_offset
    # mode="clip": indices are in range by construction, and "raise" would buffer `out`.
    table.band_of.take(index, out=band, mode="clip")
    # iaqi_lo + iaqi_span * (c - bp_lo) / bp_span, operation for operation as HJ 633 §1.2.
    np.subtract(x, table.bp_lo.take(band, out=term, mode="clip"), out=out)
    out *= table.iaqi_span.take(band, out=term, mode="clip")
    out /= table.bp_span.take(band, out=term, mode="clip")
    out += table.iaqi_lo.take(band, out=term, mode="clip")
    out -= _CEIL_TOLERANCE
    np.ceil(out, out=out)
    out += 0.0  # turns -0.0 into 0.0
    invalid, infinite = scratch.invalid[:n], scratch.infinite[:n]
    np.less(conc, 0.0, out=invalid)
    np.equal(conc, np.inf, out=infinite)
    invalid |= infinite
    np.copyto(out, np.nan, where=invalid)


def compute_iaqi(conc: np.ndarray, indicator: str, edition: np.ndarray | int) -> np.ndarray:
    """IAQI (float64 holding integers) of concentrations `conc` for one HJ 633 indicator.

    `conc` in µg/m3 (CO mg/m3), any shape; `edition` (2012/2026) broadcastable to it, e.g.
    shape (n_times,) for (sources × times). NaN where conc is NaN or negative. 2026 rows are
    pre-rounded (GB/T 8170, CO to 0.1, others to 1) before interpolation; 2012 rows are not.
    Above the top breakpoint: 500 (display ">500"); SO2 1-h > 800 → 200 (2026) / NaN (2012:
    use the 24-h IAQI); O3 8-h > 800 → 300 (2026) / NaN (2012: use the 1-h IAQI).
    """
    conc = np.asarray(conc, dtype=np.float64)
    given = np.asarray(edition)
    np.broadcast_to(given, conc.shape)  # ValueError if `edition` does not fit `conc`
    present = np.unique(given).tolist()  # of the editions as given: (n_times,), not (S, T)
    unknown = set(present) - set(EDITIONS)
    if unknown:
        raise ValueError(f"unknown HJ 633 edition(s) {sorted(unknown)}; expected {EDITIONS}")
    table = band_table(indicator)
    decimals = PREROUND_DECIMALS_2026[indicator]
    flat = conc.reshape(-1)
    prerounded: np.ndarray | bool = present == [_PREROUNDED_EDITION]
    if len(present) > 1:
        prerounded = np.broadcast_to(given == _PREROUNDED_EDITION, conc.shape).reshape(-1)
    out = np.empty(flat.size)
    scratch = _ChunkScratch.of(min(_CHUNK_VALUES, flat.size))
    with np.errstate(invalid="ignore"):  # inf × 0 in the beyond-table band: masked anyway
        for start in range(0, flat.size, _CHUNK_VALUES):
            part = slice(start, start + _CHUNK_VALUES)
            chunk_rounded = (prerounded[part] if isinstance(prerounded, np.ndarray)
                             else prerounded)
            _iaqi_chunk(out[part], flat[part], chunk_rounded, table, decimals, scratch)
    return out.reshape(conc.shape)


def aqi_level(aqi: np.ndarray) -> np.ndarray:
    """AQI level (int8): 1..6 per HJ 633 Table 2 (≤50, ≤100, ≤150, ≤200, ≤300, >300); 0 if NaN."""
    aqi = np.asarray(aqi, dtype=np.float64)
    ceil_aqi = np.fmin(np.fmax(np.ceil(aqi), 0.0), len(_LEVEL_OF_CEIL) - 1)  # NaN → 0
    level = _LEVEL_OF_CEIL.take(ceil_aqi.astype(np.intp))
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
        np.fmax(aqi, values, out=aqi)
    above_50 = aqi > 50
    tied = np.zeros(shape, dtype=np.uint8)  # bit mask over POLLUTANTS of those reaching the AQI
    for bit, pollutant in enumerate(POLLUTANTS):
        if pollutant in iaqi:
            is_top = (iaqi[pollutant] == aqi) & above_50
            tied |= is_top.view(np.uint8) << np.uint8(bit)
    primary = _PRIMARY_LABELS.take(tied)
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
