"""The analytics loop: recent hourly data from InfluxDB → AQI (written back) and exceedance
findings (recorded as cases). Incremental in data time, so replayed history works like live data.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import numpy as np

from alerts.alert_publisher import CaseNotifier
from alerts.analytics_heartbeat import AnalyticsBeat, write_beat
from alerts.case_notifications import CaseNotifications
from alerts.case_repository import CaseRepository
from alerts.case_workflow import CaseWorkflow
from alerts.emergency_service import EmergencyService
from alerts.emission_cycle import EmissionJudge
from alerts.falsification_cycle import FalsificationCycle
from alerts.hourly_cache import HourlyWindowCache
from alerts.shard_plan import ShardPlan
from alerts.window_plan import DAY_S, IncrementalWindow, local_midnight_s
from analytics.aqi import AqiResult, daily_aqi, hourly_aqi
from analytics.city_aqi import city_means
from analytics.daily_means import DailyMeans, closed_days, daily_means
from analytics.exceedance import detect_exceedance
from analytics.hourly_validity import mask_short_hours, min_values_per_hour
from analytics.ozone_daily import o3_daily_max_1h, o3_daily_max_8h
from analytics.rolling_daily_aqi import rolling_24h_aqi
from analytics.series_window import SeriesWindow, align
from config.settings import Settings
from config.stations import POLLUTANTS, StationRegister
from ingest.influx_store import InfluxStore
from ingest.line_protocol import STATION_MEASUREMENT, format_point

if TYPE_CHECKING:  # the forecaster reads what this loop writes, so it imports from here
    from alerts.emergency_forecaster import StatisticalForecaster
    from alerts.reduction_audit import ReductionAuditor

log = logging.getLogger(__name__)

STATION_AQI_MEASUREMENT = "station_aqi"
CITY_AQI_MEASUREMENT = "city_aqi"
STATION_DAILY_MEASUREMENT = "station_daily"
CITY_DAILY_MEASUREMENT = "city_daily"


@dataclass(frozen=True, slots=True)
class CycleReport:
    """What one cycle did, for logs and tests."""

    start_s: int
    end_s: int
    latest_s: int
    aqi_points: int
    findings: int
    cases_opened: int
    cases_updated: int


def aqi_lines(measurement: str, tag: str, sources: Sequence[str], times: np.ndarray,
              result: AqiResult, extra: dict[str, np.ndarray] | None = None) -> list[str]:
    """Line protocol for every (source, period) that has an AQI; `times` are period starts
    (datetime64[s], UTC), one per column of `result`."""
    rows, cols = np.nonzero(~np.isnan(result.aqi))
    starts = times.astype("datetime64[s]").astype("int64")
    lines = []
    for row, col in zip(rows.tolist(), cols.tolist(), strict=True):
        fields: dict[str, object] = {
            "aqi": result.aqi[row, col], "level": float(result.level[row, col]),
            "primary": result.primary[row, col], "edition": float(result.edition[col]),
        }
        for pollutant, values in result.iaqi.items():
            fields[f"iaqi_{pollutant}"] = values[row, col]
        for name, values in (extra or {}).items():
            fields[name] = values[row, col]
        lines.append(format_point(measurement, {tag: sources[row]}, fields,
                                  int(starts[col])))
    return lines


class AnalyticsLoop:
    """Runs one cycle every `analytics.interval_s` seconds until stopped."""

    def __init__(self, settings: Settings, store: InfluxStore, cases: CaseRepository,
                 stations: StationRegister, notifier: CaseNotifier | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 emissions: EmissionJudge | None = None,
                 workflow: CaseWorkflow | None = None,
                 notifications: CaseNotifications | None = None,
                 emergency: EmergencyService | None = None,
                 forecaster: StatisticalForecaster | None = None,
                 auditor: ReductionAuditor | None = None,
                 falsification: FalsificationCycle | None = None) -> None:
        self.settings = settings
        # Every falsification detector over a sliding window, on its own schedule.
        self.falsification = falsification
        self.emergency = emergency
        # Statistical forecasts for each new hour of city AQI (and, on a data-time basis,
        # the level decided hour by hour).
        self.forecaster = forecaster
        # While an alert is in force (and for the look-back after), the listed enterprises'
        # emission cuts are audited each cycle.
        self.auditor = auditor
        self.notifications = notifications
        # Deadlines, escalation and look-back expiry run on this loop's clock, each cycle.
        self.workflow = workflow
        # Enterprise emissions are judged in the same loop, after the stations.
        self.emissions = emissions
        self.store = store
        self.cases = cases
        self.station_ids: Sequence[str] = [s.id for s in stations.stations]
        self.city_of_station = {s.id: s.city for s in stations.stations}
        self.interval_of_station = {s.id: s.interval_s for s in stations.stations}
        self.notifier = notifier
        self.clock = clock
        self.tz = ZoneInfo(settings.timezone)
        self.shard = ShardPlan(settings.analytics.shard, settings.analytics.shards)
        self.position = IncrementalWindow(lookback_days=settings.analytics.lookback_days,
                                          max_window_days=settings.analytics.max_window_days,
                                          tz=self.tz)
        # the last cycle's outcome, for the liveness file
        self.beat: AnalyticsBeat | None = None
        cfg = settings.analytics
        self.hourly_cache = HourlyWindowCache(
            lambda start_s, end_s: store.read_hourly_window(
                STATION_MEASUREMENT, "station", POLLUTANTS, self.station_ids, start_s, end_s,
                valid_flags=cfg.valid_flags, with_counts=True),
            reread_hours=cfg.reread_hours, full_reread_s=cfg.full_reread_s)

    def run_once(self) -> CycleReport | None:
        """One cycle; None when there is no data yet, or nothing new since the last cycle
        (no newer reading and no backlog), so an idle system does no work."""
        latest_s = self.store.latest_time_s(STATION_MEASUREMENT)
        plan = self.position.next(latest_s)
        if plan is None or latest_s is None:
            return None
        cfg = self.settings.analytics
        # One local day more than planned, so the first hours of the plan have the 24 h of
        # history their "any 24 h" city AQI needs (re-judging that day is idempotent).
        window = self._valid_hourly_window(local_midnight_s(plan.start_s - DAY_S, self.tz),
                                           plan.end_s)
        tz_name = self.settings.timezone
        lines = aqi_lines(STATION_AQI_MEASUREMENT, "station", window.sources, window.times,
                          hourly_aqi(window, tz_name))
        city_window, city_counts = city_means(window, self.city_of_station)
        rolling = rolling_24h_aqi(city_window, tz_name, min_hours=cfg.min_hours_per_day)
        city_extra = {"stations": city_counts.astype(float), **city_window.values,
                      "aqi_24h": rolling.aqi, "level_24h": rolling.level.astype(float),
                      "primary_24h": np.where(np.isnan(rolling.aqi), None, rolling.primary)}
        lines += aqi_lines(CITY_AQI_MEASUREMENT, "city", city_window.sources, city_window.times,
                           hourly_aqi(city_window, tz_name), city_extra)
        daily = daily_means(window, tz_name, min_hours=cfg.min_hours_per_day)
        lines += self._daily_lines(STATION_DAILY_MEASUREMENT, "station", window, daily,
                                   latest_s)
        city_daily = daily_means(city_window, tz_name, min_hours=cfg.min_hours_per_day)
        lines += self._daily_lines(CITY_DAILY_MEASUREMENT, "city", city_window, city_daily,
                                   latest_s)
        for start in range(0, len(lines), self.settings.influx.batch_size):
            self.store.write_lines(lines[start:start + self.settings.influx.batch_size])

        findings = detect_exceedance(window, tz_name, min_hours=cfg.min_hours_per_day,
                                     closed_before=np.datetime64(latest_s, "s"), daily=daily)
        now = self.clock()
        changes = self.cases.record_findings(findings, now)
        if changes and self.notifier is not None:
            self.notifier.notify(changes, now)
        self.position.done(plan, latest_s)
        return CycleReport(plan.start_s, plan.end_s, latest_s, len(lines), len(findings),
                           sum(c.opened for c in changes), sum(not c.opened for c in changes))

    def _daily_lines(self, measurement: str, tag: str, window: SeriesWindow, daily: DailyMeans,
                     latest_s: int) -> list[str]:
        """Daily AQI of every closed local day in the window (HJ 633 daily columns on GB 3095
        valid daily means), with the means and valid hours as evidence of the figure. A city's
        daily means are those of its hourly city means (the station average of each hour)."""
        closed = closed_days(daily, np.datetime64(latest_s, "s"))
        result = daily_aqi(daily, o3_daily_max_8h(window, daily), o3_daily_max_1h(window, daily))
        result = replace(result, aqi=np.where(closed[None, :], result.aqi, np.nan))
        extra = {**{f"{p}_mean": m for p, m in daily.means.items()},
                 **{f"{p}_hours": h.astype(float) for p, h in daily.valid_hours.items()}}
        return aqi_lines(measurement, tag, daily.sources, daily.day_start_utc, result, extra)

    def _valid_hourly_window(self, start_s: int, end_s: int) -> SeriesWindow:
        """Hourly means of valid-flagged values, NaN where the hour is not covered ≥ 45 min."""
        cfg = self.settings.analytics
        raw = self.hourly_cache.window(start_s, end_s)
        intervals = np.array([self.interval_of_station.get(s, 3600) for s in raw.sources])
        needed = min_values_per_hour(intervals, cfg.min_minutes_per_hour)
        values = {p: mask_short_hours(raw.values[p], raw.values[f"{p}_count"], needed)
                  for p in POLLUTANTS}
        window = SeriesWindow(raw.sources, raw.times, values)
        # this worker's cities (an unregistered station is keyed by its own id)
        return align(window, [s for s in window.sources
                              if self.shard.owns(self.city_of_station.get(s, s))])

    def _jobs(self) -> list[tuple[str, Callable[[], None]]]:
        """The work of one cycle after the stations, in order: (what failed, how to run it)."""
        jobs: list[tuple[str, Callable[[], None]]] = []
        if self.emissions is not None:
            emissions = self.emissions

            def judge_emissions() -> None:
                report = emissions.run_once()
                if report is not None and (report.cases_opened or report.cases_updated):
                    log.info("emission cycle %s", report)
            jobs.append(("emission cycle", judge_emissions))
        if self.workflow is not None and self.shard.leader:
            workflow = self.workflow

            def run_deadlines() -> None:
                for event in workflow.run_due(self.clock()):
                    log.info("case %s: %s (%s)", event.case_id, event.action, event.note)
            jobs.append(("case deadlines", run_deadlines))
        if self.notifications is not None and self.shard.leader:
            notifications = self.notifications
            jobs.append(("case notifications", lambda: notifications.dispatch(self.clock())))
        if self.forecaster is not None and self.shard.leader:
            forecaster = self.forecaster
            jobs.append(("statistical forecast", lambda: forecaster.run_once()))
        if self.emergency is not None and self.settings.emergency.time_basis == "wall":
            emergency = self.emergency
            for jurisdiction in emergency.register.jurisdictions:
                if not self.shard.owns(jurisdiction.city):
                    continue

                def evaluate(city: str = jurisdiction.city) -> None:
                    event = emergency.evaluate(city, self.clock())
                    if event is not None:
                        log.info("%s alert: %s", city, event.reason)
                jobs.append((f"alert level of {jurisdiction.city}", evaluate))
        if self.auditor is not None and self.shard.leader:
            auditor = self.auditor

            def audit_reductions() -> None:
                for change in auditor.run_once():
                    if change.opened:
                        log.info("reduction audit: case %s (%s at %s)", change.case_id,
                                 change.problem_type, change.source)
            jobs.append(("reduction audit", audit_reductions))
        return jobs

    def run_forever(self, stop: threading.Event) -> None:
        """Cycle until `stop` is set; a failing job is logged and retried next interval, and
        never keeps the jobs after it from running. The falsification audit runs on its own
        thread: it reads weeks of data and can take longer than a cycle, and an exceedance
        alert must not wait behind it."""
        audit = None
        if self.falsification is not None and self.shard.leader:
            audit = threading.Thread(target=self._every_interval,
                                     args=(stop, self._audit_once(self.falsification)),
                                     name="falsification-audit", daemon=True)
            audit.start()
        self._every_interval(stop, self._cycle_once)
        if audit is not None:
            audit.join(60)

    def _every_interval(self, stop: threading.Event, step: Callable[[], None]) -> None:
        """Run `step` every `analytics.interval_s` (start to start) until `stop` is set."""
        while not stop.is_set():
            started = time.monotonic()
            step()
            stop.wait(max(0.0, self.settings.analytics.interval_s - (time.monotonic() - started)))

    def _cycle_once(self) -> None:
        failure: str | None = None
        try:
            report = self.run_once()
            if report is not None and (report.cases_opened or report.cases_updated):
                log.info("cycle %s", report)
        except Exception as exc:
            log.exception("analytics cycle failed; retrying next interval")
            failure = f"analytics cycle: {exc}"
        for name, job in self._jobs():
            try:
                job()
            except Exception as exc:
                log.exception("%s failed; retrying next interval", name)
                failure = failure or f"{name}: {exc}"
        self._record_beat(failure)

    def _record_beat(self, failure: str | None) -> None:
        """Update the liveness file (analytics.heartbeat_file), if there is one."""
        path = self.settings.analytics.heartbeat_file
        if path is None:
            return
        now = time.time()
        beat = self.beat or AnalyticsBeat(f"{self.shard.shard}/{self.shard.shards}")
        if failure is None:
            beat = replace(beat, last_ok_s=now)
        else:
            beat = replace(beat, last_error=failure[:500], last_error_s=now)
        self.beat = beat
        try:
            write_beat(path, beat)
        except OSError:
            log.exception("could not write the heartbeat file %s", path)

    @staticmethod
    def _audit_once(falsification: FalsificationCycle) -> Callable[[], None]:
        """One falsification check (it audits when new data hours arrived or its own
        interval elapsed); a failure is logged and retried next interval."""
        def step() -> None:
            try:
                report = falsification.run_once()
                if report is not None and (report.cases_opened or report.cases_updated):
                    log.info("falsification audit %s", report)
            except Exception:
                log.exception("falsification audit failed; retrying next interval")
        return step
