"""HJ 212 over the TCP gateway from many connected units: the gateway (Hj212Gateway +
WriteBuffer into InfluxDB, wired as `lantian collect` wires them, MQTT left out) in its own
process, the units in another, one TCP connection per unit, all open before timing starts.

Each run checks that the gateway holds one connection per unit before the first byte, that
InfluxDB then holds exactly one point per packet, nothing was rejected, spooled or
dead-lettered, and every packet got a valid 9014 carrying its QN. CPU is read from /proc per
process (gateway, units, influxd, this process), and per thread inside the gateway process.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import re
import resource
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

from bench.hj212_pipeline import (
    bench_outlets,
    bench_packets,
    check_clean,
    cpu_s,
    dead_letter_store,
    expected_lines,
    hwm_rss_mib,
    influx_ceiling,
    latency_ms,
    pipeline_settings,
    rss_mib,
    stored_points,
    thread_cpu_s,
)
from config.outlets import Outlet
from ingest.hj212_codec import Hj212Codec
from ingest.hj212_framer import Frame, Hj212Framer
from ingest.hj212_gateway import Hj212Gateway
from ingest.hj212_intake import Hj212Intake
from ingest.influx_store import InfluxStore
from ingest.write_buffer import WriteBuffer
from lantian.local_services import LocalService, wait_until

_QN = re.compile(rb"QN=(\d{17})")
Wire = list[tuple[str, bytes, bytes]]  # (MN, QN, raw packet) in send order


# -- the gateway's process --------------------------------------------------------------------
@dataclass(frozen=True)
class GatewayJob:
    influx_url: str
    database: str
    run_dir: Path
    outlets: list[Outlet]


def serve_gateway(conn: Connection, job: GatewayJob) -> None:
    """Run the gateway; answer the benchmark on `conn`: "status" (open connections, counters,
    RSS and fds now), "cpu" (CPU s per thread role), "stop" (final counters, peak RSS)."""
    settings = pipeline_settings(job.influx_url, job.database)
    store = InfluxStore(settings.influx)
    store.ensure_database()
    buffer = WriteBuffer(settings, store, dead_letter_store(job.run_dir, job.database))
    intake = Hj212Intake(settings, {o.mn: o for o in job.outlets}, {})
    gateway = Hj212Gateway(settings.gateway, intake, buffer)
    conn.send(gateway.start())
    buffer.start()
    while (command := conn.recv()) != "stop":
        if command == "status":
            conn.send({"active": gateway.active, **buffer.snapshot(), "rss_mib": rss_mib(),
                       "fds": len(os.listdir("/proc/self/fd")),
                       "nofile": resource.getrlimit(resource.RLIMIT_NOFILE)[0]})
        else:
            conn.send(thread_cpu_s())
    gateway.stop()
    buffer.stop()
    store.close()
    conn.send({"counters": asdict(buffer.counters), "peak_rss_mib": hwm_rss_mib()})


# -- the units' process -----------------------------------------------------------------------
def serve_units(conn: Connection, port: int, mns: Sequence[str], wire: Wire,
                rate: float | None) -> None:
    """Open one connection per MN (all of them, even a unit with nothing to send), report
    "connected", wait for "go", send, report latencies and replies. Real units are separate
    machines: this process takes all the file descriptors its hard limit allows."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    asyncio.run(_units(conn, port, mns, wire, rate))


