"""Hourly stack emissions from the finest valid data: minute, else real-time, else reported."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from analytics.o2_conversion import to_reference_o2
from analytics.series_window import SeriesWindow

__all__ = [
    "BASIS_MINUTE",
    "BASIS_NAMES",
    "BASIS_NONE",
    "BASIS_REPORTED",
    "BASIS_RTD",
    "EMISSION_POLLUTANTS",
    "HourlyEmissions",
    "hourly_emissions",
]

# What an hour's value was computed from (int8 codes of HourlyEmissions.basis).
BASIS_NONE = 0  # no valid hour
BASIS_MINUTE = 1  # mean of valid minute data (HJ 212 CN 2051)
BASIS_RTD = 2  # mean of valid real-time data (CN 2011)
BASIS_REPORTED = 3  # the unit's own hourly value (CN 2061)
BASIS_NAMES: dict[int, str] = {BASIS_MINUTE: "minute", BASIS_RTD: "rtd", BASIS_REPORTED: "reported"}

EMISSION_POLLUTANTS: tuple[str, ...] = ("particulate", "so2", "nox")
O2_KEY = "o2"
HOUR_S = 3600


@dataclass(frozen=True)
class HourlyEmissions:
    """Hourly emission values of several stacks, each with where it came from.

    `times` is ``datetime64[s]`` (UTC hour starts). Every mapping is keyed by pollutant and holds
    arrays shaped ``(len(sources), len(times))``: `measured` mg/m³ (dry, standard state, as
    measured), `o2` the hour's dry O2 % on the same basis as that value, `converted` mg/m³ at
    the reference O2 (NaN where the basis had no O2 and a conversion was needed), `basis` int8
    codes (BASIS_NONE / _MINUTE / _RTD / _REPORTED), `valid_count` the number of valid values
    behind a minute or real-time hour (float64, NaN for reported hours and hours without data).
    """

    sources: tuple[str, ...]
    times: np.ndarray
    measured: Mapping[str, np.ndarray]
    o2: Mapping[str, np.ndarray]
    converted: Mapping[str, np.ndarray]
    basis: Mapping[str, np.ndarray]
    valid_count: Mapping[str, np.ndarray]

    def __post_init__(self) -> None:
        shape = (len(self.sources), len(self.times))
        pollutants = sorted(self.measured)
        for name in ("measured", "o2", "converted", "basis", "valid_count"):
            arrays: Mapping[str, np.ndarray] = getattr(self, name)
            if sorted(arrays) != pollutants:
                raise ValueError(f"{name} covers {sorted(arrays)}, measured {pollutants}")
            for pollutant, array in arrays.items():
                if array.shape != shape:
                    raise ValueError(f"{name}[{pollutant}] is {array.shape}, expected {shape}")

    @property
    def pollutants(self) -> tuple[str, ...]:
        """The pollutants held, in the order they were computed."""
        return tuple(self.measured)


def _common_grid(windows: Sequence[SeriesWindow]) -> tuple[tuple[str, ...], np.ndarray]:
    """Sources and times shared by all given windows; ValueError if they differ."""
    if not windows:
        raise ValueError("at least one of minute, rtd and reported must be given")
    first = windows[0]
    if any(window.step_s != HOUR_S for window in windows):
        raise ValueError(f"emission windows must be hourly (step_s={HOUR_S})")
    for window in windows[1:]:
        if window.sources != first.sources or not np.array_equal(window.times, first.times):
            raise ValueError("minute, rtd and reported windows must share sources and hourly times")
    return first.sources, first.times


def _counted(window: SeriesWindow | None, key: str, shape: tuple[int, int]) -> np.ndarray:
    """``window.values[key]``, or all-NaN when the window or the key is absent."""
    if window is None or key not in window.values:
        return np.full(shape, math.nan)
    return np.asarray(window.values[key], dtype=np.float64)


def hourly_emissions(
    minute: SeriesWindow | None,
    rtd: SeriesWindow | None,
    reported: SeriesWindow | None,
    *,
    needed_minute: np.ndarray,
    needed_rtd: np.ndarray,
    reference_o2: np.ndarray,
    pollutants: Sequence[str] = EMISSION_POLLUTANTS,
) -> HourlyEmissions:
    """Each stack's hourly value per pollutant, taken from the finest data that makes a valid hour.

    The three windows share sources and the hourly UTC grid (any may be None, not all):
    `minute` and `rtd` hold hourly means (mg/m³ dry std; O2 in %) of VALID-flagged minute /
    real-time values under ``values[p]`` and their count under ``values[f"{p}_count"]``, for
    each pollutant p and for "o2"; `reported` holds the unit's own valid hourly values
    ``values[p]`` and ``values["o2"]``. `needed_minute` / `needed_rtd` (shape (S,)) are how
    many valid values make the ≥ 45 minutes an hour needs (HJ 75 / HJ 212 App. D;
    ``hourly_validity.min_values_per_hour`` of each outlet's interval). `reference_o2` (S,)
    is each outlet's reference O2 %, NaN where its standard converts nothing.

    Priority per (source, hour, pollutant): minute data with count ≥ `needed_minute`, else
    real-time data with count ≥ `needed_rtd`, else the reported hourly value, else NaN with
    basis 0. Our own aggregates come first because they rest on values we received and can
    check; the unit's hourly value is the fallback. The O2 is the same basis's hourly O2 mean,
    so concentration and O2 describe the same minutes; where that O2 is missing the converted
    value is NaN (unless no conversion applies) and `measured` stays. Only its presence is
    required: the O2 count is not checked against the 45 minutes. Pollutants absent from all
    three windows are left out. A minute or real-time window lacking a ``{p}_count`` for a p it
    holds raises ValueError, as do mismatched grids or shapes.
    """
    given = [w for w in (minute, rtd, reported) if w is not None]
    sources, times = _common_grid(given)
    shape = (len(sources), len(times))
    for name, array in (("needed_minute", needed_minute), ("needed_rtd", needed_rtd),
                        ("reference_o2", reference_o2)):
        if np.shape(array) != (len(sources),):
            raise ValueError(f"{name} must be one number per source, shape ({len(sources)},)")
    present = [p for p in pollutants if any(p in w.values for w in given)]
    for name, window in (("minute", minute), ("rtd", rtd)):
        if window is not None:
            missing = [p for p in present
                       if p in window.values and f"{p}_count" not in window.values]
            if missing:
                raise ValueError(f"{name} window lacks counts for {missing}")
    need_m = np.asarray(needed_minute, dtype=np.float64)[:, None]
    need_r = np.asarray(needed_rtd, dtype=np.float64)[:, None]
    o2_by_basis = [_counted(w, O2_KEY, shape) for w in (minute, rtd, reported)]

    measured: dict[str, np.ndarray] = {}
    o2: dict[str, np.ndarray] = {}
    converted: dict[str, np.ndarray] = {}
    basis: dict[str, np.ndarray] = {}
    valid_count: dict[str, np.ndarray] = {}
    for pollutant in present:  # a loop over pollutants; everything inside is whole-array
        count_key = f"{pollutant}_count"
        mean_m, count_m = _counted(minute, pollutant, shape), _counted(minute, count_key, shape)
        mean_r, count_r = _counted(rtd, pollutant, shape), _counted(rtd, count_key, shape)
        value_rep = _counted(reported, pollutant, shape)
        # NaN counts compare False, so an hour without data never passes.
        use_m = (count_m >= need_m) & ~np.isnan(mean_m)
        use_r = ~use_m & (count_r >= need_r) & ~np.isnan(mean_r)
        use_rep = ~use_m & ~use_r & ~np.isnan(value_rep)
        choice = [use_m, use_r, use_rep]
        measured[pollutant] = np.select(choice, [mean_m, mean_r, value_rep], math.nan)
        o2[pollutant] = np.select(choice, o2_by_basis, math.nan)
        basis[pollutant] = np.select(
            choice, [BASIS_MINUTE, BASIS_RTD, BASIS_REPORTED], BASIS_NONE
        ).astype(np.int8)
        valid_count[pollutant] = np.select([use_m, use_r], [count_m, count_r], math.nan)
        converted[pollutant] = to_reference_o2(measured[pollutant], o2[pollutant], reference_o2)
    return HourlyEmissions(sources, times, measured, o2, converted, basis, valid_count)
