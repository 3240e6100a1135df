"""The ledger (台账) as a table for people: CSV and XLSX with Chinese or English headers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, tzinfo
from typing import Literal

from alerts.case_lifecycle import ACTIVE
from alerts.case_models import Case
from alerts.table_export import csv_bytes, xlsx_bytes

Language = Literal["zh", "en"]
# (key, Chinese header, English header)
COLUMNS = (
    ("id", "编号", "Case"), ("title", "问题", "Problem"), ("source", "点位/排口", "Source"),
    ("source_kind", "对象类型", "Source kind"), ("enterprise", "企业", "Enterprise"),
    ("district", "区县", "District"), ("grid", "网格", "Grid"), ("category", "类别", "Category"),
    ("problem_type", "问题类型", "Problem type"), ("origin", "来源", "Origin"),
    ("status", "状态", "Status"), ("responsible_unit", "责任单位", "Responsible unit"),
    ("responsible_person", "责任人", "Responsible person"), ("deadline", "整改时限", "Deadline"),
    ("overdue", "是否超期", "Overdue"), ("escalation_level", "督办级别", "Supervision level"),
    ("opened_at", "发现时间", "Opened"), ("closed_at", "销号时间", "Closed"),
    ("recurrence_count", "复发次数", "Recurrences"), ("finding_count", "证据条数", "Findings"),
    ("measures", "整改措施", "Measures"),
)
STATUS_ZH = {"open": "待交办", "assigned": "已交办", "rectifying": "整改中",
             "submitted": "待核查", "closed": "已销号"}
ORIGIN_ZH = {"finding": "自动发现", "inspection": "现场检查", "complaint": "信访投诉"}
YES_NO = {"zh": ("是", "否"), "en": ("yes", "no")}


def ledger_rows(cases: Sequence[Case], now: datetime, tz: tzinfo, lang: Language,
                titles: Mapping[int, str] | None = None) -> list[list[object]]:
    """One row per case in COLUMNS order; times in the bureau's local time, minutes.
    `titles` by case id replace the stored ones (the API's Chinese titles)."""
    def when(value: datetime | None) -> str:
        return value.astimezone(tz).strftime("%Y-%m-%d %H:%M") if value else ""

    rows = []
    for case in cases:
        overdue = (case.status in ACTIVE and case.deadline is not None and case.deadline < now)
        values = {
            "id": case.id, "title": (titles or {}).get(case.id, case.title),
            "source": case.source,
            "source_kind": case.source_kind, "enterprise": case.enterprise or "",
            "district": case.district, "grid": case.grid,
            "category": case.category or case.problem_type,
            "problem_type": case.problem_type,
            "origin": ORIGIN_ZH.get(case.origin, case.origin) if lang == "zh" else case.origin,
            "status": STATUS_ZH.get(case.status, case.status) if lang == "zh" else case.status,
            "responsible_unit": case.responsible_unit or "",
            "responsible_person": case.responsible_person or "",
            "deadline": when(case.deadline),
            "overdue": YES_NO[lang][0 if overdue else 1],
            "escalation_level": case.escalation_level, "opened_at": when(case.opened_at),
            "closed_at": when(case.closed_at), "recurrence_count": case.recurrence_count,
            "finding_count": case.finding_count, "measures": case.measures or "",
        }
        rows.append([values[key] for key, _, _ in COLUMNS])
    return rows


def headers(lang: Language) -> list[str]:
    return [zh if lang == "zh" else en for _, zh, en in COLUMNS]


def ledger_csv(rows: Sequence[Sequence[object]], lang: Language) -> bytes:
    return csv_bytes(headers(lang), rows)


def ledger_xlsx(rows: Sequence[Sequence[object]], lang: Language) -> bytes:
    widths = [40 if key in ("title", "measures") else 16 for key, _, _ in COLUMNS]
    return xlsx_bytes(headers(lang), rows, "台账" if lang == "zh" else "Ledger", widths)
