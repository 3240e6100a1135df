"""Checking, while a heavy-pollution alert is in force, that every outlet on the
emission-reduction list really cut its emissions ("one enterprise, one plan").

For each alert of a city, hour by hour from the level in force (its issue/upgrade/downgrade
events): the plan's required cut at that level, the outlet's judged hourly emissions from
``outlet_hour`` (concentration at reference O2, mass = concentration × flow), and the process
signals. Shortfalls and suspicious step drops become findings and cases of the outlet's
enterprise; the report per alert sorts every listed outlet into compliant, not compliant and
no data.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from alerts.alert_publisher import CaseNotifier
from alerts.case_repository import CaseChange, CaseRepository
from alerts.emergency_models import EmergencyAlert, EmergencyEvent
from alerts.emission_cycle import OUTLET_HOUR_MEASUREMENT
from analytics.findings import Finding
from analytics.reduction_compliance import audit_reduction, detect_step_drop
from analytics.series_window import align
from config.outlets import LIMITED_POLLUTANTS, Outlet, OutletRegister
from config.settings import Settings
from ingest.influx_store import InfluxStore

log = logging.getLogger(__name__)

HOUR_S = 3600
NOT_REQUIRED = "not_required"  # the alert's levels ask nothing of this outlet
STATUSES = ("compliant", "not_compliant", "no_data", NOT_REQUIRED)


@dataclass(frozen=True, slots=True)
class OutletCompliance:
    """One listed outlet's result for one alert."""

    mn: str
    name: str
    enterprise: str
    status: str
    required_hours: int
    data_hours: int
    over_hours: int
    required_cut_pct: dict[str, float]
    stopped_hours: int = 0  # required hours the stack reported itself stopped (flag F)
    findings: list[Finding] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ComplianceReport:
    """The audit of one alert: which listed outlets cut as required, which did not, and which
    sent no data to judge by."""

    alert_id: int
    city: str
    levels: list[str]
    start: datetime
    end: datetime
    active: bool
    outlets: list[OutletCompliance]

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outlets)


