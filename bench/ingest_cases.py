"""The JSON ingest cases of `lantian bench`: station readings published at QoS 1 by publisher
processes → a `lantian collect` process → InfluxDB, against the ceilings of the parts measured in
the same run on the same messages:

- MQTT ceiling: the same publishers into a plain paho subscriber process that only counts
  (raw paho QoS 1 publish → subscribe);
- InfluxDB ceiling: the same readings as line protocol POSTed straight to `/write` in
  5,000-line requests from one client.

Every process is its own interpreter, as in production, so no case shares a GIL with another
and each process's CPU and peak memory are read from /proc.
"""

from __future__ import annotations

import multiprocessing
import resource
import subprocess
import time
from dataclasses import dataclass
from multiprocessing.synchronize import Event
from pathlib import Path

from alerts.ledger_db import make_engine, make_session_factory
from bench.collector_process import start_collector
from bench.collector_throughput import client, payloads, readings
from bench.proc_meter import ProcessMeter
from bench.results import BenchRow
from config.settings import InfluxSettings
from ingest.influx_store import InfluxStore
from ingest.ingest_status import IngestStatusStore
from ingest.line_protocol import reading_line
from lantian.local_services import LocalService, find_executable, stop_process, wait_until

TOPIC = "lantian/v1/station/+/reading"


@dataclass(frozen=True)
class JsonCase:
    """`readings` station readings, `per_message` to a message, from `publishers` processes."""

    name: str
    readings: int
    per_message: int
    publishers: int = 2
    stations: int = 500
    target_ratio: float | None = None
    # "python": paho publisher processes; "c": one mosquitto_pub per station topic, so the
    # publishers' own CPU (paho costs about as much per message as the collector) does not
    # decide what a 2-core machine measures
    publisher: str = "python"


def _publisher(port: int, messages: list[tuple[str, bytes]], go: Event,
               ready: multiprocessing.Queue, spent: multiprocessing.Queue) -> None:
    pub = client(port, "bench-pub")
    ready.put(True)
    go.wait()
    infos = [pub.publish(topic, body, qos=1) for topic, body in messages]
    for info in infos:
        info.wait_for_publish(300)
    pub.disconnect()
    pub.loop_stop()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    spent.put(usage.ru_utime + usage.ru_stime)


def _counter(port: int, expected: int, subscribed: Event, finished: multiprocessing.Queue
             ) -> None:
    """Count messages until `expected` arrived; report (wall time of the last, CPU seconds)."""
    count = [0]

    def on_message(*_: object) -> None:
        count[0] += 1
        if count[0] == expected:
            usage = resource.getrusage(resource.RUSAGE_SELF)
            finished.put((time.time(), usage.ru_utime + usage.ru_stime))

    sub = client(port, "bench-sub")
    sub.on_message = on_message
    sub.on_subscribe = lambda *_: subscribed.set()
    sub.subscribe(TOPIC, qos=1)
    time.sleep(3600)  # ended by the parent once it has the figures


class Publishers:
    """Publisher processes, connected and waiting; `go()` releases them all at once."""

    def __init__(self, port: int, messages: list[tuple[str, bytes]], count: int) -> None:
        ctx = multiprocessing.get_context("fork")
        self._go, ready, self._spent = ctx.Event(), ctx.Queue(), ctx.Queue()
        self.procs = [ctx.Process(target=_publisher, daemon=True,
                                  args=(port, messages[i::count], self._go, ready, self._spent))
                      for i in range(count)]
        for proc in self.procs:
            proc.start()
        for _ in self.procs:
            ready.get(timeout=30)

    def go(self) -> float:
        started = time.time()
        self._go.set()
        return started

    def join(self) -> float:
        """Wait for every publisher; their CPU seconds in total."""
        cpu = sum(self._spent.get(timeout=600) for _ in self.procs)
        for proc in self.procs:
            proc.join(30)
        return cpu


class CPublishers:
    """`mosquitto_pub -l -q 1` processes, one per topic (it publishes stdin's lines to one
    topic), started together by `go()`; the C client costs a fraction of paho's CPU."""

    def __init__(self, port: int, messages: list[tuple[str, bytes]], run_dir: Path) -> None:
        by_topic: dict[str, list[bytes]] = {}
        for topic, body in messages:
            if b"\n" in body:
                raise ValueError("mosquitto_pub -l sends one message a line: no newlines")
            by_topic.setdefault(topic, []).append(body)
        self._files = []
        for k, (topic, bodies) in enumerate(by_topic.items()):
            path = run_dir / f"pub-{k}.txt"
            path.write_bytes(b"\n".join(bodies) + b"\n")
            self._files.append((topic, path))
        self._argv = [find_executable("mosquitto_pub"), "-h", "127.0.0.1", "-p", str(port),
                      "-q", "1", "-M", "1000", "-l"]
        self.procs: list[subprocess.Popen[bytes]] = []

    def go(self) -> float:
        self._cpu_before = _children_cpu_s()
        started = time.time()
        for topic, path in self._files:
            with path.open("rb") as stdin:
                self.procs.append(subprocess.Popen([*self._argv, "-t", topic], stdin=stdin))
        return started

    def join(self) -> float:
        for proc in self.procs:
            if proc.wait(600) != 0:
                raise SystemExit(f"mosquitto_pub exited with {proc.returncode}")
        return _children_cpu_s() - self._cpu_before


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def publishers_for(case: JsonCase, port: int, messages: list[tuple[str, bytes]],
                   run_dir: Path, publisher: str | None = None) -> Publishers | CPublishers:
    """The case's publishers (or `publisher`'s kind): paho processes or mosquitto_pub."""
    if (publisher or case.publisher) == "c":
        return CPublishers(port, messages, run_dir)
    return Publishers(port, messages, case.publishers)


