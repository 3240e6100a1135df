"""HJ 633 bands as lookup tables, so an IAQI's band is found by one gather, not a search."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from analytics.hj633_tables import (
    BEYOND_TABLE_IAQI,
    EDITIONS,
    IAQI_ROWS,
    OVERFLOW_IAQI,
    breakpoints,
)


@dataclass(frozen=True)
class BandTable:
    """The bands of one indicator in every HJ 633 edition, addressed by ceil(concentration).

    A concentration c (≥ 0, units of the indicator) under EDITIONS[e] lies in band
    ``band_of[e * stride + min(ceil(c), stride - 1)]``; its IAQI before rounding is
    ``iaqi_lo + iaqi_span * (c - bp_lo) / bp_span`` of that band (domain.md §1.2). Every
    breakpoint is a whole number, so "the first breakpoint ≥ c" (a value on a breakpoint takes
    the band below, which gives the breakpoint's own IAQI) is also the first one ≥ ceil(c):
    the table finds exactly the band a binary search would. The index stride - 1 stands for
    "above the top breakpoint", a band of span 0 whose `iaqi_lo` is the overflow IAQI (500,
    or OVERFLOW_IAQI: 200/300 in 2026, NaN in 2012). Band 0 of each edition is unused (NaN).
    """

    stride: int
    band_of: np.ndarray
    bp_lo: np.ndarray
    bp_span: np.ndarray
    iaqi_lo: np.ndarray
    iaqi_span: np.ndarray


def _frozen(values: list[float] | np.ndarray, dtype: type = np.float64) -> np.ndarray:
    array = np.array(values, dtype=dtype)
    array.setflags(write=False)
    return array


@functools.cache
def band_table(indicator: str) -> BandTable:
    """The BandTable of one HJ 633 indicator (see hj633_tables.INDICATORS); built once.

    Raises ValueError for an unknown indicator, or if a column had a fractional breakpoint
    (none has: the lookup by ceil(c) would then be wrong).
    """
    columns = [breakpoints(indicator, edition) for edition in EDITIONS]
    stride = int(max(np.nanmax(column) for column in columns)) + 2
    ceil_conc = np.arange(stride, dtype=np.float64)
    band_of: list[np.ndarray] = []
    bp_lo: list[float] = []
    bp_span: list[float] = []
    iaqi_lo: list[float] = []
    iaqi_span: list[float] = []
    for edition, column in zip(EDITIONS, columns, strict=True):
        defined = ~np.isnan(column)
        bp, rows = column[defined], IAQI_ROWS[defined]
        if not np.array_equal(bp, np.round(bp)):
            raise ValueError(f"{indicator} ({edition}): band lookup needs whole breakpoints")
        upper = np.clip(np.searchsorted(bp, ceil_conc, side="left"), 1, len(bp) - 1)
        band_of.append(len(bp_lo) + np.where(ceil_conc > bp[-1], len(bp), upper))
        overflow = OVERFLOW_IAQI.get(indicator, {}).get(edition, BEYOND_TABLE_IAQI)
        bp_lo += [np.nan, *bp[:-1].tolist(), float(bp[-1])]
        bp_span += [np.nan, *np.diff(bp).tolist(), 1.0]
        iaqi_lo += [np.nan, *rows[:-1].tolist(), overflow]
        iaqi_span += [np.nan, *np.diff(rows).tolist(), 0.0]
    return BandTable(
        stride=stride, band_of=_frozen(np.concatenate(band_of), np.intp),
        bp_lo=_frozen(bp_lo), bp_span=_frozen(bp_span),
        iaqi_lo=_frozen(iaqi_lo), iaqi_span=_frozen(iaqi_span),
    )
