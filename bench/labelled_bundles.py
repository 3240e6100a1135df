"""Labelled audit bundles (shared/formats.md §3) for benchmarking the falsification detectors.

A bundle holds the 12 real Beijing stations (shared/data, hourly, local Asia/Shanghai clock,
CO in mg/m³) for the chosen months and `n_outlets` simulated stacks (simulators/cems_*: minute
CEMS data made hourly the HJ 212 way), with falsifications injected and written down as ground
truth (`truth.jsonl`, finding records with ``score`` 1 and the injected parameters as
evidence). The injections follow the ranges of the detector brief: each type several times per
bundle, durations and strengths spread over the whole range (stratified draws), events on the
same source and pollutant at least `SEPARATION_H` apart.

Stations are injected here on the real data, one pollutant per event (neighbor_divergence:
pm25 and pm10, one event each), only where the span held real data (≥ 90 % of its hours) and
where the change is visible: a flatline sticks at ≥ 10 µg/m³ (CO 0.5 mg/m³), low_variance
keeps several distinct values at one decimal more than the data around a mean at least that
high, neighbor_divergence needs a mean PM2.5 ≥ 30 µg/m³, ≥ 2 reporting neighbours (≤ 40 km)
and their median PM2.5 ≥ 15 µg/m³ in ≥ 75 % of its hours, gap_at_peak / flag_abuse are
centred on an hour ≥ the station's 90th percentile that ≥ 2 neighbours also see. PM events
of neighbouring stations keep `NETWORK_PAD_H` apart when either leans on the neighbours.
Outlets go through `simulate_cems` (its injection types and their parameters), whose stops,
upkeep and calibrations keep clear of the injections; every outlet event lies where the stack
runs. A copy_paste takes its values from at least as many days back as it lasts, so each
copied hour repeats a reported hour. Events keep `EDGE_H` from the bundle's ends.

Outlets are simulated over the same months as the stations, twice (once to find when each
stack runs, once with the injections): a 4-month bundle of 12 stations and 38 outlets takes
≈ 17 s (13 s simulation, 2 s writing ≈ 60 MB of readings.csv), a clean one ≈ 9 s.

    .venv/bin/python bench/labelled_bundles.py OUT_DIR --seed 1 --start 2015-01-01 [--clean]
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

import config
from config.outlets import Outlet, load_outlets
from config.stations import load_stations
from simulators.beijing_replay import DEFAULT_DATA_PATH, load_beijing
from simulators.cems_injections import Injection, simulate_cems
from simulators.cems_model import OutletSeries, generate_cems

TZ_NAME = "Asia/Shanghai"
TZ = ZoneInfo(TZ_NAME)
HOUR_S = 3600
MINUTES_PER_HOUR = 60
STATION_POLLUTANTS = ("pm25", "pm10", "so2", "no2", "o3", "co")
PM = ("pm25", "pm10")
OUTLET_POLLUTANTS = ("particulate", "so2", "nox")
OUTLET_PARAMETERS = (*OUTLET_POLLUTANTS, "o2", "flow", "temperature", "moisture")
SOURCE_COLUMNS = ("id", "kind", "name", "city", "district", "lat", "lon", "enterprise",
                  "industry", "reference_o2", "limit_particulate", "limit_so2", "limit_nox")

# Injected durations, hours (min, max inclusive), from the detector brief.
# Neighbour-based station types come first: they need the network quiet around them.
STATION_HOURS: dict[str, tuple[int, int]] = {
    "neighbor_divergence": (24, 120), "gap_at_peak": (3, 24), "flag_abuse": (3, 24),
    "impossible_value": (1, 6), "flatline": (6, 72), "low_variance": (24, 120),
    "copy_paste": (24, 96),
}
OUTLET_HOURS: dict[str, tuple[int, int]] = {
    "exceedance": (1, 12), "flatline": (6, 72), "low_variance": (24, 120),
    "bunching": (24, 168), "dilution": (4, 48), "gap_at_peak": (3, 24), "flag_abuse": (3, 24),
    "step_drop": (12, 96), "copy_paste": (24, 96), "impossible_value": (1, 6),
}
STATION_TYPES = tuple(STATION_HOURS)
OUTLET_TYPES = tuple(OUTLET_HOURS)
# Two events on one source and pollutant keep at least this far apart (hours).
SEPARATION_H = 24
# A station event on PM that leans on the neighbours (or that a neighbour comparison would see)
# keeps this far from PM events of its neighbours, so "the neighbours" are real data.
NETWORK_PAD_H = 6
# Events keep this far from the bundle's first and last hour (detectors need context).
EDGE_H = 24
NEIGHBOUR_KM = 40.0
# neighbor_divergence spans need the neighbours' median PM2.5 ≥ this (µg/m³) in ≥ this share
# of their hours.
VISIBLE_PM25 = 15.0
VISIBLE_SHARE = 0.75
NEIGHBOUR_BASED = frozenset({"neighbor_divergence", "gap_at_peak", "flag_abuse"})
# An injected station span must have held real data in ≥ 90 % of its hours.
MIN_COVERAGE = 0.9
# An absurd station value is above 5 × a plausible maximum (µg/m³; CO mg/m³).
ABSURD_FLOOR = {"pm25": 2000.0, "pm10": 3000.0, "so2": 2500.0, "no2": 1500.0, "o3": 2500.0,
                "co": 50.0}
# Beijing data are integers (CO 0.1 mg/m³ steps); injected values keep one decimal more.
INJECTED_DECIMALS = {"pm25": 1, "pm10": 1, "so2": 1, "no2": 1, "o3": 1, "co": 2}
# A stuck value worth calling a flatline (µg/m³; CO mg/m³), as in the brief.
FLATLINE_MIN = {"pm25": 10.0, "pm10": 10.0, "so2": 10.0, "no2": 10.0, "o3": 10.0, "co": 0.5}
# Written precision: stations as measured, outlets like HJ 212 hourly data.
STATION_DECIMALS = dict.fromkeys(STATION_POLLUTANTS, 3)
OUTLET_DECIMALS = {"particulate": 4, "so2": 4, "nox": 4, "o2": 2, "flow": 0, "temperature": 2,
                   "moisture": 2}
# HJ 212 hour: valid with ≥ 45 valid minutes; flags that do not measure the sample.
VALID_MINUTES = 45
ABNORMAL_FLAGS = np.array(list("FMSDCB"))
# Permit limits for the register's variants (mg/m³ at reference O2).
LIMIT_MENU = {"particulate": (5.0, 10.0, 20.0, 30.0), "so2": (35.0, 50.0, 100.0, 200.0),
              "nox": (50.0, 100.0, 150.0, 200.0, 300.0)}
# Industries without a profile of their own (generic stack) and their reference O2.
GENERIC_INDUSTRIES: dict[str, float | None] = {"glass": 8.0, "chemical": 9.0, "other": None}
TRIES = 400
CONFIG_DIR = Path(config.__file__).resolve().parent


@dataclass
class Calendar:
    """Hour spans [a, b) taken per (source, pollutant), so events keep apart."""

    taken: dict[tuple[str, str], list[tuple[int, int]]] = field(
        default_factory=lambda: defaultdict(list))

    def free(self, source: str, pollutants: Sequence[str], a: int, b: int,
             pad: int = SEPARATION_H) -> bool:
        return all(not (a < y + pad and b > x - pad)
                   for p in pollutants for x, y in self.taken[(source, p)])

    def take(self, source: str, pollutants: Sequence[str], a: int, b: int) -> None:
        for p in pollutants:
            self.taken[(source, p)].append((a, b))


@dataclass(frozen=True)
class Period:
    """The bundle's months: local start, hours, and the labels of its hour starts."""

    start: datetime
    hours: int

    @property
    def start_s(self) -> int:
        return int(self.start.timestamp())

    def at(self, hour: int) -> datetime:
        return self.start + timedelta(hours=hour)

    def iso(self, hour: int) -> str:
        return self.at(hour).astimezone(TZ).isoformat()

    @property
    def days(self) -> float:
        return self.hours / 24