async def _units(conn: Connection, port: int, mns: Sequence[str], wire: Wire,
                 rate: float | None) -> None:
    by_mn: dict[str, list[tuple[int, bytes, bytes]]] = {mn: [] for mn in mns}
    for index, (mn, qn, raw) in enumerate(wire):
        by_mn[mn].append((index, qn, raw))
    # One at a time: the gateway's listen backlog (100) would drop a burst of 1,000 SYNs.
    streams = [await asyncio.open_connection("127.0.0.1", port) for _ in mns]
    latencies: list[float] = []
    replies: list[bytes] = []
    finished: list[float] = []  # per unit with packets: its last reply, s after the first byte
    loop = asyncio.get_running_loop()
    conn.send({"connected": len(streams)})
    await loop.run_in_executor(None, conn.recv)
    t_first = time.perf_counter()
    t0 = loop.time()

    async def unit(items: list[tuple[int, bytes, bytes]], reader: asyncio.StreamReader,
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
            if items:
                finished.append(time.perf_counter() - t_first)

        reading = asyncio.create_task(read())
        for index, qn, raw in items:
            if rate is not None:
                delay = t0 + index / rate - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            sent_at[qn] = time.perf_counter()
            writer.write(raw)
            await writer.drain()
        await reading

    await asyncio.gather(*(unit(items, reader, writer) for items, (reader, writer)
                           in zip(by_mn.values(), streams, strict=True)))
    for _, writer in streams:  # every connection stays open until all units are done
        writer.close()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    conn.send({"t_first": t_first, "latencies": latencies, "replies": replies,
               "finished": finished, "peak_rss_mib": round(usage.ru_maxrss / 1024, 1)})


# -- one run ----------------------------------------------------------------------------------
def _recv(conn: Connection, timeout_s: float, what: str) -> Any:
    if not conn.poll(timeout_s):
        raise SystemExit(f"{what} within {timeout_s:.0f} s")
    return conn.recv()


def _ask(conn: Connection, command: str) -> Any:
    conn.send(command)
    return _recv(conn, 60, f"the gateway did not answer {command!r}")


def tcp_run(influx: LocalService, run_dir: Path, database: str, outlets: Sequence[Outlet],
            wire: Wire, total_lines: int, rate: float | None) -> dict[str, Any]:
    """Send `wire` from one connection per outlet (back to back, or packet i at i/rate s) to a
    fresh gateway process writing to `database`; time first byte → last point written."""
    ctx = mp.get_context("spawn")
    gw_conn, theirs = ctx.Pipe()
    gateway = ctx.Process(target=serve_gateway, daemon=True,
                          args=(theirs, GatewayJob(influx.url, database, run_dir, list(outlets))))
    gateway.start()
    units_conn, theirs = ctx.Pipe()
    units: mp.process.BaseProcess | None = None
    try:
        port = _recv(gw_conn, 60, "the gateway did not start")
        idle = _ask(gw_conn, "status")
        units = ctx.Process(target=serve_units, daemon=True,
                            args=(theirs, port, [o.mn for o in outlets], wire, rate))
        units.start()
        opened = _recv(units_conn, 300, "the units did not connect")["connected"]
        if not wait_until(lambda: _ask(gw_conn, "status")["active"] >= len(outlets), 60):
            raise SystemExit(f"the gateway holds {_ask(gw_conn, 'status')['active']} "
                             f"connections, not {len(outlets)}")
        connected = _ask(gw_conn, "status")
        if opened != len(outlets) or connected["active"] != len(outlets):
            raise SystemExit(f"{opened} units connected, gateway holds {connected['active']}")
        pids: dict[str, int | str] = {"gateway": gateway.pid or 0, "units": units.pid or 0,
                                      "influxd": influx.proc.pid, "bench": "self"}
        marks = {name: cpu_s(pid) for name, pid in pids.items()}
        threads = _ask(gw_conn, "cpu")
        t_mark = time.perf_counter()
        units_conn.send("go")
        if not wait_until(lambda: _ask(gw_conn, "status")["readings_written"] >= total_lines,
                          900, 0.02):
            raise SystemExit("the gateway did not write every point within 900 s")
        finished = time.perf_counter()
        result = _recv(units_conn, 120, "the units did not report")
        window = time.perf_counter() - t_mark
        cores = {name: round((cpu_s(pid) - marks[name]) / window, 2)
                 for name, pid in pids.items()}
        threads = {k: round((v - threads.get(k, 0.0)) / window, 2)
                   for k, v in sorted(_ask(gw_conn, "cpu").items())}
        final = _ask(gw_conn, "stop")
        influx_hwm = hwm_rss_mib(influx.proc.pid)
        units.join(30)
        gateway.join(30)
    finally:
        for proc in (units, gateway):
            if proc is not None and proc.is_alive():
                proc.kill()
    check_replies(final["counters"], result["replies"], wire, total_lines, "TCP gateway")
    stored = stored_points(influx.url, database)
    if stored != total_lines:
        raise SystemExit(f"TCP gateway: InfluxDB holds {stored} of {total_lines} points")
    elapsed = finished - result["t_first"]
    finish = np.asarray(result["finished"])
    return {
        "packets": len(wire), "readings": stored, "seconds": round(elapsed, 2),
        "packets_per_s": round(len(wire) / elapsed), "connected": connected["active"],
        "cpu": cores, "gateway_threads": {k: v for k, v in threads.items() if v > 0},
        "peak_rss_mib": {"gateway": final["peak_rss_mib"], "units": result["peak_rss_mib"],
                         "influxd": influx_hwm},
        "gateway_rss_mib": {"listening": round(idle["rss_mib"], 1),
                            "connected": round(connected["rss_mib"], 1),
                            "peak": final["peak_rss_mib"]},
        "gateway_fds": {"listening": idle["fds"], "connected": connected["fds"],
                        "soft_limit": connected["nofile"]},
        "latency_ms": latency_ms(result["latencies"]),
        "unit_finish_s": {"first": round(float(finish.min()), 2),
                          "median": round(float(np.median(finish)), 2),
                          "last": round(float(finish.max()), 2)},
    }


def check_replies(counters: dict, replies: Sequence[bytes], wire: Wire, total_lines: int,
                  what: str) -> None:
    """Every point written and clean; one valid 9014 (length, CRC, QN of a packet sent) per
    packet, as counted by the gateway and as received by the units."""
    check_clean(counters, total_lines, what)
    if counters["replies_sent"] != len(wire) or len(replies) != len(wire):
        raise SystemExit(f"{what}: {len(replies)} replies received, {counters['replies_sent']} "
                         f"sent, for {len(wire)} packets")
    codec = Hj212Codec()
    sent_qns = {qn.decode() for _, qn, _ in wire}
    for raw in replies:
        reply = codec.decode(raw)
        if reply.cn != "9014" or reply.qn not in sent_qns:
            raise SystemExit(f"{what}: unexpected reply {raw!r}")


# -- the case ---------------------------------------------------------------------------------
def run_tcp_case(units: int, hours: float, seed: int, run_dir: Path,
                 broker: LocalService | None, influx: LocalService, *,
                 paced: Sequence[float] = (0.1, 0.5), paced_seconds: float = 10.0
                 ) -> dict[str, Any]:
    """HJ 212 over the TCP gateway from `units` connected units, each sending `hours` of
    real-time and minute packets back to back, against an already started InfluxDB (`broker`
    is not used: the argument keeps one signature for every case). Then paced runs at each
    fraction of `paced` of the measured rate, spread over all connections, for the 9014
    latency. Returns a flat dict (see the keys below); rates in packets/s, one point per
    packet, so the same figures are readings/s."""
    del broker
    outlets = bench_outlets(units)
    packets = bench_packets(outlets, hours, seed)
    lines = expected_lines(outlets, packets)
    wire: Wire = [(p.mn, p.qn.encode(), p.raw) for p in packets]
    del packets
    ceiling = influx_ceiling(influx.url, lines)
    burst = tcp_run(influx, run_dir, "tcp_burst", outlets, wire, len(lines), None)
    rate = burst["packets_per_s"]
    runs = []
    for k, fraction in enumerate(paced):
        n = min(len(wire), int(fraction * rate * paced_seconds))
        run = tcp_run(influx, run_dir, f"tcp_paced{k}", outlets, wire[:n], n, fraction * rate)
        runs.append({"fraction": fraction, "offered_per_s": round(fraction * rate), **run})
    return {
        "case": "hj212-tcp", "unit": "packets", "units": units, "hours": hours,
        "count": burst["packets"], "readings": burst["readings"], "seconds": burst["seconds"],
        "rate_per_s": rate, "readings_per_s": rate,
        "ceiling": "InfluxDB /write, same line protocol, 5,000-line requests",
        "ceiling_per_s": round(ceiling), "ratio": round(rate / ceiling, 3),
        "connected": burst["connected"], "cpu": burst["cpu"],
        "gateway_threads": burst["gateway_threads"], "peak_rss_mib": burst["peak_rss_mib"],
        "gateway_rss_mib": burst["gateway_rss_mib"], "gateway_fds": burst["gateway_fds"],
        "unit_finish_s": burst["unit_finish_s"],
        "saturated_latency_ms": burst["latency_ms"],
        "latency_ms": {f"{key}@{run['fraction']:.0%}": run["latency_ms"][key]
                       for run in runs for key in ("p50", "p99")},
        "paced": runs,
    }
