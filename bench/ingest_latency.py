"""Ingest latency: publish → queryable in InfluxDB, p50/p90/p99/max per message, at a steady
reading rate (default 10,000 readings/s), against raw paho publish → subscribe of the same
messages in the same run. Starts its own Mosquitto and InfluxDB and one `lantian collect`
process per configuration. Prints a table and JSON.

The collector runs as a subprocess, as in production: with its own interpreter it does not
share a GIL with the publisher and the poller here, which would add their scheduling to its
latency. Message k holds `per_message` readings of one station at the Unix seconds
``T0 + k*per_message + j``, so message k is exactly the InfluxDB bucket
``GROUP BY time(per_message s)`` number k: a poller counts the readings of the messages not
yet seen every `--poll-ms` and stamps each message when all its readings answer. The stamp is
the poll's answer time, so it over-states latency by at most one poll period plus one query.

    .venv/bin/python bench/ingest_latency.py [--rate 10000] [--seconds 20] \
        [--per-message 100] [--flush-intervals 0.5,0.1]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import paho.mqtt.client as mqtt
import pandas as pd

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.collector_process import cpu_seconds, start_collector
from bench.collector_throughput import VALUES, client, payloads
from config.settings import InfluxSettings
from ingest.errors import StoreError
from ingest.influx_store import InfluxStore
from ingest.station_payload import Reading
from lantian.local_services import (
    LocalService,
    start_influxdb,
    start_mosquitto,
    stop_process,
    wait_until,
)
from simulators.rate_limit import TokenBucket

T0 = 1_480_550_000  # 2016-11-30, divisible by 10,000: message buckets align on the epoch
TOPIC_FILTER = "lantian/v1/station/+/reading"
Message = tuple[str, bytes]
Row = dict[str, Any]  # one line of the table: path, counts, rates, latency figures


def latency_messages(n_messages: int, per_message: int, stations: int) -> list[Message]:
    """`n_messages` payloads; message k is station k mod `stations`, readings at the distinct
    Unix seconds T0 + k*per_message + j (j < per_message). `per_message` must divide T0 (any
    divisor of 10,000), so InfluxDB's epoch-aligned GROUP BY buckets are the messages."""
    if per_message < 1 or T0 % per_message:
        raise ValueError(f"per_message must be a divisor of 10,000, got {per_message}")
    items = [Reading(f"B{k % stations:04d}", T0 + k * per_message + j, VALUES)
             for k in range(n_messages) for j in range(per_message)]
    return payloads(items, per_message)


def summarize(latencies_s: Sequence[float]) -> dict[str, float]:
    """p50, p90, p99 and max in milliseconds (linear interpolation), and the count."""
    if not latencies_s:
        raise ValueError("no latencies to summarize")
    ms = np.asarray(latencies_s, dtype=np.float64) * 1000.0
    p50, p90, p99 = np.percentile(ms, [50, 90, 99])
    return {"n": len(ms), "p50_ms": float(p50), "p90_ms": float(p90), "p99_ms": float(p99),
            "max_ms": float(ms.max())}


def publish_paced(messages: Sequence[Message], rate_msgs_per_s: float,
                  send: Callable[[str, bytes], object], sent_at: list[float], *,
                  clock: Callable[[], float] = time.perf_counter,
                  sleep: Callable[[float], None] = time.sleep) -> None:
    """Send `messages` at `rate_msgs_per_s` through a token bucket (bursts of 2 % of a second,
    enough to catch up a late sleep), appending each one's `clock()` time (s) to `sent_at`
    just before it goes out, so a reader of `sent_at` sees index k once k is being sent."""
    bucket = TokenBucket(rate_msgs_per_s, burst=max(1.0, rate_msgs_per_s * 0.02), clock=clock)
    for topic, body in messages:
        wait_s = bucket.reserve()
        if wait_s > 0:
            sleep(wait_s)
        sent_at.append(clock())
        send(topic, body)