def period_of(start: str, months: int) -> Period:
    """`months` calendar months from local midnight of `start` (a date, local Beijing)."""
    first = pd.Timestamp(start)
    first = first.tz_localize(TZ_NAME) if first.tzinfo is None else first.tz_convert(TZ_NAME)
    first = first.normalize()
    end = first + pd.DateOffset(months=months)
    hours = int((end - first) / pd.Timedelta(hours=1))
    if months < 1 or hours < 24:
        raise ValueError(f"months={months} gives no day of data")
    return Period(first.to_pydatetime(), hours)


def _stratified(rng: np.random.Generator, k: int, low: int, high: int
                ) -> tuple[np.ndarray, np.ndarray]:
    """k integer durations in [low, high] and k strengths in [0, 1), each spread over its whole
    range (one draw per k-th of it, in random order), so short/long and weak/strong all occur."""
    u_hours = (rng.permutation(k) + rng.random(k)) / k
    u_strength = (rng.permutation(k) + rng.random(k)) / k
    hours = np.minimum(low + np.floor(u_hours * (high - low + 1)), high).astype(int)
    return hours, u_strength


def copy_offset_days(u: float, hours: int) -> int:
    """How many days back a copy_paste takes its values: 1–7 by `u`, and at least the span's
    length, so the copied span does not overlap its own target and every copied hour repeats
    a reported hour exactly (a longer span would replay a shifted series instead)."""
    return max(1 + min(int(u * 7), 6), math.ceil(hours / 24))


def _record(kind: str, source: str, pollutant: str, type_: str, period: Period, a: int,
            hours: int, evidence: dict[str, Any]) -> dict[str, Any]:
    """A truth event as a finding record (formats.md §3) with the kind of source."""
    return {"source": source, "pollutant": pollutant, "type": type_, "start": period.iso(a),
            "end": period.iso(a + hours - 1), "score": 1.0,
            "evidence": {"hours": hours, **evidence}, "kind": kind}


