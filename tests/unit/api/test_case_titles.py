"""Chinese case titles (api/case_titles.py): one for every finding type, from the registered
names and the findings' pollutants; a case opened by hand keeps its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from alerts.case_models import Case
from analytics.findings import FINDING_TYPES
from api.case_titles import POLLUTANT_ZH, TEMPLATES_ZH, pollutant_names, title_zh
from config.outlets import LIMITED_POLLUTANTS, load_outlets
from config.stations import POLLUTANTS, load_stations

CONFIG = Path(__file__).resolve().parents[3] / "config"
STATIONS = load_stations(CONFIG / "stations.yaml").by_id()
OUTLETS = load_outlets(CONFIG / "outlets.yaml").by_mn()


def case(source: str, kind: str, problem: str, origin: str = "finding") -> Case:
    return Case(source=source, source_kind=kind, problem_type=problem, origin=origin,
                title=f"{source}: {problem} (English)")


def test_every_finding_type_and_pollutant_has_chinese_words() -> None:
    covered = {k if isinstance(k, str) else k[0] for k in TEMPLATES_ZH}
    assert covered == FINDING_TYPES
    assert set(POLLUTANTS) | set(LIMITED_POLLUTANTS) <= set(POLLUTANT_ZH)
    assert pollutant_names(["pm25", "so2"]) == "PM2.5、SO₂"


def test_a_station_case_is_named_by_the_station_and_its_pollutants() -> None:
    station = next(iter(STATIONS.values()))
    title = title_zh(case(station.id, "station", "exceedance"), ["pm10", "pm25"], STATIONS,
                     OUTLETS)
    assert title == f"{station.name}：PM10、PM2.5日均浓度超过 GB 3095 二级标准"


@pytest.mark.parametrize("problem", sorted(FINDING_TYPES))
def test_an_outlet_case_is_named_by_enterprise_and_outlet(problem: str) -> None:
    outlet = next(iter(OUTLETS.values()))
    title = title_zh(case(outlet.mn, "outlet", problem), ["nox"], STATIONS, OUTLETS)
    assert title.startswith(f"{outlet.enterprise} {outlet.name}：") and "氮氧化物" in title
    assert "English" not in title and "{" not in title


def test_unregistered_sources_and_manual_cases() -> None:
    assert title_zh(case("X-1", "station", "flatline"), ["co"], STATIONS, OUTLETS) \
        == "X-1：疑似数据造假——CO数值长时间不变"
    manual = case("工地-17", "site", "dust", origin="complaint")
    manual.title = "施工扬尘"
    assert title_zh(manual, [], STATIONS, OUTLETS) == "施工扬尘"
    # a type without Chinese words (a future one) keeps the stored title, never breaks
    assert title_zh(case("X-1", "station", "new_kind"), [], STATIONS, OUTLETS) \
        == "X-1: new_kind (English)"
