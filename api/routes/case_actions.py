"""Changing cases: inspectors open manual cases and assign, verify, reject, escalate and reopen;
enterprises start, submit and comment on their own cases; everyone allowed to read a case reads
its audit trail. Every change needs a token."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException

from alerts.accounts import Principal
from alerts.case_lifecycle import IllegalTransition
from alerts.case_models import Case
from alerts.case_workflow import CaseConflict, CaseNotFound, CaseUpdate
from api.auth import Reader, SignedIn, require_role
from api.deps import AppContext, Context
from api.routes.cases import case_public
from api.schemas import (
    CaseActionIn,
    CaseEventPublic,
    CaseEventsPublic,
    CasePublic,
    ManualCaseIn,
)

router = APIRouter(prefix="/api/cases", tags=["cases"])
STAFF = ("admin", "inspector")
# Actions the responsible enterprise may take on its own cases; the rest are the bureau's.
ENTERPRISE_ACTIONS = frozenset({"start", "submit", "comment"})


def _visible_case(ctx: AppContext, case_id: int, who: Principal | None) -> Case:
    case = ctx.cases.get_case(case_id)
    if case is None or (who is not None and not who.can_see_enterprise(case.enterprise)):
        raise HTTPException(404, f"case {case_id} does not exist")
    return case


@router.post("", response_model=CasePublic, status_code=201,
             summary="Open a case from an inspection or a public complaint (inspectors)")
def open_case(body: ManualCaseIn, ctx: Context, who: SignedIn) -> CasePublic:
    require_role(who, STAFF, "open cases")
    try:
        case = ctx.workflow.open_manual(
            source=body.source, source_kind=body.source_kind, problem_type=body.problem_type,
            title=body.title, origin=body.origin, actor=who.name, now=datetime.now(UTC),
            note=body.note, category=body.category, district=body.district,
            enterprise=body.enterprise, attachments=body.attachments,
            deadline=body.deadline)
    except CaseConflict as exc:
        raise HTTPException(409, str(exc)) from None
    return case_public(case, ctx)


@router.post("/{case_id}/actions", response_model=CasePublic,
             summary="Take an action on a case: assign, start, submit, verify, reject, "
                     "escalate, reopen, comment")
def act(case_id: int, body: CaseActionIn, ctx: Context, who: SignedIn) -> CasePublic:
    case = _visible_case(ctx, case_id, who)
    if who.role == "viewer":
        raise HTTPException(403, f"user {who.name} (viewer) may not change cases")
    if who.role == "enterprise" and body.action not in ENTERPRISE_ACTIONS:
        raise HTTPException(403, f"user {who.name} (enterprise) may not {body.action} a case; "
                                 f"enterprises may {', '.join(sorted(ENTERPRISE_ACTIONS))}")
    update = CaseUpdate(responsible_unit=body.responsible_unit,
                        responsible_person=body.responsible_person,
                        deadline=body.deadline, measures=body.measures)
    try:
        changed = ctx.workflow.act(case.id, body.action, actor=who.name, now=datetime.now(UTC),
                                   note=body.note, attachments=body.attachments, update=update)
    except CaseNotFound as exc:
        raise HTTPException(404, str(exc)) from None
    except (IllegalTransition, CaseConflict) as exc:
        raise HTTPException(409, str(exc)) from None
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    return case_public(changed, ctx)


@router.get("/{case_id}/events", response_model=CaseEventsPublic,
            summary="A case's audit trail: every action, who, when, from, to, note")
def events(case_id: int, ctx: Context, who: Reader) -> CaseEventsPublic:
    _visible_case(ctx, case_id, who)
    data = [CaseEventPublic(id=e.id, at=ctx.local(e.at), actor=e.actor, action=e.action,
                            from_status=e.from_status, to_status=e.to_status, note=e.note,
                            attachments=e.attachments, changes=e.changes)
            for e in ctx.workflow.events(case_id)]
    return CaseEventsPublic(data=data, count=len(data))