def _ceil_hour(moment: datetime) -> int:
    """Unix seconds of the first hour start at or after `moment`."""
    return -(-int(moment.timestamp()) // HOUR_S) * HOUR_S


class ReductionAuditor:
    """Audits alerts against the reduction plans; `run_once` records findings as cases."""

    def __init__(self, settings: Settings, store: InfluxStore, cases: CaseRepository,
                 sessions: sessionmaker, outlets: OutletRegister,
                 notifier: CaseNotifier | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.settings = settings
        self.store = store
        self.cases = cases
        self._sessions = sessions
        self.outlets = outlets
        self.notifier = notifier
        self.clock = clock

    def listed(self, city: str) -> list[Outlet]:
        return [o for o in self.outlets.outlets if o.city == city and o.emergency.listed]

    def _alert(self, alert_id: int) -> tuple[EmergencyAlert, list[EmergencyEvent]]:
        with self._sessions() as session:
            alert = session.get(EmergencyAlert, alert_id)
            if alert is None:
                raise LookupError(f"no emergency alert {alert_id}")
            events = list(session.scalars(select(EmergencyEvent).where(
                EmergencyEvent.alert_id == alert_id).order_by(EmergencyEvent.at,
                                                               EmergencyEvent.id)))
            session.expunge_all()
        return alert, events

    def report(self, alert_id: int) -> ComplianceReport:
        """The audit of one alert over its hours that have outlet data so far."""
        alert, events = self._alert(alert_id)
        return self._audit(alert, events)[0]

    def _audit(self, alert: EmergencyAlert, events: list[EmergencyEvent]
               ) -> tuple[ComplianceReport, list[Finding]]:
        cfg = self.settings.emergency
        outlets = self.listed(alert.city)
        grace = timedelta(hours=cfg.audit_grace_h)
        start_s = _ceil_hour(alert.issued_at + grace)
        latest = self.store.latest_time_s(OUTLET_HOUR_MEASUREMENT)
        end_s = start_s if latest is None else latest + HOUR_S
        if alert.lifted_at is not None:
            end_s = min(end_s, _ceil_hour(alert.lifted_at))
        end_s = max(end_s, start_s)
        read_from = start_s - cfg.step_reference_hours * HOUR_S
        mns = [o.mn for o in outlets]
        pollutants = LIMITED_POLLUTANTS
        times = np.arange(read_from, max(end_s, read_from + HOUR_S), HOUR_S)
        shape = (len(mns), len(times))
        fields = [*(f"{p}_zs" for p in pollutants), *(f"{p}_kg_h" for p in pollutants),
                  "process_flow", "process_temperature", "process_o2", "stopped"]
        values = {f: np.full(shape, np.nan) for f in fields}
        if mns and end_s > start_s:
            values = dict(align(self.store.read_hourly_window(
                OUTLET_HOUR_MEASUREMENT, "mn", fields, mns, int(times[0]),
                int(times[-1]) + HOUR_S), mns).values)
        # The level in force at each hour start (after the grace), from the alert's events.
        change_s = np.array([(e.at + grace).timestamp() for e in events])
        level_index = np.searchsorted(change_s, times, side="right") - 1
        levels = [e.to_level for e in events]
        in_alert = (times >= start_s) & (times < end_s)
        cut = np.full(shape, np.nan)
        for i, outlet in enumerate(outlets):
            by_level = np.array([self._cut(outlet, level) for level in levels] + [np.nan])
            cut[i] = np.where(in_alert & (level_index >= 0), by_level[level_index], np.nan)
        # A stack reported stopped emits nothing that hour: zero, unless it also sent values.
        stopped = values["stopped"] == 1.0
        concentration = {p: np.where(stopped & np.isnan(values[f"{p}_zs"]), 0.0,
                                     values[f"{p}_zs"]) for p in pollutants}
        mass = {p: np.where(stopped & np.isnan(values[f"{p}_kg_h"]), 0.0, values[f"{p}_kg_h"])
                for p in pollutants}
        base_c = {p: np.array([o.emergency.baseline_mgm3.get(p, np.nan) for o in outlets])
                  for p in pollutants}
        base_m = {p: np.array([o.emergency.baseline_kg_h.get(p, np.nan) for o in outlets])
                  for p in pollutants}
        stamps = times.astype("datetime64[s]")
        audit = audit_reduction(mns, stamps, cut, concentration, mass, base_c, base_m,
                                tolerance=cfg.audit_tolerance,
                                min_run_hours=cfg.audit_min_run_hours)
        required = ~np.isnan(cut)
        first = np.where(required.any(axis=1), required.argmax(axis=1), -1)
        last = np.where(required.any(axis=1),
                        len(times) - required[:, ::-1].argmax(axis=1), -1)
        drops = detect_step_drop(
            mns, stamps, concentration, values["process_flow"], values["process_o2"],
            values["process_temperature"], first.astype(np.int64), last.astype(np.int64),
            reference_hours=cfg.step_reference_hours, min_drop=cfg.step_min_drop,
            flow_tolerance=cfg.step_flow_tolerance,
            temperature_tolerance=cfg.step_temperature_tolerance,
            o2_tolerance_pp=cfg.step_o2_tolerance_pp)
        findings = [*audit.findings, *drops]
        results = []
        for i, outlet in enumerate(outlets):
            mine = [f for f in findings if f.source == outlet.mn]
            status = str(audit.status[i]) or NOT_REQUIRED
            cuts = {level: round(100 * c, 1) for level in dict.fromkeys(levels)
                    if level is not None and (c := outlet.emergency.required_cut(level))
                    is not None}
            results.append(OutletCompliance(
                outlet.mn, outlet.name, outlet.enterprise, status,
                int(audit.required_hours[i]), int(audit.data_hours[i]),
                int(audit.over_hours[i]), cuts,
                int(np.count_nonzero(stopped[i] & ~np.isnan(cut[i]))), mine))
        report = ComplianceReport(
            alert.id, alert.city, [lv for lv in dict.fromkeys(levels) if lv],
            datetime.fromtimestamp(start_s, UTC), datetime.fromtimestamp(end_s, UTC),
            alert.lifted_at is None, results)
        return report, findings

    def run_once(self) -> list[CaseChange]:
        """Audit every alert still in force or lifted within the look-back, and record what it
        finds (idempotent: findings are keyed by type, source, pollutant and start)."""
        now = self.clock()
        horizon = now - timedelta(days=self.settings.analytics.lookback_days)
        with self._sessions() as session:
            alert_ids = list(session.scalars(select(EmergencyAlert.id).where(
                (EmergencyAlert.lifted_at.is_(None)) | (EmergencyAlert.lifted_at >= horizon))))
        changes: list[CaseChange] = []
        by_mn = self.outlets.by_mn()
        for alert_id in alert_ids:
            alert, events = self._alert(alert_id)
            if not self.listed(alert.city):
                continue
            _, findings = self._audit(alert, events)
            changes += self.cases.record_findings(
                findings, now, source_kind="outlet",
                title_of=lambda f, a=alert_id: self._title(f, by_mn, a),
                enterprise_of=lambda f: by_mn[f.source].enterprise if f.source in by_mn
                else None)
        if changes and self.notifier is not None:
            self.notifier.notify(changes, now)
        return changes

    @staticmethod
    def _cut(outlet: Outlet, level: str | None) -> float:
        """The share the plan requires at `level`; NaN when nothing is required."""
        required = outlet.emergency.required_cut(level) if level is not None else None
        return np.nan if required is None else required

    @staticmethod
    def _title(finding: Finding, by_mn: dict[str, Outlet], alert_id: int) -> str:
        outlet = by_mn.get(finding.source)
        where = f"{outlet.enterprise} {outlet.name}" if outlet else finding.source
        what = ("did not cut its emissions as its plan requires"
                if finding.type == "reduction_shortfall"
                else "concentration dropped while production went on unchanged")
        return f"{where}: {finding.pollutant} {what} (alert {alert_id})"
