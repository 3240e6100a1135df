"""An orange alert, and the listed enterprises' real emissions: simulated CEMS units over MQTT
into InfluxDB, judged hourly, audited against their reduction plans. The outlet that cuts as
its plan says gets no case; the one that ignores its cut gets a shortfall case; the one whose
concentration drops while flow, O2 and temperature stay put gets a step_drop case."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from openpyxl import load_workbook
from support.api_users import token_for
from support.hj212_pipeline import deliver_cems_minutes

from alerts.case_repository import CaseRepository
from alerts.emergency_service import EmergencyService
from alerts.emission_cycle import EmissionJudge
from alerts.reduction_audit import ReductionAuditor
from api.main import create_app
from config.emergency import load_emergency
from config.outlets import load_outlets
from config.settings import EmergencySettings, LedgerSettings, Settings
from ingest.dead_letters import DeadLetterStore
from ingest.influx_store import InfluxStore
from lantian.local_services import LocalService
from simulators.cems_injections import Injection, simulate_cems

TZ = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 11, 20, 0, 0, tzinfo=TZ)
ALERT_AT = START + timedelta(hours=8)
HOURS = 14
COMPLIES, IGNORES, FAKES = ("020000B7700021E000214AA7", "020000B7700021E000214AA8",
                            "030000C1100031F000318BB1")
CEMENT = "040000D2200041A000421CC2"


def test_the_outlet_that_cuts_passes_the_one_that_ignores_or_fakes_its_cut_gets_a_case(
        mqtt_broker: LocalService, influx_settings, influx_store: InfluxStore,  # type: ignore[no-untyped-def]
        ledger_sessions, ledger_url: str) -> None:
    register = load_outlets(Settings().outlets_file)
    end = START + timedelta(hours=HOURS)
    injections = [
        Injection(COMPLIES, "all", "emission_cut", ALERT_AT, end, {"cut": 0.35}),
        *(Injection(FAKES, p, "step_drop", ALERT_AT, end, {"ratio": 0.5})
          for p in ("particulate", "so2", "nox")),
    ]
    run = simulate_cems(register.outlets, START, HOURS, seed=11, injections=injections)
    delivered = deliver_cems_minutes(run, mqtt_broker, influx_settings,
                                     DeadLetterStore(ledger_sessions), register.by_mn())
    settings = delivered.model_copy(update={"emergency": EmergencySettings(
        step_reference_hours=8, audit_min_run_hours=2)})
    cases = CaseRepository(ledger_sessions)
    clock = lambda: end.astimezone(UTC)  # noqa: E731
    judge = EmissionJudge(settings, influx_store, cases, register, clock=clock)
    assert judge.run_once() is not None
    emergency = EmergencyService(ledger_sessions, load_emergency(settings.emergency_file),
                                 settings.timezone)
    day = ALERT_AT.date()
    emergency.submit_forecast("beijing", [(day, 250), (day + timedelta(days=1), 240),
                                          (date(2026, 11, 22), 180)],
                              source="official", issuer="forecast centre", now=ALERT_AT)
    issued = emergency.evaluate("beijing", ALERT_AT)
    assert issued is not None and issued.to_level == "orange"  # national-2024: > 200 for 2 days

    auditor = ReductionAuditor(settings, influx_store, cases, ledger_sessions, register,
                               clock=clock)
    report = auditor.report(issued.alert_id)
    status = {o.mn: o.status for o in report.outlets}
    assert status[COMPLIES] == "compliant"
    assert status[IGNORES] == "not_compliant"
    assert status[FAKES] == "compliant"  # its figures look cut: only step_drop tells
    assert status[CEMENT] == "not_compliant"
    assert "050000E3300051B000532DD3" not in status  # the coking plant is not on the list
    ignored = next(o for o in report.outlets if o.mn == IGNORES)
    assert ignored.required_hours == HOURS - 8 and ignored.required_cut_pct == {"orange": 20.0}
    assert ignored.data_hours == ignored.over_hours == HOURS - 8

    changes = auditor.run_once()
    # the cement kiln (50 % at orange) runs as usual too: a shortfall case of its own
    assert {c.source for c in changes if c.opened} == {IGNORES, FAKES, CEMENT}
    by_source = {c.source: c for c in changes}
    assert by_source[IGNORES].problem_type == "reduction_shortfall"
    assert by_source[FAKES].problem_type == "step_drop"
    shortfall = cases.get_case(by_source[IGNORES].case_id)
    assert shortfall is not None and shortfall.enterprise == "京能热电示范厂"
    so2 = next(f for f in shortfall.findings if f.pollutant == "so2")
    assert so2.start == ALERT_AT.astimezone(UTC)
    assert so2.end == (end - timedelta(hours=1)).astimezone(UTC)
    concentration = so2.evidence["concentration"]
    assert concentration["allowed"] == [round(16 * 0.8 * 1.05, 3)]  # baseline 16, 20 %, +5 %
    assert concentration["mean_observed"] > concentration["allowed"][0]
    drop = cases.get_case(by_source[FAKES].case_id)
    assert drop is not None and {f.pollutant for f in drop.findings} == {
        "particulate", "so2", "nox"}
    evidence = drop.findings[0].evidence
    assert abs(evidence["flow_m3s"]["ratio"] - 1) < 0.1
    assert evidence["concentration_mgm3"]["ratio"] < 0.7
    again = auditor.run_once()  # idempotent: the same findings open nothing new
    assert not any(c.opened or c.new_findings for c in again)

    # the report through the API: inspectors see every listed outlet, an enterprise its own
    app_settings = settings.model_copy(update={"ledger": LedgerSettings(url=ledger_url)})
    with TestClient(create_app(app_settings)) as client:
        url = f"/api/emergency/alerts/{issued.alert_id}/compliance"
        assert client.get(url).status_code == 401
        inspector = {"Authorization": f"Bearer {token_for(ledger_url, 'inspector')}"}
        body = client.get(url, headers=inspector).json()
        assert body["levels"] == ["orange"] and body["active"] is True
        assert body["counts"] == {"compliant": 2, "not_compliant": 2, "no_data": 0,
                                  "not_required": 1}  # a plan with no cut at orange
        own = {"Authorization": f"Bearer {token_for(ledger_url, 'enterprise', '京能热电示范厂')}"}
        mine = client.get(url, headers=own).json()
        assert {o["mn"] for o in mine["outlets"]} == {COMPLIES, IGNORES}
        sheet = client.get(url, params={"format": "xlsx"}, headers=inspector)
        assert sheet.status_code == 200
        rows = list(load_workbook(io.BytesIO(sheet.content)).active.iter_rows(values_only=True))
        assert rows[0][3] == "结论"
        assert {r[3] for r in rows[1:]} == {"已落实", "未落实", "无减排要求"}
        missing = client.get("/api/emergency/alerts/999999/compliance", headers=inspector)
        assert missing.status_code == 404 and "999999" in missing.json()["detail"]
