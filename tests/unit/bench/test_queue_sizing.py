"""The broker queue benchmark's sizing arithmetic: messages held, stall covered, heap bounds."""

from __future__ import annotations

import math

import pytest

from bench.queue_sizing import (
    MQTT_MAX_PAYLOAD_BYTES,
    NETWORKS,
    QueueLimits,
    messages_needed,
    queue_memory_bytes,
    rate_msgs_per_s,
    read_limits,
    stall_coverage_s,
    worst_queue_memory_bytes,
)
from lantian.local_services import CONFIG_DIR

MIB = 2**20


def test_mosquittos_default_holds_one_minute_of_a_thousand_sources() -> None:
    assert QueueLimits() == QueueLimits(max_messages=1000, max_bytes=0)
    assert stall_coverage_s(QueueLimits(), rate_msgs_per_s(1000, 60), 200) == pytest.approx(60)
    assert stall_coverage_s(QueueLimits(), rate_msgs_per_s(1000, 10), 200) == pytest.approx(10)


@pytest.mark.parametrize(("limits", "payload_bytes", "held"), [
    (QueueLimits(400_000, 128 * MIB), 173, 400_000),            # the count binds
    (QueueLimits(400_000, 128 * MIB), 1024, 131_072),           # the bytes bind
    (QueueLimits(0, 1000), 10, 100),                            # bytes only
    (QueueLimits(0, 0), 10, math.inf),                          # unlimited
])
def test_the_first_limit_reached_binds(limits: QueueLimits, payload_bytes: float,
                                       held: float) -> None:
    assert limits.messages_held(payload_bytes) == held


def test_messages_needed_rounds_up_without_float_noise() -> None:
    assert messages_needed(1000 / 60, 3600) == 60_000
    assert messages_needed(100, 3600) == 360_000
    assert messages_needed(0.4, 10) == 4
    assert messages_needed(0.7, 10) == 7
    assert messages_needed(0.75, 10) == 8


def test_heap_for_a_full_queue_and_the_worst_case() -> None:
    ours = QueueLimits(400_000, 128 * MIB, 4 * MIB)
    assert queue_memory_bytes(ours, overhead_bytes=300, payload_bytes=200) == 400_000 * 500
    # any mix of payloads: every entry's overhead plus payloads up to the byte limit and one more
    assert worst_queue_memory_bytes(ours, 300) == 400_000 * 300 + 128 * MIB + 4 * MIB
    no_bytes = QueueLimits(1000, 0, 4 * MIB)
    assert worst_queue_memory_bytes(no_bytes, 300) == 1000 * (300 + 4 * MIB)
    assert worst_queue_memory_bytes(QueueLimits(1000), 0) == 1000 * MQTT_MAX_PAYLOAD_BYTES
    assert worst_queue_memory_bytes(QueueLimits(0, 128 * MIB), 300) == math.inf


def test_read_limits_takes_the_last_value_as_mosquitto_does() -> None:
    conf = ("max_queued_messages 200000\nmax_queued_bytes 5\n# max_queued_messages 7\n"
            "max_packet_size 4194304\nmax_queued_messages 1000\n")
    assert read_limits(conf) == QueueLimits(1000, 5, 4 * MIB)
    assert read_limits("persistence true\n") == QueueLimits(1000, 0, 0)


def test_the_shipped_config_rides_out_an_hour_at_a_thousand_sources_a_minute() -> None:
    ours = read_limits((CONFIG_DIR / "mosquitto.conf").read_text(encoding="utf-8"))
    for payload_bytes in (173, 300):  # measured mean station reading; a longer one
        assert stall_coverage_s(ours, rate_msgs_per_s(1000, 60), payload_bytes) >= 3600
    assert ours.max_packet_bytes >= 2 * MIB  # megabyte payloads still reach the collector


def test_the_network_rates_are_sources_over_their_interval() -> None:
    assert [round(rate, 2) for _, rate in NETWORKS] == [0.4, 12.0, 16.67, 100.0]
