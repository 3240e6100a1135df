"""HJ 212 intake shared by the MQTT collector and the TCP gateway: a framed packet in, its
line-protocol points, dead letters and (when the unit asked for one) the 9014 reply out.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from config.outlets import Outlet
from config.settings import Settings
from config.stations import Station
from ingest.dead_letters import NewDeadLetter
from ingest.hj212_codec import Hj212Codec, Hj212Error
from ingest.hj212_framer import Garbage, split_packets
from ingest.hj212_records import Hj212Rules, interpret_packet, record_line
from ingest.line_protocol import reading_line


@dataclass
class IntakeResult:
    """What a frame or payload gave: points to write, dead letters, replies to send."""

    lines: list[str] = field(default_factory=list)
    letters: list[NewDeadLetter] = field(default_factory=list)
    replies: list[bytes] = field(default_factory=list)
    packets: int = 0

    def extend(self, other: IntakeResult) -> None:
        self.lines += other.lines
        self.letters += other.letters
        self.replies += other.replies
        self.packets += other.packets


class Hj212Intake:
    """Decode, check and convert HJ 212 packets; thread-safe (holds no mutable state)."""

    def __init__(self, settings: Settings, outlets: Mapping[str, Outlet],
                 stations_by_mn: Mapping[str, Station], codec: Hj212Codec | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.outlets = dict(outlets)
        self.stations_by_mn = dict(stations_by_mn)
        self.codec = codec or Hj212Codec()
        self.clock = clock
        self.tz = ZoneInfo(settings.timezone)

    def rules(self) -> Hj212Rules:
        return Hj212Rules(
            now_s=self.clock(), tz=self.tz,
            future_tolerance_s=self.settings.collector.future_tolerance_s,
            outlets=self.outlets, stations_by_mn=self.stations_by_mn,
            require_registration=self.settings.collector.require_registration,
            ranges=self.settings.emissions.plausible_ranges,
            station_ranges=self.settings.collector.plausible_ranges,
        )

    def frame(self, frame: bytes, origin: str, expected_mn: str | None = None,
              rules: Hj212Rules | None = None) -> IntakeResult:
        """One framed packet (`##` … CR LF) from `origin` (topic or tcp://peer)."""
        received = datetime.now(UTC)
        result = IntakeResult(packets=1)
        try:
            packet = self.codec.decode(frame)
            meaning = interpret_packet(packet, rules or self.rules(), expected_mn)
        except Hj212Error as exc:
            result.letters.append(NewDeadLetter(received, origin, f"HJ 212: {exc}", frame))
            return result
        if meaning.record is not None:
            result.lines.append(record_line(meaning.record))
        result.lines += [reading_line(r) for r in meaning.readings]
        if meaning.problems:
            reason = ("HJ 212: values not stored (the packet's other values were): "
                      + "; ".join(meaning.problems))
            result.letters.append(NewDeadLetter(received, origin, reason, frame))
        if packet.wants_reply:
            result.replies.append(self.codec.encode(self.codec.reply_to(packet)))
        return result

    def garbage(self, piece: Garbage, origin: str) -> IntakeResult:
        return IntakeResult(letters=[NewDeadLetter(datetime.now(UTC), origin,
                                                   f"HJ 212 framing: {piece.reason}",
                                                   piece.data)])

    def payload(self, payload: bytes, origin: str, expected_mn: str | None = None
                ) -> IntakeResult:
        """A whole MQTT payload: one packet or several back to back."""
        result = IntakeResult()
        rules = self.rules()
        for piece in split_packets(payload, self.settings.gateway.max_frame_bytes):
            if isinstance(piece, Garbage):
                result.extend(self.garbage(piece, origin))
            else:
                result.extend(self.frame(piece.data, origin, expected_mn, rules))
        if not payload:
            result.letters.append(NewDeadLetter(datetime.now(UTC), origin,
                                                "HJ 212: empty payload", b""))
        return result
