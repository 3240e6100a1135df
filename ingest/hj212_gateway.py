"""The HJ 212 TCP gateway: data acquisition units connect directly (asyncio, many units on one
port), stream packets, and get a CN 9014 reply for every upload whose Flag asks for one.

Each connection has its own framer, so split and merged packets and garbage between them are
handled per unit. Packets go through the same intake (checks, dead letters) and the same write
buffer as MQTT. The reply (the unit's acknowledgement) is sent only once the packet's points
are durable — in InfluxDB or the spool — so a unit that gets no reply resends, and a crash
cannot lose a packet that was answered (writes are idempotent, a resent packet is stored once).

Every unit's connection holds a file descriptor, so `max_connections` needs an open-file limit
above it: at start the gateway raises its soft limit as far as the hard limit allows, and if
that is not enough it serves fewer units (refusing the others cleanly, with a warning that
says how to raise the limit). Past the limit, accept() would fail with EMFILE on every loop
pass: a log flood, and units left hanging in the listen backlog instead of refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import resource
import threading

from config.settings import GatewaySettings
from ingest.hj212_framer import Garbage, Hj212Framer
from ingest.hj212_intake import Hj212Intake, IntakeResult
from ingest.write_buffer import WriteBuffer

log = logging.getLogger(__name__)

READ_SIZE = 65536
# Descriptors the process needs besides the units' sockets: the listening socket, InfluxDB and
# broker connections, ledger, spool and log files (17 in the benchmark's gateway process).
FD_HEADROOM = 128


def reserve_descriptors(connections: int) -> int:
    """Raise this process's open-file soft limit so `connections` units fit (one descriptor
    each, plus FD_HEADROOM), up to the hard limit; return how many connections fit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = connections + FD_HEADROOM
    if soft != resource.RLIM_INFINITY and soft < needed:
        soft = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    if soft == resource.RLIM_INFINITY:
        return connections
    return max(1, min(connections, soft - FD_HEADROOM))


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class Hj212Gateway:
    """Serve HJ 212 over TCP in a background thread with its own event loop."""

    def __init__(self, settings: GatewaySettings, intake: Hj212Intake,
                 buffer: WriteBuffer) -> None:
        self.settings = settings
        self.intake = intake
        self.buffer = buffer
        self.port: int | None = None
        self.active = 0
        self.max_connections = settings.max_connections  # lowered by start() to the fd limit
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task] = set()

    # -- one connection -----------------------------------------------------------------------
    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        origin = f"tcp://{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else "tcp://unknown"
        if self.active >= self.max_connections:
            log.warning("refusing %s: %d connections already open", origin, self.active)
            writer.close()
            return
        self.active += 1
        self._writers.add(writer)
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self.buffer.count("tcp_connections")
        framer = Hj212Framer(self.settings.max_frame_bytes)
        try:
            while True:
                try:
                    data = await asyncio.wait_for(reader.read(READ_SIZE),
                                                  self.settings.idle_timeout_s)
                except TimeoutError:
                    log.info("closing idle connection %s", origin)
                    break
                if not data:
                    break
                await self._accept(framer.feed(data), origin, writer)
            await self._accept(framer.close(), origin, writer)
        except (ConnectionError, OSError) as exc:
            log.info("connection %s ended: %s", origin, exc)
            with contextlib.suppress(Exception):
                await self._accept(framer.close(), origin, None)
        finally:
            self.active -= 1
            self._writers.discard(writer)
            if task is not None:
                self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _accept(self, pieces: list, origin: str,
                      writer: asyncio.StreamWriter | None) -> None:
        if not pieces:
            return
        result = IntakeResult()
        rules = self.intake.rules()
        for piece in pieces:
            if isinstance(piece, Garbage):
                result.extend(self.intake.garbage(piece, origin))
            else:
                result.extend(self.intake.frame(piece.data, origin, rules=rules))
        loop = asyncio.get_running_loop()
        durable: asyncio.Future[None] = loop.create_future()

        def on_durable() -> None:  # on the writer thread
            with contextlib.suppress(RuntimeError):  # the loop is gone: nobody to answer
                loop.call_soon_threadsafe(_resolve, durable)

        # put() blocks while the write buffer is full: run it off the event loop so other
        # units' connections keep being served (and timed out) meanwhile.
        queued = await asyncio.to_thread(self.buffer.put, result.lines, result.letters,
                                         packets=result.packets, on_durable=on_durable)
        if writer is not None and result.replies and queued:
            try:
                await asyncio.wait_for(durable, self.settings.reply_timeout_s)
            except TimeoutError:
                log.warning("%s: packets not durable within %.0f s (InfluxDB and spool "
                            "unavailable?); not answering, the unit will resend", origin,
                            self.settings.reply_timeout_s)
                return
            writer.write(b"".join(result.replies))
            await writer.drain()
            self.buffer.count("replies_sent", len(result.replies))

    # -- lifecycle ----------------------------------------------------------------------------
    async def _main(self) -> None:
        self._stop = asyncio.Event()
        server = await asyncio.start_server(self._handle, self.settings.host, self.settings.port,
                                            limit=READ_SIZE)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        log.info("HJ 212 gateway listening on %s:%d", self.settings.host, self.port)
        async with server:
            await self._stop.wait()
            server.close()
            for writer in list(self._writers):
                writer.close()
            # Let each connection hand its last bytes to the buffer; cancel what hangs.
            if self._tasks:
                _, hanging = await asyncio.wait(set(self._tasks), timeout=5)
                for task in hanging:
                    task.cancel()
            await server.wait_closed()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main())
        except BaseException as exc:  # reported to start() or logged, never lost
            self._error = exc
            self._ready.set()
            log.exception("HJ 212 gateway stopped with an error")
        finally:
            loop.close()

    def start(self, timeout_s: float = 10.0) -> int:
        """Listen in a background thread; return the bound port (raise if binding failed)."""
        self.max_connections = reserve_descriptors(self.settings.max_connections)
        if self.max_connections < self.settings.max_connections:
            log.warning("the open-file limit (hard %d) lets the HJ 212 gateway serve only %d "
                        "of gateway.max_connections=%d units; raise it to at least %d "
                        "(ulimit -n, or LimitNOFILE= in the systemd unit)",
                        resource.getrlimit(resource.RLIMIT_NOFILE)[1], self.max_connections,
                        self.settings.max_connections,
                        self.settings.max_connections + FD_HEADROOM)
        self._thread = threading.Thread(target=self._run, name="hj212-gateway", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout_s):
            raise TimeoutError("HJ 212 gateway did not start listening in time")
        if self._error is not None:
            raise RuntimeError(f"HJ 212 gateway could not listen on {self.settings.host}:"
                               f"{self.settings.port}: {self._error}") from self._error
        assert self.port is not None
        return self.port

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop listening and close open connections."""
        if self._loop is not None and self._stop is not None and self._loop.is_running():
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout_s)