def complete_messages(frame: pd.DataFrame, per_message: int) -> list[int]:
    """Indices of the messages whose every reading is counted in `frame`, the CSV answer of
    ``SELECT count(pm25) … GROUP BY time(per_message s)`` (columns time (ns), count)."""
    if frame.empty:
        return []
    full = frame[frame["count"] >= per_message]
    return [(int(t) // 1_000_000_000 - T0) // per_message for t in full["time"]]


class VisibilityPoller:
    """Polls InfluxDB every `period_s` for the messages published and not yet seen, and records
    when each became fully queryable (`time.perf_counter()` seconds of the answer). A failed
    query is counted and the next poll tries again."""

    def __init__(self, store: InfluxStore, per_message: int, sent_at: list[float],
                 period_s: float) -> None:
        self.store, self.per_message, self.sent_at = store, per_message, sent_at
        self.period_s = period_s
        self.seen: dict[int, float] = {}
        self.polls = 0
        self.query_s = 0.0
        self.failures = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="visibility-poller", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        lo = 0
        while not self._stop.is_set():
            tick = time.perf_counter()
            published = len(self.sent_at)
            while lo in self.seen:
                lo += 1
            if lo < published:
                span = self.per_message
                try:
                    frame = self.store.query_frame(
                        f"SELECT count(pm25) FROM station_reading WHERE time >= {T0 + lo * span}s"
                        f" AND time < {T0 + published * span}s GROUP BY time({span}s) fill(none)")
                except StoreError:
                    self.failures += 1
                    frame = pd.DataFrame()
                answered = time.perf_counter()
                self.polls += 1
                self.query_s += answered - tick
                for k in complete_messages(frame, self.per_message):
                    self.seen.setdefault(k, answered)
            self._stop.wait(max(0.0, self.period_s - (time.perf_counter() - tick)))


def mqtt_baseline(port: int, messages: Sequence[Message], rate: float) -> Row:
    """Raw paho QoS 1 publish → subscribe latency of the same messages at the same rate."""
    index = {body: k for k, (_, body) in enumerate(messages)}
    received: dict[int, float] = {}

    def on_message(_c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        received[index[msg.payload]] = time.perf_counter()

    sub = client(port, "latency-sub")
    sub.on_message = on_message
    sub.subscribe(TOPIC_FILTER, qos=1)
    time.sleep(0.5)  # SUBACK: a benchmark, not a test
    pub = client(port, "latency-pub")
    sent_at: list[float] = []
    publish_paced(messages, rate, lambda t, b: pub.publish(t, b, qos=1), sent_at)
    wait_until(lambda: len(received) == len(messages), 30)
    for c in (pub, sub):
        c.disconnect()
        c.loop_stop()
    return _row("mqtt publish→subscribe", sent_at, received, len(messages))


def pipeline(broker: LocalService, influx: LocalService, run_dir: Path, name: str,
             flush_s: float, messages: Sequence[Message], rate: float, per_message: int,
             poll_s: float) -> Row:
    """Publish → queryable through one `lantian collect` process flushing every `flush_s`."""
    store = InfluxStore(InfluxSettings(url=influx.url, database=name))
    store.ensure_database()
    proc = start_collector(broker, influx, run_dir, name, name,
                           LANTIAN_INFLUX__FLUSH_INTERVAL_S=str(flush_s))
    try:
        time.sleep(1.0)  # SUBACK: a benchmark, not a test
        pub = client(broker.port, f"{name}-pub")
        sent_at: list[float] = []
        poller = VisibilityPoller(store, per_message, sent_at, poll_s)
        pids = {"collector": proc.pid, "influxdb": influx.proc.pid}
        cpu_before, started = {k: cpu_seconds(pid) for k, pid in pids.items()}, time.perf_counter()
        poller.start()
        publish_paced(messages, rate, lambda t, b: pub.publish(t, b, qos=1), sent_at)
        wait_until(lambda: len(poller.seen) == len(messages), 30)
        elapsed_s = time.perf_counter() - started
        cpu_pct = {f"{k}_cpu_pct": 100 * (cpu_seconds(pid) - cpu_before[k]) / elapsed_s
                   for k, pid in pids.items()}
        poller.stop()
        pub.disconnect()
        pub.loop_stop()
    finally:
        stop_process(proc)
    row = _row(f"pipeline flush {flush_s:g} s", sent_at, poller.seen, len(messages))
    row.update(cpu_pct, flush_interval_s=flush_s, polls=poller.polls, poll_failures=poller.failures,
               mean_poll_ms=1000 * poller.query_s / max(1, poller.polls))
    return row


def _row(path: str, sent_at: Sequence[float], arrived: dict[int, float],
         total: int) -> Row:
    latencies = [arrived[k] - sent_at[k] for k in sorted(arrived)]
    row: Row = {"path": path, "messages": total, "missing": total - len(latencies)}
    row["achieved_msgs_per_s"] = (len(sent_at) - 1) / (sent_at[-1] - sent_at[0])
    row.update(summarize(latencies))
    # per message (s after the first publish, latency s); main() drops it from the JSON
    row["trace"] = [(sent_at[k] - sent_at[0], arrived[k] - sent_at[k]) for k in sorted(arrived)]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=10_000, help="readings per second")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--per-message", type=int, default=100, help="readings per message")
    parser.add_argument("--flush-intervals", default="0.5,0.1",
                        help="collector influx.flush_interval_s values, comma-separated")
    parser.add_argument("--stations", type=int, default=500)
    parser.add_argument("--poll-ms", type=float, default=50)
    parser.add_argument("--trace", type=Path, help="write each message's latency to this CSV")
    args = parser.parse_args()
    msg_rate = args.rate / args.per_message
    messages = latency_messages(int(msg_rate * args.seconds), args.per_message, args.stations)
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        run_dir = Path(scratch)
        broker, influx = start_mosquitto(run_dir), start_influxdb(run_dir)
        try:
            rows.append(mqtt_baseline(broker.port, messages, msg_rate))
            for i, flush_s in enumerate(float(f) for f in args.flush_intervals.split(",")):
                rows.append(pipeline(broker, influx, run_dir, f"latency{i}", flush_s, messages,
                                     msg_rate, args.per_message, args.poll_ms / 1000))
        finally:
            broker.stop()
            influx.stop()
    traces = {row["path"]: row.pop("trace") for row in rows}
    if args.trace:
        with args.trace.open("w", encoding="utf-8") as out:
            out.write("path,sent_s,latency_s\n")
            out.writelines(f"{path},{sent:.4f},{lat:.4f}\n"
                           for path, trace in traces.items() for sent, lat in trace)
    for row in rows:
        row["readings_per_s"] = row["achieved_msgs_per_s"] * args.per_message
        row["p99_under_1s"] = row["p99_ms"] < 1000
    print(f"{'path':<24} {'readings/s':>10} {'msgs':>6} {'lost':>4} {'p50 ms':>7} "
          f"{'p90 ms':>7} {'p99 ms':>7} {'max ms':>7} {'collector CPU':>13} {'influxd CPU':>11}")
    for row in rows:
        cpu = [f"{row[k]:.0f} %" if k in row else "-"
               for k in ("collector_cpu_pct", "influxdb_cpu_pct")]
        print(f"{row['path']:<24} {row['readings_per_s']:>10,.0f} {row['messages']:>6} "
              f"{row['missing']:>4} {row['p50_ms']:>7.1f} {row['p90_ms']:>7.1f} "
              f"{row['p99_ms']:>7.1f} {row['max_ms']:>7.1f} {cpu[0]:>13} {cpu[1]:>11}")
    print(json.dumps({"rate_readings_per_s": args.rate, "per_message": args.per_message,
                      "seconds": args.seconds, "stations": args.stations,
                      "poll_ms": args.poll_ms, "runs": rows}))


if __name__ == "__main__":
    main()
