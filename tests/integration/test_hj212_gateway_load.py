"""The HJ 212 gateway with hundreds of units connected at once, against a real InfluxDB: every
unit served, and the open-file limit fitted to `max_connections` (past it, accept() fails with
EMFILE on every loop pass and units hang in the backlog instead of being refused)."""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import resource
import socket
from collections.abc import Iterator
from datetime import datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from alerts.ledger_db import create_schema, make_engine, make_session_factory
from config.outlets import Outlet
from config.settings import CollectorSettings, GatewaySettings, InfluxSettings, Settings
from ingest.dead_letters import DeadLetterStore
from ingest.hj212_codec import Hj212Codec, make_packet
from ingest.hj212_framer import Frame, Hj212Framer
from ingest.hj212_gateway import FD_HEADROOM, Hj212Gateway
from ingest.hj212_intake import Hj212Intake
from ingest.influx_store import InfluxStore
from ingest.write_buffer import WriteBuffer
from lantian.local_services import wait_until

T0 = datetime(2026, 3, 15, 14, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
CODEC = Hj212Codec()
UNITS = 300
PACKETS_PER_UNIT = 3


def outlets(n: int) -> list[Outlet]:
    return [Outlet(mn=f"03{i:022d}", name=f"stack {i}", enterprise="E", industry="power",
                   reference_o2=6, limits={"so2": 35}, password="123456") for i in range(n)]


def minute_packet(mn: str, minute: int) -> bytes:
    start = T0 + timedelta(minutes=minute)
    return CODEC.encode(make_packet(
        qn=start.strftime("%Y%m%d%H%M%S") + "000", st="31", cn="2051", pw="123456", mn=mn,
        flag=5, cp=[{"DataTime": start.strftime("%Y%m%d%H%M%S")},
                    {"a21026-Avg": "18.5", "a21026-Flag": "N"},
                    {"a19001-Avg": "9.2", "a19001-Flag": "N"}]))


def start_gateway(influx: InfluxSettings, run_dir: Path, units: list[Outlet],
                  max_connections: int) -> tuple[Hj212Gateway, WriteBuffer]:
    settings = Settings(influx=influx, collector=CollectorSettings(require_registration=True),
                        gateway=GatewaySettings(port=0, max_connections=max_connections))
    engine = make_engine(f"sqlite:///{run_dir / 'letters.db'}")
    create_schema(engine)
    buffer = WriteBuffer(settings, InfluxStore(influx),
                         DeadLetterStore(make_session_factory(engine)))
    gateway = Hj212Gateway(settings.gateway,
                           Hj212Intake(settings, {o.mn: o for o in units}, {}), buffer)
    gateway.start()
    buffer.start()
    return gateway, buffer


@pytest.fixture
def gateway(influx_settings: InfluxSettings, tmp_path: Path
            ) -> Iterator[tuple[Hj212Gateway, WriteBuffer]]:
    InfluxStore(influx_settings).ensure_database()
    gateway, buffer = start_gateway(influx_settings, tmp_path, outlets(UNITS), 2 * UNITS)
    yield gateway, buffer
    gateway.stop()
    buffer.stop()


async def _units(port: int, gateway: Hj212Gateway) -> list[list[str]]:
    """Open every unit's connection, check the gateway holds them all, then let each send its
    packets back to back; return the QNs of the 9014s each unit got."""
    streams = [await asyncio.open_connection("127.0.0.1", port) for _ in range(UNITS)]
    loop = asyncio.get_running_loop()
    held = await loop.run_in_executor(None, wait_until, lambda: gateway.active == UNITS, 30)
    assert held, f"gateway holds {gateway.active} of {UNITS} connections"

    async def unit(outlet: Outlet, reader: asyncio.StreamReader,
                   writer: asyncio.StreamWriter) -> list[str]:
        writer.write(b"".join(minute_packet(outlet.mn, m) for m in range(PACKETS_PER_UNIT)))
        await writer.drain()
        framer, qns = Hj212Framer(), []
        while len(qns) < PACKETS_PER_UNIT:
            data = await asyncio.wait_for(reader.read(65536), 30)
            assert data, f"{outlet.mn}: connection closed after {len(qns)} replies"
            qns += [CODEC.decode(p.data).qn for p in framer.feed(data) if isinstance(p, Frame)]
        writer.close()
        return qns

    return await asyncio.gather(*(unit(o, r, w) for o, (r, w)
                                  in zip(outlets(UNITS), streams, strict=True)))


def test_gateway_serves_hundreds_of_units_connected_at_once(
        gateway: tuple[Hj212Gateway, WriteBuffer], influx_settings: InfluxSettings) -> None:
    gw, buffer = gateway
    assert gw.port is not None
    replies = asyncio.run(_units(gw.port, gw))
    expected = [(T0 + timedelta(minutes=m)).strftime("%Y%m%d%H%M%S") + "000"
                for m in range(PACKETS_PER_UNIT)]
    assert all(sorted(qns) == expected for qns in replies)
    assert buffer.counters.replies_sent == UNITS * PACKETS_PER_UNIT
    assert buffer.counters.rejections == 0 and buffer.counters.dead_letters_stored == 0
    store = InfluxStore(influx_settings)
    assert store.count("hj212_minute", "so2") == UNITS * PACKETS_PER_UNIT
    store.close()


# -- open-file limit: the gateway in a child process whose hard limit is too low ----------------
HARD_LIMIT = 400
ASKED = 1000


def _serve_with_low_limit(conn: Connection, influx: InfluxSettings, run_dir: str) -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (200, HARD_LIMIT))
    gateway, buffer = start_gateway(influx, Path(run_dir), outlets(1), ASKED)
    conn.send((gateway.port, gateway.max_connections,
               resource.getrlimit(resource.RLIMIT_NOFILE)[0]))
    while conn.recv() == "active":
        conn.send(gateway.active)
    gateway.stop()
    buffer.stop()


def test_gateway_fits_its_connections_to_the_open_file_limit(
        influx_settings: InfluxSettings, tmp_path: Path) -> None:
    ours, theirs = mp.Pipe()
    child = mp.get_context("spawn").Process(
        target=_serve_with_low_limit, args=(theirs, influx_settings, str(tmp_path)), daemon=True)
    child.start()
    try:
        assert ours.poll(60)
        port, serving, soft = ours.recv()
        assert soft == HARD_LIMIT  # raised from 200 as far as the hard limit allows
        assert serving == HARD_LIMIT - FD_HEADROOM
        socks = [socket.create_connection(("127.0.0.1", port), timeout=10)
                 for _ in range(serving + 20)]

        def active() -> int:
            ours.send("active")
            return ours.recv()

        assert wait_until(lambda: active() == serving, 30)
        # The 20 beyond the cap are refused (closed at once), not left hanging in the backlog.
        for sock in socks[serving:]:
            assert sock.recv(1) == b""
        assert active() == serving
        for sock in socks:
            sock.close()
        ours.send("stop")
        child.join(30)
        assert child.exitcode == 0
    finally:
        if child.is_alive():
            child.kill()
