"""What the HJ 212 benchmark cases share: the bench units and their packets, the pipeline's
settings and checks (every point in InfluxDB, nothing dead-lettered), the InfluxDB ceiling,
and CPU / memory readings from Linux /proc."""

from __future__ import annotations

import os
import re
import resource
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

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
from ingest.hj212_intake import Hj212Intake
from ingest.influx_store import InfluxStore
from lantian.local_services import LocalService
from simulators.cems_injections import simulate_cems
from simulators.cems_packets import CemsPacket, build_packets

START = datetime(2026, 3, 1, tzinfo=ZoneInfo("Asia/Shanghai"))
MEASUREMENTS = ("hj212_rtd", "hj212_minute")
COUNT_FIELD = "o2_flag"
_HAS_COUNT_FIELD = re.compile(rf"[ ,]{COUNT_FIELD}=")
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
UNITS_THREAD = "bench-units"
# The ceiling writes line protocol in requests of this many lines (the WriteBuffer's scale).
CEILING_BATCH = 5000


# -- data -----------------------------------------------------------------------------------
def bench_outlets(units: int) -> list[Outlet]:
    """`units` outlets: the register's, cycled, each copy under its own 24-character MN."""
    register = load_outlets(Settings().outlets_file).outlets
    return [register[k % len(register)].model_copy(update={"mn": f"BENCH{k:019d}"})
            for k in range(units)]


def bench_packets(outlets: Sequence[Outlet], hours: float, seed: int) -> list[CemsPacket]:
    """Real-time (2011) and minute (2051) packets of every unit, in send order (time, then
    register order), so any prefix of the list is spread over all units."""
    run = simulate_cems(outlets, START, hours, seed=seed)
    return build_packets(run, commands=("rtd", "minute"))


def expected_lines(outlets: Sequence[Outlet], packets: Sequence[CemsPacket]) -> list[str]:
    """The line protocol the pipeline must store: one point per packet, each with the counted
    field; raises if any packet would be rejected or not answered."""
    intake = Hj212Intake(Settings(), {o.mn: o for o in outlets}, {})
    lines: list[str] = []
    for packet in packets:
        result = intake.frame(packet.raw, "bench")
        if len(result.lines) != 1 or result.letters or len(result.replies) != 1:
            raise SystemExit(f"packet {packet.qn} of {packet.mn} does not give one point and "
                             f"one 9014: {result.letters}")
        lines.extend(result.lines)
    if not all(_HAS_COUNT_FIELD.search(line) for line in lines):
        raise SystemExit(f"a point without {COUNT_FIELD}")
    return lines


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
    """Points in InfluxDB counted by `count(o2_flag)` over both measurements."""
    store = InfluxStore(InfluxSettings(url=influx_url, database=database))
    try:
        return sum(store.count(m, COUNT_FIELD) for m in MEASUREMENTS)
    finally:
        store.close()


def check_clean(counters: dict, total_lines: int, what: str) -> None:
    """Every point written, nothing rejected or dead-lettered (`counters`: IngestCounters)."""
    if counters["readings_written"] != total_lines or counters["rejections"] \
            or counters["dead_letters_stored"] or counters["readings_spooled"]:
        raise SystemExit(f"{what}: {counters} (expected {total_lines} points written, "
                         "no rejections, nothing spooled)")


def influx_ceiling(influx_url: str, lines: list[str]) -> float:
    """Points/s of the same line protocol POSTed straight to InfluxDB from one client."""
    store = InfluxStore(InfluxSettings(url=influx_url, database="ceiling"))
    store.ensure_database()
    started = time.perf_counter()
    for start in range(0, len(lines), CEILING_BATCH):
        store.write_lines(lines[start:start + CEILING_BATCH])
    elapsed = time.perf_counter() - started
    store.close()
    return len(lines) / elapsed


def latency_ms(latencies_s: Sequence[float]) -> dict[str, float]:
    """p50 / p95 / p99 / max of latencies given in seconds, in ms."""
    p50, p95, p99, top = np.percentile(np.asarray(latencies_s), [50, 95, 99, 100]) * 1000
    return {"p50": round(float(p50), 2), "p95": round(float(p95), 2),
            "p99": round(float(p99), 2), "max": round(float(top), 2)}


# -- CPU and memory ---------------------------------------------------------------------------
def cpu_s(pid: int | str = "self") -> float:
    """utime + stime of a process (or, with "self/task/<tid>", a thread), seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def hwm_rss_mib(pid: int | str = "self") -> float:
    """High-water resident set (VmHWM) of a live process, MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def rss_mib() -> float:
    """This process's resident set now, MiB."""
    return int(Path("/proc/self/statm").read_text().split()[1]) * PAGE / 2**20


def peak_rss_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _thread_group(name: str) -> str:
    if name.startswith("asyncio_"):
        return "gateway put threads"
    if name.startswith("paho-mqtt-client-bench-collector"):
        return "collector paho"
    if name.startswith("paho-mqtt-client-bench-sub"):
        return "subscriber paho"
    if name.startswith("influx-writer"):
        return "writers"
    return {"MainThread": "main", "hj212-gateway": "gateway loop",
            UNITS_THREAD: "units"}.get(name, "other")


def thread_cpu_s() -> dict[str, float]:
    """CPU seconds of this process's live threads, by role (Python 3.11 does not name OS
    threads, so only the process itself can tell them apart)."""
    names = {t.native_id: t.name for t in threading.enumerate()}
    out: dict[str, float] = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            spent = cpu_s(f"self/task/{task.name}")
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
        now.update({name: cpu_s(s.proc.pid) for name, s in self.services.items()})
        if self._units_pid is not None:
            now["units process"] = cpu_s(self._units_pid)
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
