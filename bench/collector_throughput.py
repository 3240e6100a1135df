"""Ingest benchmark: station readings/s through MQTT → collector → InfluxDB, against the ceilings
of the parts measured in the same run (raw InfluxDB line-protocol writes; raw paho publish →
subscribe). Starts its own Mosquitto and InfluxDB. Prints a table and JSON.

    .venv/bin/python bench/collector_throughput.py [--readings 200000] [--batch 100]
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import threading
import time
import uuid
from pathlib import Path

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from alerts.ledger_db import create_schema, make_engine, make_session_factory
from config.settings import CollectorSettings, InfluxSettings, MqttSettings, Settings
from ingest.dead_letters import DeadLetterStore
from ingest.influx_store import InfluxStore
from ingest.line_protocol import reading_line
from ingest.mqtt_collector import MqttCollector
from ingest.station_payload import Reading
from lantian.local_services import start_influxdb, start_mosquitto, wait_until

T0 = 1_480_550_400
VALUES = {"pm25": 35.2, "pm10": 61.0, "so2": 8.0, "no2": 31.0, "o3": 40.0, "co": 0.6}


def readings(n: int, stations: int) -> list[Reading]:
    """`n` minute readings, station by station (so a message's batch is one station's)."""
    per_station = n // stations
    return [Reading(f"B{s:04d}", T0 + 60 * k, VALUES)
            for s in range(stations) for k in range(per_station)]


def payloads(items: list[Reading], batch: int) -> list[tuple[str, bytes]]:
    out = []
    for start in range(0, len(items), batch):
        chunk = [r for r in items[start:start + batch] if r.station == items[start].station]
        body = [{"time": r.time_s, **r.values} for r in chunk]
        out.append((f"lantian/v1/station/{chunk[0].station}/reading",
                    orjson.dumps(body if batch > 1 else body[0])))
    return out


def client(port: int, name: str) -> mqtt.Client:
    c = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2,
                    client_id=f"{name}-{uuid.uuid4().hex[:6]}")
    c.max_inflight_messages_set(1000)
    c.connect("127.0.0.1", port)
    c.loop_start()
    return c


def publish_all(pub: mqtt.Client, messages: list[tuple[str, bytes]]) -> None:
    infos = [pub.publish(topic, body, qos=1) for topic, body in messages]
    for info in infos:
        info.wait_for_publish(60)


def influx_ceiling(store: InfluxStore, items: list[Reading]) -> float:
    lines = [reading_line(r) for r in items]
    started = time.perf_counter()
    for start in range(0, len(lines), 5000):
        store.write_lines(lines[start:start + 5000])
    return len(lines) / (time.perf_counter() - started)


def mqtt_ceiling(port: int, messages: list[tuple[str, bytes]], batch: int) -> float:
    done = threading.Event()
    count = [0]

    def on_message(*_: object) -> None:
        count[0] += 1
        if count[0] == len(messages):
            done.set()

    sub = client(port, "bench-sub")
    sub.on_message = on_message
    sub.subscribe("lantian/v1/station/+/reading", qos=1)
    time.sleep(0.5)  # let SUBACK arrive; a benchmark, not a test
    pub = client(port, "bench-pub")
    started = time.perf_counter()
    publish_all(pub, messages)
    done.wait(120)
    elapsed = time.perf_counter() - started
    for c in (pub, sub):
        c.disconnect()
        c.loop_stop()
    return len(messages) * batch / elapsed


def pipeline(port: int, settings: InfluxSettings, run_dir: Path,
             messages: list[tuple[str, bytes]], total: int) -> float:
    engine = make_engine(f"sqlite:///{run_dir / 'ledger.db'}")
    create_schema(engine)
    cfg = Settings(mqtt=MqttSettings(port=port), influx=settings,
                   collector=CollectorSettings(client_id="bench-collector"))
    store = InfluxStore(settings)
    store.ensure_database()
    collector = MqttCollector(cfg, store,
                                 DeadLetterStore(make_session_factory(engine)), {})
    collector.start()
    wait_until(lambda: collector.counters.subscribed, 10)
    pub = client(port, "bench-pub2")
    started = time.perf_counter()
    publish_all(pub, messages)
    finished = wait_until(lambda: collector.counters.readings_written >= total, 300, 0.01)
    elapsed = time.perf_counter() - started
    if not finished:
        raise SystemExit(f"pipeline did not finish: {collector.counters}")
    pub.disconnect()
    pub.loop_stop()
    collector.stop()
    return total / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readings", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=100, help="readings per MQTT message")
    parser.add_argument("--stations", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        run_dir = Path(scratch)
        broker, influx = start_mosquitto(run_dir), start_influxdb(run_dir)
        try:
            items = readings(args.readings, args.stations)
            messages = payloads(items, args.batch)
            raw = InfluxSettings(url=influx.url, database="ceiling")
            raw_store = InfluxStore(raw)
            raw_store.ensure_database()
            figures = {
                "influx_write_ceiling_per_s": influx_ceiling(raw_store, items),
                "mqtt_ceiling_readings_per_s": mqtt_ceiling(broker.port, messages, args.batch),
                "pipeline_readings_per_s": pipeline(
                    broker.port, InfluxSettings(url=influx.url, database="pipeline"),
                    run_dir, messages, args.readings),
            }
            stored = InfluxStore(InfluxSettings(url=influx.url, database="pipeline")).count(
                "station_reading", "pm25")
            assert stored == args.readings, f"pipeline stored {stored} of {args.readings}"
        finally:
            broker.stop()
            influx.stop()
    ceiling = min(figures["influx_write_ceiling_per_s"], figures["mqtt_ceiling_readings_per_s"])
    figures["pipeline_to_ceiling_ratio"] = figures["pipeline_readings_per_s"] / ceiling
    figures["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures.update(readings=args.readings, batch=args.batch, stations=args.stations)
    print(f"{'readings':>10} {'batch':>6} {'influx ceiling/s':>17} {'mqtt ceiling/s':>15} "
          f"{'pipeline/s':>11} {'ratio':>6} {'peak RSS MiB':>13}")
    print(f"{args.readings:>10} {args.batch:>6} {figures['influx_write_ceiling_per_s']:>17,.0f} "
          f"{figures['mqtt_ceiling_readings_per_s']:>15,.0f} "
          f"{figures['pipeline_readings_per_s']:>11,.0f} "
          f"{figures['pipeline_to_ceiling_ratio']:>6.2f} {figures['peak_rss_mib']:>13.0f}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
