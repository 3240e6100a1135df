"""Case titles in Chinese, for the bureau's own screens and bulletins.

The ledger stores one title per case, written in English by the analytics when they open it
(and as typed for a case opened by hand). The Chinese title is derived when the API serves
the case, from what the case holds: its problem type, its source's registered name (the
station's Chinese name, or the enterprise and outlet) and the pollutants of its findings.
Deriving it, not storing it, gives every existing case a Chinese title and keeps one place to
change the wording.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from alerts.case_models import Case
from config.outlets import Outlet
from config.stations import Station

POLLUTANT_ZH = {
    "pm25": "PM2.5", "pm10": "PM10", "so2": "SO₂", "no2": "NO₂", "o3": "O₃", "co": "CO",
    "particulate": "颗粒物", "nox": "氮氧化物",
}

# `{where}` the source's name, `{what}` its pollutants; one entry per analytics finding type
# (tests/unit/api/test_case_titles.py keeps it complete).
TEMPLATES_ZH = {
    ("exceedance", "station"): "{where}：{what}日均浓度超过 GB 3095 二级标准",
    ("exceedance", "outlet"): "{where}：{what}小时浓度超过排放限值",
    "impossible_value": "{where}：疑似数据造假——{what}出现物理上不可能的数值",
    "flatline": "{where}：疑似数据造假——{what}数值长时间不变",
    "low_variance": "{where}：疑似数据造假——{what}数值异常平滑",
    "bunching": "{where}：疑似数据造假——{what}数值堆积在限值之下",
    "neighbor_divergence": "{where}：疑似数据造假——{what}明显偏离周边站点",
    "dilution": "{where}：疑似数据造假——{what}稀释排放（氧含量升高而浓度下降）",
    "copy_paste": "{where}：疑似数据造假——{what}数据复制自早前时段",
    "gap_at_peak": "{where}：疑似数据造假——{what}在污染高峰时段缺失",
    "flag_abuse": "{where}：疑似数据造假——{what}高值时段标记为维护或故障",
    "step_drop": "{where}：{what}浓度骤降而生产工况未变",
    "reduction_shortfall": "{where}：{what}未按应急减排方案减排",
}


# The finding types' short names, as the dashboard shows them (api/static/i18n.js "type.*").
TYPE_NAMES_ZH = {
    "exceedance": "超标排放", "impossible_value": "不可能值", "flatline": "数据恒值",
    "low_variance": "波动异常偏小", "bunching": "数据扎堆", "neighbor_divergence": "与周边站点偏离",
    "dilution": "稀释排放", "copy_paste": "数据复制", "gap_at_peak": "高值时段缺数",
    "flag_abuse": "滥用数据标记", "step_drop": "数据骤降", "reduction_shortfall": "应急减排未落实",
}


def pollutant_names(pollutants: Iterable[str]) -> str:
    """'PM2.5、SO₂' for ['pm25', 'so2']: the enumeration comma of Chinese lists."""
    return "、".join(POLLUTANT_ZH.get(p, p) for p in pollutants)


def source_name(source: str, stations: Mapping[str, Station],
                outlets: Mapping[str, Outlet]) -> str:
    """The station's registered name, or '<enterprise> <outlet>'; the id when unregistered."""
    if source in outlets:
        outlet = outlets[source]
        return f"{outlet.enterprise} {outlet.name}"
    station = stations.get(source)
    return station.name if station else source


def title_zh(case: Case, pollutants: Iterable[str], stations: Mapping[str, Station],
             outlets: Mapping[str, Outlet]) -> str:
    """The case's title in Chinese; a case opened by hand keeps the title it was given."""
    template = TEMPLATES_ZH.get((case.problem_type, case.source_kind)) or TEMPLATES_ZH.get(
        case.problem_type)
    if case.origin != "finding" or not isinstance(template, str):
        return case.title
    return template.format(where=source_name(case.source, stations, outlets),
                           what=pollutant_names(pollutants))
