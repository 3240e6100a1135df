"""Broker queue benchmark: what Mosquitto keeps for a stalled collector, with its default queue
limits (the baseline) and with ours (config/mosquitto.conf), and how long a stall ours cover.

    .venv/bin/python bench/broker_queue.py [--messages 20000] [--modes offline,unacked]

A persistent-session QoS 1 subscriber (fixed client id, clean_session=False) subscribes to the
station topics, then stalls: `offline` disconnects, `unacked` stays connected but acknowledges
nothing (a collector whose store and spool are full). A publisher sends simulated station
readings (one JSON reading per message, flags included) at QoS 1 as fast as the broker takes
them; then the subscriber drains. Each run has its own broker. Prints tables and JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from bench.queue_sizing import (
    NETWORKS,
    QueueLimits,
    messages_needed,
    queue_memory_bytes,
    rate_msgs_per_s,
    read_limits,
    stall_coverage_s,
    worst_queue_memory_bytes,
)
from ingest.station_payload import Reading, encode_readings, reading_topic
from lantian.local_services import CONFIG_DIR, start_mosquitto, wait_until
from simulators.publisher import readings_at
from simulators.station_network import generate_network

# Mosquitto 2.0's defaults, appended after our file so they override it (last value wins).
DEFAULT_LIMITS_CONF = "max_queued_messages 1000\nmax_queued_bytes 0\nmax_inflight_messages 20\n"
BENCH_CONF = "sys_interval 1\n"  # $SYS counters every second instead of every 10 s
TOPIC_FILTER = "lantian/v1/station/+/reading"
SUBSCRIBER_ID = "bench-stalled-collector"
DROP_LOG_LINE = "Outgoing messages are being dropped"
TARGET_STALL_S = 3600.0  # a stalled collector must survive an hour at 1,000 sources/min


@dataclass(frozen=True, slots=True)
class StallRun:
    """One stall: what was published, what the broker held, dropped and gave back."""

    config: str
    mode: str
    published: int
    payload_mean_bytes: float
    publish_s: float
    rss_growth_bytes: int
    heap_growth_bytes: int
    dropped_sys: int
    drop_log_lines: int
    received_back: int
    duplicates: int

    @property
    def held(self) -> int:
        return self.published - self.dropped_sys

    @property
    def publish_rate(self) -> float:
        return self.published / self.publish_s

    def per_held(self, growth_bytes: int) -> float:
        return growth_bytes / self.held if self.held else math.nan


def station_payloads(n: int, seed: int = 7) -> list[tuple[str, bytes]]:
    """`n` messages from the simulated network: 1,000 stations' minute readings, flags N."""
    stations = min(n, 1000)
    window, _ = generate_network(stations, np.datetime64("2026-11-23T00:00"),
                                 math.ceil(n / stations), step_s=60, seed=seed)
    tz = ZoneInfo("Asia/Shanghai")
    out: list[tuple[str, bytes]] = []
    for column in range(window.times.size):
        for r in readings_at(window, column):
            flagged = Reading(r.station, r.time_s, r.values, dict.fromkeys(r.values, "N"))
            out.append((reading_topic("lantian/v1", r.station), encode_readings([flagged], tz)))
    return out[:n]


def vm_rss_bytes(pid: int) -> int:
    """Resident memory of a process, bytes (Linux /proc)."""
    match = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    if match is None:
        raise RuntimeError(f"no VmRSS for process {pid}")
    return int(match[1]) * 1024


def make_client(port: int, client_id: str, *, persistent: bool = False,
                manual_ack: bool = False) -> mqtt.Client:
    """A paho 2.x MQTT 3.1.1 client, up to 1,000 in flight, nothing dropped on its side."""
    c = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id,
                    clean_session=not persistent, protocol=mqtt.MQTTv311, manual_ack=manual_ack)
    c.max_inflight_messages_set(1000)
    c.max_queued_messages_set(0)
    return c