# ------------------------------------------------------------------------------------ stations


@lru_cache(maxsize=2)
def _beijing(path: Path) -> tuple[tuple[str, ...], np.ndarray, dict[str, np.ndarray]]:
    window = load_beijing(path)
    return window.sources, window.times, dict(window.values)


@dataclass
class StationBlock:
    """The 12 stations' hourly data for the period; `original` is never modified."""

    ids: tuple[str, ...]
    meta: list[dict[str, Any]]
    values: dict[str, np.ndarray]
    flags: dict[str, np.ndarray]
    original: dict[str, np.ndarray]
    neighbours: list[np.ndarray]


def load_station_block(period: Period, data_path: Path | None = None) -> StationBlock:
    """The register's stations (config/stations.yaml) from the Beijing data for `period`."""
    register = load_stations(CONFIG_DIR / "stations.yaml").stations
    sources, times, values = _beijing(Path(data_path or DEFAULT_DATA_PATH))
    first = int(times[0].astype(np.int64))
    offset = (period.start_s - first) // HOUR_S
    if offset < 0 or offset + period.hours > len(times):
        raise ValueError(f"{period.start:%Y-%m-%d} + {period.hours} h is outside the Beijing "
                         f"data ({times[0]} – {times[-1]} UTC)")
    rows = [sources.index(s.id) for s in register]
    cut = slice(offset, offset + period.hours)
    original = {p: values[p][rows, cut].copy() for p in STATION_POLLUTANTS}
    lat = np.radians([s.lat for s in register])
    lon = np.radians([s.lon for s in register])
    # Haversine distances between every pair of stations, km.
    h = (np.sin((lat[:, None] - lat[None, :]) / 2) ** 2
         + np.cos(lat[:, None]) * np.cos(lat[None, :])
         * np.sin((lon[:, None] - lon[None, :]) / 2) ** 2)
    km = 2 * 6371.0 * np.arcsin(np.sqrt(h))
    neighbours = [np.flatnonzero((km[i] <= NEIGHBOUR_KM) & (np.arange(len(register)) != i))
                  for i in range(len(register))]
    meta = [{"id": s.id, "kind": "station", "name": s.name, "city": s.city,
             "district": s.district, "lat": s.lat, "lon": s.lon} for s in register]
    return StationBlock(
        ids=tuple(s.id for s in register), meta=meta,
        values={p: v.copy() for p, v in original.items()},
        flags={p: np.full(v.shape, "N", dtype="<U1") for p, v in original.items()},
        original=original, neighbours=neighbours)


