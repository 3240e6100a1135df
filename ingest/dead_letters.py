"""Dead letters: every rejected payload, with its raw bytes, topic, time received and reason."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Integer, LargeBinary, String, Text, func, select
from sqlalchemy.orm import Mapped, mapped_column, sessionmaker

from alerts.ledger_db import Base, UtcDateTime


class DeadLetter(Base):
    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    topic: Mapped[str] = mapped_column(String(512), index=True)
    reason: Mapped[str] = mapped_column(Text)
    payload: Mapped[bytes] = mapped_column(LargeBinary)


@dataclass(frozen=True, slots=True)
class NewDeadLetter:
    received_at: datetime
    topic: str
    reason: str
    payload: bytes


class DeadLetterStore:
    """Append and list dead letters in the ledger database."""

    def __init__(self, sessions: sessionmaker) -> None:
        self._sessions = sessions

    def add_many(self, letters: Sequence[NewDeadLetter]) -> None:
        if not letters:
            return
        with self._sessions.begin() as session:
            session.add_all(
                DeadLetter(received_at=d.received_at, topic=d.topic[:512], reason=d.reason,
                           payload=d.payload)
                for d in letters
            )

    def list(self, *, limit: int = 100, offset: int = 0, topic: str | None = None
             ) -> tuple[list[DeadLetter], int]:
        """Newest first, with the total count matching the filter."""
        query = select(DeadLetter)
        count = select(func.count(DeadLetter.id))
        if topic:
            query = query.where(DeadLetter.topic == topic)
            count = count.where(DeadLetter.topic == topic)
        with self._sessions() as session:
            rows = session.scalars(
                query.order_by(DeadLetter.id.desc()).limit(limit).offset(offset)
            ).all()
            return list(rows), int(session.scalar(count) or 0)
