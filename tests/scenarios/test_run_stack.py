"""`lantian run` (what `make run` starts): real Beijing data flows, an exceedance case appears
through the API, and SIGINT stops every process it started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from lantian.local_services import free_port, wait_until


def _descendants(pid: int) -> set[int]:
    found: set[int] = set()
    stack = [pid]
    while stack:
        current = stack.pop()
        try:
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        for child in map(int, children):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _logs(run_dir: Path) -> str:
    """Every service log, for the failure message."""
    return "\n".join(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}"
                     for log in sorted((run_dir / "logs").glob("*.log")))


def _anonymous_refused(run_dir: Path) -> bool:
    """A CONNECT without credentials to the stack's broker is refused (CONNACK not 0)."""
    listener = (run_dir / "mosquitto" / "mosquitto.conf").read_text().splitlines()[0]
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2)
    answers: list[bool] = []
    client.on_connect = lambda c, u, f, code, p: answers.append(code.is_failure)
    client.connect("127.0.0.1", int(listener.split()[1]))
    client.loop_start()
    try:
        return wait_until(lambda: bool(answers), 10) and answers[0]
    finally:
        client.loop_stop()
        client.disconnect()


def test_run_shows_beijing_data_and_a_case_then_stops_cleanly(tmp_path: Path,
                                                             beijing_data: Path) -> None:
    port = free_port()
    env = {**os.environ, "LANTIAN_ANALYTICS__INTERVAL_S": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "lantian", "run", "--run-dir", str(tmp_path / "run"),
         "--api-port", str(port), "--hours-per-second", "4"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
    )
    base = f"http://127.0.0.1:{port}"

    token_file = tmp_path / "run" / "demo-token"

    def get(path: str) -> dict | None:
        headers = ({"Authorization": f"Bearer {token_file.read_text().strip()}"}
                   if token_file.exists() else {})
        try:
            response = httpx.get(base + path, timeout=5, headers=headers)
        except httpx.HTTPError:
            return None
        return response.json() if response.status_code == 200 else None

    try:
        assert wait_until(lambda: get("/api/health") is not None, 60), "API never came up"
        # all 12 Beijing stations report real readings (December 2016)
        assert wait_until(lambda: all(s["latest"] for s in get("/api/stations")["data"]), 60), \
            _logs(tmp_path / "run")
        stations = get("/api/stations")["data"]
        assert len(stations) == 12
        assert all(s["latest"]["time"].startswith("2016-12-") for s in stations)
        # 16 December 2016 was a polluted day in Beijing: exceedance cases open within a minute
        def station_cases() -> list[dict]:
            listing = get("/api/cases?limit=500") or {"data": []}
            return [c for c in listing["data"] if c["source_kind"] == "station"]

        assert wait_until(station_cases, 60), _logs(tmp_path / "run")
        case = station_cases()[0]
        detail = get(f"/api/cases/{case['id']}")
        assert detail["findings"][0]["evidence"]["daily_mean_ugm3"] > 75
        assert get("/api/cities/beijing/aqi")["latest"]["aqi"] > 0
        # Simulated CEMS units report over the TCP gateway; the demo's injected SO2
        # exceedance opens an outlet case.
        assert wait_until(lambda: all(o["latest"] for o in get("/api/outlets")["data"]), 60), \
            _logs(tmp_path / "run")
        assert wait_until(lambda: get("/api/cases?source=020000B7700021E000214AA7")["count"],
                          60), _logs(tmp_path / "run")
        [outlet_case] = get("/api/cases?source=020000B7700021E000214AA7")["data"]
        assert outlet_case["source_kind"] == "outlet" and "so2" in outlet_case["title"]
        # the collector's counters balance; the broker refuses anyone without an account
        ingest = get("/api/ingest")["data"]
        assert ingest and ingest[0]["written"] > 0 and ingest[0]["balanced"], ingest
        assert _anonymous_refused(tmp_path / "run")
        started = _descendants(proc.pid)
        # mosquitto, influxd, collector, analytics, api, replay, CEMS simulator
        assert len(started) >= 7
    finally:
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
    text = output.decode(errors="replace")
    assert "Dashboard" in text and "All Lantian processes stopped." in text
    assert f"?token={token_file.read_text().strip()}" in text  # the dashboard link signs in
    assert proc.returncode == 0
    assert not [pid for pid in started if _alive(pid)], "processes left behind"
