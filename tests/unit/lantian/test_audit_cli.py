"""`lantian audit`: findings as JSON lines, rejected rows kept beside them, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from lantian.cli import app

HEADER = ("id,kind,name,city,district,lat,lon,enterprise,industry,reference_o2,"
          "limit_particulate,limit_so2,limit_nox\n")
SOURCES = HEADER + """MN1,outlet,1号烟囱,beijing,Chaoyang,39.9,116.5,热电厂,power,6,10,35,50
"""


def test_audit_writes_findings_and_rejects(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "sources.csv").write_text(SOURCES, encoding="utf-8")
    rows = ["time,source,pollutant,value,flag"]
    for hour in range(6):
        so2 = 60.0 if hour in (2, 3) else 20.0 + hour  # converted at O2 = ref: as measured
        rows += [f"2016-11-02T{hour:02d}:00:00+08:00,MN1,so2,{so2},",
                 f"2016-11-02T{hour:02d}:00:00+08:00,MN1,o2,6.0,"]
    rows.append("2016-11-02T07:00:00+08:00,MN9,so2,1,")
    (bundle / "readings.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    out = tmp_path / "out" / "findings.jsonl"
    result = CliRunner().invoke(app, ["audit", str(bundle), "--out", str(out)])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in out.read_text().splitlines()]
    exceedances = [r for r in records if r["type"] == "exceedance"]
    assert len(exceedances) == 1
    assert exceedances[0]["start"] == "2016-11-02T02:00:00+08:00"
    assert exceedances[0]["end"] == "2016-11-02T03:00:00+08:00"
    assert exceedances[0]["evidence"]["limit_mgm3"] == 35.0
    rejected = (tmp_path / "out" / "findings.rejected.csv").read_text(encoding="utf-8")
    assert "MN9" in rejected and "not in sources.csv" in rejected
    assert "exceedance" in result.output and "1 row(s) rejected" in result.output


def test_audit_of_a_missing_folder_exits_2_with_the_reason(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["audit", str(tmp_path / "nowhere")])
    assert result.exit_code == 2
    assert "is not a folder" in result.output
