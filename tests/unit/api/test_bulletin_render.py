"""The daily bulletin rendered: the HTML page and the PDF carry every figure of the bulletin,
in zh and en; the PDF is set in the built-in CID font STSong-Light (nothing embedded)."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

from reportlab.lib.rl_accel import escapePDF

from api.bulletin_html import render_html
from api.bulletin_pdf import render_pdf
from api.daily_bulletin import (
    CaseLine,
    DailyBulletin,
    DayAqi,
    ExceedanceLine,
    LevelChange,
    day_aqi,
    day_bounds,
)

CST = timezone(timedelta(hours=8))
DAY = date(2026, 11, 20)


def bulletin(**changes: object) -> DailyBulletin:
    at = datetime(2026, 11, 20, 9, 30, tzinfo=CST)
    fields: dict[str, object] = dict(
        city="beijing", day=DAY, generated_at=datetime(2026, 11, 21, 8, tzinfo=CST),
        city_aqi=DayAqi("beijing", "beijing", "", 163, 4, ("pm25",), 123.4, 150.0, ("pm25",)),
        stations=(DayAqi("Gucheng", "古城", "Shijingshan", 187, 4, ("pm25",), 141.0, 170.0,
                         ("pm25", "pm10")),
                  DayAqi("Dingling", "定陵", "Changping", None, None, (), None, None, ())),
        exceedances=(ExceedanceLine("Gucheng", "pm25", at, 141.0, 60.0, "µg/m³"),),
        opened=(CaseLine(7, "Gucheng: <daily> mean & more", "古城：PM2.5 <日均> & 超标",
                         "Gucheng", "exceedance", "open", at, None),),
        closed=(),
        emergency_level="orange",
        emergency_changes=(LevelChange(at, "yellow", "orange", "forecast AQI 320"),),
    )
    fields.update(changes)
    return DailyBulletin(**fields)  # type: ignore[arg-type]


def test_the_page_carries_every_figure_in_chinese() -> None:
    page = render_html(bulletin(), "zh")
    assert page.startswith("<!DOCTYPE html>") and '<html lang="zh-CN">' in page
    assert "beijing 环境空气质量日报 2026-11-20" in page
    for text in ("古城 (Gucheng)", "187", "中度污染", "141", "170", "PM2.5, PM10", "163",
                 "123", "橙色预警", "黄色预警", "forecast AQI 320", "141.0 µg/m³",
                 "60.0 µg/m³", "2026-11-20 09:30", "当日销号案件"):
        assert text in page, text
    assert 'data-level="orange"' in page and "@page" in page and "@media print" in page
    # cases by their Chinese titles, escaped
    assert "古城：PM2.5 &lt;日均&gt; &amp; 超标" in page and "Gucheng: &lt;daily" not in page
    # the day without a figure shows a dash, not a zero
    dingling = page.split("定陵 (Dingling)")[1].split("</tr>")[0]
    assert "—" in dingling and ">0<" not in dingling


def test_english_and_escaping() -> None:
    page = render_html(bulletin(), "en")
    assert '<html lang="en">' in page and "Daily air quality bulletin — beijing, 2026-11-20" in page
    assert "Moderately polluted" in page and "orange alert" in page
    assert "Gucheng: &lt;daily&gt; mean &amp; more" in page and "<daily>" not in page
    assert "日均" not in page
    assert "Cases closed that day</h2><p>None</p>" in page


def test_day_aqi_judges_the_reported_mean_against_the_limit_in_force() -> None:
    """GB 3095-2026 transition limit 60 µg/m³ for PM2.5 from 2026-03-01, 75 before; the mean
    is rounded half to even first (60.5 → 60: not over)."""
    row = {"aqi": 80.0, "level": 2.0, "primary": "pm25", "pm25_mean": 60.5, "pm10_mean": 121.0}
    assert day_aqi("A", "a", "", row, DAY).over == ("pm10",)
    assert day_aqi("A", "a", "", {**row, "pm25_mean": 61.5}, DAY).over == ("pm25", "pm10")
    assert day_aqi("A", "a", "", {**row, "pm25_mean": 70.0}, date(2025, 11, 20)).over == ()
    empty = day_aqi("A", "a", "", {}, DAY)
    assert (empty.aqi, empty.level, empty.primary, empty.over) == (None, None, (), ())
    assert day_aqi("A", "a", "", {"aqi": float("nan")}, DAY).aqi is None


def test_day_bounds_are_local_midnights() -> None:
    from zoneinfo import ZoneInfo

    start, end = day_bounds(DAY, ZoneInfo("Asia/Shanghai"))
    assert start.isoformat() == "2026-11-19T16:00:00+00:00"
    assert end - start == timedelta(days=1)


def shown(text: str) -> bytes:
    """`text` as STSong-Light (UniGB-UCS2-H) writes it in an uncompressed page stream."""
    return escapePDF(text.encode("utf-16-be")).encode("latin-1")


def test_pdf_holds_the_names_and_figures() -> None:
    pdf = render_pdf(bulletin(), "zh", compress=False)
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    for text in ("古城", "定陵", "187", "中度污染", "橙色预警", "beijing", "超标"):
        assert shown(text) in pdf, text
    assert b"/BaseFont /STSong-Light" in pdf and b"/FontFile" not in pdf
    assert len(re.findall(rb"/Type /Page\b", pdf)) == 1


def test_english_and_compression() -> None:
    plain = render_pdf(bulletin(), "en", compress=False)
    assert shown("Moderately") in plain and shown("Gucheng:") in plain
    packed = render_pdf(bulletin(), "en")
    assert packed.startswith(b"%PDF-") and len(packed) < len(plain)
    assert render_pdf(bulletin(), "en") == packed  # invariant: same bulletin, same bytes


def test_many_stations_flow_onto_more_pages() -> None:
    one = bulletin().stations[0]
    pdf = render_pdf(bulletin(stations=(one,) * 120), "zh", compress=False)
    assert len(re.findall(rb"/Type /Page\b", pdf)) >= 3


def test_pdf_text_uses_glyphs_the_chinese_font_has() -> None:
    from api.bulletin_pdf import _text

    assert _text("141.0 µg/m³ <") == "141.0 μg/m<super>3</super> &lt;"
