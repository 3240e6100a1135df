"""Findings → cases on both ledger backends: one open case per source and problem type."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from alerts.case_models import Case
from alerts.case_repository import CaseRepository
from analytics.findings import Finding

DAY = datetime(2016, 11, 30, 16, 0, tzinfo=UTC)  # local midnight of 2016-12-01
NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def exceedance(source: str, day: int, mean: float, pollutant: str = "pm25") -> Finding:
    start = DAY + timedelta(days=day)
    return Finding("exceedance", source, pollutant, start, start + timedelta(hours=23),
                   mean / 75, {"daily_mean_ugm3": mean, "limit_ugm3": 75})


def test_findings_open_one_case_per_source_and_type(ledger_sessions) -> None:  # type: ignore[no-untyped-def]
    repo = CaseRepository(ledger_sessions)
    changes = repo.record_findings(
        [exceedance("Dongsi", 0, 120), exceedance("Dongsi", 1, 150),
         exceedance("Dongsi", 1, 300, "pm10"), exceedance("Tiantan", 0, 90)], NOW)
    assert sorted((c.source, c.opened, c.new_findings) for c in changes) == [
        ("Dongsi", True, 3), ("Tiantan", True, 1)]
    cases, total = repo.list_cases()
    assert total == 2
    dongsi = repo.get_case(next(c.id for c in cases if c.source == "Dongsi"))
    assert dongsi is not None
    assert dongsi.finding_count == 3 and dongsi.status == "open"
    assert dongsi.first_start == DAY
    assert dongsi.last_end == DAY + timedelta(days=1, hours=23)
    assert dongsi.max_score == pytest.approx(4.0)
    assert dongsi.findings[0].evidence["daily_mean_ugm3"] == 120


def test_recording_again_is_idempotent_and_later_findings_extend(ledger_sessions) -> None:  # type: ignore[no-untyped-def]
    repo = CaseRepository(ledger_sessions)
    repo.record_findings([exceedance("Dongsi", 0, 120)], NOW)
    assert repo.record_findings([exceedance("Dongsi", 0, 120)], NOW) == []
    [update] = repo.record_findings([exceedance("Dongsi", 0, 130)], NOW + timedelta(hours=1))
    assert (update.opened, update.new_findings, update.updated_findings) == (False, 0, 1)
    [extend] = repo.record_findings([exceedance("Dongsi", 5, 200)], NOW + timedelta(days=5))
    assert (extend.opened, extend.new_findings) == (False, 1)
    cases, total = repo.list_cases()
    assert total == 1 and cases[0].finding_count == 2
    findings, count = repo.list_findings(source="Dongsi")
    assert count == 2 and findings[0].evidence["daily_mean_ugm3"] == 200
    assert findings[1].evidence["daily_mean_ugm3"] == 130


def test_the_database_refuses_a_second_open_case(ledger_sessions) -> None:  # type: ignore[no-untyped-def]
    repo = CaseRepository(ledger_sessions)
    repo.record_findings([exceedance("Dongsi", 0, 120)], NOW)
    with pytest.raises(IntegrityError), ledger_sessions.begin() as session:
        session.add(Case(source="Dongsi", problem_type="exceedance", open_key="Dongsi|exceedance",
                         title="dup", opened_at=NOW, updated_at=NOW, first_start=DAY,
                         last_end=DAY))


def test_two_workers_raising_the_same_findings_at_once_give_one_case(ledger_url: str) -> None:
    """Two analytics workers (own engines, own connections) record the same findings at the
    same moment, many times over: the unique open key leaves exactly one case."""
    import threading

    from alerts.ledger_db import create_schema, make_engine, make_session_factory

    engines = [make_engine(ledger_url) for _ in range(2)]
    create_schema(engines[0])
    repos = [CaseRepository(make_session_factory(e)) for e in engines]
    errors: list[BaseException] = []
    for day in range(8):
        barrier = threading.Barrier(2)
        findings = [exceedance(f"Race{day}", 0, 120), exceedance(f"Race{day}", 1, 130)]

        def work(repo: CaseRepository, findings: list[Finding] = findings,
                 barrier: threading.Barrier = barrier) -> None:
            try:
                barrier.wait(10)
                repo.record_findings(findings, NOW)
            except BaseException as exc:  # collected for the assertion below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(repo,)) for repo in repos]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert errors == []
    for day in range(8):
        cases, total = repos[0].list_cases(source=f"Race{day}")
        assert total == 1 and cases[0].finding_count == 2
    for engine in engines:
        engine.dispose()
