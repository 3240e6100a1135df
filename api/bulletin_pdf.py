"""The daily bulletin as a PDF (A4, reportlab), the same figures and texts as the HTML page.

Chinese is set in reportlab's built-in CID font STSong-Light: the PDF names the font and the
viewer supplies it (Adobe's Chinese font pack or its substitute), so no font file is shipped
or embedded."""

from __future__ import annotations

import io
from collections.abc import Sequence
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from api.bulletin_html import (
    POLLUTANT_NAMES,
    TEXT,
    Lang,
    category,
    level_text,
    number,
    pollutants,
)
from api.daily_bulletin import CaseLine, DailyBulletin, DayAqi

FONT = "STSong-Light"
WHITE_TEXT_FROM_LEVEL = 4  # red, purple and maroon categories: white text is the legible one


def _text(value: str) -> str:
    """`value` escaped for a Paragraph, in glyphs the CID font has: GB 2312 has the Greek μ
    but not the micro sign µ, and no ³ (drawn as a superscript 3); they printed as boxes."""
    return escape(value.replace("µ", "μ")).replace("³", "<super>3</super>")


def _font() -> str:
    """Register the CID font once per process (reportlab keeps a global registry)."""
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    return FONT


def _styles(lang: Lang) -> dict[str, ParagraphStyle]:
    font, wrap = _font(), ("CJK" if lang == "zh" else None)
    body = ParagraphStyle("body", fontName=font, fontSize=9, leading=12, wordWrap=wrap)
    return {"body": body,
            "h1": ParagraphStyle("h1", parent=body, fontSize=15, leading=20, spaceAfter=6),
            "h2": ParagraphStyle("h2", parent=body, fontSize=11.5, leading=15, spaceBefore=8,
                                 spaceAfter=4),
            "meta": ParagraphStyle("meta", parent=body, fontSize=8, textColor=colors.grey)}


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], styles: dict[str, ParagraphStyle],
           empty: str, widths: Sequence[float] | None = None,
           shading: Sequence[tuple[int, int, str, int | None]] = ()) -> Flowable:
    """Cells as paragraphs (they wrap); `shading` (column, row, colour, level) colours a cell
    by AQI category; an empty table is the word for "none"."""
    if not rows:
        return Paragraph(_text(empty), styles["body"])
    cell = styles["body"]
    data = [[Paragraph(_text(h), cell) for h in head],
            *[[Paragraph(_text(c), cell) for c in row] for row in rows]]
    style = [("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
             ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
             ("VALIGN", (0, 0), (-1, -1), "MIDDLE")]
    for column, row, colour, level in shading:
        style.append(("BACKGROUND", (column, row + 1), (column, row + 1),
                      colors.HexColor(colour)))
        if level is not None and level >= WHITE_TEXT_FROM_LEVEL:
            data[row + 1][column] = Paragraph(
                f'<font color="white">{_text(rows[row][column])}</font>', cell)
    table = Table(data, colWidths=widths, repeatRows=1)
    table.setStyle(TableStyle(style))
    return table


def _aqi_row(day: DayAqi, lang: Lang) -> list[str]:
    return [number(day.aqi), category(day.level, lang)[0], pollutants(day.primary),
            number(day.pm25_mean), number(day.pm10_mean)]


def _shade(days: Sequence[DayAqi], column: int, lang: Lang
           ) -> list[tuple[int, int, str, int | None]]:
    return [(column, i, colour, d.level) for i, d in enumerate(days)
            if (colour := category(d.level, lang)[1])]


def _case_rows(cases: Sequence[CaseLine], lang: Lang) -> list[list[str]]:
    return [[str(c.id), c.title_zh if lang == "zh" else c.title, c.source, c.problem_type,
             c.status] for c in cases]


def render_pdf(bulletin: DailyBulletin, lang: Lang, *, compress: bool = True) -> bytes:
    """The bulletin as PDF bytes. `compress` False leaves the page streams readable (tests
    search them for text); output is invariant (no timestamps or random ids in the file)."""
    t, s = TEXT[lang], _styles(lang)
    title = t["title"].format(city=bulletin.city, day=bulletin.day.isoformat())
    level = bulletin.emergency_level
    case_head = [t["case"], t["title_col"], t["source"], t["type"], t["status"]]
    case_widths = [14 * mm, 70 * mm, 50 * mm, 25 * mm, 21 * mm]
    story: list[Flowable] = [
        Paragraph(_text(title), s["h1"]),
        Paragraph(_text(f"{t['generated']}: "
                         f"{bulletin.generated_at.isoformat(timespec='seconds')}"), s["meta"]),
        Spacer(1, 4 * mm),
        Paragraph(_text(f"{t['emergency']}: {level_text(level, lang)}"), s["h2"]),
        _table([t["time"], t["from"], t["to"], t["reason"]],
               [[c.at.strftime("%H:%M"), level_text(c.from_level, lang),
                 level_text(c.to_level, lang), c.reason] for c in bulletin.emergency_changes],
               s, t["none_rows"], [18 * mm, 28 * mm, 28 * mm, 106 * mm]),
        Paragraph(_text(t["city_aqi"]), s["h2"]),
        _table([t["city_aqi"], t["category"], t["primary"], t["pm25"], t["pm10"]],
               [_aqi_row(bulletin.city_aqi, lang)], s, t["no_data"],
               shading=_shade([bulletin.city_aqi], 1, lang)),
        Paragraph(_text(t["stations"]), s["h2"]),
        _table([t["station"], t["district"], "AQI", t["category"], t["primary"], t["pm25"],
                t["pm10"], t["over"]],
               [[f"{d.name} ({d.id})", d.district, *_aqi_row(d, lang),
                 pollutants(d.over) if d.over else ""] for d in bulletin.stations],
               s, t["no_data"], [34 * mm, 22 * mm, 13 * mm, 22 * mm, 22 * mm, 22 * mm,
                                 22 * mm, 23 * mm],
               shading=_shade(bulletin.stations, 3, lang)),
        Paragraph(_text(t["exceedances"]), s["h2"]),
        _table([t["source"], t["pollutant"], t["start"], t["value"], t["limit"]],
               [[e.source, POLLUTANT_NAMES.get(e.pollutant, e.pollutant),
                 e.start.strftime("%Y-%m-%d %H:%M"), f"{number(e.value, 1)} {e.unit}",
                 f"{number(e.limit, 1)} {e.unit}"] for e in bulletin.exceedances],
               s, t["none_rows"]),
        Paragraph(_text(t["opened"]), s["h2"]),
        _table(case_head, _case_rows(bulletin.opened, lang), s, t["none_rows"], case_widths),
        Paragraph(_text(t["closed"]), s["h2"]),
        _table(case_head, _case_rows(bulletin.closed, lang), s, t["none_rows"], case_widths),
    ]
    buffer = io.BytesIO()
    document = SimpleDocTemplate(buffer, pagesize=A4, title=title, author="Lantian",
                                 leftMargin=15 * mm, rightMargin=15 * mm, topMargin=15 * mm,
                                 bottomMargin=15 * mm, pageCompression=1 if compress else 0,
                                 invariant=1)
    document.build(story)
    return buffer.getvalue()
