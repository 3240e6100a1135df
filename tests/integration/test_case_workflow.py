"""The case lifecycle on both ledger backends: finding → case → assignment → rectification →
verified closing → recurrence under look-back reopens it; escalation and look-back expiry by an
injected clock; every step in the append-only audit trail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alerts.case_lifecycle import IllegalTransition
from alerts.case_repository import CaseRepository
from alerts.case_workflow import CaseConflict, CaseNotFound, CaseUpdate, CaseWorkflow
from analytics.findings import Finding
from config.settings import CaseSettings, EscalationLevel

DAY = datetime(2016, 11, 30, 16, 0, tzinfo=UTC)
T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
POLICY = CaseSettings(deadline_days={"default": 30, "exceedance": 10}, lookback_days=60,
                      escalation=[EscalationLevel(after_overdue_days=0, notify=["district"]),
                                  EscalationLevel(after_overdue_days=7, notify=["city"])])


def exceedance(day: int, source: str = "Dongsi") -> Finding:
    start = DAY + timedelta(days=day)
    return Finding("exceedance", source, "pm25", start, start + timedelta(hours=23), 1.6,
                   {"daily_mean_ugm3": 120, "limit_ugm3": 75})


@pytest.fixture
def ledger(ledger_sessions) -> tuple[CaseRepository, CaseWorkflow]:  # type: ignore[no-untyped-def]
    return CaseRepository(ledger_sessions, POLICY), CaseWorkflow(ledger_sessions, POLICY)


def test_finding_to_verified_closing_and_recurrence_with_the_audit_trail(ledger) -> None:  # type: ignore[no-untyped-def]
    repo, flow = ledger
    [change] = repo.record_findings([exceedance(0)], T0)
    case_id = change.case_id
    case = repo.get_case(case_id)
    assert case is not None and case.status == "open" and case.deadline == T0 + timedelta(days=10)

    flow.act(case_id, "assign", actor="inspector.li", now=T0 + timedelta(hours=1),
             update=CaseUpdate(responsible_unit="东城区生态环境局", responsible_person="王工"))
    flow.act(case_id, "start", actor="ent.wang", now=T0 + timedelta(hours=2))
    flow.act(case_id, "submit", actor="ent.wang", now=T0 + timedelta(days=3),
             update=CaseUpdate(measures="洒水降尘, 工地停工"), attachments=["photo-1.jpg"])
    with pytest.raises(ValueError, match="reject needs a note"):
        flow.act(case_id, "reject", actor="inspector.li", now=T0 + timedelta(days=4))
    flow.act(case_id, "reject", actor="inspector.li", now=T0 + timedelta(days=4),
             note="no monitoring record after the measures")
    flow.act(case_id, "submit", actor="ent.wang", now=T0 + timedelta(days=5),
             attachments=["monitoring.pdf"])
    closed = flow.act(case_id, "verify", actor="inspector.li", now=T0 + timedelta(days=6))
    assert closed.status == "closed" and closed.open_key is None
    assert closed.closed_at == T0 + timedelta(days=6)
    assert closed.watch_until == T0 + timedelta(days=66)

    # A late re-judgement of the closed day's finding is evidence, not a recurrence.
    again = exceedance(0)
    repo.record_findings([Finding(again.type, again.source, again.pollutant, again.start,
                                  again.end, 1.7, {"daily_mean_ugm3": 128})],
                         T0 + timedelta(days=7))
    assert repo.get_case(case_id).status == "closed"  # type: ignore[union-attr]
    # The problem returns during the look-back: the same case reopens and counts it.
    [change] = repo.record_findings([exceedance(20)], T0 + timedelta(days=30))
    assert change.case_id == case_id and not change.opened
    reopened = repo.get_case(case_id)
    assert reopened is not None and reopened.status == "open"
    assert reopened.recurrence_count == 1 and reopened.finding_count == 2
    assert reopened.deadline == T0 + timedelta(days=40)

    trail = [(e.action, e.from_status, e.to_status, e.actor) for e in flow.events(case_id)]
    assert trail == [
        ("open", None, "open", "system"),
        ("assign", "open", "assigned", "inspector.li"),
        ("start", "assigned", "rectifying", "ent.wang"),
        ("submit", "rectifying", "submitted", "ent.wang"),
        ("reject", "submitted", "rectifying", "inspector.li"),
        ("submit", "rectifying", "submitted", "ent.wang"),
        ("verify", "submitted", "closed", "inspector.li"),
        ("reopen", "closed", "open", "system"),
    ]
    events = flow.events(case_id)
    assert events[1].changes == {"responsible_unit": "东城区生态环境局",
                                 "responsible_person": "王工"}
    assert events[3].attachments == ["photo-1.jpg"]
    assert events[3].changes == {"measures": "洒水降尘, 工地停工"}
    assert events[7].changes["recurrence_count"] == 1


def test_illegal_actions_are_refused_with_what_would_be_allowed(ledger) -> None:  # type: ignore[no-untyped-def]
    repo, flow = ledger
    [change] = repo.record_findings([exceedance(0)], T0)
    with pytest.raises(IllegalTransition, match="cannot verify a case that is open: verify "
                                                "needs a case that is submitted"):
        flow.act(change.case_id, "verify", actor="x", now=T0)
    with pytest.raises(IllegalTransition, match="unknown action 'approve'"):
        flow.act(change.case_id, "approve", actor="x", now=T0)
    with pytest.raises(ValueError, match="assign needs responsible_unit and responsible_person"):
        flow.act(change.case_id, "assign", actor="x", now=T0,
                 update=CaseUpdate(responsible_unit="unit"))
    with pytest.raises(CaseNotFound):
        flow.act(999, "start", actor="x", now=T0)
    assert [e.action for e in flow.events(change.case_id)] == ["open"]  # nothing half-done


def test_overdue_cases_escalate_level_by_level_and_watches_expire(ledger) -> None:  # type: ignore[no-untyped-def]
    repo, flow = ledger
    [first] = repo.record_findings([exceedance(0)], T0)
    [second] = repo.record_findings([exceedance(0, "Tiantan")], T0)
    assert flow.run_due(T0 + timedelta(days=9)) == []  # not yet overdue
    events = flow.run_due(T0 + timedelta(days=10, hours=1))
    assert sorted((e.case_id, e.changes["escalation_level"]) for e in events) == [
        (first.case_id, 1), (second.case_id, 1)]
    assert events[0].changes["notify"] == ["district"]
    assert flow.run_due(T0 + timedelta(days=11)) == []  # same level: nothing new
    # Tiantan is closed before level 2; Dongsi reaches it.
    for action in ("assign", "submit", "verify"):
        flow.act(second.case_id, action, actor="i", now=T0 + timedelta(days=12),
                 update=CaseUpdate(responsible_unit="u", responsible_person="p", measures="m"))
    events = flow.run_due(T0 + timedelta(days=18))
    assert [(e.case_id, e.action, e.changes["escalation_level"]) for e in events] == [
        (first.case_id, "escalate", 2)]
    # Tiantan's look-back ends 60 days after closing; after that a finding opens a new case.
    [ended] = flow.run_due(T0 + timedelta(days=73))
    assert (ended.case_id, ended.action) == (second.case_id, "watch_ended")
    [change] = repo.record_findings([exceedance(90, "Tiantan")], T0 + timedelta(days=80))
    assert change.opened and change.case_id != second.case_id


def test_inspectors_open_manual_cases_and_duplicates_are_refused(ledger) -> None:  # type: ignore[no-untyped-def]
    repo, flow = ledger
    case = flow.open_manual(source="工地-朝阳-17", source_kind="site", problem_type="dust",
                            title="施工扬尘 (complaint 12345)", origin="complaint",
                            actor="inspector.li", now=T0, district="Chaoyang",
                            note="群众来电", attachments=["call-12345.mp3"])
    assert case.deadline == T0 + timedelta(days=30) and case.origin == "complaint"
    [event] = flow.events(case.id)
    assert (event.action, event.actor, event.attachments) == ("open", "inspector.li",
                                                              ["call-12345.mp3"])
    with pytest.raises(CaseConflict, match="already has an active dust case"):
        flow.open_manual(source="工地-朝阳-17", source_kind="site", problem_type="dust",
                         title="again", origin="inspection", actor="x", now=T0)
    with pytest.raises(ValueError, match="origin of a manual case must be one of"):
        flow.open_manual(source="s", source_kind="site", problem_type="dust", title="t",
                         origin="finding", actor="x", now=T0)
    assert repo.list_cases(source="工地-朝阳-17")[1] == 1
