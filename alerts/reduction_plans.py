"""The emission-reduction list (应急减排清单) as a table: per listed outlet, its baseline and the
cut it must make at each alert level ("one enterprise, one plan")."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from config.outlets import ALERT_LEVELS, LIMITED_POLLUTANTS, Outlet

Language = Literal["zh", "en"]
LEVEL_ZH = {"blue": "蓝色", "yellow": "黄色", "orange": "橙色", "red": "红色"}
POLLUTANT_ZH = {"particulate": "颗粒物", "so2": "二氧化硫", "nox": "氮氧化物"}


def plan_headers(lang: Language) -> list[str]:
    if lang == "zh":
        fixed = ["排口MN", "排口", "企业", "行业", "区县"]
        base = [f"{POLLUTANT_ZH[p]}基准(mg/m³)" for p in LIMITED_POLLUTANTS]
        cuts = [f"{LEVEL_ZH[level]}预警减排" for level in ALERT_LEVELS]
    else:
        fixed = ["MN", "Outlet", "Enterprise", "Industry", "District"]
        base = [f"{p} baseline (mg/m3)" for p in LIMITED_POLLUTANTS]
        cuts = [f"{level} cut" for level in ALERT_LEVELS]
    return [*fixed, *base, *cuts]


def plan_rows(outlets: Sequence[Outlet], lang: Language) -> list[list[object]]:
    """One row per outlet on the list; a cut is a percentage, or a stop order."""
    stop = "停产" if lang == "zh" else "stop production"
    rows = []
    for outlet in outlets:
        plan = outlet.emergency
        if not plan.listed:
            continue
        cuts: list[object] = []
        for level in ALERT_LEVELS:
            cut = plan.required_cut(level)
            cuts.append("" if cut is None else stop if level in plan.stop_production
                        else f"{cut * 100:g}%")
        rows.append([outlet.mn, outlet.name, outlet.enterprise, outlet.industry,
                     outlet.district, *(plan.baseline_mgm3.get(p, "") for p in
                                        LIMITED_POLLUTANTS), *cuts])
    return rows
