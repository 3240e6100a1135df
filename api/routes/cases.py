"""Cases and findings from the ledger."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from alerts.case_lifecycle import STATUSES
from alerts.case_models import Case, FindingRecord
from analytics.findings import FINDING_TYPES
from api.auth import SignedIn, can_see_source
from api.case_titles import title_zh
from api.deps import AppContext, Context
from api.input_values import Offset, RowId, TextFilter
from api.schemas import CaseDetail, CasePublic, CasesPublic, FindingPublic, FindingsPublic

router = APIRouter(prefix="/api", tags=["cases"])
Limit = Annotated[int, Query(ge=1, le=1000)]


def finding_public(record: FindingRecord, ctx: AppContext) -> FindingPublic:
    return FindingPublic(
        id=record.id, case_id=record.case_id, type=record.type, source=record.source,
        pollutant=record.pollutant, start=ctx.local(record.start), end=ctx.local(record.end),
        score=record.score, evidence=record.evidence, detected_at=ctx.local(record.detected_at),
    )


def case_public(case: Case, ctx: AppContext, pollutants: list[str] | None = None) -> CasePublic:
    """The case as the API shows it; `pollutants` of its findings, looked up when not given."""
    if pollutants is None:
        pollutants = ctx.cases.pollutants_of([case.id]).get(case.id, [])
    return CasePublic(
        id=case.id, source=case.source, source_kind=case.source_kind,
        problem_type=case.problem_type, status=case.status, title=case.title,
        title_zh=title_zh(case, pollutants, ctx.station_by_id, ctx.outlet_by_mn),
        pollutants=pollutants,
        opened_at=ctx.local(case.opened_at), updated_at=ctx.local(case.updated_at),
        closed_at=ctx.local(case.closed_at) if case.closed_at else None,
        finding_count=case.finding_count, first_start=ctx.local(case.first_start),
        last_end=ctx.local(case.last_end), max_score=case.max_score, origin=case.origin,
        category=case.category, district=case.district, grid=case.grid,
        enterprise=case.enterprise,
        responsible_unit=case.responsible_unit, responsible_person=case.responsible_person,
        measures=case.measures,
        deadline=ctx.local(case.deadline) if case.deadline else None,
        escalation_level=case.escalation_level,
        watch_until=ctx.local(case.watch_until) if case.watch_until else None,
        recurrence_count=case.recurrence_count,
    )


def _check_type(value: str | None) -> None:
    if value is not None and value not in FINDING_TYPES:
        raise HTTPException(422, f"unknown type {value!r}; one of {sorted(FINDING_TYPES)}")


@router.get("/cases", response_model=CasesPublic, summary="Cases, most recently changed first")
def list_cases(ctx: Context, who: SignedIn, status: TextFilter = None,
               source: TextFilter = None, type: TextFilter = None,
               enterprise: TextFilter = None, limit: Limit = 100,
               offset: Offset = 0) -> CasesPublic:
    if status is not None and status not in STATUSES:
        raise HTTPException(422, f"unknown status {status!r}; one of {list(STATUSES)}")
    if who.role == "enterprise":
        if enterprise not in (None, who.enterprise):
            raise HTTPException(403, f"user {who.name} sees only {who.enterprise}'s cases")
        enterprise = who.enterprise
    cases, total = ctx.cases.list_cases(status=status, source=source, problem_type=type,
                                        enterprise=enterprise, limit=limit, offset=offset)
    pollutants = ctx.cases.pollutants_of([c.id for c in cases])
    return CasesPublic(data=[case_public(c, ctx, pollutants.get(c.id, [])) for c in cases],
                       count=total)


@router.get("/cases/{case_id}", response_model=CaseDetail, summary="One case with its evidence")
def get_case(case_id: RowId, ctx: Context, who: SignedIn) -> CaseDetail:
    case = ctx.cases.get_case(case_id)
    if case is None or not who.can_see_enterprise(case.enterprise):
        raise HTTPException(404, f"case {case_id} does not exist")
    pollutants = sorted({f.pollutant for f in case.findings})
    return CaseDetail(**case_public(case, ctx, pollutants).model_dump(),
                      findings=[finding_public(f, ctx) for f in case.findings])


@router.get("/findings", response_model=FindingsPublic, summary="Findings, newest period first")
def list_findings(ctx: Context, who: SignedIn, source: TextFilter = None,
                  type: TextFilter = None, limit: Limit = 100,
                  offset: Offset = 0) -> FindingsPublic:
    _check_type(type)
    if who.role == "enterprise" and (source is None
                                     or not can_see_source(who, ctx.outlets, source)):
        raise HTTPException(403, f"user {who.name} lists findings of one of "
                                 f"{who.enterprise}'s outlets: give source=<its MN>")
    findings, total = ctx.cases.list_findings(source=source, finding_type=type, limit=limit,
                                              offset=offset)
    return FindingsPublic(data=[finding_public(f, ctx) for f in findings], count=total)
