"""Seeded minute-resolution CEMS series for enterprise stacks: load, stops, upkeep, noise.

Pure NumPy and vectorized along time. Every stack's process signal is its pollutant level
converted to the reference O2 (`nominal × load effect × AR(1) noise`); the measured value is
that level diluted by the flue gas's own excess air, so conversion (shared/domain.md §5.1)
gives back a compliant value at any load, during ramps included. While stopped the stack holds
ambient air (O2 ≈ 20.9 %, no flow, ~0 mg/m³) flagged F; maintenance (M), daily zero/span
calibration (C) and analyser faults (D) overwrite the analysers' values and flags.
"""

from __future__ import annotations

import itertools
import math
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Literal, Protocol
from zoneinfo import ZoneInfo

import numpy as np

from config.outlets import Outlet
from simulators.cems_noise import local_seconds
from simulators.cems_physics import healthy_values, noise_floor, zero_reading
from simulators.cems_profiles import (
    AIR_O2_PCT,
    POLLUTANTS,
    CemsProfile,
    nominal_converted_mgm3,
    profile_for,
)
from simulators.cems_schedule import draw_spans, production_load, ramp_factor

PARAMETERS: tuple[str, ...] = (
    "particulate", "so2", "nox", "o2", "flow", "temperature", "moisture", "velocity", "pressure",
)
ANALYSERS: tuple[str, ...] = ("particulate", "so2", "nox", "o2")  # what M and C touch
GAS_ANALYSERS: tuple[str, ...] = ("so2", "nox", "o2")  # calibrated daily; particulate weekly
SHANGHAI = ZoneInfo("Asia/Shanghai")
MINUTE_S = 60
CALIBRATION_PHASE_MIN = 5  # zero gas, then span gas, each this long
CLEAR_PAD_MIN = 60  # events keep this far from an injection window

if TYPE_CHECKING:
    from simulators.cems_injections import Injection

EventKind = Literal["stop", "maintenance", "calibration", "fault"]
Marker = Callable[[EventKind, int, int, tuple[str, ...]], None]


class TimeWindow(Protocol):
    """A span of one stack's data that generated events must leave alone (an Injection)."""

    @property
    def mn(self) -> str: ...
    @property
    def start(self) -> datetime: ...
    @property
    def end(self) -> datetime: ...


@dataclass(frozen=True)
class OperatingEvent:
    """Ground truth of a legitimate abnormal state, [start, end) UTC, on `parameters`."""

    mn: str
    kind: EventKind
    start: datetime
    end: datetime
    parameters: tuple[str, ...]


@dataclass(frozen=True)
class OutletSeries:
    """One stack's minute data; every array is shaped (n_minutes,).

    `values[p]`: minute means (pollutants mg/m³ dry standard state as measured, o2 and
    moisture %, flow m³/s, temperature °C, velocity m/s, pressure kPa); NaN = nothing sent.
    `spread[p]`: half the range of the instant values within the minute (same unit, ≥ 0).
    `flags[p]`: HJ 212 flag letters (N F M C D). `load`: production load 0–1, ramps included.
    `nominal_mgm3`: full-load pollutant levels at the reference O2.
    """

    outlet: Outlet
    profile: CemsProfile
    values: dict[str, np.ndarray]
    spread: dict[str, np.ndarray]
    flags: dict[str, np.ndarray]
    load: np.ndarray
    nominal_mgm3: dict[str, float]
    events: tuple[OperatingEvent, ...]


