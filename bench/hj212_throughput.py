"""HJ 212 ingest benchmark: CEMS packets/s through the codec and intake (one core), through the
TCP gateway and through MQTT into InfluxDB, against the ceilings of the parts measured in the
same run (CRC and split of the raw bytes; line protocol written straight to InfluxDB; the MQTT
publisher into a subscriber that only counts). Starts its own Mosquitto and InfluxDB. Prints
tables and JSON.

    .venv/bin/python bench/hj212_throughput.py [--units 50] [--hours 6] [--no-mqtt]

Packets come from the CEMS simulator (real-time 2011 and minute 2051 data, Flag=5, so every
packet asks for a CN 9014 reply), one data acquisition unit per outlet; the register's outlets
are copied under new MNs to get `--units` of them. The units run in their own process, as
real units are other machines (--same-process: a thread of this one, sharing its GIL). The
run checks that every point is in InfluxDB, nothing was rejected and every packet got its
9014; it reports the cores each process (and each thread of this one) used.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import re
import resource
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from zoneinfo import ZoneInfo

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from alerts.ledger_db import create_schema, make_engine, make_session_factory
from config.outlets import Outlet, load_outlets
from config.settings import (
    CollectorSettings,
    GatewaySettings,
    InfluxSettings,
    MqttSettings,
    Settings,
)
from ingest.dead_letters import DeadLetterStore
from ingest.hj212_codec import Hj212Codec, hj212_crc
from ingest.hj212_framer import Frame, Hj212Framer
from ingest.hj212_gateway import Hj212Gateway
from ingest.hj212_intake import Hj212Intake
from ingest.hj212_records import interpret_packet, record_line
from ingest.influx_store import InfluxStore
from ingest.mqtt_collector import MqttCollector
from ingest.write_buffer import IngestCounters, WriteBuffer
from lantian.local_services import LocalService, start_influxdb, start_mosquitto, wait_until
from simulators.cems_injections import simulate_cems
from simulators.cems_packets import CemsPacket, build_packets
from simulators.cems_transport import publish_mqtt

START = datetime(2026, 3, 1, tzinfo=ZoneInfo("Asia/Shanghai"))
MEASUREMENTS = ("hj212_rtd", "hj212_minute")
COUNT_FIELD = "o2_flag"
_HAS_COUNT_FIELD = re.compile(rf"[ ,]{COUNT_FIELD}=")
_QN = re.compile(rb"QN=(\d{17})")
CLK_TCK = os.sysconf("SC_CLK_TCK")
UNITS_THREAD = "bench-units"
PAGE = os.sysconf("SC_PAGE_SIZE")


# -- data -----------------------------------------------------------------------------------
def bench_outlets(units: int) -> list[Outlet]:
    """`units` outlets: the register's, cycled, each copy under its own 24-character MN."""
    register = load_outlets(Settings().outlets_file).outlets
    return [register[k % len(register)].model_copy(update={"mn": f"BENCH{k:019d}"})
            for k in range(units)]


def bench_packets(outlets: Sequence[Outlet], hours: float, seed: int) -> list[CemsPacket]:
    run = simulate_cems(outlets, START, hours, seed=seed)
    return build_packets(run, commands=("rtd", "minute"))


# -- CPU accounting ---------------------------------------------------------------------------
def _stat_cpu_s(stat: Path) -> float:
    """utime + stime from a Linux /proc …/stat file."""
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def _thread_group(name: str) -> str:
    if name.startswith("asyncio_"):
        return "gateway put threads"
    if name.startswith("paho-mqtt-client-bench-collector"):
        return "collector paho"
    if name.startswith("paho-mqtt-client-bench-sub"):
        return "subscriber paho"
    return {"MainThread": "main", "hj212-gateway": "gateway loop", "influx-writer": "writer",
            UNITS_THREAD: "units"}.get(name, "other")


def thread_cpu_s() -> dict[str, float]:
    """CPU seconds of this process's live threads, by role."""
    names = {t.native_id: t.name for t in threading.enumerate()}
    out: dict[str, float] = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            spent = _stat_cpu_s(task / "stat")
        except (FileNotFoundError, ProcessLookupError):
            continue
        group = _thread_group(names.get(int(task.name), "other"))
        out[group] = out.get(group, 0.0) + spent
    return out


