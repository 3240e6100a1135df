"""Ledger tables: a case (one problem at one source) and the findings that are its evidence."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from alerts.case_lifecycle import OPEN
from alerts.ledger_db import Base, UtcDateTime

ORIGINS = ("finding", "inspection", "complaint")


class Case(Base):
    """A rectification case. While open, `open_key` = "source|problem_type" is set and unique,
    which makes "one open case per source and problem type" a database guarantee on both
    SQLite and PostgreSQL (NULLs do not collide, so closed cases keep no key)."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(128), index=True)
    source_kind: Mapped[str] = mapped_column(String(16), default="station")
    problem_type: Mapped[str] = mapped_column(String(32), index=True)
    status: Mapped[str] = mapped_column(String(16), default=OPEN, index=True)
    open_key: Mapped[str | None] = mapped_column(String(200), unique=True, nullable=True)
    title: Mapped[str] = mapped_column(String(300))
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    finding_count: Mapped[int] = mapped_column(Integer, default=0)
    first_start: Mapped[datetime] = mapped_column(UtcDateTime())
    last_end: Mapped[datetime] = mapped_column(UtcDateTime())
    max_score: Mapped[float] = mapped_column(Float, default=0.0)
    # Where the problem came from: an automatic finding, an inspection, a public complaint (信访).
    origin: Mapped[str] = mapped_column(String(16), default="finding")
    category: Mapped[str] = mapped_column(String(64), default="")
    district: Mapped[str] = mapped_column(String(64), default="", index=True)
    # 网格: the grid cell of grid-based supervision, where the bureau uses one.
    grid: Mapped[str] = mapped_column(String(64), default="")
    enterprise: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)
    responsible_unit: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)
    responsible_person: Mapped[str | None] = mapped_column(String(128), nullable=True)
    measures: Mapped[str | None] = mapped_column(Text, nullable=True)
    deadline: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True, index=True)
    # 挂牌督办: 0 none; each level notifies more senior people (config cases.escalation).
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    # 回头看: a closed case is watched until then; the problem returning reopens it.
    watch_until: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    recurrence_count: Mapped[int] = mapped_column(Integer, default=0)

    findings: Mapped[list[FindingRecord]] = relationship(
        back_populates="case", order_by="FindingRecord.start"
    )


class FindingRecord(Base):
    """A stored finding. Unique per (type, source, pollutant, start): the analytics loop
    re-judges overlapping windows, and a re-judged finding updates its row instead of adding."""

    __tablename__ = "findings"
    __table_args__ = (UniqueConstraint("type", "source", "pollutant", "start",
                                       name="uq_finding_identity"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    type: Mapped[str] = mapped_column(String(32), index=True)
    source: Mapped[str] = mapped_column(String(128), index=True)
    pollutant: Mapped[str] = mapped_column(String(32))
    start: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    end: Mapped[datetime] = mapped_column(UtcDateTime())
    score: Mapped[float] = mapped_column(Float)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)
    detected_at: Mapped[datetime] = mapped_column(UtcDateTime())

    case: Mapped[Case | None] = relationship(back_populates="findings")


class CaseEvent(Base):
    """One step in a case's history; append-only (never updated or deleted): who did what,
    when, from which status to which, with the note, attachments and changed fields."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    to_status: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    attachments: Mapped[list[Any]] = mapped_column(JSON, default=list)
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Delivery(Base):
    """One case event to one notification channel (``mqtt`` or ``webhook:<url>``): whether it
    went out, after how many attempts, and the last error — the record of who was told what."""

    __tablename__ = "deliveries"
    __table_args__ = (UniqueConstraint("event_id", "channel", name="uq_delivery_event_channel"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("case_events.id"), index=True)
    channel: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class Attachment(Base):
    """A file uploaded as evidence for a case (photos, reports, monitoring records), stored in
    the ledger database with its SHA-256 so the case file can show it was not altered."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by: Mapped[str] = mapped_column(String(128))
    uploaded_at: Mapped[datetime] = mapped_column(UtcDateTime())
    data: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
