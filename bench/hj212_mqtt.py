"""HJ 212 over MQTT: `publish_mqtt` (one QoS 1 message per packet) → `MqttCollector` with the
HJ 212 intake → InfluxDB, against the same publisher into a paho subscriber that only counts.
The units run in their own process (real units are other machines) or, with `same_process`,
in a thread of this one, sharing its GIL."""

from __future__ import annotations

import multiprocessing as mp
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from bench.hj212_pipeline import (
    UNITS_THREAD,
    CpuMeter,
    bench_outlets,
    bench_packets,
    check_clean,
    dead_letter_store,
    expected_lines,
    influx_ceiling,
    pipeline_settings,
    rss_mib,
    stored_points,
)
from config.outlets import Outlet
from ingest.hj212_intake import Hj212Intake
from ingest.influx_store import InfluxStore
from ingest.mqtt_collector import MqttCollector
from lantian.local_services import LocalService, wait_until
from simulators.cems_packets import CemsPacket
from simulators.cems_transport import publish_mqtt


@dataclass
class Drive:
    elapsed_s: float  # first byte sent → last point written (or message received)
    result: dict
    cores: dict[str, dict[str, float]]
    rss_mib: float  # this process's largest RSS sampled during the run


def drive(target: Callable[..., None], args: tuple, done: Callable[[], bool], meter: CpuMeter,
          same_process: bool) -> Drive:
    """Run `target(conn, *args)` (connects, sends "ready", waits for "go", sends, returns its
    figures with "t_first", the perf_counter of its first byte) and time it until `done()`.
    perf_counter is CLOCK_MONOTONIC, the same clock in both processes."""
    ours, theirs = mp.Pipe()
    worker: threading.Thread | BaseProcess
    if same_process:
        worker = threading.Thread(target=target, args=(theirs, *args), name=UNITS_THREAD,
                                  daemon=True)
    else:
        worker = mp.get_context("spawn").Process(target=target, args=(theirs, *args),
                                                 daemon=True)
    worker.start()
    if not ours.poll(120) or ours.recv() != "ready":
        raise SystemExit("the units did not connect")
    meter.start(None if same_process else worker.pid)  # type: ignore[union-attr]
    rss = [0.0]

    def polled() -> bool:
        rss[0] = max(rss[0], rss_mib())
        return done()

    ours.send("go")
    if not wait_until(polled, 600, 0.01):
        raise SystemExit("the pipeline did not finish in 600 s")
    finished = time.perf_counter()
    if not ours.poll(120):
        raise SystemExit("the units did not report")
    result = ours.recv()
    elapsed = finished - result["t_first"]
    cores = meter.stop(elapsed)
    worker.join(30)
    return Drive(elapsed, result, cores, round(rss[0]))


def mqtt_units(conn: Connection, port: int, packets: Sequence[CemsPacket]) -> None:
    """simulators.cems_transport.publish_mqtt: one QoS 1 message per packet, all PUBACKed."""
    conn.send("ready")
    conn.recv()
    t_first = time.perf_counter()
    summary = publish_mqtt(packets, "127.0.0.1", port,
                           client_id=f"bench-cems-{uuid.uuid4().hex[:6]}", ack_timeout_s=300)
    conn.send({"t_first": t_first, "sent": summary.sent, "all_acked": summary.all_acked})


def mqtt_ceiling(port: int, packets: Sequence[CemsPacket], meter: CpuMeter,
                 same_process: bool) -> Drive:
    """The same publisher into a paho subscriber that only counts the messages."""
    count = [0]

    def on_message(*_: object) -> None:
        count[0] += 1

    sub = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2,
                      client_id=f"bench-sub-{uuid.uuid4().hex[:6]}")
    sub.on_message = on_message
    sub.connect("127.0.0.1", port)
    sub.loop_start()
    sub.subscribe("lantian/v1/outlet/+/hj212", qos=1)
    time.sleep(0.5)  # let SUBACK arrive; a benchmark, not a test
    try:
        return drive(mqtt_units, (port, list(packets)), lambda: count[0] >= len(packets),
                     meter, same_process)
    finally:
        sub.disconnect()
        sub.loop_stop()


def mqtt_pipeline(broker_port: int, influx_url: str, run_dir: Path,
                  outlets_by_mn: dict[str, Outlet], packets: Sequence[CemsPacket],
                  total_lines: int, meter: CpuMeter, same_process: bool) -> Drive:
    settings = pipeline_settings(influx_url, "mqtt", broker_port)
    store = InfluxStore(settings.influx)
    store.ensure_database()
    collector = MqttCollector(settings, store, dead_letter_store(run_dir, "mqtt"), {},
                              hj212=Hj212Intake(settings, outlets_by_mn, {}))
    collector.start()
    try:
        if not wait_until(lambda: collector.counters.subscribed, 10):
            raise SystemExit("MQTT collector did not subscribe")
        run = drive(mqtt_units, (broker_port, list(packets)),
                    lambda: collector.counters.readings_written >= total_lines, meter,
                    same_process)
    finally:
        collector.stop()
    if not run.result["all_acked"]:
        raise SystemExit(f"MQTT pipeline: not every message was acknowledged: {run.result}")
    check_clean(asdict(collector.counters), total_lines, "MQTT pipeline")
    stored = stored_points(influx_url, "mqtt")
    if stored != total_lines:
        raise SystemExit(f"MQTT pipeline: InfluxDB holds {stored} of {total_lines} points")
    store.close()
    return run


def run_mqtt_case(units: int, hours: float, seed: int, run_dir: Path, broker: LocalService,
                  influx: LocalService, *, same_process: bool = False,
                  influx_ceiling_per_s: float | None = None) -> dict[str, Any]:
    """HJ 212 over MQTT from `units` units (`hours` of real-time and minute packets each)
    through the collector (a thread of this process) into InfluxDB, against already started
    services. `ceiling_per_s` is the lower of the MQTT ceiling (publisher → counting
    subscriber) and the InfluxDB line-protocol ceiling (measured unless given). Rates in
    packets/s; one point per packet."""
    outlets = bench_outlets(units)
    packets = bench_packets(outlets, hours, seed)
    lines = expected_lines(outlets, packets)
    influx_top = influx_ceiling_per_s or influx_ceiling(influx.url, lines)
    meter = CpuMeter({"influxd": influx, "mosquitto": broker})
    top = mqtt_ceiling(broker.port, packets, meter, same_process)
    mqtt_top = len(packets) / top.elapsed_s
    run = mqtt_pipeline(broker.port, influx.url, run_dir, {o.mn: o for o in outlets}, packets,
                        len(lines), meter, same_process)
    rate = len(packets) / run.elapsed_s
    ceiling = min(mqtt_top, influx_top)
    return {
        "case": "hj212-mqtt", "unit": "packets", "units": units, "hours": hours,
        "count": len(packets), "readings": len(lines), "seconds": round(run.elapsed_s, 2),
        "rate_per_s": round(rate), "readings_per_s": round(rate),
        "ceiling": "lower of MQTT publish → counting subscriber and InfluxDB /write",
        "ceiling_per_s": round(ceiling), "ratio": round(rate / ceiling, 3),
        "mqtt_ceiling_per_s": round(mqtt_top), "influx_ceiling_per_s": round(influx_top),
        "cpu": run.cores["processes"], "lantian_threads": run.cores["lantian_threads"],
        "ceiling_cpu": top.cores["processes"],
        "peak_rss_mib": {"lantian (sampled)": run.rss_mib},
    }
