"""Overload (issue 7): more readings than can be written — InfluxDB down and the spool too small
to take them. The collector stops acknowledging instead of dropping, its memory stays under a
ceiling, the broker holds the backlog, and everything arrives once InfluxDB is back."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from support.fault_rig import Stream, fault_rig

pytestmark = pytest.mark.integration

MAX_BUFFERED = 20_000  # readings held in memory at most (collector.max_buffered_readings)
CEILING_MIB = 80  # growth of the collector's peak RSS over its idle size allowed under load


def test_memory_stays_bounded_and_nothing_is_dropped_when_the_spool_is_full(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with fault_rig(tmp_path) as rig:
        rig.start_collector(LANTIAN_COLLECTOR__SPOOL_MAX_BYTES=str(1 << 20),
                            LANTIAN_COLLECTOR__MAX_BUFFERED_READINGS=str(MAX_BUFFERED))
        idle_kib = rig.collector_memory_kib("VmRSS")
        started = time.monotonic()
        rig.stop_influx()
        # ~250 readings a message: 1,000 messages are 250,000 readings, ~14 MB of JSON
        stream = Stream(rig.publisher("stream-overload", 2_000), messages=1_000,
                        readings_per_message=250, rate=2_000).start()
        assert stream.join(60)
        assert rig.wait_counters(lambda c: c["spool_full"] >= 3, 30)
        held = rig.status()
        assert held is not None
        acked_while_full = int(held.counters["messages_acked"])
        assert acked_while_full < stream.messages  # the rest stays with the broker
        peak_mib = (rig.collector_memory_kib() - idle_kib) / 1024
        rig.start_influx()
        assert rig.wait_counters(lambda c: c["readings_written"] + c["readings_replayed"]
                                 >= stream.readings, 120)
        assert rig.count() == stream.readings
        final = rig.status()
        assert final is not None and final.counters["broker_dropped"] == 0
        with capsys.disabled():
            print(f"\n[fault] overload: published {stream.readings:,} readings in "
                  f"{stream.messages:,} messages with InfluxDB down and a 1 MiB spool; "
                  f"acknowledged while full {acked_while_full:,} messages; collector idle RSS "
                  f"{idle_kib / 1024:.0f} MiB, peak growth {peak_mib:.0f} MiB "
                  f"(ceiling {CEILING_MIB}); in InfluxDB {rig.count():,}; "
                  f"{time.monotonic() - started:.1f} s")
        assert peak_mib < CEILING_MIB
