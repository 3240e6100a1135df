"""HJ 212 intake shared by the MQTT collector and the TCP gateway: a framed packet in, its
line-protocol points, dead letters and (when the unit asked for one) the 9014 reply out.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from config.outlets import Outlet
from config.settings import Settings
from config.stations import Station
from ingest.dead_letters import NewDeadLetter
from ingest.hj212_codec import Hj212Codec, Hj212Error
from ingest.hj212_framer import Frame, Garbage, Hj212Framer
from ingest.hj212_records import Hj212Rules, interpret_packet, record_line
from ingest.line_protocol import reading_line

# One payload lists at most this many dead letters one by one; the rest are counted in one more
# letter that keeps the whole payload, so a megabyte of tiny bad frames costs a bounded number of
# letters (memory, ledger rows) instead of hundreds of thousands.
MAX_LETTERS_PER_PAYLOAD = 100
# A payload is framed as a stream in pieces of this size, so the framer's output stays small.
_CHUNK_BYTES = 16 << 10


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
        """A whole MQTT payload: one packet or several back to back, with garbage between.

        Every valid packet's points are kept; every other piece is a dead letter, the first
        MAX_LETTERS_PER_PAYLOAD one by one and the rest in one more letter holding the whole
        payload. Never raises for bad data.
        """
        result = IntakeResult()
        rules = self.rules()
        unlisted, first_unlisted = 0, ""
        for piece in _pieces(payload, self.settings.gateway.max_frame_bytes):
            if isinstance(piece, Garbage):
                one = self.garbage(piece, origin)
            else:
                one = self.frame(piece.data, origin, expected_mn, rules)
            room = MAX_LETTERS_PER_PAYLOAD - len(result.letters)
            if len(one.letters) > room:
                unlisted += len(one.letters) - room
                first_unlisted = first_unlisted or one.letters[room].reason
                del one.letters[room:]
            result.extend(one)
        if unlisted:
            result.letters.append(NewDeadLetter(datetime.now(UTC), origin, (
                f"HJ 212: {unlisted} more rejected pieces not listed one by one (the whole "
                f"payload is kept); the first of them: {first_unlisted}"), payload))
        if not payload:
            result.letters.append(NewDeadLetter(datetime.now(UTC), origin,
                                                "HJ 212: empty payload", b""))
        return result


def _pieces(payload: bytes, max_frame: int) -> Iterator[Frame | Garbage]:
    """The frames of a complete payload and the garbage between them, adjacent garbage joined
    into one piece (line noise the framer cuts into a million pieces is one dead letter).

    Framed in chunks, so the framer's output stays small; the frames are the same as in one go
    (the framer does not depend on read sizes).
    """
    framer = Hj212Framer(max_frame)
    view = memoryview(payload)

    def stream() -> Iterator[Frame | Garbage]:
        for start in range(0, len(payload), _CHUNK_BYTES):
            yield from framer.feed(view[start:start + _CHUNK_BYTES])
        yield from framer.close()

    run = _GarbageRun()
    for piece in stream():
        if isinstance(piece, Garbage):
            run.add(piece)
            continue
        if run.pieces:
            yield run.take()
        yield piece
    if run.pieces:
        yield run.take()


@dataclass
class _GarbageRun:
    """Adjacent garbage pieces: their bytes in order, and their distinct reasons."""

    data: bytearray = field(default_factory=bytearray)
    reasons: list[str] = field(default_factory=list)
    pieces: int = 0

    def add(self, piece: Garbage) -> None:
        self.data += piece.data
        self.pieces += 1
        if piece.reason not in self.reasons:  # the framer has a handful of reasons
            self.reasons.append(piece.reason)

    def take(self) -> Garbage:
        reason = "; ".join(self.reasons)
        if self.pieces > 1:
            reason += f" ({self.pieces} pieces in a row)"
        piece = Garbage(bytes(self.data), reason)
        self.data, self.reasons, self.pieces = bytearray(), [], 0
        return piece
