"""AuditSeries: the one input of every falsification detector — (sources × time) arrays.

Live (InfluxDB windows) and offline (audit bundles) both build one, so the same detectors run
on both. Values are kept whatever their HJ 212 flag, because flag_abuse needs the flagged
values; every other detector works on `measured()`, which drops flagged values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np

from analytics.o2_conversion import to_reference_o2

NORMAL = b"N"
# Flags whose value is a measurement of the sample: N (normal) and T (above the analyser's
# range — still the reading). Everything else (M, C, D, F, S, B …) is not.
MEASURED_FLAGS = np.array([b"N", b"T"], dtype="S1")
STATION_POLLUTANTS = ("pm25", "pm10", "so2", "no2", "o3", "co")
OUTLET_POLLUTANTS = ("particulate", "so2", "nox")
OUTLET_PROCESS = ("o2", "flow", "temperature", "moisture")
KINDS = ("station", "outlet")
AIR_O2_PCT = 20.9  # what an O2 analyser reads in dry ambient air
# GB 3095 / HJ 75: an hour is valid with ≥ 45 minutes of data; same share for any finer step.
VALID_HOUR_SHARE = 0.75
_NOT_MEASURED = np.array([b"M", b"C", b"D", b"F", b"S", b"B"], dtype="S1")
_REDUCE_ROWS = 16  # sources reduced to hourly means at a time (16 × 43,200 minutes ≈ 5.5 MB)


@dataclass(frozen=True)
class AuditSeries:
    """Series of one kind of source on one regular UTC grid.

    `times`: ``datetime64[s]`` UTC starts of averaging periods, constant step `step_s`.
    `values[p]`: float64 (S, T), NaN = missing; stations µg/m³ (CO mg/m³); outlets pollutants
    mg/m³ as measured, o2 and moisture %, flow m³/h, temperature °C. Every reported value is
    here whatever its flag. `flags[p]`: dtype ``S1`` (S, T) HJ 212 flag letters, b"N" normal;
    a pollutant absent from `flags` is all normal. `lat`/`lon` (S,) WGS-84 degrees, NaN unknown.
    `reference_o2` (S,) % and `limits[p]` (S,) mg/m³ at reference O2 (outlets; NaN = none).
    `tz` is the bureau's IANA zone (local days, diurnal profiles).
    """

    kind: str
    sources: tuple[str, ...]
    times: np.ndarray
    values: Mapping[str, np.ndarray]
    flags: Mapping[str, np.ndarray] = field(default_factory=dict)
    step_s: int = 3600
    tz: str = "Asia/Shanghai"
    lat: np.ndarray | None = None
    lon: np.ndarray | None = None
    reference_o2: np.ndarray | None = None
    limits: Mapping[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if self.times.dtype != np.dtype("datetime64[s]"):
            raise ValueError(f"times must be datetime64[s], got {self.times.dtype}")
        if self.step_s <= 0 or (3600 % self.step_s and self.step_s % 3600):
            raise ValueError(f"step_s {self.step_s} must divide an hour or be whole hours")
        if len(self.times) > 1 and not np.all(np.diff(self.times).astype(np.int64) == self.step_s):
            raise ValueError(f"times are not on a regular {self.step_s} s grid")
        shape = self.shape
        for name, arrays in (("values", self.values), ("flags", self.flags)):
            for p, array in arrays.items():
                if array.shape != shape:
                    raise ValueError(f"{name}[{p!r}] has shape {array.shape}, expected {shape}")
        for p, array in self.flags.items():
            if array.dtype != np.dtype("S1"):
                raise ValueError(f"flags[{p!r}] must be dtype S1, got {array.dtype}")
        per_source = {"lat": self.lat, "lon": self.lon, "reference_o2": self.reference_o2,
                      **{f"limits[{p!r}]": v for p, v in self.limits.items()}}
        for name, array in per_source.items():
            if array is not None and np.shape(array) != (len(self.sources),):
                raise ValueError(f"{name} must be one number per source, ({len(self.sources)},)")

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.sources), len(self.times))

    def samples(self, hours: float) -> int:
        """How many grid steps make `hours` (at least 1)."""
        return max(1, round(hours * 3600 / self.step_s))

    def flag(self, pollutant: str) -> np.ndarray:
        """The (S, T) S1 flags of `pollutant`, all b"N" when none were given."""
        flags = self.flags.get(pollutant)
        return flags if flags is not None else np.full(self.shape, NORMAL, dtype="S1")

    def measured(self, pollutant: str) -> np.ndarray:
        """Values that measure the sample (flag N or T); flagged or missing → NaN."""
        values = self.values[pollutant]
        flags = self.flags.get(pollutant)
        if flags is None:
            return values
        return np.where(np.isin(flags, MEASURED_FLAGS), values, np.nan)

    def converted(self, pollutant: str) -> np.ndarray:
        """Measured outlet concentration at the reference O2 (mg/m³), NaN where O2 is missing.

        Sources without a reference O2 (NaN) are returned as measured (nothing to convert).
        """
        measured = self.measured(pollutant)
        if self.reference_o2 is None or "o2" not in self.values:
            return measured
        return to_reference_o2(measured, self.measured("o2"), self.reference_o2)

    def limit(self, pollutant: str) -> np.ndarray:
        """(S,) limits of `pollutant` at reference O2, NaN where none."""
        limit = self.limits.get(pollutant)
        return (np.full(len(self.sources), np.nan) if limit is None
                else np.asarray(limit, dtype=np.float64))

    def pollutants(self) -> tuple[str, ...]:
        """The pollutants (not process parameters) present, in the standard order."""
        names = STATION_POLLUTANTS if self.kind == "station" else OUTLET_POLLUTANTS
        return tuple(p for p in names if p in self.values)

    def judged(self) -> tuple[str, ...]:
        """Pollutants present, plus at outlets the process signals present (a stuck O2 or
        flow analyser is as suspicious as a stuck SO2 one)."""
        process = OUTLET_PROCESS if self.kind == "outlet" else ()
        return self.pollutants() + tuple(p for p in process if p in self.values)

    def rows(self, rows: slice | np.ndarray) -> AuditSeries:
        """The same series for a subset of sources (blocks for bounded memory)."""
        def pick(array: np.ndarray | None) -> np.ndarray | None:
            return None if array is None else np.asarray(array)[rows]
        return replace(
            self, sources=tuple(np.asarray(self.sources, dtype=object)[rows]),
            values={p: v[rows] for p, v in self.values.items()},
            flags={p: f[rows] for p, f in self.flags.items()},
            lat=pick(self.lat), lon=pick(self.lon), reference_o2=pick(self.reference_o2),
            limits={p: np.asarray(v)[rows] for p, v in self.limits.items()})

    def hourly(self) -> AuditSeries:
        """Hourly means of a finer grid (itself when already hourly or coarser).

        An hour is measured (flag N) when ≥ 75 % of its steps hold a measured value (GB 3095's
        45 minutes); its value is then the mean of those. Otherwise, if some of its values carry
        a non-measured flag, the hour takes the commonest such flag and the mean of every value
        present (flagged values stay visible for flag_abuse); else it is missing (NaN, N).
        A partial first or last hour is dropped.
        """
        if self.step_s >= 3600:
            return self
        cached = self.__dict__.get("_hourly")
        if cached is not None:
            return cached  # type: ignore[no-any-return]
        hourly = self._hourly_means()
        # Every detector asks for it; frozen, so the cache is set behind the dataclass's back.
        object.__setattr__(self, "_hourly", hourly)
        return hourly

    def _hourly_means(self) -> AuditSeries:
        per = 3600 // self.step_s
        seconds = self.times.astype(np.int64)
        skip = int((-seconds[0]) % 3600 // self.step_s) if len(seconds) else 0
        n_hours = (len(self.times) - skip) // per
        cut = slice(skip, skip + n_hours * per)
        n_sources = len(self.sources)
        values: dict[str, np.ndarray] = {}
        flags: dict[str, np.ndarray] = {}
        for p, raw in self.values.items():
            given = self.flags.get(p)
            values[p] = np.empty((n_sources, n_hours))
            if given is not None:
                flags[p] = np.empty((n_sources, n_hours), dtype="S1")
            # A few sources at a time: the (rows, hours, per) temporaries stay small enough
            # to be reused from the heap instead of page-faulted in afresh for every array
            # (~2× faster on 500 × 43,200 minutes); every hour is reduced exactly as at once.
            for first in range(0, n_sources, _REDUCE_ROWS):
                rows = slice(first, min(first + _REDUCE_ROWS, n_sources))
                n_rows = rows.stop - rows.start
                block = raw[rows, cut].reshape(n_rows, n_hours, per)
                codes = (None if given is None
                         else given[rows, cut].view(np.uint8).reshape(n_rows, n_hours, per))
                means, hour_flags = _mean_hours(block, codes, per)
                values[p][rows] = means
                if hour_flags is not None:
                    flags[p][rows] = hour_flags
        times = self.times[cut][::per]
        return replace(self, times=times, values=values, flags=flags, step_s=3600)


def _mean_hours(block: np.ndarray, codes: np.ndarray | None, per: int
                ) -> tuple[np.ndarray, np.ndarray | None]:
    """(S, H) hourly means and S1 flags (None without flags) of (S, H, per) values and their
    flag bytes; the rules of `AuditSeries.hourly`."""
    present = ~np.isnan(block)
    if codes is None:  # the common case: no flags, every value is measured
        mean_all, n_present = _mean_present(block, present)
        return np.where(n_present >= VALID_HOUR_SHARE * per, mean_all, np.nan), None
    # Flags compared as bytes (uint8): np.isin on S1 arrays is ~10× slower.
    measured = present & ((codes == ord("N")) | (codes == ord("T")))
    n_measured = np.count_nonzero(measured, axis=2)
    ok = n_measured >= VALID_HOUR_SHARE * per
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_measured = np.where(measured, block, 0.0).sum(axis=2) / n_measured
    if ok.all():  # usual: then the mean of every value present is not needed
        return mean_measured, np.full(ok.shape, NORMAL, dtype="S1")
    mean_all, _ = _mean_present(block, present)
    counts = np.stack([np.count_nonzero(present & (codes == f[0]), axis=2)
                       for f in _NOT_MEASURED.tolist()])
    commonest = _NOT_MEASURED[counts.argmax(axis=0)]
    flagged = ~ok & (counts.max(axis=0) > 0)
    return (np.where(ok, mean_measured, np.where(flagged, mean_all, np.nan)),
            np.where(flagged, commonest, NORMAL).astype("S1"))


def _mean_present(block: np.ndarray, present: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(S, H) mean of the values present in each hour of (S, H, per) (NaN if none), and
    how many there are."""
    n_present = np.count_nonzero(present, axis=2)
    # Nothing missing (process signals, often): the same sums without the zero-filled copy
    # (C order, as np.where returns, so that the sums run in the same order).
    filled = (np.ascontiguousarray(block) if n_present.min(initial=block.shape[2])
              == block.shape[2] else np.where(present, block, 0.0))
    total = filled.sum(axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n_present > 0, total / np.maximum(n_present, 1), np.nan), n_present
