"""The evidence chart in Chinese: every 汉字 found in an installed font (no empty boxes in a
case file), the chart's own words in the chosen language."""

from __future__ import annotations

import warnings
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from api.evidence_chart import WORDS, EvidenceChart, render_png

CST = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 20, tzinfo=CST)


def chart(lang: str) -> EvidenceChart:
    times = [T0 + timedelta(hours=h) for h in range(48)]
    values = 30 + 10 * np.sin(np.arange(48) / 4.0)
    flagged = np.zeros(48, dtype=bool)
    flagged[20] = True
    title = ("稀释排放 — 京能热电示范厂 1号机组烟囱 SO₂，2026-11-20 10:00 … 14:00（评分 1.60）"
             if lang == "zh" else "dilution — X so2, 2026-11-20 10:00 … 14:00 (score 1.60)")
    zh = lang == "zh"
    return EvidenceChart(title, "mg/m³（基准氧含量）" if zh else "mg/m³ at reference O2", times,
                         values, (times[10], times[14]), flagged,
                         {"实测值" if zh else "as measured": values * 0.8}, limit=35.0,
                         process={"氧含量 %" if zh else "O2 %": values / 3},
                         note="异常标记的小时按实测值显示（未折算）" if zh else "flagged hours …",
                         label="折算值（基准氧含量）" if zh else "at reference O2", lang=lang)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_character_has_a_glyph(lang: str, caplog: pytest.LogCaptureFixture) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        png = render_png(chart(lang))
    missing = [str(w.message) for w in caught if "missing from" in str(w.message)]
    assert not missing, missing[:3]
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
    # no "font family not found" for every draw in the API's log
    assert not [r for r in caplog.records if "findfont" in r.getMessage()]


def test_both_languages_have_every_word() -> None:
    assert WORDS["zh"].keys() == WORDS["en"].keys()
    assert WORDS["zh"]["limit"].format(limit=35.0, unit="mg/m³") == "限值 35 mg/m³"
