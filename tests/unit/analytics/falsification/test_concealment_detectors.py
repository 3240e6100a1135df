"""gap_at_peak and flag_abuse: peaks hidden by removing data or by marking it.

Stations: a seeded synthetic network (one regional air mass, integer values) and a month of
the real Beijing data; outlets: simulated CEMS stacks (simulators/cems_*). Each detector must
find the concealed peak (right source, pollutant and hours) and stay silent on ordinary gaps,
outages, routine maintenance and calibration, and on the other detector's pattern.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from support.falsification_data import cems_minute_series

import config
from analytics.falsification.audit_series import AuditSeries
from analytics.falsification.flag_abuse import FlagAbuseSettings, detect_flag_abuse
from analytics.falsification.gap_at_peak import GapAtPeakSettings, detect_gap_at_peak
from analytics.findings import Finding
from config.outlets import Outlet, load_outlets
from config.stations import load_stations
from simulators.beijing_replay import load_beijing
from simulators.cems_injections import Injection, simulate_cems
from simulators.cems_model import SHANGHAI, generate_cems

STATION_POLLUTANTS = ("pm25", "pm10", "so2", "no2", "o3", "co")
LEVEL = {"pm25": 60.0, "pm10": 90.0, "so2": 10.0, "no2": 45.0, "o3": 50.0, "co": 1.0}
NETWORK_START = np.datetime64("2024-01-01T00:00:00", "s")
CEMS_START = datetime(2026, 1, 5, tzinfo=SHANGHAI)
CEMS_DAYS = 30
SEED = 11
PARAMETERS = ("particulate", "so2", "nox", "o2", "flow", "temperature", "moisture")
OUTLETS: list[Outlet] = load_outlets(Path(config.__file__).parent / "outlets.yaml").outlets
POWER, STEEL, CEMENT, COKING = (OUTLETS[i].mn for i in (0, 2, 3, 4))


# ------------------------------------------------------------------------------ helpers


def network(seed: int = SEED, n_stations: int = 6, days: int = 40) -> AuditSeries:
    """Hourly stations ~10 km apart under one regional air mass, Beijing-like integers.

    Regional log level: AR(1) (φ 0.97, σ 0.15 per hour) plus a diurnal swing; each station
    scales it by its own factor and adds 10 % noise; PM2.5 ≈ 0.65 × PM10.
    """
    rng = np.random.default_rng(seed)
    n = days * 24
    shocks = rng.normal(0.0, 0.15, n)
    regional = np.zeros(n)
    for t in range(1, n):  # test data only: a short AR(1) recursion
        regional[t] = 0.97 * regional[t - 1] + shocks[t]
    diurnal = 0.2 * np.sin(2 * np.pi * (np.arange(n) % 24) / 24)
    values: dict[str, np.ndarray] = {}
    for p in STATION_POLLUTANTS:
        factor = rng.uniform(0.8, 1.2, (n_stations, 1))
        noise = np.exp(rng.normal(0.0, 0.1, (n_stations, n)))
        raw = LEVEL[p] * factor * np.exp(regional + diurnal)[None, :] * noise
        values[p] = np.round(raw, 1) if p == "co" else np.round(raw)
    lat = 39.9 + rng.uniform(-0.05, 0.05, n_stations)
    lon = 116.4 + rng.uniform(-0.05, 0.05, n_stations)
    times = NETWORK_START + np.arange(n) * np.timedelta64(3600, "s")
    return AuditSeries("station", tuple(f"S{i}" for i in range(n_stations)), times, values,
                       lat=lat, lon=lon)


def hour_of(series: AuditSeries, column: int) -> datetime:
    return datetime.fromtimestamp(int(series.times[column].astype(np.int64)), UTC)


def peak_span(series: AuditSeries, row: int, hours: int, pollutant: str = "pm25"
              ) -> tuple[int, int]:
    """[first, last] columns of `hours` hours centred on the row's highest value (away from
    the window's edges)."""
    level = np.nan_to_num(series.values[pollutant][row], nan=-np.inf)
    level[:72] = level[-72:] = -np.inf
    middle = int(np.argmax(level))
    first = middle - hours // 2
    return first, first + hours - 1


