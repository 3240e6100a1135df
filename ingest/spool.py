"""The on-disk spool: line-protocol batches kept durable until InfluxDB has them (issue 7).

When InfluxDB is down or slow, a batch the collector has taken from the broker must survive a
crash before the broker is told "got it" (the QoS 1 acknowledgement). The spool is an
append-only log of records in numbered segment files, replayed in order; what has been written
to InfluxDB is marked by a committed position, and segments wholly behind it are deleted.

A record is ``length (4 bytes, big-endian) | CRC-32 (4 bytes) | payload`` with the payload the
batch's lines joined by newlines (UTF-8). A crash can leave a torn record at the end of the last
segment: its length or CRC does not match, and reading stops there (it was never acknowledged,
so the broker still holds it). Hand-written rather than SQLite or a queue library: it is small,
hot (one append per batch) and its crash behaviour is easy to state.
"""

from __future__ import annotations

import os
import struct
import threading
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

_HEADER = struct.Struct(">II")
_SEGMENT = "spool-{:08d}.log"
_COMMITTED = "committed"


def _records(handle: BinaryIO) -> Iterator[bytes | None]:
    """Payloads of the whole records from the handle's position on; None for a torn or
    corrupt record (and nothing after it)."""
    while True:
        header = handle.read(_HEADER.size)
        if not header:
            return
        if len(header) < _HEADER.size:
            yield None
            return
        length, crc = _HEADER.unpack(header)
        payload = handle.read(length)
        if len(payload) < length or zlib.crc32(payload) != crc:
            yield None
            return
        yield payload


class SpoolFull(Exception):
    """The spool holds `max_bytes` already: stop acknowledging until it drains."""


@dataclass(frozen=True, order=True)
class Position:
    """A place in the spool: segment number and byte offset within it."""

    segment: int
    offset: int


@dataclass(frozen=True)
class SpooledBatch:
    """One record read back: its lines and the position just after it (commit up to here)."""

    lines: list[str]
    end: Position


class Spool:
    """Append-only, crash-safe log of line batches in `directory`, at most `max_bytes` pending.

    Thread-safe: appends (the collector) and replay/commit (the writer) may run concurrently.
    """

    def __init__(self, directory: Path, max_bytes: int = 1 << 30,
                 segment_bytes: int = 64 << 20) -> None:
        if max_bytes <= 0 or segment_bytes <= 0:
            raise ValueError("max_bytes and segment_bytes must be positive")
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes
        self._lock = threading.Lock()
        self._committed = self._read_committed()
        segments = self._segments()
        self._tail = max(segments) if segments else max(self._committed.segment, 1)
        self._repair_tail()
        self._file = open(self._path(self._tail), "ab")  # noqa: SIM115 - kept open for appends
        self._tail_size = self._file.tell()

    # -- files ----------------------------------------------------------------------------------
    def _path(self, segment: int) -> Path:
        return self.directory / _SEGMENT.format(segment)

    def _segments(self) -> list[int]:
        return sorted(int(p.name[6:14]) for p in self.directory.glob("spool-*.log"))

    def _read_committed(self) -> Position:
        path = self.directory / _COMMITTED
        if not path.is_file():
            return Position(1, 0)
        segment, offset = path.read_text(encoding="ascii").split()
        return Position(int(segment), int(offset))

    def _write_committed(self, position: Position) -> None:
        path = self.directory / _COMMITTED
        temporary = path.with_suffix(".tmp")
        with open(temporary, "w", encoding="ascii") as handle:
            handle.write(f"{position.segment} {position.offset}\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
        directory = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    def _repair_tail(self) -> None:
        """Cut a torn record (a crash mid-append) off the last segment, so that new appends
        follow the last whole record instead of hiding behind the torn one."""
        path = self._path(self._tail)
        if not path.is_file():
            return
        good = 0
        with open(path, "rb") as handle:
            for payload in _records(handle):
                if payload is None:
                    break
                good += _HEADER.size + len(payload)
        if good < path.stat().st_size:
            with open(path, "r+b") as handle:
                handle.truncate(good)
                handle.flush()
                os.fsync(handle.fileno())

    # -- writing --------------------------------------------------------------------------------
    def append(self, lines: Sequence[str], sync: bool = True) -> Position:
        """Append one batch; with `sync`, durable (fsync) when this returns. SpoolFull when the
        pending bytes would exceed `max_bytes` (nothing is written then)."""
        payload = "\n".join(lines).encode("utf-8")
        record = _HEADER.pack(len(payload), zlib.crc32(payload)) + payload
        with self._lock:
            if self.pending_bytes() + len(record) > self.max_bytes:
                raise SpoolFull(f"spool holds {self.pending_bytes():,} of {self.max_bytes:,} "
                                "bytes")
            if self._tail_size and self._tail_size + len(record) > self.segment_bytes:
                self._file.close()
                self._tail += 1
                self._file = open(self._path(self._tail), "ab")  # noqa: SIM115
                self._tail_size = 0
            self._file.write(record)
            self._tail_size += len(record)
            if sync:
                self._file.flush()
                os.fsync(self._file.fileno())
            return Position(self._tail, self._tail_size)

    def sync(self) -> None:
        """Make every append so far durable (for callers appending with sync=False)."""
        with self._lock:
            self._file.flush()
            os.fsync(self._file.fileno())

    # -- reading --------------------------------------------------------------------------------
    def pending_bytes(self) -> int:
        """Bytes appended and not yet committed (whole segments counted by their size)."""
        total = 0
        for segment in self._segments():
            if segment < self._committed.segment:
                continue
            size = (self._tail_size if segment == self._tail
                    else self._path(segment).stat().st_size)
            total += size - (self._committed.offset if segment == self._committed.segment else 0)
        return max(total, 0)

    def replay(self, limit: int | None = None) -> Iterator[SpooledBatch]:
        """Batches after the committed position, oldest first (at most `limit`). A torn record
        at the end of the last segment ends the replay; anywhere else it is an error."""
        with self._lock:
            self._file.flush()
            start, tail = self._committed, self._tail
        count = 0
        for segment in self._segments():
            if segment < start.segment or segment > tail:
                continue
            with open(self._path(segment), "rb") as handle:
                offset = start.offset if segment == start.segment else 0
                handle.seek(offset)
                for payload in _records(handle):
                    if limit is not None and count >= limit:
                        return
                    if payload is None:
                        if segment == tail:
                            return  # torn tail: never acknowledged, the broker has it
                        raise ValueError(f"spool segment {segment} is corrupt at {offset}")
                    offset += _HEADER.size + len(payload)
                    count += 1
                    text = payload.decode("utf-8")
                    yield SpooledBatch(text.split("\n") if text else [],
                                       Position(segment, offset))

    def commit(self, position: Position) -> None:
        """Everything up to `position` is in InfluxDB: never replay it; drop finished segments."""
        with self._lock:
            if position <= self._committed:
                return
            self._write_committed(position)
            self._committed = position
            for segment in self._segments():
                if segment < position.segment:
                    self._path(segment).unlink(missing_ok=True)

    def close(self) -> None:
        with self._lock:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
