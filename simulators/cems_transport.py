"""Deliver simulated HJ 212 packets: MQTT (shared/formats.md §1) or a TCP gateway.

MQTT goes through simulators.publisher.ReadingPublisher (paho-mqtt 2.x, QoS 1, TokenBucket),
the one simulator module that knows paho. TCP is plain asyncio: one connection per unit (MN),
as a data acquisition unit would hold; replies are framed and decoded with the ingest codec,
and a CN 9014 reply counts as an acknowledgement when its QN is one this connection sent with
the ack flag set.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ingest.hj212_codec import Hj212Codec, Hj212Error
from ingest.hj212_framer import Frame, Hj212Framer
from simulators.cems_packets import CemsPacket
from simulators.publisher import ReadingPublisher
from simulators.rate_limit import TokenBucket

READ_SIZE = 65536
DATA_REPLY_CN = "9014"


class GatewayUnavailable(ConnectionError):
    """The HJ 212 gateway refused the connection, was unreachable, or did not answer in time."""


@dataclass(frozen=True)
class MqttSummary:
    """`sent` messages handed to paho; `all_acked` True when the broker PUBACKed every one."""

    sent: int
    all_acked: bool


@dataclass(frozen=True)
class TcpSummary:
    """What a TCP delivery achieved.

    `sent` packets written; `ack_requested` of them with Flag A set; `acked` distinct sent QNs
    answered by CN 9014; `replies` frames received in all; `bad_replies` frames or bytes that
    did not decode (kept count of, never fatal); `connections` one per MN.
    """

    connections: int
    sent: int
    ack_requested: int
    acked: int
    replies: int
    bad_replies: int


def outlet_topic(topic_root: str, mn: str) -> str:
    """``{topic_root}/outlet/{mn}/hj212`` (shared/formats.md §1)."""
    return f"{topic_root}/outlet/{mn}/hj212"


def publish_mqtt(
    packets: Sequence[CemsPacket],
    host: str,
    port: int = 1883,
    *,
    topic_root: str = "lantian/v1",
    client_id: str = "lantian-sim-cems",
    username: str | None = None,
    password: str | None = None,
    keepalive_s: int = 30,
    rate: float | None = None,
    ack_timeout_s: float = 30.0,
) -> MqttSummary:
    """Publish each packet as one QoS 1 message on its outlet topic, in order.

    `rate` caps messages per second (None or 0: unlimited). Waits up to `ack_timeout_s` for the
    broker's PUBACKs. Raises simulators.publisher.BrokerUnavailable if the broker cannot be
    reached or refuses the connection.
    """
    publisher = ReadingPublisher(host, port, client_id=client_id, topic_root=topic_root,
                                 username=username, password=password, keepalive_s=keepalive_s,
                                 max_rate=rate or None)
    publisher.connect()
    try:
        for packet in packets:
            publisher.publish_raw(outlet_topic(topic_root, packet.mn), packet.raw)
        all_acked = publisher.wait_all_acked(ack_timeout_s)
    finally:
        publisher.close()
    return MqttSummary(publisher.messages_sent, all_acked)


@dataclass
class _Unit:
    """One connection's bookkeeping."""

    mn: str
    packets: list[CemsPacket]
    pending: set[str]
    acked: int = 0
    replies: int = 0
    bad: int = 0
    sent: int = 0


async def send_tcp(
    packets: Sequence[CemsPacket],
    host: str,
    port: int,
    *,
    rate: float | None = None,
    max_chunk: int | None = None,
    seed: int = 0,
    connect_timeout_s: float = 10.0,
    ack_timeout_s: float = 10.0,
) -> TcpSummary:
    """Send every packet over one TCP connection per MN and count the gateway's CN 9014s.

    Packets keep their order within a unit; units send concurrently, all together held to
    `rate` packets per second (None or 0: unlimited). With `max_chunk`, each packet is written
    in random pieces of 1..max_chunk bytes (seeded) to exercise the receiver's framing. After
    the last packet, waits up to `ack_timeout_s` for outstanding acknowledgements, then closes.
    GatewayUnavailable if any unit cannot connect (the others are closed first).
    """
    by_mn: dict[str, list[CemsPacket]] = {}
    for packet in packets:
        by_mn.setdefault(packet.mn, []).append(packet)
    codec = Hj212Codec()
    units = [_Unit(mn, unit_packets, set()) for mn, unit_packets in by_mn.items()]
    streams: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    try:
        for unit in units:
            streams.append(await _connect(host, port, unit.mn, connect_timeout_s))
    except GatewayUnavailable:
        for _, writer in streams:
            writer.close()
        raise
    bucket = TokenBucket(rate) if rate else None
    rng = np.random.default_rng(seed)
    try:
        async with asyncio.TaskGroup() as group:  # one unit failing stops the others
            for unit, (reader, writer) in zip(units, streams, strict=True):
                group.create_task(_run_unit(unit, reader, writer, codec, bucket, rng,
                                            max_chunk, ack_timeout_s))
    except ExceptionGroup as failures:
        raise failures.exceptions[0] from None
    return TcpSummary(
        connections=len(units),
        sent=sum(u.sent for u in units),
        ack_requested=sum(sum(1 for p in u.packets if p.wants_ack) for u in units),
        acked=sum(u.acked for u in units),
        replies=sum(u.replies for u in units),
        bad_replies=sum(u.bad for u in units),
    )