@dataclass
class CpuMeter:
    """Cores used on average by this process (and its threads), the services and the units'
    process between start() and stop()."""

    services: dict[str, LocalService]
    _marks: dict[str, float] = field(default_factory=dict)
    _threads: dict[str, float] = field(default_factory=dict)
    _units_pid: int | None = None

    def _now(self) -> dict[str, float]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        now = {"lantian": usage.ru_utime + usage.ru_stime}
        now.update({name: _stat_cpu_s(Path(f"/proc/{s.proc.pid}/stat"))
                    for name, s in self.services.items()})
        if self._units_pid is not None:
            now["units process"] = _stat_cpu_s(Path(f"/proc/{self._units_pid}/stat"))
        return now

    def start(self, units_pid: int | None) -> None:
        self._units_pid = units_pid
        self._marks = self._now()
        self._threads = thread_cpu_s()

    def stop(self, wall_s: float) -> dict[str, dict[str, float]]:
        now, threads = self._now(), thread_cpu_s()
        spent = {k: v - self._threads.get(k, 0.0) for k, v in sorted(threads.items())}
        # Threads that ended before stop() (a publisher in --same-process) are only in the total.
        ended = now["lantian"] - self._marks["lantian"] - sum(spent.values())
        if ended >= 0.01 * wall_s:
            spent["ended threads"] = ended
        return {
            "processes": {k: round((v - self._marks[k]) / wall_s, 2) for k, v in now.items()},
            "lantian_threads": {k: round(v / wall_s, 2) for k, v in spent.items() if v > 0},
        }


