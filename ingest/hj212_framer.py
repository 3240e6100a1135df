"""Cut HJ 212 packets out of a byte stream: TCP reads split and merge packets at random, and
line noise or a unit's boot banner can sit between them.

A frame runs from `##` to the next CR LF (in a run of '#', from its last two). Bytes outside any
frame, a frame cut short by a new `##`, and a run of bytes with no CR LF within `max_frame` are
returned as `Garbage` with the reason, so the caller keeps them as dead letters; every input byte
comes out exactly once, in order. The codec then checks length and CRC.
"""

from __future__ import annotations

from dataclasses import dataclass

from ingest.hj212_codec import HEADER, TAIL

# ## + 4 + 1024 data bytes + 4 CRC + CR LF = 1036; slack for units that overrun the limit,
# so the codec can reject them with a precise reason instead of the framer guessing.
DEFAULT_MAX_FRAME = 4096
# "##", 4 length digits, 4 CRC digits, CR LF: no packet is shorter.
MIN_FRAME = 12
_HASH = ord("#")


@dataclass(frozen=True, slots=True)
class Frame:
    """A candidate packet, `##` … CR LF inclusive."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Garbage:
    """Bytes that belong to no packet, and why."""

    data: bytes
    reason: str


class Hj212Framer:
    """Incremental framer for one connection (or one MQTT payload). Not thread-safe."""

    def __init__(self, max_frame: int = DEFAULT_MAX_FRAME) -> None:
        if max_frame < MIN_FRAME:
            raise ValueError(f"max_frame must be at least {MIN_FRAME} bytes, not {max_frame}")
        self.max_frame = max_frame
        self._buffer = bytearray()

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Frame | Garbage]:
        """Add received bytes; return the frames and garbage now complete, in stream order.

        The frames found do not depend on how the stream is cut into reads: a frame is
        `##` … CR LF of at most `max_frame` bytes with no other `##` inside, wherever the
        reads split it.
        """
        self._buffer += data
        out: list[Frame | Garbage] = []
        buffer = self._buffer
        limit = self.max_frame
        while buffer:
            start = buffer.find(HEADER)
            if start < 0:
                # Keep a trailing '#': it may be the first half of the next header.
                keep = 1 if buffer.endswith(b"#") else 0
                if len(buffer) > keep:
                    out.append(Garbage(bytes(buffer[:len(buffer) - keep]),
                                       "bytes outside any packet (no '##' header)"))
                    del buffer[:len(buffer) - keep]
                break
            # In a run of '#' the header is the last two: "###0101…" is one stray '#' and a
            # packet (a length field never starts with '#').
            while start + 2 < len(buffer) and buffer[start + 2] == _HASH:
                start += 1
            if start > 0:
                out.append(Garbage(bytes(buffer[:start]), "bytes before a '##' header"))
                del buffer[:start]
            # Only the first `limit` bytes can hold this frame's CR LF or a new header: what
            # lies beyond is judged after the run is discarded, as it is when bytes come one by
            # one, so frames do not depend on read sizes.
            end = buffer.find(TAIL, 2, limit)
            restart = buffer.find(HEADER, 2, limit)
            if restart >= 0 and (end < 0 or restart < end):
                out.append(Garbage(bytes(buffer[:restart]),
                                   "truncated packet: a new '##' header began before its CR LF"))
                del buffer[:restart]
                continue
            if end >= 0:
                out.append(Frame(bytes(buffer[:end + 2])))
                del buffer[:end + 2]
                continue
            if len(buffer) < limit:
                break  # wait for more bytes
            # No CR LF within max_frame bytes: discard the run, but keep a last '#' that may
            # begin the next header.
            cut = limit - 1 if buffer[limit - 1] == _HASH else limit
            out.append(Garbage(bytes(buffer[:cut]),
                               f"no CR LF within {limit} bytes of a '##' header"))
            del buffer[:cut]
        return out

    def close(self) -> list[Garbage]:
        """End of stream: whatever is still buffered is a truncated packet."""
        if not self._buffer:
            return []
        rest = bytes(self._buffer)
        self._buffer.clear()
        reason = ("truncated packet: stream ended before its CR LF" if rest.startswith(HEADER)
                  else "bytes outside any packet (no '##' header)")
        return [Garbage(rest, reason)]


def split_packets(payload: bytes, max_frame: int = DEFAULT_MAX_FRAME) -> list[Frame | Garbage]:
    """All frames and garbage of a complete payload (an MQTT message: one or more packets)."""
    framer = Hj212Framer(max_frame)
    return [*framer.feed(payload), *framer.close()]
