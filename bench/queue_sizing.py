"""Queue sizing arithmetic for Mosquitto: how many messages its per-client limits hold, how long
a collector may stall at a given message rate before the broker drops, and the heap it costs.

Pure functions, no I/O; bench/broker_queue.py feeds them the measured figures.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class QueueLimits:
    """Mosquitto's per-client queue limits and its packet limit; 0 means no limit, as in
    mosquitto.conf (the defaults here are Mosquitto 2.0's)."""

    max_messages: int = 1000
    max_bytes: int = 0
    max_packet_bytes: int = 0

    def messages_held(self, payload_bytes: float) -> float:
        """Messages of `payload_bytes` each a stalled session can hold (inf if unlimited).

        max_queued_bytes counts payload bytes only; whichever limit is reached first binds.
        """
        by_count = self.max_messages or math.inf
        by_bytes = self.max_bytes / payload_bytes if self.max_bytes else math.inf
        return min(by_count, by_bytes)


MQTT_MAX_PAYLOAD_BYTES = 268_435_455  # the protocol's own ceiling when max_packet_size is 0
_OPTION_RE = re.compile(r"\s*(max_queued_messages|max_queued_bytes|max_packet_size)\s+(\d+)\s*")


def read_limits(conf_text: str) -> QueueLimits:
    """The limits a mosquitto.conf text sets; the last occurrence of an option wins."""
    found: dict[str, int] = {}
    for line in conf_text.splitlines():
        match = _OPTION_RE.fullmatch(line)
        if match:
            found[match[1]] = int(match[2])
    return QueueLimits(found.get("max_queued_messages", 1000), found.get("max_queued_bytes", 0),
                       found.get("max_packet_size", 0))


def rate_msgs_per_s(sources: int, interval_s: float) -> float:
    """Messages per second from `sources` each sending one message every `interval_s`."""
    return sources / interval_s


def messages_needed(rate_per_s: float, stall_s: float) -> int:
    """Queue length, messages, that rides out a stall of `stall_s` at `rate_per_s`."""
    return math.ceil(round(rate_per_s * stall_s, 6))  # 1000/60 × 3600 is 60000, not 60001


def stall_coverage_s(limits: QueueLimits, rate_per_s: float, payload_bytes: float) -> float:
    """Seconds a collector may stall before the broker drops: messages held / arrival rate."""
    return limits.messages_held(payload_bytes) / rate_per_s


def queue_memory_bytes(limits: QueueLimits, overhead_bytes: float, payload_bytes: float) -> float:
    """Broker heap, bytes, for one stalled session's full queue of `payload_bytes` messages.

    `overhead_bytes` is what a held message costs beyond its payload (measured heap growth per
    held message minus the mean payload): store entry, topic, the session's queue entry.
    """
    return limits.messages_held(payload_bytes) * (overhead_bytes + payload_bytes)


def worst_queue_memory_bytes(limits: QueueLimits, overhead_bytes: float) -> float:
    """Upper bound of one session's queue heap, bytes, whatever the mix of payload sizes.

    At most `max_messages` entries; their payloads together stay under max_queued_bytes plus
    the one message that crosses it (Mosquitto checks before adding), or, with no byte limit,
    under `max_messages` packets of max_packet_size. Unlimited count: inf.
    """
    if not limits.max_messages:
        return math.inf
    largest = limits.max_packet_bytes or MQTT_MAX_PAYLOAD_BYTES
    payloads = limits.max_messages * largest
    if limits.max_bytes:
        payloads = min(payloads, limits.max_bytes + largest)
    return limits.max_messages * overhead_bytes + payloads


NETWORKS: tuple[tuple[str, float], ...] = (
    ("demo, live: 12 stations + 6 outlets × 2 packets, per min", rate_msgs_per_s(24, 60)),
    ("demo, Beijing replay at 1 h of data/s: 12 stations", rate_msgs_per_s(12, 1)),
    ("bureau: 1,000 sources × 1/min", rate_msgs_per_s(1000, 60)),
    ("bureau: 1,000 sources × 1/10 s", rate_msgs_per_s(1000, 10)),
)
