"""Command line for the simulators, mounted as ``lantian simulate`` (replay, synthetic, cems)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, TypeVar
from zoneinfo import ZoneInfo

import numpy as np
import typer

from analytics.series_window import SeriesWindow
from config.settings import Settings, get_settings
from simulators.beijing_replay import DEFAULT_DATA_PATH, load_beijing
from simulators.cems_command import cems
from simulators.pacing import replay_window
from simulators.publisher import BrokerUnavailable, ReadingPublisher
from simulators.station_network import generate_network

app = typer.Typer(
    help="Publish simulated station readings and CEMS (HJ 212) uploads "
    "(settings: LANTIAN_MQTT__*, LANTIAN_GATEWAY__*).",
    no_args_is_help=True,
)

ACK_TIMEOUT_S = 30.0
T = TypeVar("T")


def _positive(value: float) -> float:
    if value <= 0:
        raise typer.BadParameter(f"must be positive, got {value}")
    return value


BatchSize = Annotated[int, typer.Option(min=1, help="Readings per message per station.")]
MaxRate = Annotated[float, typer.Option(min=0, help="Messages per second cap; 0 = unlimited.")]


@app.command()
def replay(
    data: Annotated[Path, typer.Option(help="The Beijing CSV (gzip).")] = DEFAULT_DATA_PATH,
    stations: Annotated[
        str | None, typer.Option(help="Comma-separated station names (default: all 12).")
    ] = None,
    start: Annotated[str, typer.Option(help="First local date/time (UTC+8).")] = "2016-12-15",
    end: Annotated[str, typer.Option(help="End local date/time, exclusive.")] = "2017-03-01",
    hours_per_second: Annotated[
        float, typer.Option(callback=_positive, help="Data hours per wall-clock second.")
    ] = 1.0,
    batch_size: BatchSize = 1,
    max_rate: MaxRate = 0.0,
    loop: Annotated[bool, typer.Option(help="Start over at the end (same timestamps).")] = False,
) -> None:
    """Replay the real Beijing 2013–2017 hourly data at an accelerated clock."""
    names = [s.strip() for s in stations.split(",") if s.strip()] if stations else None
    try:
        window = load_beijing(data, stations=names, start=start, end=end)
    except (FileNotFoundError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        typer.echo("replay: interrupted while loading, nothing published")
        return
    _publish(window, "replay", hours_per_second * 3600, batch_size, max_rate, loop=loop)


@app.command()
def synthetic(
    stations: Annotated[int, typer.Option(min=1, help="Number of stations SIM001…")] = 20,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same data.")] = 0,
    days: Annotated[int, typer.Option(min=1, help="Days of data.")] = 30,
    step_s: Annotated[int, typer.Option(min=1, help="Averaging period in seconds.")] = 3600,
    acceleration: Annotated[
        float, typer.Option(callback=_positive, help="Data seconds per wall-clock second.")
    ] = 3600.0,
    realtime: Annotated[
        bool, typer.Option("--realtime", help="Start now, at acceleration 1.")
    ] = False,
    start: Annotated[
        str | None,
        typer.Option(help="ISO start (naive = local time); default: today 00:00 minus --days."),
    ] = None,
    batch_size: BatchSize = 1,
    max_rate: MaxRate = 0.0,
) -> None:
    """Publish a seeded synthetic network with regional pollution episodes."""
    settings = get_settings()
    tz = ZoneInfo(settings.timezone)
    if realtime and start is not None:
        raise typer.BadParameter("--realtime starts now; leave out --start")
    if realtime:
        now_s = int(time.time())
        first = datetime.fromtimestamp(now_s - now_s % step_s, tz)
        acceleration = 1.0
    elif start is not None:
        try:
            parsed = datetime.fromisoformat(start)
        except ValueError:
            raise typer.BadParameter(f"{start!r} is not ISO 8601", param_hint="--start") from None
        first = parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=tz)
    else:
        today = datetime.now(tz).replace(hour=0, minute=0, second=0, microsecond=0)
        first = today - timedelta(days=days)
    window, episodes = generate_network(
        stations,
        np.datetime64(int(first.timestamp()), "s"),
        days * 86400 // step_s,
        step_s=step_s,
        seed=seed,
    )
    for episode in episodes:
        typer.echo(
            f"episode {episode.start}Z → {episode.end}Z, peak PM2.5 "
            f"{episode.peak_pm25:.0f} µg/m³ (daily mean)"
        )
    _publish(window, "synthetic", acceleration, batch_size, max_rate, loop=False)


app.command()(cems)


def _publish(
    window: SeriesWindow,
    kind: str,
    data_seconds_per_second: float,
    batch_size: int,
    max_rate: float,
    *,
    loop: bool,
) -> None:
    """Connect, pace the window out (repeating if `loop`) until done or Ctrl-C, summarize."""
    settings = get_settings()
    publisher = _make_publisher(settings, f"lantian-sim-{kind}", max_rate)
    try:
        publisher.connect()
    except BrokerUnavailable as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        publisher.close()
        typer.echo(f"{kind}: interrupted while connecting, nothing published")
        return
    stop = threading.Event()
    passes = 0

    def run() -> int:
        nonlocal passes
        total = 0
        while not stop.is_set():
            total += replay_window(
                window,
                publisher,
                batch_size=batch_size,
                stop=stop,
                data_seconds_per_second=data_seconds_per_second,
            )
            passes += 1
            if not loop:
                break
        return total

    began = time.monotonic()
    try:
        readings, interrupted = _run_until_interrupted(run, stop)
        acked = publisher.wait_all_acked(ACK_TIMEOUT_S)
    except KeyboardInterrupt:
        readings, interrupted, acked = -1, True, False
    finally:
        publisher.close()
    typer.echo(
        f"{kind}: {readings if readings >= 0 else '?'} readings in {publisher.messages_sent} "
        f"messages from {len(window.sources)} station(s), data {window.times[0]}Z → "
        f"{window.times[-1]}Z, {passes} pass(es) in {time.monotonic() - began:.1f} s"
        f"{', interrupted' if interrupted else ''}"
        f"{'' if acked else ', NOT all acknowledged by the broker'}"
    )


def _make_publisher(settings: Settings, client_id: str, max_rate: float) -> ReadingPublisher:
    mqtt = settings.mqtt
    return ReadingPublisher(
        mqtt.host,
        mqtt.port,
        client_id=client_id,
        topic_root=mqtt.topic_root,
        username=mqtt.username,
        password=mqtt.password.get_secret_value() if mqtt.password is not None else None,
        keepalive_s=mqtt.keepalive_s,
        tz=ZoneInfo(settings.timezone),
        max_rate=max_rate or None,
    )


def _run_until_interrupted(target: Callable[[], T], stop: threading.Event) -> tuple[T, bool]:
    """Run `target` in a worker thread; Ctrl-C sets `stop` and waits for it to wind down.

    Returns the target's result and whether Ctrl-C was pressed; re-raises its exception.
    """
    outcome: dict[str, T] = {}
    failure: list[BaseException] = []
    # An Event, not Thread.join: a join cut short by Ctrl-C may return early the next time.
    finished = threading.Event()

    def work() -> None:
        try:
            outcome["result"] = target()
        except BaseException as exc:  # handed to the main thread below
            failure.append(exc)
        finally:
            finished.set()

    threading.Thread(target=work, name="simulator-pacing", daemon=True).start()
    interrupted = False
    try:
        finished.wait()
    except KeyboardInterrupt:
        interrupted = True
        stop.set()
        finished.wait()
    if failure:
        raise failure[0]
    return outcome["result"], interrupted
