"""A private Mosquitto, InfluxDB and collector *process* per fault test, so a test can stop
InfluxDB, restart the broker, SIGKILL or SIGSTOP the collector — and then count what arrived."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from alerts.ledger_db import create_schema, make_engine, make_session_factory
from config.settings import InfluxSettings
from ingest.dead_letters import DeadLetterStore
from ingest.influx_store import InfluxStore
from ingest.ingest_status import IngestStatus, IngestStatusStore
from lantian.local_services import (
    LocalService,
    start_influxdb,
    start_mosquitto,
    start_process,
    stop_process,
    wait_until,
)
from simulators.publisher import ReadingPublisher

REPO = Path(__file__).resolve().parents[2]
T0 = 1_451_606_400  # 2016-01-01T00:00:00Z
STATIONS = ("Dongsi", "Tiantan", "Guanyuan", "Wanliu")
COLLECTOR_ID = "fault-collector"
# $SYS every second, so the drop counter is current when a test reads it.
BROKER_CONF = "sys_interval 1"


def stream_payloads(messages: int, readings_per_message: int) -> Iterator[tuple[str, bytes]]:
    """(topic, payload) of distinct minute readings, round-robin over STATIONS; every reading
    is its own InfluxDB point, so the count in InfluxDB is the count published."""
    for m in range(messages):
        station = STATIONS[m % len(STATIONS)]
        first = (m // len(STATIONS)) * readings_per_message
        payload = [{"time": T0 + 60 * (first + k), "pm25": float((m + k) % 300), "pm10": 50.0}
                   for k in range(readings_per_message)]
        yield f"lantian/v1/station/{station}/reading", orjson.dumps(payload)


@dataclass
class Stream:
    """A publisher thread sending `messages` at `rate` messages/s over a persistent session."""

    publisher: ReadingPublisher
    messages: int
    readings_per_message: int
    rate: float
    sent: int = 0
    thread: threading.Thread | None = None

    @property
    def readings(self) -> int:
        return self.messages * self.readings_per_message

    def start(self) -> Stream:
        def run() -> None:
            for topic, payload in stream_payloads(self.messages, self.readings_per_message):
                self.publisher.publish_raw(topic, payload)
                self.sent += 1

        self.thread = threading.Thread(target=run, name="stream", daemon=True)
        self.thread.start()
        return self

    def join(self, timeout_s: float) -> bool:
        """The thread handed every message to paho and the broker acknowledged them all."""
        assert self.thread is not None
        self.thread.join(timeout_s)
        return not self.thread.is_alive() and self.publisher.wait_all_acked(timeout_s)


@dataclass
class FaultRig:
    run_dir: Path
    broker: LocalService
    influx: LocalService
    broker_conf: str = BROKER_CONF
    collector: subprocess.Popen[bytes] | None = None
    collector_starts: int = 0
    publishers: list[ReadingPublisher] = field(default_factory=list)

    @property
    def ledger_url(self) -> str:
        return f"sqlite:///{self.run_dir / 'ledger.db'}"

    @property
    def influx_settings(self) -> InfluxSettings:
        return InfluxSettings(url=self.influx.url, database="lantian_faults", timeout_s=2.0)

    # -- the collector process ------------------------------------------------------------------
    def start_collector(self, **overrides: str) -> None:
        """Start `lantian collect`; `overrides` are extra LANTIAN_… environment settings."""
        env = {**os.environ,
               "LANTIAN_MQTT__HOST": self.broker.host, "LANTIAN_MQTT__PORT": str(self.broker.port),
               "LANTIAN_INFLUX__URL": self.influx.url,
               "LANTIAN_INFLUX__DATABASE": "lantian_faults",
               "LANTIAN_INFLUX__TIMEOUT_S": "2",
               "LANTIAN_LEDGER__URL": self.ledger_url,
               "LANTIAN_GATEWAY__ENABLED": "false",
               "LANTIAN_COLLECTOR__CLIENT_ID": COLLECTOR_ID,
               "LANTIAN_COLLECTOR__SPOOL_DIR": str(self.run_dir / "spool"),
               "LANTIAN_COLLECTOR__STATUS_INTERVAL_S": "0.3",
               "LANTIAN_COLLECTOR__RETRY_MAX_S": "2",
               "PYTHONUNBUFFERED": "1", **overrides}
        self.collector_starts += 1
        log = self.run_dir / f"collector-{self.collector_starts}.log"
        before = self.status()
        previous = before.started_at if before else None
        self.collector = start_process([sys.executable, "-m", "lantian", "collect"], log, env)

        def subscribed() -> bool:  # this process's status row (a restart rewrites started_at)
            status = self.status()
            return (status is not None and status.started_at != previous
                    and bool(status.counters.get("subscribed")))

        assert wait_until(subscribed, 30), log.read_text()

    def __post_init__(self) -> None:
        engine = make_engine(self.ledger_url)
        create_schema(engine)
        self._sessions = make_session_factory(engine)
        self._engine = engine

    def signal_collector(self, signum: int) -> None:
        assert self.collector is not None
        os.kill(self.collector.pid, signum)

    def collector_memory_kib(self, field: str = "VmHWM") -> int:
        """The collector's peak (VmHWM) or current (VmRSS) resident memory, KiB."""
        assert self.collector is not None
        for line in Path(f"/proc/{self.collector.pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
        raise LookupError(field)

    def kill_collector(self) -> None:
        self.signal_collector(signal.SIGKILL)
        assert self.collector is not None
        self.collector.wait(10)

    def stop_collector(self) -> None:
        if self.collector is not None:
            stop_process(self.collector, 30)

    # -- the real parts -------------------------------------------------------------------------
    def stop_influx(self) -> None:
        self.influx.stop()

    def start_influx(self) -> None:
        self.influx = start_influxdb(self.run_dir, self.influx.port)

    def restart_broker(self, down_s: float = 0.0) -> None:
        self.broker.stop()
        if down_s:
            threading.Event().wait(down_s)  # the outage itself is the point of the test
        self.broker = start_mosquitto(self.run_dir, self.broker.port, extra_conf=self.broker_conf)

    def publisher(self, client_id: str, rate: float) -> ReadingPublisher:
        publisher = ReadingPublisher(self.broker.host, self.broker.port, client_id=client_id,
                                     max_rate=rate)
        publisher.connect()
        self.publishers.append(publisher)
        return publisher

    # -- what arrived ---------------------------------------------------------------------------
    def count(self) -> int:
        store = InfluxStore(self.influx_settings)
        try:
            return store.count("station_reading", "pm25")
        finally:
            store.close()

    def status(self) -> IngestStatus | None:
        found = [s for s in IngestStatusStore(self._sessions).all()
                 if s.collector_id == COLLECTOR_ID]
        return found[0] if found else None

    def wait_counters(self, condition: Callable[[Mapping[str, int | bool]], bool],
                      timeout_s: float) -> bool:
        """Wait until the collector's recorded counters satisfy `condition`."""
        def met() -> bool:
            status = self.status()
            return status is not None and condition(status.counters)
        return wait_until(met, timeout_s)

    def dead_letters(self) -> int:
        return DeadLetterStore(self._sessions).list(limit=1)[1]

    def close(self) -> None:
        for publisher in self.publishers:
            publisher.close()
        self.stop_collector()
        self.broker.stop()
        self.influx.stop()
        self._engine.dispose()


@contextmanager
def fault_rig(run_dir: Path, broker_conf: str = "") -> Iterator[FaultRig]:
    """`broker_conf` is appended to the broker's configuration (the last value of an option
    wins), e.g. to shrink its queue limits."""
    conf = f"{BROKER_CONF}\n{broker_conf}"
    broker = start_mosquitto(run_dir, extra_conf=conf)
    influx = start_influxdb(run_dir)
    rig = FaultRig(run_dir, broker, influx, conf)
    try:
        yield rig
    finally:
        rig.close()