# -- 1. codec and intake, one core --------------------------------------------------------------
def per_second(fn: Callable[[object], object], items: Sequence[object], repeat: int) -> float:
    """Best of `repeat` passes of fn over items, items/s."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for item in items:
            fn(item)
        best = min(best, time.perf_counter() - started)
    return len(items) / best


def codec_figures(settings: Settings, outlets_by_mn: dict[str, Outlet],
                  raws: Sequence[bytes], repeat: int) -> dict[str, float]:
    codec = Hj212Codec()
    intake = Hj212Intake(settings, outlets_by_mn, {})
    rules = intake.rules()
    segments = [raw[6:-6] for raw in raws]
    decoded = [codec.decode(raw) for raw in raws]
    records = [interpret_packet(p, rules).record for p in decoded]
    return {
        "crc_only": per_second(hj212_crc, segments, repeat),
        "split_only": per_second(lambda raw: raw.split(b";"), raws, repeat),
        "decode": per_second(codec.decode, raws, repeat),
        "interpret": per_second(lambda p: interpret_packet(p, rules), decoded, repeat),
        "line_protocol": per_second(record_line, records, repeat),
        "reply_9014": per_second(lambda p: codec.encode(codec.reply_to(p)), decoded, repeat),
        "intake_frame": per_second(lambda raw: intake.frame(raw, "bench"), raws, repeat),
    }


# -- pipeline plumbing ------------------------------------------------------------------------
def pipeline_settings(influx_url: str, database: str, mqtt_port: int = 1883) -> Settings:
    return Settings(
        mqtt=MqttSettings(port=mqtt_port),
        influx=InfluxSettings(url=influx_url, database=database),
        collector=CollectorSettings(client_id=f"bench-collector-{uuid.uuid4().hex[:8]}",
                                    require_registration=True),
        gateway=GatewaySettings(port=0),
    )


def dead_letter_store(run_dir: Path, name: str) -> DeadLetterStore:
    engine = make_engine(f"sqlite:///{run_dir / f'{name}.db'}")
    create_schema(engine)
    return DeadLetterStore(make_session_factory(engine))


def stored_points(influx_url: str, database: str) -> int:
    store = InfluxStore(InfluxSettings(url=influx_url, database=database))
    try:
        return sum(store.count(m, COUNT_FIELD) for m in MEASUREMENTS)
    finally:
        store.close()


def check_clean(counters: IngestCounters, total_lines: int, what: str) -> None:
    if counters.readings_written != total_lines or counters.rejections \
            or counters.dead_letters_stored:
        raise SystemExit(f"{what}: {counters} (expected {total_lines} points, no rejections)")


def influx_ceiling(influx_url: str, lines: list[str]) -> float:
    store = InfluxStore(InfluxSettings(url=influx_url, database="ceiling"))
    store.ensure_database()
    started = time.perf_counter()
    for start in range(0, len(lines), 5000):
        store.write_lines(lines[start:start + 5000])
    elapsed = time.perf_counter() - started
    store.close()
    return len(lines) / elapsed


# -- the units: a separate process (like real units) or a thread of this one ------------------
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


# -- 2. TCP gateway ---------------------------------------------------------------------------
def tcp_units(conn: Connection, port: int, packets: Sequence[CemsPacket],
              rate: float | None) -> None:
    """One connection per MN; each unit sends its packets back to back (rate None) or packet
    i of the whole list at t0 + i/rate, and times each 9014 from the packet handed to the
    socket to the reply read back. Replies are checked cheaply here, fully by the caller."""
    asyncio.run(_tcp_units(conn, port, packets, rate))


async def _tcp_units(conn: Connection, port: int, packets: Sequence[CemsPacket],
                     rate: float | None) -> None:
    by_mn: dict[str, list[tuple[int, CemsPacket]]] = {}
    for index, packet in enumerate(packets):
        by_mn.setdefault(packet.mn, []).append((index, packet))
    streams = [await asyncio.open_connection("127.0.0.1", port) for _ in by_mn]
    latencies: list[float] = []
    replies: list[bytes] = []
    loop = asyncio.get_running_loop()

    async def unit(items: list[tuple[int, CemsPacket]], reader: asyncio.StreamReader,
                   writer: asyncio.StreamWriter) -> None:
        sent_at: dict[bytes, float] = {}

        async def read() -> None:
            framer = Hj212Framer()
            got = 0
            while got < len(items):
                data = await reader.read(65536)
                if not data:
                    return
                now = time.perf_counter()
                for piece in framer.feed(data):
                    match = _QN.search(piece.data) if isinstance(piece, Frame) else None
                    if match is None or b";CN=9014;" not in piece.data:
                        continue
                    started = sent_at.pop(match.group(1), None)
                    if started is not None:
                        latencies.append(now - started)
                        replies.append(piece.data)
                        got += 1

        reading = asyncio.create_task(read())
        for index, packet in items:
            if rate is not None:
                delay = t0 + index / rate - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            sent_at[packet.qn.encode()] = time.perf_counter()
            writer.write(packet.raw)
            await writer.drain()
        await reading
        writer.close()

    conn.send("ready")
    await loop.run_in_executor(None, conn.recv)
    t_first = time.perf_counter()
    t0 = loop.time()
    await asyncio.gather(*(unit(items, reader, writer) for items, (reader, writer)
                           in zip(by_mn.values(), streams, strict=True)))
    conn.send({"t_first": t_first, "latencies": latencies, "replies": replies})


def tcp_pipeline(influx_url: str, database: str, run_dir: Path, outlets_by_mn: dict[str, Outlet],
                 packets: Sequence[CemsPacket], total_lines: int, rate: float | None,
                 meter: CpuMeter, same_process: bool) -> Drive:
    settings = pipeline_settings(influx_url, database)
    store = InfluxStore(settings.influx)
    store.ensure_database()
    buffer = WriteBuffer(settings, store, dead_letter_store(run_dir, database))
    gateway = Hj212Gateway(settings.gateway, Hj212Intake(settings, outlets_by_mn, {}), buffer)
    port = gateway.start()
    buffer.start()
    try:
        run = drive(tcp_units, (port, list(packets), rate),
                    lambda: buffer.counters.readings_written >= total_lines, meter, same_process)
    finally:
        gateway.stop()
        buffer.stop()
    check_clean(buffer.counters, total_lines, "TCP pipeline")
    replies = run.result["replies"]
    if buffer.counters.replies_sent != len(packets) or len(replies) != len(packets):
        raise SystemExit(f"TCP pipeline: {len(replies)} replies received, "
                         f"{buffer.counters.replies_sent} sent, for {len(packets)} packets")
    codec = Hj212Codec()  # every reply is a valid 9014 (length, CRC) for a packet sent
    sent_qns = {p.qn for p in packets}
    for raw in replies:
        reply = codec.decode(raw)
        assert reply.cn == "9014" and reply.qn in sent_qns, raw
    stored = stored_points(influx_url, database)
    if stored != total_lines:
        raise SystemExit(f"TCP pipeline: InfluxDB holds {stored} of {total_lines} points")
    store.close()
    return run


def latency_ms(latencies_s: list[float]) -> dict[str, float]:
    ordered = sorted(latencies_s)
    return {"median": round(1000 * statistics.median(ordered), 2),
            "p95": round(1000 * ordered[int(0.95 * (len(ordered) - 1))], 2),
            "max": round(1000 * ordered[-1], 2)}


# -- 3. MQTT ----------------------------------------------------------------------------------
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
    check_clean(collector.counters, total_lines, "MQTT pipeline")
    stored = stored_points(influx_url, "mqtt")
    if stored != total_lines:
        raise SystemExit(f"MQTT pipeline: InfluxDB holds {stored} of {total_lines} points")
    store.close()
    return run


# -- main -------------------------------------------------------------------------------------
def rss_mib() -> float:
    """This process's resident set now."""
    return int(Path("/proc/self/statm").read_text().split()[1]) * PAGE / 2**20


