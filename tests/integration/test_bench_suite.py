"""`lantian bench` end to end, at quick sizes: every JSON case runs its own broker and database,
stores every reading (the runner checks InfluxDB's count), measures both ceilings, and writes
rows a later comparison can read. The figures themselves are not judged here (they live in
docs/benchmarks.md); that they are real measurements is."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def test_lantian_bench_quick_writes_every_case(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    result = subprocess.run(
        [sys.executable, "-m", "lantian", "bench", "--quick", "--json", str(out)],
        capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(out.read_text())
    cases = {row["case"]: row for row in report["cases"]}
    assert set(cases) == {"json-single", "json-batch", "hj212-mqtt", "hj212-tcp"}
    assert report["meta"]["quick"] is True and report["meta"]["cpus"] >= 1
    for name, per_message in (("json-single", 1), ("json-batch", 100)):
        row = cases[name]
        assert row["extra"]["per_message"] == per_message
        assert row["extra"]["messages"] == row["count"] // per_message
        assert row["rate_per_s"] > 0 and row["seconds"] > 0
        lower = min(row["extra"]["influx_ceiling_per_s"], row["extra"]["mqtt_ceiling_per_s"])
        assert abs(row["ceiling_per_s"] - lower) < 1  # the extras are rounded
        assert row["ratio"] == pytest.approx(row["rate_per_s"] / row["ceiling_per_s"], abs=1e-3)
        assert row["met"] == (row["ratio"] >= row["target_ratio"])
        assert row["cpu_cores"]["collector"] > 0 and row["cpu_cores"]["influxd"] > 0
        assert row["peak_rss_mib"]["collector"] > 20
    for name in ("hj212-mqtt", "hj212-tcp"):  # the runners checked every packet was stored
        row = cases[name]
        assert row["unit"] == "packets" and row["count"] > 0 and row["rate_per_s"] > 0
        assert row["ratio"] > 0 and row["ceiling"] in {"InfluxDB write", "paho pub→sub"}
    tcp = cases["hj212-tcp"]
    assert tcp["extra"]["connected"] == tcp["extra"]["units"] == 20
    assert tcp["extra"]["latency_ms_p99@10%"] > 0
    assert cases["hj212-mqtt"]["ceiling_per_s"] <= cases["hj212-mqtt"]["extra"][
        "influx_ceiling_per_s"]
    assert all(name in result.stdout for name in cases)


def test_unknown_case_is_a_clear_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "lantian", "bench", "--quick", "--cases", "json-huge"],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert result.returncode != 0
    assert "unknown case(s) json-huge" in result.stderr
    assert "json-single" in result.stderr