@dataclass(frozen=True)
class CemsRun:
    """Simulated stacks over [start, start + n_minutes) with the truth of what was done.

    `start` is UTC and on a whole minute; `tz` is the stacks' local clock (production cycles,
    calibration times); `injections` are the falsifications applied (cems_injections.py).
    """

    start: datetime
    n_minutes: int
    tz: tzinfo
    series: dict[str, OutletSeries]
    injections: tuple[Injection, ...] = ()

    @property
    def times(self) -> np.ndarray:
        """Minute starts, ``datetime64[s]`` UTC."""
        first = np.datetime64(int(self.start.timestamp()), "s")
        return first + np.arange(self.n_minutes) * np.timedelta64(MINUTE_S, "s")

    def utc_seconds(self) -> np.ndarray:
        """Minute starts as int64 Unix seconds."""
        return int(self.start.timestamp()) + MINUTE_S * np.arange(self.n_minutes, dtype=np.int64)

    def minute_index(self, when: datetime) -> int:
        """Index of the minute holding `when` (aware); may lie outside [0, n_minutes)."""
        if when.tzinfo is None:
            raise ValueError(f"{when} has no time zone")
        return math.floor((when - self.start).total_seconds() / MINUTE_S)

    def at(self, index: int) -> datetime:
        """UTC start of minute `index`."""
        return self.start + timedelta(minutes=index)

    def window(self, first: int, stop: int) -> CemsRun:
        """Minutes [first, stop) as a run of their own (views, no copies); events and
        injections are kept whole, as they are ground truth in absolute time."""
        if not 0 <= first < stop <= self.n_minutes:
            raise ValueError(f"window [{first}, {stop}) outside [0, {self.n_minutes})")
        cut = slice(first, stop)
        series = {
            mn: replace(s, values={p: v[cut] for p, v in s.values.items()},
                        spread={p: v[cut] for p, v in s.spread.items()},
                        flags={p: v[cut] for p, v in s.flags.items()}, load=s.load[cut])
            for mn, s in self.series.items()
        }
        return replace(self, start=self.at(first), n_minutes=stop - first, series=series)

    def day_windows(self) -> list[CemsRun]:
        """The run cut at local midnights (`tz`), so that each piece holds whole local days
        but for the first and last: what a live sender encodes one day at a time."""
        days = local_seconds(self.utc_seconds(), self.tz) // 86_400
        bounds = [0, *(np.flatnonzero(np.diff(days)) + 1).tolist(), self.n_minutes]
        return [self.window(a, b) for a, b in itertools.pairwise(bounds)]


def generate_cems(
    outlets: Sequence[Outlet],
    start: datetime,
    hours: float,
    *,
    seed: int = 0,
    tz: tzinfo = SHANGHAI,
    keep_clear: Sequence[TimeWindow] = (),
) -> CemsRun:
    """Simulate `outlets` for `hours` from `start` (naive = local `tz`), one value a minute.

    Stops, maintenance, faults and calibrations are drawn first and then those within an hour
    of a `keep_clear` window of the same MN are dropped, so an injection lands on normal data
    and the rest of the series does not depend on it. Each stack's randomness comes from
    (`seed`, its MN): same arguments, same output; adding a stack leaves the others unchanged.
    """
    aware = start if start.tzinfo is not None else start.replace(tzinfo=tz)
    if aware.second or aware.microsecond:
        raise ValueError(f"start {start} must fall on a whole minute")
    n = round(hours * 60)
    if n < 1:
        raise ValueError(f"hours={hours} gives no minute of data")
    run_start = aware.astimezone(UTC)
    utc_s = int(run_start.timestamp()) + MINUTE_S * np.arange(n, dtype=np.int64)
    local_s = local_seconds(utc_s, tz)
    series = {}
    for outlet in outlets:
        clear = _clear_mask(outlet.mn, keep_clear, run_start, n)
        series[outlet.mn] = _simulate_outlet(outlet, run_start, local_s, clear, seed)
    return CemsRun(run_start, n, tz, series)


def _clear_mask(mn: str, windows: Sequence[TimeWindow], start: datetime, n: int) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    for window in windows:
        if window.mn != mn:
            continue
        first = math.floor((window.start - start).total_seconds() / MINUTE_S) - CLEAR_PAD_MIN
        last = math.ceil((window.end - start).total_seconds() / MINUTE_S) + CLEAR_PAD_MIN
        mask[max(first, 0):max(min(last, n), 0)] = True
    return mask


