"""Each collector's counters, recorded in the ledger so the API (another process) can show them
and Prometheus can scrape them from /metrics."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import JSON, String, select
from sqlalchemy.orm import Mapped, mapped_column, sessionmaker

from alerts.ledger_db import Base, UtcDateTime


class IngestStatusRow(Base):
    __tablename__ = "ingest_status"

    collector_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    counters: Mapped[dict[str, int | bool]] = mapped_column(JSON)


@dataclass(frozen=True)
class IngestStatus:
    """One collector's counters as last recorded (since its `started_at`)."""

    collector_id: str
    started_at: datetime
    updated_at: datetime
    counters: Mapping[str, int | bool]

    @property
    def received(self) -> int:
        return int(self.counters.get("readings_accepted", 0)) + int(
            self.counters.get("rejections", 0))

    @property
    def dead_lettered(self) -> int:
        return int(self.counters.get("rejections_stored", 0)) + int(
            self.counters.get("readings_refused", 0))

    @property
    def buffered(self) -> int:
        return int(self.counters.get("readings_buffered", 0)) + int(
            self.counters.get("rejections_buffered", 0))

    @property
    def balanced(self) -> bool:
        """received = written + spooled + dead-lettered + still buffered in memory."""
        c = self.counters
        return self.received == (int(c.get("readings_written", 0))
                                 + int(c.get("readings_spooled", 0))
                                 + self.dead_lettered + self.buffered)


class IngestStatusStore:
    """Upsert and list collectors' counters (one row per collector id)."""

    def __init__(self, sessions: sessionmaker) -> None:
        self._sessions = sessions

    def save(self, collector_id: str, started_at: datetime, updated_at: datetime,
             counters: Mapping[str, int | bool]) -> None:
        with self._sessions.begin() as session:
            row = session.get(IngestStatusRow, collector_id)
            if row is None:
                session.add(IngestStatusRow(collector_id=collector_id, started_at=started_at,
                                            updated_at=updated_at, counters=dict(counters)))
            else:
                row.started_at, row.updated_at = started_at, updated_at
                row.counters = dict(counters)

    def all(self) -> list[IngestStatus]:
        with self._sessions() as session:
            rows = session.scalars(select(IngestStatusRow)
                                   .order_by(IngestStatusRow.collector_id)).all()
            return [IngestStatus(r.collector_id, r.started_at, r.updated_at, dict(r.counters))
                    for r in rows]
