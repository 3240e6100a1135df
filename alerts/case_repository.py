"""The case repository: findings in, deduplicated cases out (one open case per source and type)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from alerts.case_lifecycle import CLOSED, OPEN
from alerts.case_models import Case, FindingRecord
from alerts.case_workflow import SYSTEM, add_event, deadline_for, open_key, reopen
from analytics.findings import Finding
from config.settings import CaseSettings

_TITLES = {
    "exceedance": "{source}: daily mean above the GB 3095 Grade II limit",
}


@dataclass(frozen=True, slots=True)
class CaseChange:
    """What recording findings did to one case: opened it, or added/updated evidence."""

    case_id: int
    source: str
    problem_type: str
    opened: bool
    new_findings: int
    updated_findings: int


class CaseRepository:
    """Stores findings and keeps the cases they belong to. Safe to call repeatedly with the same
    findings: a finding is identified by (type, source, pollutant, start)."""

    def __init__(self, sessions: sessionmaker, policy: CaseSettings | None = None) -> None:
        self._sessions = sessions
        self.policy = policy or CaseSettings()

    def record_findings(self, findings: Sequence[Finding], now: datetime, *,
                        source_kind: str = "station",
                        title_of: Callable[[Finding], str] | None = None,
                        enterprise_of: Callable[[Finding], str | None] | None = None
                        ) -> list[CaseChange]:
        """Attach each finding to its source's open case of that type, opening one if needed.

        A new case gets `source_kind` ("station" or "outlet"), the title `title_of` gives
        for its first finding (default: a title by finding type) and the enterprise
        `enterprise_of` gives (outlets: whose users may see and answer it).
        """
        by_key: dict[str, list[Finding]] = {}
        for finding in findings:
            by_key.setdefault(open_key(finding.source, finding.type), []).append(finding)
        changes = []
        for key, group in sorted(by_key.items()):
            for attempt in range(2):
                try:
                    with self._sessions.begin() as session:
                        change = self._record_group(session, key, group, now, source_kind,
                                                    title_of, enterprise_of)
                    break
                except IntegrityError:
                    # Another writer opened the same case concurrently: retry once, it exists now.
                    if attempt:
                        raise
            if change is not None:
                changes.append(change)
        return changes

    def _record_group(self, session: Session, key: str, group: list[Finding], now: datetime,
                      source_kind: str, title_of: Callable[[Finding], str] | None,
                      enterprise_of: Callable[[Finding], str | None] | None = None
                      ) -> CaseChange | None:
        first = group[0]
        case = session.scalar(select(Case).where(Case.open_key == key))
        if case is None:
            case = self._watched_case(session, first, now)
        opened = case is None
        new = updated = 0
        pending: list[FindingRecord] = []
        fresh: list[FindingRecord] = []
        for finding in group:
            record = session.scalar(select(FindingRecord).where(
                FindingRecord.type == finding.type, FindingRecord.source == finding.source,
                FindingRecord.pollutant == finding.pollutant, FindingRecord.start == finding.start,
            ))
            if record is None:
                record = FindingRecord(
                    type=finding.type, source=finding.source, pollutant=finding.pollutant,
                    start=finding.start, end=finding.end, score=float(finding.score),
                    evidence=finding.evidence, detected_at=now,
                )
                session.add(record)
                pending.append(record)
                fresh.append(record)
                new += 1
            elif record.evidence != finding.evidence or record.end != finding.end:
                record.end, record.score = finding.end, float(finding.score)
                record.evidence = finding.evidence
                updated += 1
                if record.case_id is None or (case is not None and record.case_id == case.id):
                    pending.append(record)
                if record.case_id is None:
                    fresh.append(record)
        if new == 0 and updated == 0:
            return None
        if case is not None and case.status == CLOSED:
            recurred = [r for r in fresh if r.start > case.last_end]
            if not recurred:
                # Late or re-judged findings of the problem that was closed: evidence only.
                for record in pending:
                    record.case_id = case.id
                return None
            # 死灰复燃: the problem came back while the closed case was under look-back watch.
            reopen(session, case, at=now, actor=SYSTEM, recurrence=True, policy=self.policy,
                   note=f"recurrence: {len(recurred)} new finding(s) from "
                        f"{min(r.start for r in recurred).isoformat()}")
        if case is None and not fresh:
            return None  # only re-judged findings of a case closed earlier: nothing to open
        if case is None:
            title = title_of(first) if title_of is not None else _TITLES.get(
                first.type, "{source}: {type}").format(
                    source=first.source, pollutant=first.pollutant, type=first.type)
            case = Case(
                source=first.source, source_kind=source_kind, problem_type=first.type,
                status=OPEN, open_key=key, title=title[:300],
                opened_at=now, updated_at=now, finding_count=0,
                first_start=min(f.start for f in group), last_end=max(f.end for f in group),
                max_score=0.0, origin="finding", category="", grid="",
                enterprise=enterprise_of(first) if enterprise_of is not None else None,
                deadline=deadline_for(self.policy, first.type, now), escalation_level=0,
                recurrence_count=0,
            )
            session.add(case)
            session.flush()
            add_event(session, case, at=now, actor=SYSTEM, action="open", from_status=None,
                      note=f"opened by {len(group)} finding(s)",
                      changes={"deadline": case.deadline.isoformat()})
        for record in pending:
            record.case_id = case.id
        session.flush()
        self._refresh_summary(session, case, now)
        return CaseChange(case.id, case.source, case.problem_type, opened, new, updated)

    @staticmethod
    def _watched_case(session: Session, finding: Finding, now: datetime) -> Case | None:
        """The newest closed case of this source and problem still under look-back watch."""
        return session.scalar(
            select(Case).where(Case.source == finding.source, Case.problem_type == finding.type,
                               Case.status == CLOSED, Case.watch_until.is_not(None),
                               Case.watch_until > now)
            .order_by(Case.closed_at.desc()).limit(1))

    @staticmethod
    def _refresh_summary(session: Session, case: Case, now: datetime) -> None:
        count, first_start, last_end, max_score = session.execute(
            select(func.count(FindingRecord.id), func.min(FindingRecord.start),
                   func.max(FindingRecord.end), func.max(FindingRecord.score))
            .where(FindingRecord.case_id == case.id)
        ).one()
        case.finding_count = int(count)
        case.first_start, case.last_end = first_start, last_end
        case.max_score = float(max_score or 0.0)
        case.updated_at = now

    # -- reading ----------------------------------------------------------------------------
    def list_cases(self, *, status: str | None = None, source: str | None = None,
                   problem_type: str | None = None, enterprise: str | None = None,
                   limit: int = 100, offset: int = 0) -> tuple[list[Case], int]:
        query, count = select(Case), select(func.count(Case.id))
        for column, value in ((Case.status, status), (Case.source, source),
                              (Case.problem_type, problem_type), (Case.enterprise, enterprise)):
            if value is not None:
                query, count = query.where(column == value), count.where(column == value)
        with self._sessions() as session:
            rows = session.scalars(query.order_by(Case.updated_at.desc(), Case.id.desc())
                                   .limit(limit).offset(offset)).all()
            return list(rows), int(session.scalar(count) or 0)

    def cases_in_scope(self, *, opened_from: datetime | None = None,
                       opened_to: datetime | None = None, enterprise: str | None = None,
                       problem_type: str | None = None, district: str | None = None,
                       limit: int = 100_000) -> list[Case]:
        """Cases opened in [opened_from, opened_to), for exports and campaign statistics."""
        query = select(Case)
        if opened_from is not None:
            query = query.where(Case.opened_at >= opened_from)
        if opened_to is not None:
            query = query.where(Case.opened_at < opened_to)
        for column, value in ((Case.enterprise, enterprise), (Case.problem_type, problem_type),
                              (Case.district, district)):
            if value is not None:
                query = query.where(column == value)
        with self._sessions() as session:
            return list(session.scalars(query.order_by(Case.id).limit(limit)))

    def pollutants_of(self, case_ids: Sequence[int]) -> dict[int, list[str]]:
        """The distinct pollutants of each case's findings, sorted (one query for a page)."""
        if not case_ids:
            return {}
        with self._sessions() as session:
            rows = session.execute(
                select(FindingRecord.case_id, FindingRecord.pollutant).distinct()
                .where(FindingRecord.case_id.in_(list(case_ids)))).all()
        found: dict[int, list[str]] = {}
        for case_id, pollutant in sorted(rows, key=lambda r: (r[0], r[1])):
            found.setdefault(case_id, []).append(pollutant)
        return found

    def get_case(self, case_id: int) -> Case | None:
        with self._sessions() as session:
            return session.scalar(select(Case).where(Case.id == case_id)
                                  .options(selectinload(Case.findings)))

    def get_finding(self, finding_id: int) -> FindingRecord | None:
        with self._sessions() as session:
            return session.get(FindingRecord, finding_id)

    def list_findings(self, *, source: str | None = None, finding_type: str | None = None,
                      limit: int = 100, offset: int = 0) -> tuple[list[FindingRecord], int]:
        query, count = select(FindingRecord), select(func.count(FindingRecord.id))
        for column, value in ((FindingRecord.source, source), (FindingRecord.type, finding_type)):
            if value is not None:
                query, count = query.where(column == value), count.where(column == value)
        with self._sessions() as session:
            rows = session.scalars(query.order_by(FindingRecord.start.desc(),
                                                  FindingRecord.id.desc())
                                   .limit(limit).offset(offset)).all()
            return list(rows), int(session.scalar(count) or 0)