def without(series: AuditSeries, row: int, first: int, last: int,
            pollutants: tuple[str, ...] = ("pm25",)) -> AuditSeries:
    """`series` with `pollutants` of source `row` missing over [first, last]; row −1: all."""
    values = {p: v.copy() for p, v in series.values.items()}
    rows = slice(None) if row < 0 else row
    for p in pollutants:
        values[p][rows, first:last + 1] = np.nan
    return replace(series, values=values)


def flagged(series: AuditSeries, row: int, first: int, last: int, flag: bytes,
            pollutant: str = "pm25") -> AuditSeries:
    """`series` with `pollutant` of source `row` flagged `flag` over [first, last]."""
    flags = {p: series.flag(p).copy() for p in series.values}
    flags[pollutant][row, first:last + 1] = flag
    return replace(series, flags=flags)


def assert_one(findings: list[Finding], type_: str, source: str, pollutant: str,
               start: datetime, last_hour: datetime, tolerance_h: float = 1.0) -> Finding:
    assert len(findings) == 1, findings
    found = findings[0]
    assert (found.type, found.source, found.pollutant) == (type_, source, pollutant)
    tolerance = timedelta(hours=tolerance_h)
    assert abs(found.start - start) <= tolerance, (found.start, start)
    assert abs(found.end - last_hour) <= tolerance, (found.end, last_hour)
    return found


def simulated(*injections: Injection) -> AuditSeries:
    return cems_minute_series(simulate_cems(OUTLETS, CEMS_START, CEMS_DAYS * 24, seed=SEED,
                                       injections=injections)).hourly()


def at(day: int, hour: int) -> datetime:
    return CEMS_START + timedelta(days=day, hours=hour)


@pytest.fixture(scope="module")
def clean_stacks() -> AuditSeries:
    run = generate_cems(OUTLETS, CEMS_START, CEMS_DAYS * 24, seed=SEED)
    return cems_minute_series(run).hourly()


# ------------------------------------------------------------------- gap_at_peak: stations


def test_gap_at_a_station_peak_found_from_the_neighbours() -> None:
    series = network()
    first, last = peak_span(series, 2, 8)
    found = assert_one(detect_gap_at_peak(without(series, 2, first, last)), "gap_at_peak",
                       "S2", "pm25", hour_of(series, first), hour_of(series, last), 0)
    assert found.evidence["gap_hours"] == 8
    assert found.evidence["neighbour_estimate"]["max_middle"] >= 0.9 * found.evidence["p90"]
    assert found.evidence["neighbours_reporting_share"] == 1.0


def test_station_quiet_on_clean_data_and_ordinary_gaps() -> None:
    series = network()
    assert detect_gap_at_peak(series) == []
    first, last = peak_span(series, 1, 2)  # two hours are routine, even at a peak
    assert detect_gap_at_peak(without(series, 1, first, last)) == []
    low = int(np.argmin(series.values["pm25"][3, 72:-72])) + 72  # a long gap at a low
    assert detect_gap_at_peak(without(series, 3, low - 6, low + 6)) == []


def test_station_quiet_on_outages() -> None:
    """The whole network out, or the whole station out: not this pollutant's concealment."""
    series = network()
    first, last = peak_span(series, 2, 8)
    assert detect_gap_at_peak(without(series, -1, first, last)) == []
    assert detect_gap_at_peak(without(series, 2, first, last, STATION_POLLUTANTS)) == []


def test_station_flagged_peak_is_not_a_gap() -> None:
    """Values still there under an M flag are flag_abuse's, not gap_at_peak's."""
    series = network()
    first, last = peak_span(series, 4, 6)
    marked = flagged(series, 4, first, last, b"M")
    assert detect_gap_at_peak(marked) == []
    assert_one(detect_flag_abuse(marked), "flag_abuse", "S4", "pm25", hour_of(series, first),
               hour_of(series, last), 0)


