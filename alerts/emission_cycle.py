"""Judging enterprise emissions, one cycle at a time: HJ 212 data in InfluxDB → hourly values at
reference O2 (written back as ``outlet_hour``) → exceedance findings → cases.

Incremental in data time like the station loop: the window starts a look-back before the newest
data (or where a backlog cycle stopped) and re-judges overlapping hours, which is safe because
findings are identified by (type, source, pollutant, start).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np

from alerts.alert_publisher import CaseNotifier
from alerts.case_repository import CaseRepository
from alerts.hourly_cache import HourlyWindowCache
from alerts.shard_plan import ShardPlan
from alerts.window_plan import IncrementalWindow
from analytics.emission_exceedance import detect_emission_exceedance
from analytics.emission_hourly import BASIS_NAMES, HourlyEmissions, hourly_emissions
from analytics.findings import Finding
from analytics.hourly_validity import min_values_per_hour
from analytics.o2_conversion import conversion_mismatch, to_reference_o2
from analytics.series_window import align
from config.outlets import LIMITED_POLLUTANTS, OutletRegister
from config.settings import Settings
from ingest.hj212_records import measurement_of
from ingest.influx_store import InfluxStore
from ingest.line_protocol import format_point

log = logging.getLogger(__name__)

OUTLET_HOUR_MEASUREMENT = "outlet_hour"
# Process signals: production goes on unchanged while flow, O2 and temperature stay put, and
# flow turns a concentration into a mass rate. Hourly means by the same basis priority.
PROCESS_FIELDS = ("flow", "temperature", "o2")
RAW_FIELDS = (*LIMITED_POLLUTANTS, *PROCESS_FIELDS)
# mg/m³ × m³/s → kg/h: × 3600 s/h ÷ 10⁶ mg/kg.
KG_H_PER_MGM3_M3S = 3600 / 1e6
SOURCE_MEASUREMENTS = tuple(measurement_of(k) for k in ("minute", "rtd", "hourly"))


@dataclass(frozen=True, slots=True)
class EmissionReport:
    """What one cycle did, for logs and tests."""

    start_s: int
    end_s: int
    latest_s: int
    hours_written: int
    findings: int
    cases_opened: int
    cases_updated: int


class EmissionJudge:
    """Hourly emission values and exceedance cases for every outlet that reports over HJ 212."""

    def __init__(self, settings: Settings, store: InfluxStore, cases: CaseRepository,
                 outlets: OutletRegister, notifier: CaseNotifier | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.settings = settings
        self.store = store
        self.cases = cases
        self.outlets = outlets.by_mn()
        self.shard = ShardPlan(settings.analytics.shard, settings.analytics.shards)
        self.notifier = notifier
        self.clock = clock
        self.tz = ZoneInfo(settings.timezone)
        self.position = IncrementalWindow(lookback_days=settings.analytics.lookback_days,
                                          max_window_days=settings.analytics.max_window_days,
                                          tz=self.tz)
        self._caches = {kind: self._cache(kind, with_counts=kind != "hourly")
                        for kind in ("minute", "rtd", "hourly")}

    def _cache(self, kind: str, with_counts: bool) -> HourlyWindowCache:
        """Hourly means of one kind of HJ 212 data, read incrementally across cycles."""
        valid, mns = self.settings.emissions.valid_flags, list(self.outlets)
        cfg = self.settings.analytics
        return HourlyWindowCache(
            lambda start_s, end_s: self.store.read_hourly_window(
                measurement_of(kind), "mn", RAW_FIELDS, mns, start_s, end_s,
                valid_flags=valid, with_counts=with_counts),
            reread_hours=cfg.reread_hours, full_reread_s=cfg.full_reread_s)

    def _latest_s(self) -> int | None:
        times = [self.store.latest_time_s(m) for m in SOURCE_MEASUREMENTS]
        known = [t for t in times if t is not None]
        return max(known) if known else None

    def run_once(self) -> EmissionReport | None:
        """One cycle; None when there is no HJ 212 data or nothing new since the last cycle."""
        latest_s = self._latest_s()
        plan = self.position.next(latest_s)
        if plan is None or latest_s is None:
            return None
        hours, process = self.hourly(plan.start_s, plan.end_s)
        lines = self.hour_lines(hours, self.reported_conversion(hours, plan.start_s, plan.end_s),
                                process, self.stopped_hours(hours, plan.start_s, plan.end_s))
        for start in range(0, len(lines), self.settings.influx.batch_size):
            self.store.write_lines(lines[start:start + self.settings.influx.batch_size])
        limits = {p: np.array([self.outlets[s].limits.get(p, np.nan) if s in self.outlets
                               else np.nan for s in hours.sources]) for p in LIMITED_POLLUTANTS}
        findings = detect_emission_exceedance(hours, limits, self._reference_o2(hours.sources),
                                              self.settings.timezone)
        now = self.clock()
        changes = self.cases.record_findings(
            findings, now, source_kind="outlet", title_of=self._title,
            enterprise_of=lambda f: self.outlets[f.source].enterprise
            if f.source in self.outlets else None)
        if changes and self.notifier is not None:
            self.notifier.notify(changes, now)
        self.position.done(plan, latest_s)
        return EmissionReport(plan.start_s, plan.end_s, latest_s, len(lines), len(findings),
                              sum(c.opened for c in changes), sum(not c.opened for c in changes))

    def _title(self, finding: Finding) -> str:
        outlet = self.outlets.get(finding.source)
        where = f"{outlet.enterprise} {outlet.name}" if outlet else finding.source
        return f"{where}: hourly {finding.pollutant} above the emission limit"

    def _reference_o2(self, sources: Sequence[str]) -> np.ndarray:
        return np.array([
            self.outlets[s].reference_o2 if s in self.outlets
            and self.outlets[s].reference_o2 is not None else np.nan for s in sources
        ], dtype=float)

    def hourly(self, start_s: int, end_s: int) -> tuple[HourlyEmissions, HourlyEmissions]:
        """Hourly pollutant values over [start_s, end_s) from minute, real-time and reported
        data, and the process signals (flow m³/s, temperature °C, O2 %) the same way."""
        minute, rtd, reported = (self._caches[kind].window(start_s, end_s)
                                 for kind in ("minute", "rtd", "hourly"))
        sources = self.shard.mine(dict.fromkeys([*minute.sources, *rtd.sources,
                                                  *reported.sources]))
        minute, rtd, reported = (align(w, sources) for w in (minute, rtd, reported))
        min_minutes = self.settings.emissions.min_minutes_per_hour
        minute_s = np.array([self.outlets[s].minute_interval_min * 60 if s in self.outlets
                             else 60 for s in sources])
        rtd_s = np.array([self.outlets[s].rtd_interval_s if s in self.outlets else 60
                          for s in sources])
        needed = {"needed_minute": min_values_per_hour(minute_s, min_minutes),
                  "needed_rtd": min_values_per_hour(rtd_s, min_minutes)}
        pollutants = hourly_emissions(minute, rtd, reported, **needed,
                                      reference_o2=self._reference_o2(sources))
        process = hourly_emissions(minute, rtd, reported, **needed,
                                   reference_o2=np.full(len(sources), np.nan),
                                   pollutants=PROCESS_FIELDS)
        return pollutants, process

    def stopped_hours(self, hours: HourlyEmissions, start_s: int, end_s: int) -> np.ndarray:
        """(S, T) bool: hours the unit reports its stack stopped (HJ 212 flag F on O2) for at
        least the 45 minutes an hour needs, in minute or real-time data. A stopped hour emits
        nothing: what a stop-production order asks for."""
        stopped = np.zeros((len(hours.sources), len(hours.times)), dtype=bool)
        min_minutes = self.settings.emissions.min_minutes_per_hour
        for kind in ("minute", "rtd"):
            window = align(self.store.read_hourly_window(
                measurement_of(kind), "mn", ["o2"], list(hours.sources), start_s, end_s,
                valid_flags="F", with_counts=True), hours.sources)
            interval = np.array([
                (self.outlets[s].minute_interval_min * 60 if kind == "minute"
                 else self.outlets[s].rtd_interval_s) if s in self.outlets else 60
                for s in hours.sources])
            needed = min_values_per_hour(interval, min_minutes)[:, None]
            stopped |= window.values["o2_count"] >= needed  # NaN counts compare False
        return stopped

    def reported_conversion(self, hours: HourlyEmissions, start_s: int, end_s: int
                            ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Check the units' own converted hourly values (CN 2061 ZsAvg) against the conversion
        of their measured Avg with their O2: per pollutant (reported ZsAvg, mismatch mask)."""
        fields = [*LIMITED_POLLUTANTS, *(f"{p}_zs" for p in LIMITED_POLLUTANTS), "o2"]
        window = align(self.store.read_hourly_window(measurement_of("hourly"), "mn", fields,
                                                     list(hours.sources), start_s, end_s),
                       hours.sources)
        reference = self._reference_o2(hours.sources)
        checks = {}
        for p in LIMITED_POLLUTANTS:
            computed = to_reference_o2(window.values[p], window.values["o2"], reference)
            reported = window.values[f"{p}_zs"]
            checks[p] = (reported, conversion_mismatch(reported, computed))
        return checks

    def hour_lines(self, hours: HourlyEmissions,
                   checks: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
                   process: HourlyEmissions | None = None,
                   stopped: np.ndarray | None = None) -> list[str]:
        """``outlet_hour`` points: per pollutant the measured and converted hourly value, the O2
        used, the basis, the valid values behind it and its limit; where the unit reported its
        own converted hourly value, that value and whether it disagrees with ours; with
        `process`, the hour's flow (m³/s), temperature (°C) and O2 (%), and per pollutant the
        mass rate ``{p}_kg_h`` = measured concentration × flow (both dry, standard state);
        with `stopped`, ``stopped`` = 1.0 on hours the stack was reported stopped (written even
        when no pollutant has a valid hour)."""
        flow = (process.measured["flow"] if process is not None and "flow" in process.measured
                else np.full((len(hours.sources), len(hours.times)), np.nan))
        starts = hours.times.astype("int64")
        lines = []
        for row, mn in enumerate(hours.sources):
            outlet = self.outlets.get(mn)
            with_data = np.any([b[row] > 0 for b in hours.basis.values()], axis=0)
            if stopped is not None:
                with_data = with_data | stopped[row]
            for col in np.flatnonzero(with_data).tolist():
                fields: dict[str, object] = {}
                if stopped is not None and stopped[row, col]:
                    fields["stopped"] = 1.0
                for p in hours.pollutants:
                    code = int(hours.basis[p][row, col])
                    if code == 0:
                        continue
                    fields[p] = hours.measured[p][row, col]
                    fields[f"{p}_zs"] = hours.converted[p][row, col]
                    fields[f"{p}_o2"] = hours.o2[p][row, col]
                    fields[f"{p}_basis"] = BASIS_NAMES[code]
                    fields[f"{p}_count"] = hours.valid_count[p][row, col]
                    if outlet is not None and p in outlet.limits:
                        fields[f"{p}_limit"] = float(outlet.limits[p])
                    if checks and p in checks and not np.isnan(checks[p][0][row, col]):
                        fields[f"{p}_zs_reported"] = checks[p][0][row, col]
                        fields[f"{p}_zs_mismatch"] = bool(checks[p][1][row, col])
                    fields[f"{p}_kg_h"] = (hours.measured[p][row, col] * flow[row, col]
                                           * KG_H_PER_MGM3_M3S)
                if process is not None:
                    for name in process.pollutants:
                        fields[f"process_{name}"] = process.measured[name][row, col]
                lines.append(format_point(OUTLET_HOUR_MEASUREMENT, {"mn": mn}, fields,
                                          int(starts[col])))
        return lines
