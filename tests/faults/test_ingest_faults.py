"""Fault tests (issue 7): a real Mosquitto, a real InfluxDB and the collector as its own process.
Each test streams tens of thousands of readings, breaks something mid-stream, and ends with the
count in InfluxDB equal to the count published. Each prints its numbers."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from support.fault_rig import FaultRig, Stream, fault_rig

from lantian.local_services import wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
def rig(tmp_path: Path):  # type: ignore[no-untyped-def]
    with fault_rig(tmp_path) as rig:
        rig.start_collector()
        yield rig


def report(capsys: pytest.CaptureFixture[str], name: str, rig: FaultRig, stream: Stream,
           started: float, **extra: object) -> None:
    status = rig.status()
    assert status is not None
    c = status.counters
    figures = {"published": stream.readings, "in InfluxDB": rig.count(),
               "written": c["readings_written"], "spooled": c["readings_spooled"],
               "replayed": c["readings_replayed"], "dead letters": rig.dead_letters(),
               **extra, "seconds": round(time.monotonic() - started, 1)}
    with capsys.disabled():
        print(f"\n[fault] {name}: " + ", ".join(f"{k} {v:,}" if isinstance(v, int)
                                               else f"{k} {v}" for k, v in figures.items()))


def wait_for_count(rig: FaultRig, expected: int, timeout_s: float) -> None:
    assert wait_until(lambda: rig.count() >= expected, timeout_s, interval_s=0.5), (
        f"InfluxDB holds {rig.count()} of {expected}; status {rig.status()}")
    assert rig.count() == expected


def test_influxdb_down_for_30_s_mid_stream_loses_nothing(
        rig: FaultRig, capsys: pytest.CaptureFixture[str]) -> None:
    """Readings taken while InfluxDB is down go to the spool, are acknowledged, and are
    replayed in order once it is back: no loss, no duplicate."""
    started = time.monotonic()
    stream = Stream(rig.publisher("stream-influx", 400), messages=12_000,
                    readings_per_message=4, rate=400).start()
    assert wait_until(lambda: rig.count() > 2_000, 20)
    rig.stop_influx()
    down_at = time.monotonic()
    assert rig.wait_counters(lambda c: c["readings_spooled"] > 5_000, 25)
    time.sleep(max(0.0, 30 - (time.monotonic() - down_at)))  # the 30 s outage itself
    rig.start_influx()
    assert stream.join(60)
    wait_for_count(rig, stream.readings, 60)
    assert rig.wait_counters(lambda c: c["readings_replayed"] == c["readings_spooled"], 10)
    final = rig.status()
    assert final is not None and final.balanced
    assert final.counters["readings_spooled"] > 5_000
    assert final.counters["spool_pending_bytes"] == 0
    report(capsys, "InfluxDB down 30 s", rig, stream, started)


def test_spool_survives_sigkill_while_influxdb_is_down(
        rig: FaultRig, capsys: pytest.CaptureFixture[str]) -> None:
    """Spooled (and acknowledged) readings are on disk: a collector killed with SIGKILL while
    InfluxDB is down replays them after its restart."""
    started = time.monotonic()
    rig.stop_influx()
    stream = Stream(rig.publisher("stream-spool", 2_000), messages=5_000,
                    readings_per_message=4, rate=2_000).start()
    assert stream.join(60)
    assert rig.wait_counters(lambda c: c["readings_spooled"] == stream.readings, 30)
    rig.kill_collector()
    rig.start_influx()
    rig.start_collector()
    wait_for_count(rig, stream.readings, 60)
    assert rig.wait_counters(lambda c: c["readings_replayed"] == stream.readings, 10)
    report(capsys, "SIGKILL with 20,000 readings spooled", rig, stream, started)


def test_collector_killed_mid_stream_loses_nothing(
        rig: FaultRig, capsys: pytest.CaptureFixture[str]) -> None:
    """SIGKILL while messages are in memory, unacknowledged: the broker delivers them again to
    the restarted collector (same persistent session); idempotent writes store each once."""
    started = time.monotonic()
    stream = Stream(rig.publisher("stream-kill", 1_000), messages=8_000,
                    readings_per_message=4, rate=1_000).start()
    assert wait_until(lambda: rig.count() > 8_000, 30)
    rig.kill_collector()
    killed_at = rig.count()
    rig.start_collector()
    assert stream.join(60)
    wait_for_count(rig, stream.readings, 60)
    report(capsys, "collector SIGKILLed", rig, stream, started,
           **{"in InfluxDB at kill": killed_at})


def test_broker_restart_mid_stream_loses_nothing(
        rig: FaultRig, capsys: pytest.CaptureFixture[str]) -> None:
    """The broker stops for 3 s: the publisher queues and resends, the collector reconnects to
    its persistent session, and the broker's saved queue survives its restart."""
    started = time.monotonic()
    stream = Stream(rig.publisher("stream-broker", 1_000), messages=10_000,
                    readings_per_message=4, rate=1_000).start()
    assert wait_until(lambda: rig.count() > 6_000, 30)
    rig.restart_broker(down_s=3)
    assert stream.join(90)
    wait_for_count(rig, stream.readings, 90)
    report(capsys, "broker restarted", rig, stream, started)


def test_collector_stalled_for_a_minute_loses_nothing(
        rig: FaultRig, capsys: pytest.CaptureFixture[str]) -> None:
    """SIGSTOP the collector for 60 s while the stream goes on: the broker queues within its
    configured limits (nothing dropped, its $SYS drop counter stays 0) and delivers it all."""
    started = time.monotonic()
    stream = Stream(rig.publisher("stream-stall", 300), messages=20_000,
                    readings_per_message=2, rate=300).start()
    assert wait_until(lambda: rig.count() > 1_000, 20)
    rig.signal_collector(signal.SIGSTOP)
    stalled_at = rig.count()
    time.sleep(60)  # the stall itself
    rig.signal_collector(signal.SIGCONT)
    assert stream.join(60)
    wait_for_count(rig, stream.readings, 90)
    assert rig.wait_counters(lambda c: c["messages_acked"] >= stream.messages, 10)
    final = rig.status()
    assert final is not None and final.counters["broker_dropped"] == 0
    report(capsys, "collector stalled 60 s", rig, stream, started,
           **{"in InfluxDB at stall": stalled_at, "broker dropped": 0})


def test_broker_drops_are_seen_when_its_queue_limit_is_too_small(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The control for the stall test: with Mosquitto's queue cut to 20 messages a stalled
    collector does lose messages — and the collector reports the broker's $SYS drop counter."""
    with fault_rig(tmp_path, broker_conf="max_inflight_messages 10\nmax_queued_messages 20") as rig:
        rig.start_collector()
        started = time.monotonic()
        rig.signal_collector(signal.SIGSTOP)
        stream = Stream(rig.publisher("stream-drop", 2_000), messages=600,
                        readings_per_message=1, rate=2_000).start()
        assert stream.join(30)
        rig.signal_collector(signal.SIGCONT)
        assert rig.wait_counters(lambda c: c["broker_dropped"] > 0, 20)
        final = rig.status()
        assert final is not None
        dropped = int(final.counters["broker_dropped"])
        assert wait_until(lambda: rig.count() >= stream.readings - dropped, 20)
        assert rig.count() < stream.readings
        report(capsys, "queue limit 20 (control)", rig, stream, started,
               **{"broker dropped": dropped})
        broker_log = rig.broker.log_path
    # Mosquitto's stdout log is complete once it has stopped
    assert "Outgoing messages are being dropped" in broker_log.read_text()