def test_station_gases_are_not_judged_by_default() -> None:
    series = network()
    first, last = peak_span(series, 0, 6, "no2")
    hidden = without(series, 0, first, last, ("no2",))
    assert detect_gap_at_peak(hidden) == []
    settings = GapAtPeakSettings(station_pollutants=("pm25", "pm10", "no2"))
    assert_one(detect_gap_at_peak(hidden, settings), "gap_at_peak", "S0", "no2",
               hour_of(series, first), hour_of(series, last), 0)


def test_station_without_neighbours_uses_the_flanks() -> None:
    """A lone station: hidden only if the hours beside the gap climb toward it."""
    series = network().rows(np.array([5]))
    first, last = peak_span(series, 0, 5)
    usual = float(np.nanmedian(series.values["pm25"]))

    def lone(flank: float) -> AuditSeries:
        pm25 = series.values["pm25"][0].copy()
        pm25[first - 4:last + 5] = usual
        pm25[first - 1] = pm25[last + 1] = flank
        return without(replace(series, values={**series.values, "pm25": pm25[None, :]}),
                       0, first, last)

    assert detect_gap_at_peak(lone(usual)) == []
    assert_one(detect_gap_at_peak(lone(2.5 * usual)), "gap_at_peak", series.sources[0],
               "pm25", hour_of(series, first), hour_of(series, last), 0)


def test_real_beijing_peak_gap_found_and_month_quiet(beijing_data: Path) -> None:
    """December 2015 (two red alerts): no finding on the real data; six hours of PM2.5
    removed at Dongsi's peak are found."""
    window = load_beijing(beijing_data, start="2015-12-01", end="2016-01-01")
    stations = load_stations(Path(config.__file__).parent / "stations.yaml").by_id()
    series = AuditSeries(
        "station", window.sources, window.times, dict(window.values),
        lat=np.array([stations[s].lat for s in window.sources], dtype=float),
        lon=np.array([stations[s].lon for s in window.sources], dtype=float))
    assert detect_gap_at_peak(series) == []
    row = series.sources.index("Dongsi")
    first, last = peak_span(series, row, 6)
    assert_one(detect_gap_at_peak(without(series, row, first, last)), "gap_at_peak",
               "Dongsi", "pm25", hour_of(series, first), hour_of(series, last), 0)


# -------------------------------------------------------------------- gap_at_peak: outlets


def test_gap_at_an_outlet_peak_found_from_its_flanks() -> None:
    injection = Injection(COKING, "nox", "gap_at_peak", at(12, 8), at(12, 14),
                          {"factor": 2.0})
    found = assert_one(detect_gap_at_peak(simulated(injection)), "gap_at_peak", COKING, "nox",
                       injection.start, injection.end - timedelta(hours=1), 0)
    assert found.evidence["gap_hours"] == 6
    rise = found.evidence["flank_rise"]
    assert min(rise) >= 1.1 and rise[0] * rise[1] >= 1.5


def test_outlet_gap_of_every_parameter_found_too() -> None:
    injection = Injection(STEEL, "so2", "gap_at_peak", at(20, 0), at(20, 20),
                          {"factor": 1.6, "scope": "all"})
    assert_one(detect_gap_at_peak(simulated(injection)), "gap_at_peak", STEEL, "so2",
               injection.start, injection.end - timedelta(hours=1), 0)


def test_outlet_quiet_on_clean_data_and_ordinary_gaps(clean_stacks: AuditSeries) -> None:
    assert detect_gap_at_peak(clean_stacks) == []
    rng = np.random.default_rng(SEED)
    values = {p: v.copy() for p, v in clean_stacks.values.items()}
    n_sources, n_times = clean_stacks.shape
    for row in range(n_sources):  # ten link failures of 3–12 h per stack
        for _ in range(10):
            first = int(rng.integers(24, n_times - 36))
            for p in PARAMETERS:
                values[p][row, first:first + int(rng.integers(3, 13))] = np.nan
    assert detect_gap_at_peak(replace(clean_stacks, values=values)) == []


