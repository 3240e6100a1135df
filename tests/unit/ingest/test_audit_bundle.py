"""The audit-bundle reader: formats.md §3 in, AuditSeries out, every bad row kept with why."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ingest.audit_bundle import BundleError, read_bundle

HEADER = ("id,kind,name,city,district,lat,lon,enterprise,industry,reference_o2,"
          "limit_particulate,limit_so2,limit_nox\n")
SOURCES = HEADER + """Dongsi,station,东四,beijing,Dongcheng,39.929,116.417,,,,,,
Tiantan,station,天坛,beijing,Dongcheng,39.886,116.407,,,,,,
MN1,outlet,1号烟囱,beijing,Chaoyang,39.9,116.5,热电厂,power,6,10,35,50
"""


def write(folder: Path, readings: str, sources: str = SOURCES) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sources.csv").write_text(sources, encoding="utf-8")
    (folder / "readings.csv").write_text(readings, encoding="utf-8")
    return folder


def test_readings_become_hourly_arrays_per_kind(tmp_path: Path) -> None:
    bundle = read_bundle(write(tmp_path, """time,source,pollutant,value,flag
2016-11-02T10:00:00+08:00,Dongsi,pm25,120,
2016-11-02T12:00:00+08:00,Dongsi,pm25,130,M
2016-11-02T11:00:00+08:00,Tiantan,co,1.2,N
2016-11-02T10:00:00+08:00,MN1,so2,40,
2016-11-02T10:00:00+08:00,MN1,o2,6.5,
2016-11-02T10:00:00+08:00,MN1,flow,360000,
"""))
    stations = bundle.stations
    assert stations is not None and stations.sources == ("Dongsi", "Tiantan")
    assert stations.step_s == 3600
    assert stations.times[0] == np.datetime64("2016-11-02T02:00:00")
    np.testing.assert_array_equal(stations.values["pm25"][0], [120.0, np.nan, 130.0])
    assert stations.flags["pm25"][0].tolist() == [b"N", b"N", b"M"]
    assert np.isnan(stations.measured("pm25")[0, 2])
    assert stations.values["co"][1, 1] == pytest.approx(1.2)
    assert stations.lat is not None and stations.lat[1] == pytest.approx(39.886)
    outlets = bundle.outlets
    assert outlets is not None and outlets.sources == ("MN1",)
    assert outlets.limit("so2")[0] == 35.0 and outlets.reference_o2 is not None
    # 40 mg/m³ at 6.5 % O2, converted to 6 %: 40 × 15 / 14.5
    assert outlets.converted("so2")[0, 0] == pytest.approx(40 * 15 / 14.5)
    assert bundle.rejected == []


def test_bad_rows_are_kept_with_their_line_and_reason(tmp_path: Path) -> None:
    bundle = read_bundle(write(tmp_path, """time,source,pollutant,value,flag
2016-11-02T10:00:00+08:00,Dongsi,pm25,120,
2016-11-02T10:00:00+08:00,Dongsi,pm25,121,
2016-11-02T11:00:00,Dongsi,pm25,131,
2016-11-02T11:00:00+08:00,Nowhere,pm25,131,
2016-11-02T11:00:00+08:00,Dongsi,particulate,131,
2016-11-02T11:00:00+08:00,Dongsi,pm10,abc,
2016-11-02T11:00:00+08:00,Dongsi,pm10,100,X
"""))
    reasons = {row.line: row.reason for row in bundle.rejected}
    assert set(reasons) == {3, 4, 5, 6, 7, 8}
    assert "second value" in reasons[3]
    assert "offset" in reasons[4]
    assert "not in sources.csv" in reasons[5]
    assert "pollutant" in reasons[6]
    assert "not a number" in reasons[7]
    assert "flag" in reasons[8]
    assert bundle.rejected[0].raw["value"] == "121"
    assert bundle.stations is not None
    assert bundle.stations.values["pm25"][0, 0] == 120.0


@pytest.mark.parametrize(("sources", "readings", "message"), [
    (None, None, "sources.csv is missing"),
    ("id,name\nA,a\n", "time,source,pollutant,value\n", "lacks the column(s) kind"),
    ("id,kind\nA,factory\n", "time,source,pollutant,value\n", "kind must be station or outlet"),
    ("id,kind,lat\nA,station,north\n", "time,source,pollutant,value\n", "lat is not a number"),
    ("id,kind\nA,station\nA,station\n", "time,source,pollutant,value\n", "duplicate id"),
    ("id,kind\nA,station\n", "time,source,value\n", "lacks the column(s) pollutant"),
    ("id,kind\nA,station\n", "time,source,pollutant,value\nbad,A,pm25,1\n", "no usable row"),
])
def test_unreadable_bundles_say_what_is_wrong(tmp_path: Path, sources: str | None,
                                              readings: str | None, message: str) -> None:
    tmp_path.mkdir(exist_ok=True)
    if sources is not None:
        (tmp_path / "sources.csv").write_text(sources, encoding="utf-8")
    if readings is not None:
        (tmp_path / "readings.csv").write_text(readings, encoding="utf-8")
    with pytest.raises(BundleError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_bundle(tmp_path)


def test_a_minute_bundle_keeps_its_step(tmp_path: Path) -> None:
    rows = "\n".join(f"2016-11-02T10:{m:02d}:00+08:00,MN1,so2,{m},"
                     for m in range(0, 60))
    bundle = read_bundle(write(tmp_path, "time,source,pollutant,value,flag\n" + rows + "\n"))
    assert bundle.outlets is not None and bundle.outlets.step_s == 60
    assert bundle.outlets.hourly().values["so2"][0, 0] == pytest.approx(29.5)
