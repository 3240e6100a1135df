"""The daily bulletin as a printable HTML page (A4, no scripts from anywhere, zh or en); the
texts and the number formatting here are shared with the PDF so both say the same."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Literal

from analytics.hj633_tables import CATEGORY_BY_LEVEL
from api.daily_bulletin import CaseLine, DailyBulletin, DayAqi

Lang = Literal["zh", "en"]
POLLUTANT_NAMES = {"pm25": "PM2.5", "pm10": "PM10", "so2": "SO2", "no2": "NO2", "co": "CO",
                   "o3": "O3", "particulate": "颗粒物/PM", "nox": "NOx"}
TEXT: dict[str, dict[str, str]] = {
    "zh": {
        "title": "{city} 环境空气质量日报 {day}", "generated": "生成时间",
        "emergency": "重污染天气预警", "changes": "当日预警变化",
        "city_aqi": "全市日 AQI", "category": "类别", "primary": "首要污染物",
        "pm25": "PM2.5 日均值 (µg/m³)", "pm10": "PM10 日均值 (µg/m³)",
        "stations": "各站点日 AQI", "station": "站点", "district": "区",
        "over": "超标 (GB 3095 二级)", "exceedances": "当日超标", "source": "来源",
        "pollutant": "污染物", "start": "开始", "value": "数值", "limit": "限值",
        "opened": "当日新建案件", "closed": "当日销号案件", "case": "案件", "title_col": "标题",
        "type": "问题类型", "status": "状态", "none_rows": "无", "no_data": "无数据",
        "print": "打印", "time": "时间", "from": "原级别", "to": "新级别", "reason": "原因",
        "level_none": "无预警", "level_blue": "蓝色预警", "level_yellow": "黄色预警",
        "level_orange": "橙色预警", "level_red": "红色预警",
    },
    "en": {
        "title": "Daily air quality bulletin — {city}, {day}", "generated": "Generated",
        "emergency": "Heavy-pollution alert", "changes": "Alert changes that day",
        "city_aqi": "City daily AQI", "category": "Category", "primary": "Primary pollutant",
        "pm25": "PM2.5 daily mean (µg/m³)", "pm10": "PM10 daily mean (µg/m³)",
        "stations": "Daily AQI by station", "station": "Station", "district": "District",
        "over": "Over limit (GB 3095 Grade II)", "exceedances": "Exceedances that day",
        "source": "Source", "pollutant": "Pollutant", "start": "Start", "value": "Value",
        "limit": "Limit", "opened": "Cases opened that day", "closed": "Cases closed that day",
        "case": "Case", "title_col": "Title", "type": "Problem type", "status": "Status",
        "none_rows": "None", "no_data": "no data", "print": "Print", "time": "Time",
        "from": "From", "to": "To", "reason": "Reason",
        "level_none": "no alert", "level_blue": "blue alert", "level_yellow": "yellow alert",
        "level_orange": "orange alert", "level_red": "red alert",
    },
}
CSS = """
@page { size: A4; margin: 15mm; }
body { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", sans-serif;
       color: #111; max-width: 190mm; margin: 0 auto; font-size: 11pt; }
h1 { font-size: 16pt; } h2 { font-size: 12.5pt; margin-top: 1.2em; }
table { border-collapse: collapse; width: 100%; page-break-inside: auto; }
tr { page-break-inside: avoid; }
th, td { border: 1px solid #999; padding: 2px 6px; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.swatch { display: inline-block; width: 0.9em; height: 0.9em; border: 1px solid #555;
          vertical-align: middle; margin-right: 0.3em; }
.banner { padding: 4px 8px; border: 2px solid #333; font-weight: bold; }
.banner[data-level="blue"] { border-color: #1565c0; }
.banner[data-level="yellow"] { border-color: #f9a825; }
.banner[data-level="orange"] { border-color: #ef6c00; }
.banner[data-level="red"] { border-color: #c62828; }
.meta { color: #555; font-size: 9pt; }
@media print { .no-print { display: none; } }
"""


def number(value: float | None, decimals: int = 0) -> str:
    """A figure as printed: fixed decimals, "—" when missing."""
    return "—" if value is None else f"{value:.{decimals}f}"


def pollutants(names: Sequence[str]) -> str:
    return ", ".join(POLLUTANT_NAMES.get(n, n.upper()) for n in names) or "—"


def category(level: int | None, lang: Lang) -> tuple[str, str]:
    """(category name in `lang`, colour "#RRGGBB") of an AQI level; ("—", "") without one."""
    found = CATEGORY_BY_LEVEL.get(level) if level is not None else None
    if found is None:
        return "—", ""
    return (found.name_zh if lang == "zh" else found.name_en), found.colour_hex


def level_text(level: str, lang: Lang) -> str:
    return TEXT[lang].get(f"level_{level}", level)


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], empty: str,
           numeric: frozenset[int] = frozenset()) -> str:
    """`rows` are already-escaped cell HTML."""
    if not rows:
        return f"<p>{escape(empty)}</p>"
    header = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(
        f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>"
        for i, c in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>"


def _aqi_cells(day: DayAqi, lang: Lang) -> list[str]:
    name, colour = category(day.level, lang)
    swatch = f'<span class="swatch" style="background:{colour}"></span>' if colour else ""
    return [number(day.aqi), swatch + escape(name), escape(pollutants(day.primary)),
            number(day.pm25_mean), number(day.pm10_mean)]


def _case_rows(cases: Sequence[CaseLine], lang: Lang) -> list[list[str]]:
    return [[str(c.id), escape(c.title_zh if lang == "zh" else c.title), escape(c.source),
             escape(c.problem_type), escape(c.status)] for c in cases]


def render_html(bulletin: DailyBulletin, lang: Lang) -> str:
    """The whole page; every figure comes from `bulletin`, every text is escaped."""
    t = TEXT[lang]
    title = t["title"].format(city=bulletin.city, day=bulletin.day.isoformat())
    level = bulletin.emergency_level
    changes = _table([t["time"], t["from"], t["to"], t["reason"]], [
        [c.at.strftime("%H:%M"), escape(level_text(c.from_level, lang)),
         escape(level_text(c.to_level, lang)), escape(c.reason)]
        for c in bulletin.emergency_changes], t["none_rows"])
    city = _table([t["city_aqi"], t["category"], t["primary"], t["pm25"], t["pm10"]],
                  [_aqi_cells(bulletin.city_aqi, lang)], t["no_data"], frozenset({0, 3, 4}))
    stations = _table(
        [t["station"], t["district"], "AQI", t["category"], t["primary"], t["pm25"], t["pm10"],
         t["over"]],
        [[escape(f"{s.name} ({s.id})"), escape(s.district), *_aqi_cells(s, lang),
          escape(pollutants(s.over) if s.over else "")] for s in bulletin.stations],
        t["no_data"], frozenset({2, 5, 6}))
    exceedances = _table(
        [t["source"], t["pollutant"], t["start"], t["value"], t["limit"]],
        [[escape(e.source), escape(POLLUTANT_NAMES.get(e.pollutant, e.pollutant)),
          e.start.strftime("%Y-%m-%d %H:%M"), f"{number(e.value, 1)} {escape(e.unit)}",
          f"{number(e.limit, 1)} {escape(e.unit)}"] for e in bulletin.exceedances],
        t["none_rows"], frozenset({3, 4}))
    case_head = [t["case"], t["title_col"], t["source"], t["type"], t["status"]]
    return f"""<!DOCTYPE html>
<html lang="{'zh-CN' if lang == 'zh' else 'en'}"><head><meta charset="utf-8">
<title>{escape(title)}</title><style>{CSS}</style></head><body>
<h1>{escape(title)}</h1>
<p class="meta">{escape(t['generated'])}: {bulletin.generated_at.isoformat(timespec='seconds')}
 <button class="no-print" onclick="window.print()">{escape(t['print'])}</button></p>
<p class="banner" data-level="{escape(level)}">{escape(t['emergency'])}:
 {escape(level_text(level, lang))}</p>
<h2>{escape(t['changes'])}</h2>{changes}
<h2>{escape(t['city_aqi'])}</h2>{city}
<h2>{escape(t['stations'])}</h2>{stations}
<h2>{escape(t['exceedances'])}</h2>{exceedances}
<h2>{escape(t['opened'])}</h2>{_table(case_head, _case_rows(bulletin.opened, lang), t['none_rows'])}
<h2>{escape(t['closed'])}</h2>{_table(case_head, _case_rows(bulletin.closed, lang), t['none_rows'])}
</body></html>
"""