def test_outlet_flagged_peak_is_not_a_gap() -> None:
    series = simulated(Injection(CEMENT, "particulate", "flag_abuse", at(9, 2), at(9, 9),
                                 {"factor": 2.2, "flag": "D"}))
    assert detect_gap_at_peak(series) == []


# --------------------------------------------------------------------- flag_abuse: outlets


def test_flag_abuse_found_on_the_values_under_the_flag() -> None:
    injection = Injection(POWER, "so2", "flag_abuse", at(15, 10), at(15, 16),
                          {"factor": 2.0, "flag": "M"})
    run = simulate_cems(OUTLETS, CEMS_START, CEMS_DAYS * 24, seed=SEED, injections=[injection])
    for series in (cems_minute_series(run), cems_minute_series(run).hourly()):
        found = assert_one(detect_flag_abuse(series), "flag_abuse", POWER, "so2",
                           injection.start, injection.end - timedelta(hours=1), 0)
        assert found.evidence["flags"] == ["M"]
        assert found.evidence["basis"] == "values under the flag"
        assert found.evidence["flagged_values"]["median"] == pytest.approx(70.0, rel=0.15)
        assert found.evidence["limit_mgm3"] == 35.0


def test_flag_abuse_found_from_the_flanks_when_the_values_were_replaced() -> None:
    """Marked D and zeroed: only the climb on either side is left."""
    injection = Injection(COKING, "nox", "flag_abuse", at(6, 4), at(6, 10),
                          {"factor": 2.5, "flag": "D"})
    series = simulated(injection)
    row = series.sources.index(COKING)
    values = {p: v.copy() for p, v in series.values.items()}
    values["nox"][row][series.flag("nox")[row] == b"D"] = 0.3
    found = assert_one(detect_flag_abuse(replace(series, values=values)), "flag_abuse",
                       COKING, "nox", injection.start, injection.end - timedelta(hours=1), 0)
    assert found.evidence["basis"] == "flanks climbing toward the flagged period"


def test_flag_abuse_quiet_on_routine_maintenance_and_faults(clean_stacks: AuditSeries
                                                            ) -> None:
    marked = sum(int(np.isin(clean_stacks.flag(p), [b"M", b"D"]).sum())
                 for p in ("particulate", "so2", "nox"))
    assert marked > 0  # the simulated month has its upkeep visits and faults
    assert detect_flag_abuse(clean_stacks) == []


