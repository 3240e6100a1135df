"""The ``lantian simulate cems`` command: simulate stacks, inject patterns, send HJ 212 uploads.

Registered on the simulator CLI by simulators/cli.py; settings give the broker, the gateway,
the local time zone and the outlet register.
"""

from __future__ import annotations

import bisect
import time
from datetime import UTC, datetime, timedelta, tzinfo
from enum import StrEnum
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer

from config.outlets import load_outlets
from config.settings import Settings, get_settings
from simulators.cems_injections import Injection, simulate_cems
from simulators.cems_model import CemsRun
from simulators.cems_packets import COMMANDS, DEFAULT_FLAG, CemsPacket, build_packets
from simulators.cems_transport import GatewayUnavailable, publish_mqtt, send_tcp_blocking
from simulators.cems_truth import load_injections, parse_exceed, write_ground_truth
from simulators.publisher import BrokerUnavailable

ACK_TIMEOUT_S = 30.0
DEFAULT_GATEWAY_PORT = 9212  # dialled when the settings say 0 ("any free port")


class Transport(StrEnum):
    mqtt = "mqtt"
    tcp = "tcp"


def cems(
    outlets: Annotated[
        Path | None,
        typer.Option(help="Outlet register (default: settings outlets_file, else "
                     "config/outlets.yaml)."),
    ] = None,
    mn: Annotated[
        str | None, typer.Option(help="Comma-separated MNs to simulate (default: all).")
    ] = None,
    start: Annotated[
        str | None,
        typer.Option(help="ISO start (naive = local time); default: the last --hours whole "
                     "hours before now."),
    ] = None,
    hours: Annotated[float, typer.Option(min=0.02, help="Hours of data.")] = 24.0,
    commands: Annotated[
        str, typer.Option(help=f"Comma-separated, from: {', '.join(COMMANDS)}.")
    ] = "rtd,minute,hourly",
    transport: Annotated[Transport, typer.Option(help="Deliver over MQTT or to the TCP "
                                                 "gateway.")] = Transport.mqtt,
    host: Annotated[
        str | None, typer.Option(help="Broker/gateway host (default: from settings).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="Broker/gateway port (default: "
                                 "from settings).")
    ] = None,
    rate: Annotated[float, typer.Option(min=0, help="Packets per second cap; 0 = unlimited.")
                    ] = 0.0,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same data.")] = 0,
    inject: Annotated[
        Path | None,
        typer.Option(help="JSON/YAML list of injections (mn, pollutant, type, start, end or "
                     "hours, params)."),
    ] = None,
    exceed: Annotated[
        list[str] | None,
        typer.Option(help="Exceedance shortcut MN:pollutant:start:hours (repeatable)."),
    ] = None,
    truth: Annotated[
        Path | None, typer.Option(help="Write the injections as ground truth (JSON lines).")
    ] = None,
    chunk: Annotated[
        int, typer.Option(min=0, help="TCP: write packets in random pieces of up to this many "
                          "bytes (0: whole packets).")
    ] = 0,
    ack: Annotated[bool, typer.Option(help="Ask for CN 9014 replies (Flag=5, else 4).")] = True,
    output: Annotated[
        Path | None, typer.Option(help="Write the packets to this file instead of sending.")
    ] = None,
    follow_hours: Annotated[
        float, typer.Option(min=0, help="After sending the past data, keep running live for "
                            "this many hours, sending each upload when a unit would (0: "
                            "send and exit).")
    ] = 0.0,
) -> None:
    """Simulate enterprise stacks (CEMS) and send HJ 212-2017 uploads, with injected patterns."""
    settings = get_settings()
    tz = ZoneInfo(settings.timezone)
    chosen = [c.strip() for c in commands.split(",") if c.strip()]
    if not chosen or set(chosen) - set(COMMANDS):
        raise typer.BadParameter(f"choose from {', '.join(COMMANDS)}", param_hint="--commands")
    register_path = outlets or settings.outlets_file
    try:
        register = load_outlets(Path(register_path))
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    selected = register.outlets
    if mn:
        wanted = [m.strip() for m in mn.split(",") if m.strip()]
        missing = sorted(set(wanted) - {o.mn for o in selected})
        if missing:
            raise typer.BadParameter(f"not in {register_path}: {', '.join(missing)}",
                                     param_hint="--mn")
        selected = [o for o in selected if o.mn in wanted]
    first = _cems_start(start, hours, tz)
    injections = _read_injections(inject, exceed or [], tz)
    try:
        run = simulate_cems(selected, first, hours + follow_hours, seed=seed, tz=tz,
                            injections=injections)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    flag = DEFAULT_FLAG if ack else 4
    if truth is not None:
        lines = write_ground_truth(run.injections, truth, tz)
        typer.echo(f"cems: {lines} ground-truth line(s) written to {truth}")
    span = f"{first.isoformat()} + {hours:g} h, {len(selected)} outlet(s)"
    if output is None and follow_hours > 0:
        _follow(run, chosen, tz, flag, settings, transport, host, port, rate, chunk, seed,
                len(selected))
        return
    packets = build_packets(run, commands=chosen, tz=tz, flag=flag)
    if output is not None:
        output.write_bytes(b"".join(p.raw for p in packets))
        typer.echo(f"cems: {len(packets)} packets ({span}) written to {output}")
        return
    _deliver_cems(packets, settings, transport, host, port, rate, chunk, seed, span)


def _follow(run: CemsRun, commands: list[str], tz: tzinfo, flag: int, settings: Settings,
            transport: Transport, host: str | None, port: int | None, rate: float, chunk: int,
            seed: int, n_outlets: int) -> None:
    """Live: what a unit would have sent by now goes at once, the rest when it falls due.

    Packets are encoded one local day at a time: encoding 30 days up front took about a
    minute of CPU (0.07 s per hour for the demo's six outlets) before the first packet left.
    """
    for day in run.day_windows():
        packets = sorted(build_packets(day, commands=commands, tz=tz, flag=flag),
                         key=lambda p: p.sent_at)
        while packets:
            now = datetime.now(UTC)
            n_due = bisect.bisect_right([p.sent_at for p in packets], now)
            if n_due:
                due, packets = packets[:n_due], packets[n_due:]
                _deliver_cems(due, settings, transport, host, port, rate, chunk, seed,
                              f"live, {n_outlets} outlet(s)")
            if packets:
                wait_s = (packets[0].sent_at - datetime.now(UTC)).total_seconds()
                time.sleep(min(max(wait_s, 0.2), 60.0))


def _cems_start(text: str | None, hours: float, tz: tzinfo) -> datetime:
    if text is None:
        now = datetime.now(tz).replace(minute=0, second=0, microsecond=0)
        return now - timedelta(minutes=round(hours * 60))
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not ISO 8601", param_hint="--start") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=tz)


def _read_injections(path: Path | None, shortcuts: list[str], tz: tzinfo) -> list[Injection]:
    """Injections from the --inject file and the --exceed shortcuts; bad input → exit 2."""
    try:
        from_file = load_injections(path, tz) if path is not None else []
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--inject") from None
    try:
        return from_file + [parse_exceed(text, tz) for text in shortcuts]
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--exceed") from None


def _deliver_cems(packets: list[CemsPacket], settings: Settings, transport: Transport,
                  host: str | None, port: int | None, rate: float, chunk: int, seed: int,
                  span: str) -> None:
    began = time.monotonic()
    if transport is Transport.mqtt:
        mqtt = settings.mqtt
        where = (host or mqtt.host, port or mqtt.port)
        try:
            result = publish_mqtt(
                packets, *where, topic_root=mqtt.topic_root, client_id="lantian-sim-cems",
                username=mqtt.username,
                password=mqtt.password.get_secret_value() if mqtt.password is not None else None,
                keepalive_s=mqtt.keepalive_s, rate=rate or None, ack_timeout_s=ACK_TIMEOUT_S)
        except BrokerUnavailable as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
        summary = (f"{result.sent} packets published"
                   f"{'' if result.all_acked else ', NOT all acknowledged by the broker'}")
    else:
        gateway = settings.gateway
        # Port 0 in settings means "any free port" for the gateway itself: not dialable.
        default = (gateway.host, gateway.port or DEFAULT_GATEWAY_PORT)
        where = (host or default[0], port or default[1])
        try:
            tcp = send_tcp_blocking(packets, *where, rate=rate or None, max_chunk=chunk or None,
                                    seed=seed)
        except GatewayUnavailable as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
        summary = (f"{tcp.sent} packets sent over {tcp.connections} connection(s), "
                   f"{tcp.acked}/{tcp.ack_requested} acknowledged (CN 9014)")
    typer.echo(f"cems: {summary} to {transport.value}://{where[0]}:{where[1]} ({span}) in "
               f"{time.monotonic() - began:.1f} s")
