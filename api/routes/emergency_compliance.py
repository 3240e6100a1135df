"""The compliance report of an alert: which listed outlets cut their emissions as their plans
require, which did not, and which sent no data (JSON, CSV or XLSX). Enterprises see their own
outlets only."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Response

from alerts.reduction_audit import STATUSES, ComplianceReport
from alerts.table_export import csv_bytes, xlsx_bytes
from api.auth import SignedIn
from api.deps import Context
from api.input_values import RowId
from api.schemas import ComplianceOutletPublic, ComplianceReportPublic

router = APIRouter(prefix="/api/emergency/alerts", tags=["emergency"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEADERS = {
    "zh": ["排放口编码", "排放口", "企业", "结论", "应减排小时", "有数据小时", "未达标小时",
           "要求减排比例(%)", "问题"],
    "en": ["MN", "outlet", "enterprise", "status", "required hours", "hours with data",
           "hours over", "required cut (%)", "findings"],
}
STATUS_ZH = {"compliant": "已落实", "not_compliant": "未落实", "no_data": "无数据",
             "not_required": "无减排要求"}


@router.get("/{alert_id}/compliance", response_model=ComplianceReportPublic,
            summary="Did every listed outlet cut its emissions during this alert?",
            responses={200: {"content": {"text/csv": {}, XLSX: {}}}})
def compliance(alert_id: RowId, ctx: Context, who: SignedIn,
               format: Annotated[Literal["json", "csv", "xlsx"], Query()] = "json",
               lang: Annotated[Literal["zh", "en"], Query()] = "zh"
               ) -> ComplianceReportPublic | Response:
    try:
        report = ctx.compliance.report(alert_id)
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from None
    outlets = [o for o in report.outlets if who.can_see_enterprise(o.enterprise)]
    if format == "json":
        return _public(report, outlets, ctx)
    rows = [[o.mn, o.name, o.enterprise, STATUS_ZH[o.status] if lang == "zh" else o.status,
             o.required_hours, o.data_hours, o.over_hours,
             ", ".join(f"{level} {pct:g}" for level, pct in o.required_cut_pct.items()),
             "; ".join(f"{f.type} {f.pollutant}" for f in o.findings)] for o in outlets]
    name = f"lantian-alert-{alert_id}-compliance.{format}"
    if format == "csv":
        body, media = csv_bytes(HEADERS[lang], rows), "text/csv; charset=utf-8"
    else:
        body, media = xlsx_bytes(HEADERS[lang], rows, f"预警{alert_id}减排核查" if lang == "zh"
                                 else f"Alert {alert_id} compliance"), XLSX
    return Response(body, media_type=media,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _public(report: ComplianceReport, outlets: list, ctx: Context  # type: ignore[type-arg]
            ) -> ComplianceReportPublic:
    return ComplianceReportPublic(
        alert_id=report.alert_id, city=report.city, levels=report.levels,
        start=ctx.local(report.start), end=ctx.local(report.end), active=report.active,
        counts={s: sum(o.status == s for o in outlets) for s in STATUSES},
        outlets=[ComplianceOutletPublic(
            mn=o.mn, name=o.name, enterprise=o.enterprise, status=o.status,
            required_hours=o.required_hours, data_hours=o.data_hours, over_hours=o.over_hours,
            stopped_hours=o.stopped_hours, required_cut_pct=o.required_cut_pct,
            findings=[f.to_record(ctx.tz) for f in o.findings]) for o in outlets])