def influx_ceiling(influx: LocalService, lines: list[str]) -> float:
    """Line protocol/s POSTed straight to InfluxDB, 5,000 lines a request."""
    store = InfluxStore(InfluxSettings(url=influx.url, database="ceiling"))
    store.ensure_database()
    started = time.perf_counter()
    for start in range(0, len(lines), 5000):
        store.write_lines(lines[start:start + 5000])
    return len(lines) / (time.perf_counter() - started)


def mqtt_ceiling(broker: LocalService, messages: list[tuple[str, bytes]], case: JsonCase,
                 run_dir: Path, publisher: str = "python") -> tuple[float, dict[str, float]]:
    """Readings/s into a counting paho subscriber — raw paho publish → subscribe with paho
    publishers, the subscriber's own limit with mosquitto_pub — and the cores each used."""
    ctx = multiprocessing.get_context("fork")
    subscribed, finished = ctx.Event(), ctx.Queue()
    counter = ctx.Process(target=_counter, daemon=True,
                          args=(broker.port, len(messages), subscribed, finished))
    counter.start()
    try:
        if not subscribed.wait(30):
            raise SystemExit("the ceiling subscriber did not subscribe")
        pubs = publishers_for(case, broker.port, messages, run_dir, publisher)
        meter = ProcessMeter({"mosquitto": broker.proc.pid})
        meter.start()
        started = pubs.go()
        last_s, sub_cpu = finished.get(timeout=600)
        pub_cpu = pubs.join()
    finally:
        counter.kill()
    wall = last_s - started
    meter.add_spent("publishers", pub_cpu)
    meter.add_spent("subscriber", sub_cpu)
    return len(messages) * case.per_message / wall, meter.stop(wall)


def pipeline(broker: LocalService, influx: LocalService, run_dir: Path,
             messages: list[tuple[str, bytes]], case: JsonCase
             ) -> tuple[float, float, dict[str, float], dict[str, float]]:
    """Readings/s from the first publish until InfluxDB holds every reading (counted there),
    wall seconds, cores per process, and peak RSS of the collector and influxd."""
    database = f"pipeline_{case.name.replace('-', '_')}"
    store = InfluxStore(InfluxSettings(url=influx.url, database=database))
    store.ensure_database()
    name = f"bench-{case.name}"
    # the collector records its counters every 50 ms in its ledger: polling those costs
    # InfluxDB nothing, where a count() query every 50 ms would load it with our own queries
    collector = start_collector(broker, influx, run_dir, name, database,
                                LANTIAN_COLLECTOR__STATUS_INTERVAL_S="0.05")
    status = IngestStatusStore(make_session_factory(make_engine(
        f"sqlite:///{run_dir / f'{name}.db'}")))

    def written() -> int:
        return sum(int(s.counters.get("readings_written", 0)) for s in status.all())
    try:
        pubs = publishers_for(case, broker.port, messages, run_dir)
        meter = ProcessMeter({"collector": collector.pid, "influxd": influx.proc.pid,
                              "mosquitto": broker.proc.pid})
        meter.start()
        started = pubs.go()
        done = wait_until(lambda: written() >= case.readings, 600, 0.02)
        wall = time.time() - started
        meter.add_spent("publishers", pubs.join())
        stored = store.count("station_reading", "pm25")
        if not done or stored != case.readings:
            raise SystemExit(f"{case.name}: InfluxDB holds {stored} of {case.readings} readings;"
                             f" see {run_dir}")
        cores, peaks = meter.stop(wall), meter.peaks()
    finally:
        stop_process(collector)
    return case.readings / wall, wall, cores, {k: peaks[k] for k in ("collector", "influxd")}


def run_json_case(case: JsonCase, broker: LocalService, influx: LocalService, run_dir: Path
                  ) -> BenchRow:
    """One JSON case against already-started services: both ceilings, then the pipeline."""
    items = readings(case.readings, case.stations)
    messages = payloads(items, case.per_message)
    influx_rate = influx_ceiling(influx, [reading_line(r) for r in items])
    mqtt_rate, mqtt_cores = mqtt_ceiling(broker, messages, case, run_dir)
    extra: dict[str, float | int | str] = {}
    if case.publisher == "c":  # what the bare subscriber takes when publishers cost little
        sub_rate, _ = mqtt_ceiling(broker, messages, case, run_dir, publisher="c")
        extra["paho_subscriber_fed_by_mosquitto_pub_per_s"] = round(sub_rate)
    rate, wall, cores, peaks = pipeline(broker, influx, run_dir, messages, case)
    lower = "InfluxDB write" if influx_rate <= mqtt_rate else "paho pub→sub"
    return BenchRow(
        case=case.name, unit="readings", count=case.readings, seconds=round(wall, 2),
        rate_per_s=rate, ceiling=lower, ceiling_per_s=min(influx_rate, mqtt_rate),
        target_ratio=case.target_ratio, cpu_cores=cores, peak_rss_mib=peaks,
        extra={"per_message": case.per_message, "messages": len(messages),
               "publishers": case.publishers if case.publisher == "python"
               else f"{len({t for t, _ in messages})} mosquitto_pub (ceiling: "
                    f"{case.publishers} paho processes)",
               "influx_ceiling_per_s": round(influx_rate),
               "mqtt_ceiling_per_s": round(mqtt_rate),
               **{f"mqtt_ceiling_cores_{k}": v for k, v in mqtt_cores.items()}, **extra})
