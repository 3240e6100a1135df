"""Ledger tables of the heavy-pollution response: AQI forecasts received, alerts issued and
every change of level with its reason."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from alerts.ledger_db import Base, UtcDateTime


class AqiForecast(Base):
    """A daily AQI forecast for a city: `days` is [{"date": "YYYY-MM-DD", "aqi": n}, …]."""

    __tablename__ = "aqi_forecasts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    city: Mapped[str] = mapped_column(String(64), index=True)
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    source: Mapped[str] = mapped_column(String(32))  # official | statistical
    issuer: Mapped[str] = mapped_column(String(128))
    days: Mapped[list[dict[str, Any]]] = mapped_column(JSON)


class EmergencyAlert(Base):
    """One alert episode of a city, from issue to lift; `level` is its current level."""

    __tablename__ = "emergency_alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    city: Mapped[str] = mapped_column(String(64), index=True)
    level: Mapped[str] = mapped_column(String(16))
    scheme: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime())
    lifted_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True, index=True)


class EmergencyEvent(Base):
    """Issue, upgrade, downgrade or lift: from which level to which, why, on which forecast."""

    __tablename__ = "emergency_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("emergency_alerts.id"), index=True)
    city: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    action: Mapped[str] = mapped_column(String(16))
    from_level: Mapped[str | None] = mapped_column(String(16), nullable=True)
    to_level: Mapped[str | None] = mapped_column(String(16), nullable=True)
    reason: Mapped[str] = mapped_column(Text)
    forecast_id: Mapped[int | None] = mapped_column(ForeignKey("aqi_forecasts.id"),
                                                    nullable=True)
