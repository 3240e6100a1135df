"""The ledger for people: exports (CSV, XLSX; Chinese or English headers) and campaign
statistics. Enterprise users get only their own enterprise's cases."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Response

from alerts.accounts import Principal
from alerts.case_models import Case
from alerts.ledger_export import ledger_csv, ledger_rows, ledger_xlsx
from alerts.ledger_stats import GroupBy, campaign_stats
from alerts.reduction_plans import plan_headers, plan_rows
from alerts.table_export import csv_bytes, xlsx_bytes
from api.auth import SignedIn
from api.case_titles import title_zh
from api.deps import AppContext, Context
from api.input_values import TextFilter
from api.schemas import CampaignPublic, TallyPublic

router = APIRouter(prefix="/api/ledger", tags=["ledger"])
When = Annotated[datetime | None, Query(description="ISO 8601 with offset")]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _scoped_cases(ctx: AppContext, who: Principal, opened_from: datetime | None,
                  opened_to: datetime | None, enterprise: str | None,
                  problem_type: str | None, district: str | None) -> list[Case]:
    for name, value in (("opened_from", opened_from), ("opened_to", opened_to)):
        if value is not None and value.tzinfo is None:
            raise HTTPException(422, f"{name} must carry a UTC offset, e.g. "
                                     "2026-11-01T00:00+08:00")
    if who.role == "enterprise":
        if enterprise not in (None, who.enterprise):
            raise HTTPException(403, f"user {who.name} sees only {who.enterprise}'s cases")
        enterprise = who.enterprise
    return ctx.cases.cases_in_scope(opened_from=opened_from, opened_to=opened_to,
                                    enterprise=enterprise, problem_type=problem_type,
                                    district=district)


@router.get("/export", summary="The ledger as CSV or XLSX (中文 or English headers)",
            response_class=Response,
            responses={200: {"content": {"text/csv": {}, XLSX: {}}}})
def export(ctx: Context, who: SignedIn,
           format: Annotated[Literal["csv", "xlsx"], Query()] = "xlsx",
           lang: Annotated[Literal["zh", "en"], Query()] = "zh",
           opened_from: When = None, opened_to: When = None, enterprise: TextFilter = None,
           problem_type: TextFilter = None, district: TextFilter = None) -> Response:
    cases = _scoped_cases(ctx, who, opened_from, opened_to, enterprise, problem_type, district)
    titles = None
    if lang == "zh":  # the Chinese titles the dashboard shows (api/case_titles.py)
        found = ctx.cases.pollutants_of([c.id for c in cases])
        titles = {c.id: title_zh(c, found.get(c.id, []), ctx.station_by_id, ctx.outlet_by_mn)
                  for c in cases}
    rows = ledger_rows(cases, datetime.now(UTC), ctx.tz, lang, titles)
    stamp = datetime.now(ctx.tz).strftime("%Y%m%d-%H%M")
    if format == "csv":
        body, media = ledger_csv(rows, lang), "text/csv; charset=utf-8"
    else:
        body, media = ledger_xlsx(rows, lang), XLSX
    return Response(body, media_type=media, headers={
        "Content-Disposition": f'attachment; filename="lantian-ledger-{stamp}.{format}"'})


@router.get("/campaign", response_model=CampaignPublic,
            summary="Campaign statistics: found, rectified, in progress, overdue, recurred")
def campaign(ctx: Context, who: SignedIn,
             by: Annotated[GroupBy, Query(description="how to group")] = "category",
             opened_from: When = None, opened_to: When = None, target_date: When = None,
             enterprise: TextFilter = None, problem_type: TextFilter = None,
             district: TextFilter = None) -> CampaignPublic:
    if target_date is not None and target_date.tzinfo is None:
        raise HTTPException(422, "target_date must carry a UTC offset")
    cases = _scoped_cases(ctx, who, opened_from, opened_to, enterprise, problem_type, district)
    stats = campaign_stats(cases, datetime.now(UTC), by, target_date)
    return CampaignPublic(
        opened_from=opened_from, opened_to=opened_to, target_date=target_date,
        days_left=None if stats.days_left is None else round(stats.days_left, 1), by=by,
        total=TallyPublic(**asdict(stats.total)),
        groups={k: TallyPublic(**asdict(v)) for k, v in stats.groups.items()})


plans_router = APIRouter(prefix="/api/reduction-plans", tags=["emergency"])


@plans_router.get("/export", summary="The emission-reduction list as CSV or XLSX",
                  response_class=Response,
                  responses={200: {"content": {"text/csv": {}, XLSX: {}}}})
def export_plans(ctx: Context, who: SignedIn,
                 format: Annotated[Literal["csv", "xlsx"], Query()] = "xlsx",
                 lang: Annotated[Literal["zh", "en"], Query()] = "zh") -> Response:
    outlets = [o for o in ctx.outlets.outlets
               if who.can_see_enterprise(o.enterprise)]
    headers, rows = plan_headers(lang), plan_rows(outlets, lang)
    if format == "csv":
        body, media = csv_bytes(headers, rows), "text/csv; charset=utf-8"
    else:
        body, media = xlsx_bytes(headers, rows, "应急减排清单" if lang == "zh"
                                 else "Reduction plans"), XLSX
    return Response(body, media_type=media, headers={
        "Content-Disposition": f'attachment; filename="lantian-reduction-plans.{format}"'})
