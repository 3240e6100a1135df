"""Publish → exceedance case opened: how long after the reading that makes an outlet's hour
exceed its emission limit does the duty officer get the alert, at a steady 10,000 readings/s?

Everything runs as in production, each in its own process: Mosquitto, InfluxDB, `lantian
collect`, `lantian analyze` (every job of a cycle: stations' AQI and daily means, emissions,
falsification, emergency) with a SQLite ledger, and one paced publisher. Data time runs faster
than wall time (one data hour every `--hour-s` seconds) so that hours close during the run:

- stations (default 640) send minute readings, 10 to a message, as JSON;
- outlets (default 30) send HJ 212 minute packets (CN 2051) over MQTT, simulated by the CEMS
  model; each outlet's SO2 exceeds 1.6 × its limit during one hour (hours 2–11, three outlets
  an hour).

An hour is judged once it holds `emissions.min_minutes_per_hour` (45) minutes of data, so the
event is the publish of an injected hour's 45th minute packet; the case is "opened" when its
alert (`lantian/v1/alerts/exceedance`, QoS 1) reaches a subscriber here. The baseline in the
same run is the broker alone: that subscriber's receipt of the event packet itself.

    .venv/bin/python bench/case_latency.py [--interval 5 1] [--hour-s 4] [--hours 12]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import orjson
import paho.mqtt.client as mqtt
import yaml

from bench.collector_process import start_collector
from bench.collector_throughput import client
from bench.proc_meter import ProcessMeter
from config.outlets import Outlet, load_outlets
from config.settings import Settings
from lantian.local_services import (
    LocalService,
    start_influxdb,
    start_mosquitto,
    start_process,
    stop_process,
    wait_until,
)
from simulators.cems_injections import Injection, simulate_cems
from simulators.cems_packets import build_packets
from simulators.cems_transport import outlet_topic

TZ = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 3, 2, tzinfo=TZ)
PER_MESSAGE = 10
JUDGED_AT_MINUTE = 45  # emissions.min_minutes_per_hour: the hour is judgeable from its 45th


@dataclass(frozen=True)
class Scenario:
    stations: int
    outlets: int
    hours: int
    hour_s: float
    seed: int

    @property
    def readings_per_s(self) -> float:
        return (self.stations + self.outlets) * 60 / self.hour_s


def registers(scn: Scenario, run_dir: Path) -> tuple[Path, Path, list[Outlet]]:
    """Station and outlet registers for the run (the demo outlets copied under new MNs)."""
    base = load_outlets(Settings().outlets_file).outlets
    outlets = [base[k % len(base)].model_copy(update={"mn": f"LAT{k:021d}", "password": None})
               for k in range(scn.outlets)]
    outlets_file = run_dir / "outlets.yaml"
    outlets_file.write_text(yaml.safe_dump(
        {"outlets": [o.model_dump(mode="json", exclude_none=True) for o in outlets]},
        allow_unicode=True))
    stations_file = run_dir / "stations.yaml"
    stations_file.write_text(yaml.safe_dump({"stations": [
        {"id": f"L{s:04d}", "name": f"站{s}", "city": "beijing", "interval_s": 60,
         "lat": 39.5 + (s % 40) / 40, "lon": 116.0 + (s // 40) / 40}
        for s in range(scn.stations)]}, allow_unicode=True))
    return stations_file, outlets_file, outlets


def schedule(scn: Scenario, outlets: list[Outlet]
             ) -> tuple[list[tuple[float, str, bytes]], dict[int, str]]:
    """Every message with its wall offset (s after the start), in order, and the indices of the
    event packets (an injected hour's 45th minute) → their outlet MN."""
    injections = [Injection(o.mn, "so2", "exceedance",
                            START + timedelta(hours=2 + k % (scn.hours - 2)),
                            START + timedelta(hours=3 + k % (scn.hours - 2)))
                  for k, o in enumerate(outlets)]
    run = simulate_cems(outlets, START, scn.hours, seed=scn.seed, injections=injections)
    packets = build_packets(run, commands=("minute",))
    per_minute = scn.hour_s / 60
    start_s = START.timestamp()
    events = {(i.mn, i.start + timedelta(minutes=JUDGED_AT_MINUTE - 1)) for i in injections}
    out: list[tuple[float, str, bytes, str | None]] = []
    for p in packets:
        due = (p.data_time.timestamp() - start_s) / 60 * per_minute + per_minute
        out.append((due, outlet_topic("lantian/v1", p.mn), p.raw,
                    p.mn if (p.mn, p.data_time) in events else None))
    rng = np.random.default_rng(scn.seed)
    levels = rng.uniform(10, 60, size=scn.stations)
    for block in range(scn.hours * 6):
        for s in range(scn.stations):
            first = block * PER_MESSAGE
            body = [{"time": int(start_s) + 60 * (first + m), "pm25": float(levels[s]),
                     "pm10": float(levels[s]) * 1.6, "so2": 8.0, "no2": 30.0, "o3": 50.0,
                     "co": 0.6} for m in range(PER_MESSAGE)]
            # sent once its last minute has passed, spread over the next block
            due = (first + PER_MESSAGE + (s % PER_MESSAGE)) * per_minute
            out.append((due, f"lantian/v1/station/L{s:04d}/reading", orjson.dumps(body), None))
    out.sort(key=lambda m: m[0])
    return ([(d, t, b) for d, t, b, _ in out],
            {k: m[3] for k, m in enumerate(out) if m[3] is not None})


def _publish(port: int, messages: list[tuple[float, str, bytes]], events: dict[int, str],
             go_at: float, sent: multiprocessing.Queue) -> None:
    """Publish each message at its due time; report the wall time of each event packet."""
    pub = client(port, "latency-pub")
    stamps: dict[str, float] = {}
    for k, (due, topic, body) in enumerate(messages):
        delay = go_at + due - time.time()
        if delay > 0:
            time.sleep(delay)
        pub.publish(topic, body, qos=1)
        if k in events:
            stamps[events[k]] = time.time()
    sent.put(stamps)
    pub.disconnect()
    pub.loop_stop()


class AlertListener:
    """Stamps the first exceedance case opened per outlet, and the broker's delivery of each
    event packet (the baseline), by wall clock on receipt."""

    def __init__(self, port: int, events: dict[str, str]) -> None:
        self.opened: dict[str, float] = {}
        self.delivered: dict[str, float] = {}
        self._events = events  # MN → DataTime of its event packet
        self._lock = threading.Lock()
        self.subscribed = threading.Event()
        self._client = client(port, "latency-alerts")
        self._client.on_message = self._on_message
        self._client.on_subscribe = lambda *_: self.subscribed.set()
        self._client.subscribe([("lantian/v1/alerts/exceedance", 1),
                                ("lantian/v1/outlet/+/hj212", 1)])

    def _on_message(self, _c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        now = time.time()
        if msg.topic.endswith("/hj212"):
            mn = msg.topic.split("/")[3]
            when = self._events.get(mn)
            if when is not None and f"DataTime={when}".encode() in msg.payload:
                with self._lock:
                    self.delivered[mn] = now
            return
        alert = orjson.loads(msg.payload)
        if alert.get("event") == "case_opened" and alert.get("source") in self._events:
            with self._lock:
                self.opened.setdefault(alert["source"], now)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


def percentiles(values_s: list[float]) -> dict[str, float]:
    ms = np.array(values_s) * 1000
    return {"n": len(ms), "p50_ms": round(float(np.percentile(ms, 50)), 1),
            "p99_ms": round(float(np.percentile(ms, 99)), 1),
            "max_ms": round(float(ms.max()), 1)}


def run(scn: Scenario, interval_s: float, broker: LocalService, influx: LocalService,
        run_dir: Path, messages: list[tuple[float, str, bytes]], events: dict[int, str],
        event_times: dict[str, str], files: tuple[Path, Path], readings: int,
        profile: Path | None = None) -> dict[str, object]:
    """One run at analytics.interval_s = `interval_s`, on its own database and ledger."""
    name = f"i{interval_s:g}".replace(".", "_")
    files_env = {"LANTIAN_STATIONS_FILE": str(files[0]), "LANTIAN_OUTLETS_FILE": str(files[1])}
    collector = start_collector(broker, influx, run_dir, f"collect-{name}", name, **files_env)
    log_path = run_dir / f"analyze-{name}.log"
    env = {**os.environ, **files_env, "LANTIAN_MQTT__PORT": str(broker.port),
           "LANTIAN_INFLUX__URL": influx.url, "LANTIAN_INFLUX__DATABASE": name,
           "LANTIAN_LEDGER__URL": f"sqlite:///{run_dir / f'collect-{name}.db'}",
           "LANTIAN_ANALYTICS__INTERVAL_S": str(interval_s)}
    analyze = start_process([sys.executable, "-m", "lantian", "analyze"], log_path, env)
    listener = AlertListener(broker.port, event_times)
    try:
        if not (wait_until(lambda: "analytics loop running" in log_path.read_text(), 60)
                and listener.subscribed.wait(10)):
            raise SystemExit(f"analytics did not start; see {log_path}")
        meter = ProcessMeter({"collector": collector.pid, "analytics": analyze.pid,
                              "influxd": influx.proc.pid, "mosquitto": broker.proc.pid})
        ctx = multiprocessing.get_context("fork")
        sent: multiprocessing.Queue = ctx.Queue()
        go_at = time.time() + 1.0
        publisher = ctx.Process(target=_publish, args=(broker.port, messages, events, go_at,
                                                       sent), daemon=True)
        publisher.start()
        meter.start()
        spy = None if profile is None else subprocess.Popen(
            [str(Path(sys.executable).with_name("py-spy")), "record", "-p", str(analyze.pid),
             "--idle", "-f", "raw", "-o", str(profile / f"analytics-{name}.txt")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        published = sent.get(timeout=scn.hours * scn.hour_s + 120)
        wall = time.time() - go_at
        cores = meter.stop(wall)
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(30)
        wait_until(lambda: len(listener.opened) >= len(published), 60, 0.05)
        publisher.join(10)
        peaks = meter.peaks()
    finally:
        listener.close()
        stop_process(analyze)
        stop_process(collector)
    found = [mn for mn in published if mn in listener.opened]
    return {
        "analytics_interval_s": interval_s, "events": len(published),
        "cases_opened": len(found),
        "publish_to_case": percentiles([listener.opened[mn] - published[mn] for mn in found]),
        "publish_to_broker_delivery": percentiles(
            [listener.delivered[mn] - published[mn] for mn in published
             if mn in listener.delivered]),
        "readings_per_s": round(readings / wall), "seconds": round(wall, 1),
        "cpu_cores": cores, "peak_rss_mib": peaks,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interval", type=float, nargs="+", default=[5.0, 1.0],
                        help="analytics.interval_s of each run")
    parser.add_argument("--stations", type=int, default=640)
    parser.add_argument("--outlets", type=int, default=30)
    parser.add_argument("--hours", type=int, default=12, help="data hours per run (≥ 3)")
    parser.add_argument("--hour-s", type=float, default=4.0, help="wall seconds per data hour")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--profile", type=Path,
                        help="record the analytics process with py-spy (raw stacks) into here")
    args = parser.parse_args()
    scn = Scenario(args.stations, args.outlets, args.hours, args.hour_s, args.seed)
    rows = []
    with tempfile.TemporaryDirectory(prefix="lantian-latency-") as scratch:
        run_dir = Path(scratch)
        stations_file, outlets_file, outlets = registers(scn, run_dir)
        messages, events = schedule(scn, outlets)
        readings = sum(PER_MESSAGE if "/station/" in t else 1 for _, t, _ in messages)
        event_times = {mn: "" for mn in events.values()}
        for k, mn in events.items():
            event_times[mn] = _datatime(messages[k][2])
        broker, influx = start_mosquitto(run_dir), start_influxdb(run_dir)
        try:
            for interval_s in args.interval:
                rows.append(run(scn, interval_s, broker, influx, run_dir, messages, events,
                                event_times, (stations_file, outlets_file), readings,
                                args.profile))
        finally:
            broker.stop()
            influx.stop()
    print(f"{scn.stations} stations + {scn.outlets} outlets, {scn.readings_per_s:,.0f} "
          f"readings/s planned, one data hour every {scn.hour_s:g} s; load average "
          f"{os.getloadavg()[0]:.1f}")
    print(f"{'interval s':>10} {'events':>6} {'opened':>6} {'case p50 ms':>11} "
          f"{'case p99 ms':>11} {'case max ms':>11} {'broker p50':>10} {'broker p99':>10}")
    for r in rows:
        case, broker_ms = r["publish_to_case"], r["publish_to_broker_delivery"]
        print(f"{r['analytics_interval_s']:>10g} {r['events']:>6} {r['cases_opened']:>6} "
              f"{case['p50_ms']:>11,.0f} {case['p99_ms']:>11,.0f} {case['max_ms']:>11,.0f} "
              f"{broker_ms['p50_ms']:>10,.1f} {broker_ms['p99_ms']:>10,.1f}")
    print(json.dumps({"scenario": scn.__dict__, "runs": rows}))


def _datatime(raw: bytes) -> str:
    return raw.split(b"DataTime=", 1)[1][:14].decode()


if __name__ == "__main__":
    main()