def peak_rss_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=50, help="data acquisition units (MNs)")
    parser.add_argument("--hours", type=float, default=6.0,
                        help="hours of data per unit (120 packets per unit-hour)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--codec-packets", type=int, default=5000,
                        help="packets in the single-core codec timings")
    parser.add_argument("--repeat", type=int, default=3, help="codec passes (best is kept)")
    parser.add_argument("--paced", type=float, nargs="*", default=[0.1, 0.5],
                        help="paced TCP runs at these fractions of the measured TCP throughput")
    parser.add_argument("--paced-seconds", type=float, default=6.0)
    parser.add_argument("--same-process", action="store_true",
                        help="run the units in a thread of this process (shares the GIL) "
                             "instead of their own process")
    parser.add_argument("--no-mqtt", action="store_true", help="skip the MQTT part")
    args = parser.parse_args()

    outlets = bench_outlets(args.units)
    outlets_by_mn = {o.mn: o for o in outlets}
    started = time.perf_counter()
    packets = bench_packets(outlets, args.hours, args.seed)
    generate_s = time.perf_counter() - started
    settings = Settings()
    intake = Hj212Intake(settings, outlets_by_mn, {})
    results = [intake.frame(p.raw, "bench") for p in packets]
    lines = [line for r in results for line in r.lines]
    assert all(len(r.lines) == 1 and not r.letters and len(r.replies) == 1 for r in results)
    assert all(_HAS_COUNT_FIELD.search(line) for line in lines), f"a point without {COUNT_FIELD}"
    del results
    figures: dict = {
        "units": args.units, "hours": args.hours, "packets": len(packets),
        "mean_packet_bytes": round(sum(len(p.raw) for p in packets) / len(packets), 1),
        "units_in": "this process (thread)" if args.same_process else "their own process",
        "generate_s": round(generate_s, 1), "rss_after_generate_mib": peak_rss_mib(),
    }
    codec = codec_figures(settings, outlets_by_mn,
                          [p.raw for p in packets[:args.codec_packets]], args.repeat)
    figures["codec_per_s"] = {k: round(v) for k, v in codec.items()}

    with tempfile.TemporaryDirectory() as scratch:
        run_dir = Path(scratch)
        influx = start_influxdb(run_dir)
        broker = None if args.no_mqtt else start_mosquitto(run_dir)
        try:
            services = {"influxd": influx} | ({"mosquitto": broker} if broker else {})
            meter = CpuMeter(services)
            ceiling = influx_ceiling(influx.url, lines)
            figures["influx_ceiling_per_s"] = round(ceiling)

            burst = tcp_pipeline(influx.url, "tcp", run_dir, outlets_by_mn, packets,
                                 len(lines), None, meter, args.same_process)
            tcp_rate = len(packets) / burst.elapsed_s
            figures["tcp"] = {
                "packets_per_s": round(tcp_rate),
                "ratio_to_influx_ceiling": round(tcp_rate / ceiling, 2),
                "replies": len(burst.result["replies"]),
                "reply_latency_ms_saturated": latency_ms(burst.result["latencies"]),
                "cores": burst.cores, "rss_mib": burst.rss_mib,
            }
            figures["tcp_paced"] = []
            for k, fraction in enumerate(args.paced):
                rate = fraction * tcp_rate
                n = min(len(packets), int(rate * args.paced_seconds))
                paced = tcp_pipeline(influx.url, f"paced{k}", run_dir, outlets_by_mn,
                                     packets[:n], n, rate, meter, args.same_process)
                figures["tcp_paced"].append({
                    "offered_per_s": round(rate), "packets": n,
                    "reply_latency_ms": latency_ms(paced.result["latencies"]),
                    "cores": paced.cores, "rss_mib": paced.rss_mib,
                })
            figures["rss_after_tcp_mib"] = peak_rss_mib()

            if broker is not None:
                top = mqtt_ceiling(broker.port, packets, meter, args.same_process)
                mqtt_rate = len(packets) / top.elapsed_s
                run = mqtt_pipeline(broker.port, influx.url, run_dir, outlets_by_mn, packets,
                                    len(lines), meter, args.same_process)
                rate = len(packets) / run.elapsed_s
                figures["mqtt"] = {
                    "ceiling_per_s": round(mqtt_rate), "packets_per_s": round(rate),
                    "ratio_to_lower_ceiling": round(rate / min(mqtt_rate, ceiling), 2),
                    "ceiling_cores": top.cores, "cores": run.cores, "rss_mib": run.rss_mib,
                }
        finally:
            if broker is not None:
                broker.stop()
            influx.stop()
    figures["peak_rss_mib"] = peak_rss_mib()
    report(figures)