def _simulate_outlet(outlet: Outlet, start: datetime, local_s: np.ndarray, clear: np.ndarray,
                     seed: int) -> OutletSeries:
    profile = profile_for(outlet.industry)
    event_rng, noise_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(
        [seed, zlib.crc32(outlet.mn.encode())]).spawn(2))
    n = len(local_s)
    # Events first, all from event_rng, so what is kept clear does not shift later draws.
    stops = draw_spans(event_rng, n, profile.stops_per_30d,
                       (profile.stop_hours[0] * 60, profile.stop_hours[1] * 60))
    works = draw_spans(event_rng, n, profile.maintenance_per_30d,
                       (profile.maintenance_hours[0] * 60, profile.maintenance_hours[1] * 60))
    faults = draw_spans(event_rng, n, profile.faults_per_30d, (20.0, 180.0))
    fault_targets = event_rng.integers(0, len(POLLUTANTS), len(faults))
    calibration_minute = int(event_rng.integers(120, 240))  # local time of day, 02:00–04:00
    particulate_weekday = int(event_rng.integers(0, 7))
    production, in_season = production_load(profile, local_s, noise_rng)

    def clear_of(a: int, b: int, pad: int = 0) -> bool:
        return not clear[max(a - pad, 0):min(b + pad, n)].any()

    running = in_season.copy()
    kept_stops = [(a, b) for a, b in stops
                  if clear_of(a, b, max(profile.startup_min, profile.shutdown_min))]
    for a, b in kept_stops:
        running[a:b] = False
    load = production * ramp_factor(running, profile.startup_min, profile.shutdown_min)
    values, spread = healthy_values(outlet, profile, load, running, noise_rng)
    flags = {p: np.where(running, "N", "F").astype("<U1") for p in PARAMETERS}

    events: list[OperatingEvent] = []

    def mark(kind: EventKind, a: int, b: int, params: tuple[str, ...]) -> None:
        events.append(OperatingEvent(outlet.mn, kind, start + timedelta(minutes=a),
                                     start + timedelta(minutes=b), params))

    edges = np.flatnonzero(np.diff(np.concatenate(([1], running.astype(np.int8), [1]))))
    for a, b in zip(edges[::2], edges[1::2], strict=True):  # stops and off-season spans
        mark("stop", int(a), int(b), PARAMETERS)
    for (a, b), target in zip(faults, fault_targets, strict=True):
        if clear_of(a, b):
            pollutant = POLLUTANTS[target]
            values[pollutant][a:b] = zero_reading(noise_rng, profile, pollutant, b - a)
            spread[pollutant][a:b] = 0.5 * noise_floor(profile, pollutant)
            flags[pollutant][a:b] = "D"
            mark("fault", a, b, (pollutant,))
    _calibrate(profile, local_s, clear, calibration_minute, particulate_weekday,
               values, spread, flags, noise_rng, mark)
    for a, _ in works:
        # Technicians work days: move the visit to 09:00–15:00 local of the day drawn.
        day_start = a - (int(local_s[a] % 86400) // MINUTE_S)
        a2 = day_start + 540 + int(event_rng.integers(0, 360))
        b2 = min(a2 + int(event_rng.uniform(*profile.maintenance_hours) * 60), n)
        if a2 < 0 or a2 >= n or not clear_of(a2, b2):
            continue
        for p in ANALYSERS:
            values[p][a2:b2] = (  # the probe purged with ambient air
                np.minimum(AIR_O2_PCT + 0.03 * noise_rng.standard_normal(b2 - a2), 20.99)
                if p == "o2" else zero_reading(noise_rng, profile, p, b2 - a2))
            spread[p][a2:b2] = 0.05 if p == "o2" else 0.5 * noise_floor(profile, p)
            flags[p][a2:b2] = "M"
        mark("maintenance", a2, b2, ANALYSERS)
    events.sort(key=lambda e: (e.start, e.kind))
    return OutletSeries(outlet, profile, values, spread, flags, load,
                        nominal_converted_mgm3(profile, outlet), tuple(events))


def _calibrate(profile: CemsProfile, local_s: np.ndarray, clear: np.ndarray, minute_of_day: int,
                particulate_weekday: int, values: dict[str, np.ndarray],
               spread: dict[str, np.ndarray], flags: dict[str, np.ndarray],
               rng: np.random.Generator, mark: Marker) -> None:
    """Daily zero-then-span check of the gas analysers (weekly for particulate), flag C."""
    day = local_s // 86400
    offset = (local_s % 86400) // MINUTE_S - minute_of_day
    window = (offset >= 0) & (offset < 2 * CALIBRATION_PHASE_MIN)
    spoiled = np.unique(day[window & clear])
    window &= ~np.isin(day, spoiled)
    zero = window & (offset < CALIBRATION_PHASE_MIN)
    weekly = window & ((day + 3) % 7 == particulate_weekday)  # 1970-01-01 was a Thursday
    for p in (*GAS_ANALYSERS, "particulate"):
        cal = weekly if p == "particulate" else window
        k = int(cal.sum())
        if not k:
            continue
        if p == "o2":
            zero_value, span_value = 0.0, AIR_O2_PCT
        else:
            zero_value = 0.0
            span_value = profile.span_fraction * profile.analyser_range_mgm3[p]
        target = np.where(zero[cal], zero_value, span_value)
        reading = np.abs(target + (0.002 * span_value) * rng.standard_normal(k))
        values[p][cal] = np.minimum(reading, 20.99) if p == "o2" else reading
        spread[p][cal] = 0.001 * span_value
        flags[p][cal] = "C"
    starts = np.flatnonzero(window & ~np.concatenate(([False], window[:-1])))
    for a in starts:  # one per calibrated day (possibly cut by the run's start or end)
        b = min(int(a) + 2 * CALIBRATION_PHASE_MIN - int(offset[a]), len(local_s))
        params = GAS_ANALYSERS + (("particulate",) if weekly[a] else ())
        mark("calibration", int(a), b, params)
