"""The live falsification audit: every detector over a sliding window, findings into cases.

Runs on its own schedule (settings.falsification.interval_s of wall time) and whenever the
newest data hour moved on. Exceedance is left to the station and emission loops, which judge
it already; every other detector runs here exactly as `lantian audit` runs it offline.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from alerts.alert_publisher import CaseNotifier
from alerts.case_repository import CaseChange, CaseRepository
from alerts.falsification_window import (
    OUTLET_HOUR_MEASUREMENT,
    outlet_series,
    station_series,
)
from analytics.falsification.audit_series import AuditSeries
from analytics.falsification.suite import DetectorSettings, run_detectors
from analytics.findings import Finding
from config.outlets import Outlet
from config.settings import Settings
from config.stations import Station
from ingest.influx_store import InfluxStore
from ingest.line_protocol import STATION_MEASUREMENT

log = logging.getLogger(__name__)
HOUR_S = 3600
DAY_S = 86_400
# Judged by the station loop (daily means) and the emission judge (hourly at reference O2).
JUDGED_ELSEWHERE = ("exceedance",)

TYPE_TITLES = {
    "impossible_value": "physically impossible values",
    "flatline": "values stuck at one number",
    "low_variance": "abnormally smooth values",
    "bunching": "values piled up just under the limit",
    "neighbor_divergence": "far from its neighbouring stations",
    "dilution": "dilution air: O2 up while concentrations fall",
    "copy_paste": "data copied from an earlier period",
    "gap_at_peak": "data missing at a pollution peak",
    "flag_abuse": "maintenance/fault flags at high values",
    "step_drop": "abrupt fall with no change in production signals",
}


@dataclass(frozen=True)
class FalsificationReport:
    """One run: the windows judged (UTC seconds), findings and what they did to cases."""

    windows: dict[str, tuple[int, int]]
    findings: int
    cases_opened: int
    cases_updated: int


class FalsificationCycle:
    """Reads each kind's window, runs the detectors, records findings as cases."""

    def __init__(self, settings: Settings, store: InfluxStore, cases: CaseRepository,
                 stations: Sequence[Station], outlets: Mapping[str, Outlet],
                 notifier: CaseNotifier | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.store = store
        self.cases = cases
        self.stations = list(stations)
        self.outlets = dict(outlets)
        self.notifier = notifier
        self.clock = clock
        self.monotonic = monotonic
        configured = settings.falsification.detector_settings()
        self.detectors: DetectorSettings = replace(
            configured, enabled=tuple(n for n in configured.enabled if n not in JUDGED_ELSEWHERE))
        self._judged_end: dict[str, int] = {}
        self._last_run: float | None = None

    def _window(self, measurement: str) -> tuple[int, int] | None:
        latest = self.store.latest_time_s(measurement)
        if latest is None:
            return None
        end = latest - latest % HOUR_S + HOUR_S
        return end - self.settings.falsification.window_days * DAY_S, end

    def run_once(self, force: bool = False) -> FalsificationReport | None:
        """One audit when due (interval elapsed or new data hours) or `force`; else None."""
        if not self.settings.falsification.enabled:
            return None
        elapsed = (self._last_run is None or self.monotonic() - self._last_run
                   >= self.settings.falsification.interval_s)
        windows: dict[str, tuple[int, int]] = {}
        findings: list[Finding] = []
        changes: list[CaseChange] = []
        tz = self.settings.timezone
        for kind, measurement in (("station", STATION_MEASUREMENT),
                                  ("outlet", OUTLET_HOUR_MEASUREMENT)):
            window = self._window(measurement)
            if window is None or (not force and not elapsed
                                  and self._judged_end.get(kind) == window[1]):
                continue
            series: AuditSeries = (station_series(self.store, self.stations, *window, tz)
                                   if kind == "station"
                                   else outlet_series(self.store, self.outlets, *window, tz))
            found = run_detectors(series, self.detectors)
            changes += self.cases.record_findings(
                found, self.clock(), source_kind=kind, title_of=self._title,
                enterprise_of=self._enterprise if kind == "outlet" else None)
            findings += found
            windows[kind] = window
            self._judged_end[kind] = window[1]
        if not windows:
            return None
        self._last_run = self.monotonic()
        if changes and self.notifier is not None:
            self.notifier.notify(changes, self.clock())
        return FalsificationReport(windows, len(findings), sum(c.opened for c in changes),
                                   sum(not c.opened for c in changes))

    def _title(self, finding: Finding) -> str:
        outlet = self.outlets.get(finding.source)
        where = f"{outlet.enterprise} {outlet.name}" if outlet else finding.source
        what = TYPE_TITLES.get(finding.type, finding.type)
        return f"{where}: suspected falsification — {finding.pollutant} {what}"

    def _enterprise(self, finding: Finding) -> str | None:
        outlet = self.outlets.get(finding.source)
        return outlet.enterprise if outlet else None

