"""A plant ordered to stop that does stop: its unit reports the stack stopped (flag F), the
hours are written as stopped, and the audit finds it compliant with no case."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alerts.case_repository import CaseRepository
from alerts.emergency_service import EmergencyService
from alerts.emission_cycle import EmissionJudge
from alerts.reduction_audit import ReductionAuditor
from config.emergency import load_emergency
from config.outlets import load_outlets
from config.settings import InfluxSettings, Settings
from ingest.influx_store import InfluxStore
from ingest.line_protocol import format_point

KILN = "040000D2200041A000421CC2"  # stop_production at red
START = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
ALERT_AT = START + timedelta(hours=4)
HOURS = 8
RUNNING = {"particulate": 3.0, "so2": 10.0, "nox": 50.0, "o2": 10.0, "flow": 80.0,
           "temperature": 120.0}
STOPPED = {"particulate": 0.1, "so2": 0.0, "nox": 0.2, "o2": 20.9, "flow": 0.0,
           "temperature": 15.0}


def _minute_lines() -> list[str]:
    lines = []
    for minute in range(HOURS * 60):
        at = START + timedelta(minutes=minute)
        values, flag = (STOPPED, "F") if at >= ALERT_AT else (RUNNING, "N")
        fields: dict[str, object] = {}
        for name, value in values.items():
            fields[name], fields[f"{name}_flag"] = value, flag
        lines.append(format_point("hj212_minute", {"mn": KILN}, fields, int(at.timestamp())))
    return lines


def test_a_plant_that_stops_as_ordered_is_compliant(
        influx_settings: InfluxSettings, influx_store: InfluxStore, ledger_sessions) -> None:  # type: ignore[no-untyped-def]
    influx_store.write_lines(_minute_lines())
    settings = Settings(influx=influx_settings)
    register = load_outlets(settings.outlets_file)
    cases = CaseRepository(ledger_sessions)
    clock = lambda: START + timedelta(hours=HOURS)  # noqa: E731
    judge = EmissionJudge(settings, influx_store, cases, register, clock=clock)
    assert judge.run_once() is not None
    assert influx_store.count("outlet_hour", "stopped", f"mn = '{KILN}'") == HOURS - 4

    emergency = EmergencyService(ledger_sessions, load_emergency(settings.emergency_file),
                                 settings.timezone)
    day = ALERT_AT.date()
    emergency.submit_forecast("beijing", [(day + timedelta(days=k), aqi)
                                          for k, aqi in enumerate((320, 310, 250))],
                              source="official", issuer="test", now=ALERT_AT)
    issued = emergency.evaluate("beijing", ALERT_AT)
    assert issued is not None and issued.to_level == "red"

    auditor = ReductionAuditor(settings, influx_store, cases, ledger_sessions, register,
                               clock=clock)
    kiln = next(o for o in auditor.report(issued.alert_id).outlets if o.mn == KILN)
    assert kiln.required_cut_pct == {"red": 100.0}
    assert (kiln.status, kiln.required_hours, kiln.stopped_hours) == ("compliant", 4, 4)
    assert kiln.over_hours == 0 and kiln.findings == []
    assert not [c for c in auditor.run_once() if c.source == KILN]