class StationInjector:
    """Draws and applies the station events of the brief on a StationBlock."""

    def __init__(self, block: StationBlock, period: Period, rng: np.random.Generator) -> None:
        self.block = block
        self.period = period
        self.rng = rng
        self.calendar = Calendar()
        self.network: list[tuple[int, int, int, bool]] = []  # (station, a, b, neighbour-based)
        with np.errstate(all="ignore"):
            self.p90 = {p: np.nanpercentile(block.original[p], 90, axis=1) for p in PM}
            self.p75 = {p: np.nanpercentile(block.original[p], 75, axis=1) for p in PM}
        self.events: list[dict[str, Any]] = []

    # -- helpers
    def _coverage(self, p: str, s: int, a: int, b: int) -> float:
        return float(np.mean(~np.isnan(self.block.original[p][s, a:b])))

    def _network_free(self, s: int, pollutants: Sequence[str], a: int, b: int,
                      type_: str) -> bool:
        if not set(pollutants) & set(PM):
            return True
        based = type_ in NEIGHBOUR_BASED
        near = self.block.neighbours[s]
        return all(not (s2 in near and (based or based2) and a < b2 + NETWORK_PAD_H
                        and b > a2 - NETWORK_PAD_H)
                   for s2, a2, b2, based2 in self.network)

    def _free(self, s: int, pollutants: Sequence[str], a: int, b: int, type_: str) -> bool:
        return (a >= EDGE_H and b <= self.period.hours - EDGE_H
                and self.calendar.free(self.block.ids[s], pollutants, a, b)
                and self._network_free(s, pollutants, a, b, type_))

    def _take(self, s: int, pollutants: Sequence[str], a: int, b: int, type_: str) -> None:
        self.calendar.take(self.block.ids[s], pollutants, a, b)
        if set(pollutants) & set(PM):
            self.network.append((s, a, b, type_ in NEIGHBOUR_BASED))

    def _add(self, s: int, p: str, type_: str, a: int, hours: int, **evidence: Any) -> None:
        self.events.append(_record("station", self.block.ids[s], p, type_, self.period, a,
                                   hours, evidence))

    def _start(self, hours: int, earliest: int = EDGE_H) -> int:
        latest = self.period.hours - EDGE_H - hours
        return int(self.rng.integers(earliest, max(latest, earliest) + 1))

    def _peak_start(self, p: str, s: int, hours: int) -> int | None:
        """A start whose span's middle hour is a pollution peak (≥ the station's P90)."""
        with np.errstate(invalid="ignore"):
            peaks = np.flatnonzero(self.block.original[p][s] >= self.p90[p][s])
        if not peaks.size:
            return None
        return int(self.rng.choice(peaks)) - hours // 2

    def _neighbours_see(self, p: str, s: int, hour: int) -> bool:
        """≥ 2 neighbours report the peak hour at ≥ their own 75th percentile."""
        near = self.block.neighbours[s]
        seen = self.block.original[p][near, hour]
        with np.errstate(invalid="ignore"):
            return int(np.sum(seen >= self.p75[p][near])) >= 2

    # -- one attempt per type: place and apply one event, or return False
    def impossible_value(self, hours: int, u: float, i: int) -> bool:
        s = int(self.rng.integers(len(self.block.ids)))
        p = str(self.rng.choice(STATION_POLLUTANTS))
        a = self._start(hours)
        if not self._free(s, (p,), a, a + hours, "impossible_value"):
            return False
        jitter = self.rng.uniform(1.0, 1.1, hours)
        if i % 2 == 0:
            magnitude = round(1.0 + 49.0 * u, 2)
            new = -np.clip(magnitude * jitter, 1.0, 50.0)
            mode, level = "negative", -magnitude
        else:
            level = round(ABSURD_FLOOR[p] * (1.05 + 1.45 * u), 2)
            new = level * jitter
            mode = "absurd"
        self.block.values[p][s, a:a + hours] = np.round(new, INJECTED_DECIMALS[p])
        self._take(s, (p,), a, a + hours, "impossible_value")
        self._add(s, p, "impossible_value", a, hours,
                  injected={"mode": mode, "value": round(float(level), 2)})
        return True

    def flatline(self, hours: int, u: float, i: int) -> bool:
        s = int(self.rng.integers(len(self.block.ids)))
        p = str(self.rng.choice(STATION_POLLUTANTS))
        a = self._start(hours)
        if not self._free(s, (p,), a, a + hours, "flatline"):
            return False
        span = self.block.original[p][s, a:a + hours]
        first = span[0]
        if (not np.isfinite(first) or first < FLATLINE_MIN[p]
                or self._coverage(p, s, a, a + hours) < MIN_COVERAGE
                or np.unique(span[np.isfinite(span)]).size < 3):
            return False
        self.block.values[p][s, a:a + hours] = first
        self._take(s, (p,), a, a + hours, "flatline")
        self._add(s, p, "flatline", a, hours, injected={"value": float(first)})
        return True

    def low_variance(self, hours: int, u: float, i: int) -> bool:
        s = int(self.rng.integers(len(self.block.ids)))
        p = str(self.rng.choice(STATION_POLLUTANTS))
        a = self._start(hours)
        ratio = round(0.02 + 0.13 * u, 4)
        if (not self._free(s, (p,), a, a + hours, "low_variance")
                or self._coverage(p, s, a, a + hours) < MIN_COVERAGE):
            return False
        span = self.block.original[p][s, a:a + hours]
        mean = float(np.nanmean(span))
        # Smoothing values that sit at the analyser's floor (SO2 at 2–4 µg/m³) hides nothing
        # and cannot be told from the integer data: the same visibility rule as a flatline.
        if mean < FLATLINE_MIN[p]:
            return False
        decimals = INJECTED_DECIMALS[p]
        new = np.round(mean + (span - mean) * ratio, decimals)
        present = new[np.isfinite(new)]
        # Visible as low variance, not as a flatline: several distinct values at the new
        # resolution.
        if np.std(present) < 3 * 10.0 ** -decimals or np.unique(present).size < 5:
            return False
        self.block.values[p][s, a:a + hours] = new
        self._take(s, (p,), a, a + hours, "low_variance")
        self._add(s, p, "low_variance", a, hours,
                  injected={"ratio": round(ratio, 4), "mean": round(mean, 3)})
        return True

    def copy_paste(self, hours: int, u: float, i: int) -> bool:
        s = int(self.rng.integers(len(self.block.ids)))
        p = str(self.rng.choice(STATION_POLLUTANTS))
        days = copy_offset_days(u, hours)
        shift = 24 * days
        a = self._start(hours, earliest=max(shift, EDGE_H))
        src = a - shift
        if (src < 0 or not self._free(s, (p,), a, a + hours, "copy_paste")
                or not self._free(s, (p,), src, src + hours, "copy_paste")):
            return False
        target = self.block.original[p][s, a:a + hours]
        source = self.block.original[p][s, src:src + hours]
        both = np.isfinite(target) & np.isfinite(source)
        if (self._coverage(p, s, a, a + hours) < MIN_COVERAGE
                or self._coverage(p, s, src, src + hours) < MIN_COVERAGE
                or np.unique(source[np.isfinite(source)]).size < 8
                or np.mean(target[both] != source[both]) < 0.5):
            return False
        self.block.values[p][s, a:a + hours] = source
        self._take(s, (p,), a, a + hours, "copy_paste")
        self._take(s, (p,), src, src + hours, "copy_paste")  # the copied span stays real
        self._add(s, p, "copy_paste", a, hours,
                  injected={"source_offset_days": -days, "source_start": self.period.iso(src)})
        return True

    def neighbor_divergence(self, hours: int, u: float, i: int) -> bool:
        s = int(self.rng.integers(len(self.block.ids)))
        a = self._start(hours)
        factor = round(0.2 + 0.3 * u, 4)
        if (not self._free(s, PM, a, a + hours, "neighbor_divergence")
                or min(self._coverage(p, s, a, a + hours) for p in PM) < MIN_COVERAGE
                or np.nanmean(self.block.original["pm25"][s, a:a + hours]) < 30.0):
            return False
        near = self.block.neighbours[s]
        covered = np.mean(~np.isnan(self.block.original["pm25"][near, a:a + hours]), axis=1)
        if int(np.sum(covered >= 0.75)) < 2:
            return False
        # Covering an inlet in clean air hides nothing, and at a neighbours' median below
        # VISIBLE_PM25 µg/m³ a few µg/m³ of difference is within the integer resolution:
        # the event must span mostly polluted hours.
        with np.errstate(all="ignore"):
            median = np.nanmedian(self.block.original["pm25"][near, a:a + hours], axis=0)
        if np.mean(median >= VISIBLE_PM25) < VISIBLE_SHARE:
            return False
        for p in PM:
            self.block.values[p][s, a:a + hours] = np.round(
                self.block.original[p][s, a:a + hours] * factor, INJECTED_DECIMALS[p])
            self._add(s, p, "neighbor_divergence", a, hours,
                      injected={"factor": round(factor, 4)})
        self._take(s, PM, a, a + hours, "neighbor_divergence")
        return True

    def gap_at_peak(self, hours: int, u: float, i: int) -> bool:
        s = int(self.rng.integers(len(self.block.ids)))
        p = "pm25"
        a = self._peak_start(p, s, hours)
        if (a is None or not self._free(s, (p,), a, a + hours, "gap_at_peak")
                or self._coverage(p, s, a, a + hours) < MIN_COVERAGE
                or not self._neighbours_see(p, s, a + hours // 2)):
            return False
        peak = float(np.nanmax(self.block.original[p][s, a:a + hours]))
        self.block.values[p][s, a:a + hours] = np.nan
        self._take(s, (p,), a, a + hours, "gap_at_peak")
        self._add(s, p, "gap_at_peak", a, hours,
                  injected={"removed_max": peak, "station_p90": float(self.p90[p][s])})
        return True

    def flag_abuse(self, hours: int, u: float, i: int) -> bool:
        s = int(self.rng.integers(len(self.block.ids)))
        p = PM[i % 2]
        flag = "M" if self.rng.random() < 0.5 else "D"
        a = self._peak_start(p, s, hours)
        if (a is None or not self._free(s, (p,), a, a + hours, "flag_abuse")
                or self._coverage(p, s, a, a + hours) < MIN_COVERAGE
                or not self._neighbours_see(p, s, a + hours // 2)):
            return False
        self.block.flags[p][s, a:a + hours] = flag
        self._take(s, (p,), a, a + hours, "flag_abuse")
        self._add(s, p, "flag_abuse", a, hours,
                  injected={"flag": flag,
                            "flagged_max": float(np.nanmax(self.block.values[p][s, a:a + hours])),
                            "station_p90": float(self.p90[p][s])})
        return True

    def inject(self, per_type: int) -> list[dict[str, Any]]:
        """`per_type` events of each station type (neighbor_divergence: pm25 and pm10 each)."""
        for type_ in STATION_TYPES:
            attempt: Callable[[int, float, int], bool] = getattr(self, type_)
            hours, strength = _stratified(self.rng, per_type, *STATION_HOURS[type_])
            for i in range(per_type):
                for _ in range(TRIES):
                    if attempt(int(hours[i]), float(strength[i]), i):
                        break
        return self.events


# ------------------------------------------------------------------------------------- outlets


def outlet_variants(n: int, rng: np.random.Generator) -> list[Outlet]:
    """`n` stacks made from the register's (config/outlets.yaml): the register's own first,
    then copies under new MNs with other permit limits, some as generic industries."""
    register = load_outlets(CONFIG_DIR / "outlets.yaml").outlets
    outlets: list[Outlet] = []
    for i in range(n):
        base = register[i % len(register)]
        variant = i // len(register)
        if variant == 0:
            outlets.append(base)
            continue
        industry, reference_o2 = base.industry, base.reference_o2
        if variant % 4 == 3:
            industry = tuple(GENERIC_INDUSTRIES)[(variant // 4 + i) % len(GENERIC_INDUSTRIES)]
            reference_o2 = GENERIC_INDUSTRIES[industry]
        limits = {p: float(rng.choice(LIMIT_MENU[p])) for p in OUTLET_POLLUTANTS}
        outlets.append(Outlet(
            mn=f"{base.mn[:18]}{i:06d}", name=f"{base.name}-{variant + 1}",
            enterprise=f"{base.enterprise}{variant + 1}", industry=industry,
            city=base.city, district=base.district,
            lat=round((base.lat or 39.9) + float(rng.normal(0, 0.03)), 4),
            lon=round((base.lon or 116.4) + float(rng.normal(0, 0.03)), 4),
            reference_o2=reference_o2, limits=limits))
    return outlets


def hourly_hj212(series: OutletSeries, hours: int) -> tuple[dict[str, np.ndarray],
                                                           dict[str, np.ndarray]]:
    """Hourly means of one stack's minute data as HJ 212 CN 2061 reports them.

    An hour with ≥ 45 valid minutes (flag N or T, value present) is the mean of those, flag N;
    otherwise the mean of every value present, flagged with the commonest abnormal flag of its
    minutes; an hour with neither is missing. Flow m³/s → m³/h.
    """
    values: dict[str, np.ndarray] = {}
    flags: dict[str, np.ndarray] = {}
    for p in OUTLET_PARAMETERS:
        v = series.values[p][:hours * MINUTES_PER_HOUR].reshape(hours, MINUTES_PER_HOUR)
        f = series.flags[p][:hours * MINUTES_PER_HOUR].reshape(hours, MINUTES_PER_HOUR)
        present = ~np.isnan(v)
        valid = ((f == "N") | (f == "T")) & present
        n_valid = valid.sum(axis=1)
        n_present = present.sum(axis=1)
        mean_valid = np.where(valid, v, 0.0).sum(axis=1) / np.maximum(n_valid, 1)
        mean_all = np.where(present, v, 0.0).sum(axis=1) / np.maximum(n_present, 1)
        counts = np.stack([(f == flag).sum(axis=1) for flag in ABNORMAL_FLAGS])
        flagged = counts.max(axis=0) > 0
        ok = n_valid >= VALID_MINUTES
        value = np.where(ok, mean_valid,
                         np.where(flagged & (n_present > 0), mean_all, np.nan))
        flag = np.where(ok | ~flagged, "N", ABNORMAL_FLAGS[counts.argmax(axis=0)])
        values[p] = value * HOUR_S if p == "flow" else value
        flags[p] = flag.astype("<U1")
    return values, flags


def _running_hours(series: OutletSeries, hours: int) -> np.ndarray:
    """(hours,) True where the stack runs every minute of the hour (O2 not flagged F)."""
    stopped = series.flags["o2"][:hours * MINUTES_PER_HOUR] == "F"
    return ~stopped.reshape(hours, MINUTES_PER_HOUR).any(axis=1)


@dataclass
class PendingEvent:
    type: str
    hours: int
    strength: float
    index: int


class OutletScheduler:
    """Places the outlet events where each stack runs and keeps them apart."""

    def __init__(self, outlets: Sequence[Outlet], running: Sequence[np.ndarray],
                 period: Period, rng: np.random.Generator) -> None:
        self.outlets = list(outlets)
        self.running = list(running)
        self.period = period
        self.rng = rng
        self.calendar = Calendar()
        self.placed: dict[str, list[tuple[Injection, dict[str, Any]]]] = defaultdict(list)

    def _runs(self, o: int, a: int, b: int, margin: int = 2) -> bool:
        return bool(self.running[o][max(a - margin, 0):min(b + margin, self.period.hours)].all())

    def params(self, event: PendingEvent) -> dict[str, Any]:
        """The injection's parameters, strengths rounded so that the truth states them exactly."""
        drawn = self._params(event)
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in drawn.items()}

    def _params(self, event: PendingEvent) -> dict[str, Any]:
        u, i = event.strength, event.index
        if event.type == "exceedance":
            return {"factor": 1.2 + 1.8 * u}
        if event.type == "low_variance":
            return {"ratio": 0.02 + 0.13 * u}
        if event.type == "bunching":
            return {"low": 0.85 + 0.05 * u, "high": 0.97 + 0.02 * self.rng.random()}
        if event.type == "dilution":
            return {"air_fraction": 0.2 + 0.4 * u}
        if event.type in ("gap_at_peak", "flag_abuse"):
            extra = ({"scope": "pollutant"} if event.type == "gap_at_peak"
                     else {"flag": "M" if i % 2 == 0 else "D"})
            return {"factor": 1.5 + 1.5 * u, "shoulder_min": 60, **extra}
        if event.type == "step_drop":
            return {"ratio": 0.2 + 0.4 * u}
        if event.type == "copy_paste":
            return {"source_offset_days": -copy_offset_days(u, event.hours)}
        if event.type == "impossible_value":
            return {"mode": "negative", "value": -(1.0 + 49.0 * u)}
        return {}

    def try_place(self, event: PendingEvent, o: int) -> bool:
        outlet = self.outlets[o]
        hours = event.hours
        everything = event.type in ("dilution", "copy_paste")
        pollutant = "all" if everything else str(self.rng.choice(OUTLET_POLLUTANTS))
        pollutants = OUTLET_POLLUTANTS if everything else (pollutant,)
        params = self.params(event)
        shift = -24 * int(params.get("source_offset_days", 0))
        earliest = max(shift, EDGE_H)
        a = int(self.rng.integers(earliest,
                                  max(self.period.hours - EDGE_H - hours, earliest) + 1))
        b = a + hours
        if b > self.period.hours - EDGE_H or not self._runs(o, a, b):
            return False
        if not self.calendar.free(outlet.mn, pollutants, a, b):
            return False
        if shift and (not self._runs(o, a - shift, b - shift)
                      or not self.calendar.free(outlet.mn, OUTLET_POLLUTANTS, a - shift,
                                                b - shift)):
            return False
        try:
            injection = Injection(mn=outlet.mn, pollutant=pollutant, type=event.type,
                                  start=self.period.at(a), end=self.period.at(b), params=params)
        except ValueError:
            return False
        self.calendar.take(outlet.mn, pollutants, a, b)
        if shift:  # the copied days stay real data
            self.calendar.take(outlet.mn, OUTLET_POLLUTANTS, a - shift, b - shift)
        record = _record("outlet", outlet.mn, pollutant, event.type, self.period, a, hours,
                         {"injected": dict(injection.resolved_params())})
        self.placed[outlet.mn].append((injection, record))
        return True

    def place(self, event: PendingEvent, exclude: frozenset[str] = frozenset()) -> bool:
        candidates = [o for o, outlet in enumerate(self.outlets) if outlet.mn not in exclude]
        for _ in range(TRIES):
            if candidates and self.try_place(event, int(self.rng.choice(candidates))):
                return True
        return False


def _simulate_outlet(outlet: Outlet, period: Period, seed: int,
                     placed: list[tuple[Injection, dict[str, Any]]]) -> tuple[
                         OutletSeries, list[tuple[Injection, dict[str, Any]]]]:
    """simulate_cems for one stack; an injection the simulator refuses (ValueError: the stack
    is stopped, the window leaves the run) is dropped and reported back as refused."""
    kept = list(placed)
    while True:
        try:
            run = simulate_cems([outlet], period.start, period.hours, seed=seed, tz=TZ,
                                injections=[inj for inj, _ in kept])
            return run.series[outlet.mn], kept
        except ValueError:
            bad = [item for item in kept if _refused(outlet, period, seed, item[0])]
            if not bad:
                raise
            kept = [item for item in kept if item not in bad]


def _refused(outlet: Outlet, period: Period, seed: int, injection: Injection) -> bool:
    try:
        simulate_cems([outlet], period.start, period.hours, seed=seed, tz=TZ,
                      injections=[injection])
    except ValueError:
        return True
    return False


# -------------------------------------------------------------------------------------- files


def _write_sources(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(SOURCE_COLUMNS)
        for row in rows:
            writer.writerow(["" if row.get(c) is None else row.get(c, "") for c in SOURCE_COLUMNS])


def _long_rows(ids: Sequence[str], values: dict[str, np.ndarray], flags: dict[str, np.ndarray],
               decimals: dict[str, int], parameters: Sequence[str]) -> pd.DataFrame:
    """Long rows (hour, source, pollutant, value, flag) of every present or flagged value."""
    parts = []
    for rank, p in enumerate(parameters):
        v = np.round(values[p], decimals[p])
        f = flags[p]
        rows, hours = np.nonzero(~np.isnan(v) | (f != "N"))
        parts.append(pd.DataFrame({"hour": hours, "row": rows, "rank": rank,
                                   "value": v[rows, hours], "flag": f[rows, hours]}))
    frame = pd.concat(parts, ignore_index=True)
    frame["source"] = np.asarray(ids, dtype=object)[frame["row"].to_numpy()]
    frame["pollutant"] = np.asarray(parameters, dtype=object)[frame["rank"].to_numpy()]
    return frame


def _write_readings(path: Path, period: Period, blocks: list[pd.DataFrame]) -> int:
    frame = pd.concat(blocks, ignore_index=True)
    order = np.lexsort((frame["rank"].to_numpy(), frame["kind"].to_numpy(),
                        frame["row"].to_numpy(), frame["hour"].to_numpy()))
    frame = frame.iloc[order]
    labels = np.array([period.iso(h) for h in range(period.hours)], dtype=object)
    out = pd.DataFrame({"time": labels[frame["hour"].to_numpy()],
                        "source": frame["source"].to_numpy(),
                        "pollutant": frame["pollutant"].to_numpy(),
                        "value": frame["value"].to_numpy(),
                        "flag": frame["flag"].to_numpy()})
    out.to_csv(path, index=False, na_rep="", lineterminator="\n", encoding="utf-8")
    return len(out)


def default_events_per_type(months: int) -> int:
    """Events of each type per bundle: 1.5 a month, at least 3."""
    return max(3, round(1.5 * months))


def generate_bundle(out_dir: Path, *, seed: int, start: str, months: int = 4,
                    n_outlets: int = 38, clean: bool = False,
                    events_per_type: int | None = None,
                    data_path: Path | None = None) -> list[dict[str, Any]]:
    """Write a labelled bundle (sources.csv, readings.csv, truth.jsonl) to `out_dir`.

    `start` is a local date (Asia/Shanghai) within the Beijing data (2013-03 – 2017-02);
    `months` calendar months follow. The same `seed` and arguments give the same files; with
    `clean` the same sources are written without any injection (truth empty). Returns the truth
    events (finding records of formats.md §3 plus ``kind``).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    period = period_of(start, months)
    per_type = events_per_type or default_events_per_type(months)
    variant_rng, station_rng, outlet_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence([seed, 0xB7]).spawn(3))

    stations = load_station_block(period, data_path)
    truth: list[dict[str, Any]] = []
    if not clean:
        truth += StationInjector(stations, period, station_rng).inject(per_type)

    outlets = outlet_variants(n_outlets, variant_rng)
    placed: dict[str, list[tuple[Injection, dict[str, Any]]]] = defaultdict(list)
    if not clean and outlets:
        running = [_running_hours(generate_cems([o], period.start, period.hours, seed=seed,
                                                tz=TZ).series[o.mn], period.hours)
                   for o in outlets]
        scheduler = OutletScheduler(outlets, running, period, outlet_rng)
        for type_ in OUTLET_TYPES:
            hours, strength = _stratified(outlet_rng, per_type, *OUTLET_HOURS[type_])
            for i in range(per_type):
                scheduler.place(PendingEvent(type_, int(hours[i]), float(strength[i]), i))
        placed = scheduler.placed

    outlet_values = {p: np.full((len(outlets), period.hours), np.nan) for p in OUTLET_PARAMETERS}
    outlet_flags = {p: np.full((len(outlets), period.hours), "N", dtype="<U1")
                    for p in OUTLET_PARAMETERS}
    for row, outlet in enumerate(outlets):
        if clean:
            series = generate_cems([outlet], period.start, period.hours, seed=seed,
                                   tz=TZ).series[outlet.mn]
            kept: list[tuple[Injection, dict[str, Any]]] = []
        else:
            series, kept = _simulate_outlet(outlet, period, seed, placed.get(outlet.mn, []))
        values, flags = hourly_hj212(series, period.hours)
        for p in OUTLET_PARAMETERS:
            outlet_values[p][row] = values[p]
            outlet_flags[p][row] = flags[p]
        truth += [record for _, record in kept]

    source_rows = [*stations.meta, *(
        {"id": o.mn, "kind": "outlet", "name": o.name, "city": o.city, "district": o.district,
         "lat": o.lat, "lon": o.lon, "enterprise": o.enterprise, "industry": o.industry,
         "reference_o2": o.reference_o2,
         **{f"limit_{p}": o.limits.get(p) for p in OUTLET_POLLUTANTS}} for o in outlets)]
    _write_sources(out_dir / "sources.csv", source_rows)
    blocks = [
        _long_rows(stations.ids, stations.values, stations.flags, STATION_DECIMALS,
                   STATION_POLLUTANTS).assign(kind=0),
    ]
    if outlets:
        blocks.append(_long_rows(tuple(o.mn for o in outlets), outlet_values, outlet_flags,
                                 OUTLET_DECIMALS, OUTLET_PARAMETERS).assign(kind=1))
    _write_readings(out_dir / "readings.csv", period, blocks)
    truth.sort(key=lambda r: (r["start"], r["source"], r["type"], r["pollutant"]))
    with (out_dir / "truth.jsonl").open("w", encoding="utf-8") as handle:
        for record in truth:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return truth


def read_truth(bundle: Path) -> list[dict[str, Any]]:
    """The truth events of a bundle written by generate_bundle."""
    path = Path(bundle) / "truth.jsonl"
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def source_days(bundle: Path) -> float:
    """Sources × days of a bundle (from sources.csv and the span of readings.csv's times)."""
    with (Path(bundle) / "sources.csv").open(encoding="utf-8", newline="") as handle:
        n_sources = sum(1 for _ in csv.DictReader(handle))
    times = pd.read_csv(Path(bundle) / "readings.csv", usecols=["time"])["time"]
    first, last = (datetime.fromisoformat(t) for t in (times.min(), times.max()))
    hours = math.floor((last - first).total_seconds() / HOUR_S) + 1
    return n_sources * hours / 24


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--start", default="2015-01-01")
    parser.add_argument("--months", type=int, default=4)
    parser.add_argument("--outlets", type=int, default=38)
    parser.add_argument("--clean", action="store_true")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    truth = generate_bundle(args.out, seed=args.seed, start=args.start, months=args.months,
                            n_outlets=args.outlets, clean=args.clean)
    counts: dict[str, int] = defaultdict(int)
    for record in truth:
        counts[f"{record['kind']}:{record['type']}"] += 1
    print(f"{args.out}: {len(truth)} events in {time.perf_counter() - began:.1f} s")
    for key, count in sorted(counts.items()):
        print(f"  {key}: {count}")


if __name__ == "__main__":
    main()