def sys_counters(port: int) -> dict[str, int]:
    """Fresh $SYS dropped-message and heap counters: waits for two uptime ticks."""
    values: dict[str, bytes] = {}
    ticks = [0]

    def on_message(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        values[msg.topic] = msg.payload
        ticks[0] += msg.topic == "$SYS/broker/uptime"

    c = make_client(port, "bench-sys")
    c.on_message = on_message
    c.connect("127.0.0.1", port)
    c.loop_start()
    c.subscribe([("$SYS/broker/publish/messages/dropped", 0), ("$SYS/broker/heap/current", 0),
                 ("$SYS/broker/uptime", 0)])
    wait_until(lambda: ticks[0] >= 3, 10)
    c.disconnect()
    c.loop_stop()
    return {"dropped": int(values.get("$SYS/broker/publish/messages/dropped", b"0")),
            "heap": int(values.get("$SYS/broker/heap/current", b"0"))}


class Subscriber:
    """The stalled collector: counts distinct payloads; acks only when draining (unacked mode)."""

    def __init__(self, port: int, mode: str) -> None:
        self.port, self.mode = port, mode
        self.seen: set[bytes] = set()
        self.deliveries = 0
        self.last_s = time.monotonic()
        self._held: list[int] = []
        self._draining = False
        self._lock = threading.Lock()
        self._c = make_client(port, SUBSCRIBER_ID, persistent=True, manual_ack=mode == "unacked")
        self._c.on_message = self._on_message

    def _on_message(self, c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.seen.add(msg.payload)
            self.deliveries += 1
            self.last_s = time.monotonic()
            if self.mode == "unacked" and not self._draining:
                self._held.append(msg.mid)
            elif self.mode == "unacked":
                c.ack(msg.mid, msg.qos)

    def connect(self) -> None:
        subscribed = threading.Event()
        self._c.on_subscribe = lambda *_: subscribed.set()
        self._c.connect("127.0.0.1", self.port)
        self._c.loop_start()
        self._c.subscribe(TOPIC_FILTER, qos=1)
        if not subscribed.wait(10):
            raise RuntimeError(f"no SUBACK for {TOPIC_FILTER} in 10 s")

    def stall(self) -> None:
        if self.mode == "offline":
            self._c.disconnect()
            self._c.loop_stop()

    def drain(self, expected: int, idle_s: float = 3.0) -> None:
        """Resume reading (and acknowledging) until all came back or `idle_s` brought nothing."""
        self.last_s = time.monotonic()
        if self.mode == "offline":
            self._c.reconnect()
            self._c.loop_start()
        else:
            with self._lock:
                self._draining = True
                held, self._held = self._held, []
            for mid in held:
                self._c.ack(mid, 1)
        wait_until(lambda: len(self.seen) >= expected
                   or time.monotonic() - self.last_s > idle_s, 600, 0.1)
        self._c.disconnect()
        self._c.loop_stop()


def publish_all(port: int, messages: list[tuple[str, bytes]]) -> float:
    """Publish at QoS 1 and wait for every PUBACK; seconds taken.

    At most 30,000 unacknowledged at once: paho's message ids wrap at 65,535.
    """
    window = threading.Semaphore(30_000)
    pub = make_client(port, "bench-publisher")
    pub.on_publish = lambda *_: window.release()
    pub.connect("127.0.0.1", port)
    pub.loop_start()
    started = time.perf_counter()
    infos = []
    for topic, body in messages:
        window.acquire()
        infos.append(pub.publish(topic, body, qos=1))
    for info in infos:
        info.wait_for_publish(120)
    elapsed = time.perf_counter() - started
    pub.disconnect()
    pub.loop_stop()
    return elapsed


def run_stall(run_dir: Path, config: str, mode: str,
              messages: list[tuple[str, bytes]]) -> StallRun:
    extra = BENCH_CONF + (DEFAULT_LIMITS_CONF if config == "default" else "")
    broker = start_mosquitto(run_dir / f"{config}-{mode}", extra_conf=extra)
    try:
        sub = Subscriber(broker.port, mode)
        sub.connect()
        sub.stall()
        before, rss_before = sys_counters(broker.port), vm_rss_bytes(broker.proc.pid)
        publish_s = publish_all(broker.port, messages)
        after, rss_after = sys_counters(broker.port), vm_rss_bytes(broker.proc.pid)
        sub.drain(len(messages))
    finally:
        broker.stop()
    log = broker.log_path.read_text(encoding="utf-8", errors="replace")
    return StallRun(
        config=config, mode=mode, published=len(messages),
        payload_mean_bytes=float(np.mean([len(body) for _, body in messages])),
        publish_s=publish_s, rss_growth_bytes=rss_after - rss_before,
        heap_growth_bytes=after["heap"] - before["heap"],
        dropped_sys=after["dropped"] - before["dropped"],
        drop_log_lines=log.count(DROP_LOG_LINE),
        received_back=len(sub.seen), duplicates=sub.deliveries - len(sub.seen))


def print_runs(runs: list[StallRun]) -> None:
    print(f"{'limits':>8} {'stall':>8} {'published':>10} {'payload B':>9} {'publish/s':>10} "
          f"{'held':>8} {'$SYS dropped':>12} {'log lines':>9} {'got back':>9} {'lost':>8} "
          f"{'RSS MiB':>8} {'RSS B/msg':>9} {'heap B/msg':>10}")
    for r in runs:
        print(f"{r.config:>8} {r.mode:>8} {r.published:>10,} {r.payload_mean_bytes:>9.0f} "
              f"{r.publish_rate:>10,.0f} {r.held:>8,} {r.dropped_sys:>12,} "
              f"{r.drop_log_lines:>9} {r.received_back:>9,} {r.published - r.received_back:>8,} "
              f"{r.rss_growth_bytes / 2**20:>8.1f} {r.per_held(r.rss_growth_bytes):>9.0f} "
              f"{r.per_held(r.heap_growth_bytes):>10.0f}")


def sizing(ours: QueueLimits, overhead_bytes: float, payload_bytes: float) -> dict[str, object]:
    """Stall coverage of the default and our limits at each network rate, and memory bounds."""
    default = QueueLimits()
    print(f"\nstall covered (payload {payload_bytes:.0f} B, {overhead_bytes:.0f} B overhead/msg)")
    print(f"{'network':<58} {'msgs/s':>7} {'default limits':>15} {'ours':>12}")
    rows = []
    for name, rate in NETWORKS:
        cover = [stall_coverage_s(lim, rate, payload_bytes) for lim in (default, ours)]
        rows.append({"network": name, "msgs_per_s": rate,
                     "default_s": cover[0], "ours_s": cover[1]})
        print(f"{name:<58} {rate:>7.1f} {cover[0] / 60:>11.1f} min {cover[1] / 60:>8.0f} min")
    needed = messages_needed(rate_msgs_per_s(1000, 60), TARGET_STALL_S)
    typical = queue_memory_bytes(ours, overhead_bytes, payload_bytes)
    worst = worst_queue_memory_bytes(ours, overhead_bytes)
    print(f"target: {TARGET_STALL_S / 3600:.0f} h at 1,000 sources/min needs {needed:,} messages; "
          f"ours hold {ours.messages_held(payload_bytes):,.0f}: "
          f"{'met' if ours.messages_held(payload_bytes) >= needed else 'NOT MET'}")
    print(f"broker heap for a full queue of these payloads: {typical / 2**20:.0f} MiB; worst case, "
          f"any payload mix up to max_packet_size: {worst / 2**20:.0f} MiB per stalled session")
    return {"limits": asdict(ours), "networks": rows, "needed_for_target": needed,
            "queue_heap_mib": typical / 2**20, "worst_queue_heap_mib": worst / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--modes", default="offline,unacked", help="offline and/or unacked")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    modes = args.modes.split(",")
    if not set(modes) <= {"offline", "unacked"}:
        parser.error(f"--modes: offline and/or unacked, not {args.modes!r}")
    messages = station_payloads(args.messages, args.seed)
    with tempfile.TemporaryDirectory() as scratch:
        runs = [run_stall(Path(scratch), config, mode, messages)
                for mode in modes for config in ("default", "ours")]
    print_runs(runs)
    for base, ours in zip(runs[::2], runs[1::2], strict=True):
        print(f"{ours.mode}: ours/default  got back {ours.received_back / base.received_back:.1f}×,"
              f" publish rate {ours.publish_rate / base.publish_rate:.2f}×")
    payload = runs[1].payload_mean_bytes
    overhead = runs[1].per_held(runs[1].heap_growth_bytes) - payload
    limits = read_limits((CONFIG_DIR / "mosquitto.conf").read_text(encoding="utf-8"))
    figures = {"runs": [asdict(r) | {"held": r.held, "publish_rate": r.publish_rate}
                        for r in runs],
               "sizing": sizing(limits, overhead, payload)}
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