def _cores(cores: dict[str, dict[str, float]]) -> str:
    procs = ", ".join(f"{k} {v:.2f}" for k, v in cores["processes"].items())
    threads = ", ".join(f"{k} {v:.2f}" for k, v in cores["lantian_threads"].items())
    return f"{procs}  (lantian threads: {threads})"


def report(f: dict) -> None:
    c = f["codec_per_s"]
    print(f"{f['packets']:,} packets ({f['units']} units x {f['hours']:g} h, "
          f"{f['mean_packet_bytes']:.0f} bytes on average); units in {f['units_in']}")
    print("\nsingle core, packets/s:")
    print(f"{'CRC only':>10} {'split':>10} {'decode':>10} {'interpret':>10} {'line prot':>10} "
          f"{'9014':>10} {'intake':>10}")
    print(f"{c['crc_only']:>10,} {c['split_only']:>10,} {c['decode']:>10,} {c['interpret']:>10,} "
          f"{c['line_protocol']:>10,} {c['reply_9014']:>10,} {c['intake_frame']:>10,}")
    t = f["tcp"]
    print(f"\n{'way in':>6} {'influx ceiling/s':>17} {'mqtt ceiling/s':>15} {'pipeline/s':>11} "
          f"{'ratio':>6}")
    print(f"{'TCP':>6} {f['influx_ceiling_per_s']:>17,} {'':>15} {t['packets_per_s']:>11,} "
          f"{t['ratio_to_influx_ceiling']:>6.2f}")
    if "mqtt" in f:
        m = f["mqtt"]
        print(f"{'MQTT':>6} {f['influx_ceiling_per_s']:>17,} {m['ceiling_per_s']:>15,} "
              f"{m['packets_per_s']:>11,} {m['ratio_to_lower_ceiling']:>6.2f}")
    print("\ncores used:")
    print(f"  TCP:          {_cores(t['cores'])}")
    for p in f["tcp_paced"]:
        print(f"  TCP {p['offered_per_s']:>5}/s:  {_cores(p['cores'])}")
    if "mqtt" in f:
        print(f"  MQTT ceiling: {_cores(f['mqtt']['ceiling_cores'])}")
        print(f"  MQTT:         {_cores(f['mqtt']['cores'])}")
    print("\n9014 reply latency, ms (packet handed to the socket -> reply read):")
    print(f"  saturated (units send back to back): {t['reply_latency_ms_saturated']}")
    for p in f["tcp_paced"]:
        print(f"  paced at {p['offered_per_s']:,} packets/s ({p['packets']:,} packets): "
              f"{p['reply_latency_ms']}")
    print(f"\npeak RSS {f['peak_rss_mib']:.0f} MiB (after generating the packets "
          f"{f['rss_after_generate_mib']:.0f} MiB); largest RSS sampled during the TCP run "
          f"{t['rss_mib']:.0f} MiB" + (f", the MQTT run {f['mqtt']['rss_mib']:.0f} MiB"
                                       if "mqtt" in f else ""))
    print(json.dumps(f))


if __name__ == "__main__":
    main()