def send_tcp_blocking(packets: Sequence[CemsPacket], host: str, port: int,
                      **options: Any) -> TcpSummary:
    """send_tcp (same keyword options) in a fresh event loop, for callers without one."""
    return asyncio.run(send_tcp(packets, host, port, **options))


async def _connect(host: str, port: int, mn: str, timeout_s: float
                   ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    try:
        return await asyncio.wait_for(asyncio.open_connection(host, port), timeout_s)
    except TimeoutError:
        raise GatewayUnavailable(f"HJ 212 gateway at {host}:{port} did not accept a connection "
                                 f"for MN {mn} within {timeout_s} s") from None
    except OSError as exc:  # refused, unreachable, unresolvable
        raise GatewayUnavailable(f"cannot connect to the HJ 212 gateway at {host}:{port} for "
                                 f"MN {mn}: {exc.strerror or exc}") from exc


async def _run_unit(unit: _Unit, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    codec: Hj212Codec, bucket: TokenBucket | None, rng: np.random.Generator,
                    max_chunk: int | None, ack_timeout_s: float) -> None:
    all_acked = asyncio.Event()
    done_sending = False

    def check() -> None:
        if done_sending and not unit.pending:
            all_acked.set()

    async def read_replies() -> None:
        framer = Hj212Framer()
        while True:
            data = await reader.read(READ_SIZE)
            if not data:
                unit.bad += len(framer.close())
                return
            for piece in framer.feed(data):
                if not isinstance(piece, Frame):
                    unit.bad += 1
                    continue
                unit.replies += 1
                try:
                    reply = codec.decode(piece.data)
                except Hj212Error:
                    unit.bad += 1
                    continue
                if reply.cn == DATA_REPLY_CN and reply.qn in unit.pending:
                    unit.pending.discard(reply.qn)
                    unit.acked += 1
                    check()

    reading = asyncio.create_task(read_replies())
    try:
        for packet in unit.packets:
            if bucket is not None:
                delay = bucket.reserve()
                if delay > 0:
                    await asyncio.sleep(delay)
            if packet.wants_ack:
                unit.pending.add(packet.qn)
            await _write(writer, packet.raw, rng, max_chunk)
            unit.sent += 1
        done_sending = True
        check()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(_first(all_acked, reading), ack_timeout_s)
    except (ConnectionError, OSError) as exc:
        raise GatewayUnavailable(f"connection of MN {unit.mn} to the HJ 212 gateway failed "
                                 f"after {unit.sent} packets: {exc}") from exc
    finally:
        reading.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError, OSError):
            await reading
        writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await writer.wait_closed()


async def _first(event: asyncio.Event, reading: asyncio.Task) -> None:
    """Return when every ack arrived or the gateway closed the connection, whichever first."""
    waiter = asyncio.create_task(event.wait())
    try:
        await asyncio.wait({waiter, reading}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()


async def _write(writer: asyncio.StreamWriter, raw: bytes, rng: np.random.Generator,
                 max_chunk: int | None) -> None:
    if not max_chunk:
        writer.write(raw)
        await writer.drain()
        return
    position = 0
    while position < len(raw):
        size = int(rng.integers(1, max_chunk + 1))
        writer.write(raw[position:position + size])
        await writer.drain()
        await asyncio.sleep(0)  # let small pieces leave as separate segments
        position += size
