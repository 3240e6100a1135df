"""TCP delivery against a tiny in-test gateway that acknowledges with the codec's reply_to."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from datetime import datetime

import pytest

from config.outlets import Outlet
from ingest.hj212_codec import Hj212Codec
from ingest.hj212_framer import Frame, Hj212Framer
from simulators.cems_model import SHANGHAI, generate_cems
from simulators.cems_packets import CemsPacket, build_packets
from simulators.cems_transport import (
    GatewayUnavailable,
    TcpSummary,
    outlet_topic,
    send_tcp,
    send_tcp_blocking,
)

START = datetime(2026, 1, 10, tzinfo=SHANGHAI)
CODEC = Hj212Codec()


@pytest.fixture(scope="module")
def packets(cems_outlets: list[Outlet]) -> list[CemsPacket]:
    run = generate_cems(cems_outlets[:3], START, 1, seed=3)
    return build_packets(run, commands=("rtd", "minute", "hourly"))


async def _with_gateway(action: Callable[[int], Awaitable[TcpSummary]], *, reply: bool = True
                        ) -> tuple[TcpSummary, dict[str, int]]:
    """Run `action(port)` against a local gateway; returns its result and packets per MN."""
    received: dict[str, int] = {}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        framer = Hj212Framer()
        while data := await reader.read(4096):
            for piece in framer.feed(data):
                assert isinstance(piece, Frame), piece
                packet = CODEC.decode(piece.data)
                received[packet.mn] = received.get(packet.mn, 0) + 1
                if reply and packet.wants_reply:
                    writer.write(CODEC.encode(CODEC.reply_to(packet)))
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        summary = await action(port)
    return summary, received


def test_every_packet_is_acknowledged(packets: list[CemsPacket]) -> None:
    summary, received = asyncio.run(_with_gateway(
        lambda port: send_tcp(packets, "127.0.0.1", port, ack_timeout_s=5)))
    assert summary.sent == len(packets)
    assert summary.acked == summary.sent == summary.ack_requested
    assert summary.connections == 3
    assert summary.replies == summary.sent and summary.bad_replies == 0
    assert sum(received.values()) == len(packets)
    assert set(received) == {p.mn for p in packets}


def test_random_chunks_still_frame(packets: list[CemsPacket]) -> None:
    sample = packets[:40]
    summary, _ = asyncio.run(_with_gateway(
        lambda port: send_tcp(sample, "127.0.0.1", port, max_chunk=7, seed=1, rate=2000)))
    assert summary.acked == summary.sent == len(sample)


def test_without_replies_nothing_is_acked_and_the_wait_ends(packets: list[CemsPacket]) -> None:
    sample = packets[:5]
    summary, received = asyncio.run(_with_gateway(
        lambda port: send_tcp(sample, "127.0.0.1", port, ack_timeout_s=0.3), reply=False))
    assert (summary.sent, summary.acked, summary.ack_requested) == (5, 0, 5)
    assert sum(received.values()) == 5


def test_refused_connection_is_a_clear_error(packets: list[CemsPacket]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(GatewayUnavailable, match=f"127.0.0.1:{port}"):
        send_tcp_blocking(packets[:3], "127.0.0.1", port, connect_timeout_s=2)


def test_mqtt_topic_per_outlet() -> None:
    assert outlet_topic("lantian/v1", "020000B7700021E000214AA7") == (
        "lantian/v1/outlet/020000B7700021E000214AA7/hj212")
