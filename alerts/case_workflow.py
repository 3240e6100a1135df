"""Moving cases through their lifecycle, with an append-only audit trail.

Every change to a case goes through here and writes one CaseEvent in the same transaction: who,
when, from which status to which, the note, attachments and the fields changed. The clock is
passed in, so deadlines, escalation and look-back expiry are driven by tests without sleeping.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker, undefer

from alerts.case_lifecycle import ACTIVE, CLOSED, OPEN, next_status
from alerts.case_models import ORIGINS, Attachment, Case, CaseEvent
from config.settings import CaseSettings

SYSTEM = "system"


class CaseNotFound(LookupError):
    """No case with that id."""


class CaseConflict(ValueError):
    """The change is legal for the case but clashes with the ledger (e.g. another active case
    for the same source and problem)."""


def open_key(source: str, problem_type: str) -> str:
    return f"{source}|{problem_type}"


@dataclass(frozen=True, slots=True)
class CaseUpdate:
    """Fields an action may set; None leaves a field as it is."""

    responsible_unit: str | None = None
    responsible_person: str | None = None
    deadline: datetime | None = None
    measures: str | None = None


def deadline_for(policy: CaseSettings, problem_type: str, start: datetime) -> datetime:
    days = policy.deadline_days.get(problem_type, policy.deadline_days["default"])
    return start + timedelta(days=days)


def add_event(session: Session, case: Case, *, at: datetime, actor: str, action: str,
              from_status: str | None, note: str = "", attachments: Sequence[Any] = (),
              changes: dict[str, Any] | None = None) -> CaseEvent:
    event = CaseEvent(case_id=case.id, at=at, actor=actor, action=action,
                      from_status=from_status, to_status=case.status, note=note,
                      attachments=list(attachments), changes=changes or {})
    session.add(event)
    return event


def _iso(value: object) -> object:
    return value.isoformat() if isinstance(value, datetime) else value


def reopen(session: Session, case: Case, *, at: datetime, actor: str, note: str,
           recurrence: bool, policy: CaseSettings) -> None:
    """Back to open: the case takes its source's open key again (IntegrityError if another
    active case holds it), gets a new deadline, and counts the recurrence."""
    previous = case.status
    case.status = next_status(case.status, "reopen")
    case.open_key = open_key(case.source, case.problem_type)
    case.closed_at = None
    case.watch_until = None
    case.escalation_level = 0
    case.deadline = deadline_for(policy, case.problem_type, at)
    if recurrence:
        case.recurrence_count += 1
    case.updated_at = at
    session.flush()
    add_event(session, case, at=at, actor=actor, action="reopen", from_status=previous,
              note=note, changes={"recurrence_count": case.recurrence_count,
                                  "deadline": case.deadline.isoformat()})


class CaseWorkflow:
    """Actions on cases by people, manual cases, and the time-driven work."""

    def __init__(self, sessions: sessionmaker, policy: CaseSettings | None = None) -> None:
        self._sessions = sessions
        self.policy = policy or CaseSettings()

    def open_manual(self, *, source: str, source_kind: str, problem_type: str, title: str,
                    origin: str, actor: str, now: datetime, note: str = "",
                    category: str = "", district: str = "", grid: str = "",
                    enterprise: str | None = None,
                    attachments: Sequence[Any] = (), deadline: datetime | None = None) -> Case:
        """An inspector's case from an inspection or a public complaint (信访)."""
        manual = [o for o in ORIGINS if o != "finding"]
        if origin not in manual:
            raise ValueError(f"origin of a manual case must be one of {', '.join(manual)}, "
                             f"not {origin!r}")
        try:
            with self._sessions.begin() as session:
                case = Case(source=source, source_kind=source_kind, problem_type=problem_type,
                            status=OPEN, open_key=open_key(source, problem_type),
                            title=title[:300], opened_at=now, updated_at=now, finding_count=0,
                            first_start=now, last_end=now, max_score=0.0, origin=origin,
                            category=category, district=district, grid=grid,
                            enterprise=enterprise,
                            deadline=deadline or deadline_for(self.policy, problem_type, now),
                            escalation_level=0, recurrence_count=0)
                session.add(case)
                session.flush()
                add_event(session, case, at=now, actor=actor, action="open", from_status=None,
                          note=note, attachments=attachments,
                          changes={"origin": origin, "deadline": case.deadline.isoformat()})
                session.flush()
                session.expunge(case)
                return case
        except IntegrityError:
            raise CaseConflict(f"{source} already has an active {problem_type} case; add to "
                               "it instead of opening another") from None

    def act(self, case_id: int, action: str, *, actor: str, now: datetime, note: str = "",
            attachments: Sequence[Any] = (), update: CaseUpdate = CaseUpdate()) -> Case:
        """Apply one action; IllegalTransition when the status does not allow it,
        ValueError when required fields are missing."""
        try:
            with self._sessions.begin() as session:
                case = session.scalar(select(Case).where(Case.id == case_id).with_for_update())
                if case is None:
                    raise CaseNotFound(f"case {case_id} does not exist")
                if action == "reopen":
                    reopen(session, case, at=now, actor=actor, note=note, recurrence=False,
                           policy=self.policy)
                else:
                    self._apply(session, case, action, actor, now, note, attachments, update)
                session.flush()
                session.expunge(case)
                return case
        except IntegrityError:
            raise CaseConflict(f"cannot {action} case {case_id}: another active case exists "
                               "for the same source and problem") from None

    def _apply(self, session: Session, case: Case, action: str, actor: str, now: datetime,
               note: str, attachments: Sequence[Any], update: CaseUpdate) -> None:
        previous = case.status
        target = next_status(case.status, action)
        changes: dict[str, Any] = {}
        if action == "assign":
            unit = update.responsible_unit or case.responsible_unit
            person = update.responsible_person or case.responsible_person
            if not unit or not person:
                raise ValueError("assign needs responsible_unit and responsible_person")
            changes.update(responsible_unit=unit, responsible_person=person)
            if update.deadline is not None:
                changes["deadline"] = update.deadline
        elif action == "submit":
            measures = update.measures or case.measures
            if not measures:
                raise ValueError("submit needs the measures taken (measures)")
            changes["measures"] = measures
        elif action == "reject" and not note:
            raise ValueError("reject needs a note saying what is insufficient")
        elif action == "escalate":
            changes["escalation_level"] = case.escalation_level + 1
        elif action == "verify":
            changes.update(closed_at=now,
                           watch_until=now + timedelta(days=self.policy.lookback_days))
        for field, value in changes.items():
            setattr(case, field, value)
        case.status = target
        if target == CLOSED:
            case.open_key = None
        case.updated_at = now
        add_event(session, case, at=now, actor=actor, action=action, from_status=previous,
                  note=note, attachments=attachments,
                  changes={k: _iso(v) for k, v in changes.items()})

    def add_attachment(self, case_id: int, *, filename: str, content_type: str, data: bytes,
                       actor: str, now: datetime, note: str = "") -> Attachment:
        """Store an evidence file; the upload itself is an event of the audit trail."""
        digest = hashlib.sha256(data).hexdigest()
        with self._sessions.begin() as session:
            case = session.scalar(select(Case).where(Case.id == case_id).with_for_update())
            if case is None:
                raise CaseNotFound(f"case {case_id} does not exist")
            attachment = Attachment(case_id=case_id, filename=filename,
                                    content_type=content_type, size=len(data), sha256=digest,
                                    uploaded_by=actor, uploaded_at=now, data=data)
            session.add(attachment)
            session.flush()
            case.updated_at = now
            add_event(session, case, at=now, actor=actor, action="upload",
                      from_status=case.status, note=note,
                      attachments=[{"id": attachment.id, "filename": filename,
                                    "size": len(data), "sha256": digest}])
            session.flush()
            session.expunge(attachment)
            return attachment

    def attachments(self, case_id: int) -> list[Attachment]:
        with self._sessions() as session:
            return list(session.scalars(select(Attachment).where(Attachment.case_id == case_id)
                                        .order_by(Attachment.id)))

    def attachment_data(self, case_id: int, attachment_id: int) -> tuple[Attachment, bytes]:
        with self._sessions() as session:
            attachment = session.scalar(select(Attachment).where(
                Attachment.id == attachment_id, Attachment.case_id == case_id)
                .options(undefer(Attachment.data)))
            if attachment is None:
                raise CaseNotFound(f"case {case_id} has no attachment {attachment_id}")
            data = bytes(attachment.data)
            session.expunge(attachment)
            return attachment, data

    def events(self, case_id: int) -> list[CaseEvent]:
        with self._sessions() as session:
            return list(session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id)
                                        .order_by(CaseEvent.at, CaseEvent.id)))

    def run_due(self, now: datetime) -> list[CaseEvent]:
        """The scheduler's work at `now`: escalate overdue active cases to the level their
        overdue days reach (one event per level), end look-back watches that ran out."""
        levels = self.policy.escalation
        done: list[CaseEvent] = []
        with self._sessions.begin() as session:
            overdue = session.scalars(select(Case).where(
                Case.status.in_(sorted(ACTIVE)), Case.deadline.is_not(None),
                Case.deadline < now).with_for_update()).all()
            for case in overdue:
                assert case.deadline is not None
                days = (now - case.deadline).total_seconds() / 86400
                reached = sum(1 for level in levels if days >= level.after_overdue_days)
                while case.escalation_level < reached:
                    level = levels[case.escalation_level]
                    case.escalation_level += 1
                    case.updated_at = now
                    done.append(add_event(
                        session, case, at=now, actor=SYSTEM, action="escalate",
                        from_status=case.status,
                        note=f"{days:.1f} days past the deadline: supervision level "
                             f"{case.escalation_level}",
                        changes={"escalation_level": case.escalation_level,
                                 "notify": list(level.notify)}))
            expired = session.scalars(select(Case).where(
                Case.status == CLOSED, Case.watch_until.is_not(None),
                Case.watch_until <= now).with_for_update()).all()
            for case in expired:
                case.watch_until = None
                case.updated_at = now
                done.append(add_event(session, case, at=now, actor=SYSTEM,
                                      action="watch_ended", from_status=CLOSED,
                                      note="look-back period ended without recurrence"))
            session.flush()
            for event in done:
                session.expunge(event)
        return done