def test_flag_abuse_quiet_on_routine_calibration() -> None:
    """A daily 20-minute zero/span check at 03:10 local leaves the hour C-flagged, its mean
    dragged above the limit by the span gas; a daily 3-hour check at 13:00 reads span gas
    for hours. Both recur at the same time every day: routine. Four hours marked C over an
    exceedance on one morning are not."""
    days, per_day = 12, 1440
    n = days * per_day
    rng = np.random.default_rng(SEED)
    times = np.datetime64("2026-01-04T16:00:00", "s") + np.arange(n) * np.timedelta64(60, "s")
    so2 = 15.0 * np.exp(rng.normal(0, 0.05, n))  # 0.43 × the limit at O2 ≈ reference
    o2 = 6.0 + 0.1 * rng.normal(0, 1, n)
    flags = np.full(n, b"N", dtype="S1")
    for day in range(days):
        check = day * per_day + 3 * 60 + 10  # times start at local midnight (UTC+8)
        so2[check:check + 10] = 0.2  # zero gas
        so2[check + 10:check + 20] = 160.0  # span gas, 0.8 × a 200 mg/m³ range
        flags[check:check + 20] = b"C"

    def stack(so2: np.ndarray, flags: np.ndarray) -> AuditSeries:
        return AuditSeries("outlet", ("STACK",), times, {"so2": so2[None, :], "o2": o2[None, :]},
                           {"so2": flags[None, :]}, step_s=60, reference_o2=np.array([6.0]),
                           limits={"so2": np.array([35.0])})

    routine = stack(so2, flags)
    hourly = routine.hourly()
    assert (hourly.flag("so2") == b"C").sum() == days
    assert np.max(hourly.values["so2"][hourly.flag("so2") == b"C"]) > 35.0
    assert detect_flag_abuse(routine) == []
    long_so2, long_flags = so2.copy(), flags.copy()
    for day in range(days):
        block = slice(day * per_day + 13 * 60, day * per_day + 16 * 60)
        long_so2[block], long_flags[block] = 160.0, b"C"
    assert detect_flag_abuse(stack(long_so2, long_flags)) == []
    morning = slice(7 * per_day + 8 * 60, 7 * per_day + 12 * 60)  # 08:00–12:00 on day 7
    marked_so2, marked_flags = so2.copy(), flags.copy()
    marked_so2[morning] *= 4.0
    marked_flags[morning] = b"C"
    found = detect_flag_abuse(stack(marked_so2, marked_flags))
    assert [(f.source, f.evidence["flags"], f.evidence["flagged_hours"]) for f in found] == [
        ("STACK", ["C"], 4)]


def test_flag_abuse_quiet_on_a_stop_and_a_gap(clean_stacks: AuditSeries) -> None:
    """F (stopped) is not judged by default, and a gap carries no flag."""
    series = simulated(Injection(POWER, "nox", "gap_at_peak", at(4, 8), at(4, 15),
                                 {"factor": 2.0}))
    assert detect_flag_abuse(series) == []
    row = clean_stacks.sources.index(STEEL)
    values = {p: v.copy() for p, v in clean_stacks.values.items()}
    flags = {p: f.copy() for p, f in clean_stacks.flags.items()}
    values["nox"][row, 100:110] = 120.0  # ambient O2 would blow the conversion up
    flags["nox"][row, 100:110] = b"F"
    assert detect_flag_abuse(replace(clean_stacks, values=values, flags=flags)) == []
    with_f = FlagAbuseSettings(flags=("M", "D", "C", "S", "F"))
    found = detect_flag_abuse(replace(clean_stacks, values=values, flags=flags), with_f)
    assert [(f.source, f.pollutant) for f in found] == [(STEEL, "nox")]


# -------------------------------------------------------------------- flag_abuse: stations


def test_station_flag_over_low_values_is_routine() -> None:
    series = network()
    low = int(np.argmin(series.values["pm10"][1, 72:-72])) + 72
    assert detect_flag_abuse(flagged(series, 1, low - 3, low + 3, b"D", "pm10")) == []
    assert detect_flag_abuse(series) == []  # no flags at all


def test_station_single_hour_peak_needs_the_neighbours() -> None:
    """One flagged hour above the station's P90: a regional peak the neighbours saw is
    reported; a spike of the station's own analyser (a fault) is not."""
    series = network()
    pm25 = series.values["pm25"]
    hour = int(np.argmin(pm25[2, 72:-72])) + 72
    peak = 3.0 * np.nanpercentile(pm25, 90, axis=1)
    regional = pm25.copy()
    regional[:, hour] = peak
    seen = flagged(replace(series, values={**series.values, "pm25": regional}), 2,
                   hour - 1, hour + 1, b"D")
    found = assert_one(detect_flag_abuse(seen), "flag_abuse", "S2", "pm25",
                       hour_of(series, hour - 1), hour_of(series, hour + 1), 0)
    assert found.evidence["basis"] == "values under the flag, the peak seen by the neighbours"
    alone = pm25.copy()
    alone[2, hour] = peak[2]
    spike = flagged(replace(series, values={**series.values, "pm25": alone}), 2, hour - 1,
                    hour + 1, b"D")
    assert detect_flag_abuse(spike) == []
