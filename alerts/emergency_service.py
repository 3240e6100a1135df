"""Deciding a city's heavy-pollution alert level from its AQI forecast, and recording and
publishing every issue, upgrade, downgrade and lift with its reason.

The official forecast is used when one is fresh; otherwise the latest statistical one (stated as
such in the reason). A level is lifted when the forecast no longer meets any level of the scheme
in force (simplification: plans that require the air to stay clean for 36 h before lifting
need that as a rule; see the README).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from alerts.emergency_models import AqiForecast, EmergencyAlert, EmergencyEvent
from alerts.emergency_rules import scheme_from_config
from analytics.alert_levels import alert_levels, level_names
from config.emergency import EmergencyRegister

LEVEL_RANK = {"blue": 1, "yellow": 2, "orange": 3, "red": 4}
Publish = Callable[[str, dict[str, Any]], None]


class ForecastError(ValueError):
    """A forecast that cannot be used; the message says why."""


@dataclass(frozen=True, slots=True)
class EmergencyState:
    city: str
    alert: EmergencyAlert | None
    events: list[EmergencyEvent]


class EmergencyService:
    def __init__(self, sessions: sessionmaker, register: EmergencyRegister, tz: str,
                 publish: Publish | None = None, official_valid_h: float = 36.0,
                 min_hold_h: float = 0.0) -> None:
        self._sessions = sessions
        self.register = register
        self.tz = ZoneInfo(tz)
        self.publish = publish
        self.official_valid = timedelta(hours=official_valid_h)
        # An alert is not downgraded or lifted sooner than this after its last change, so a
        # forecast hovering around a threshold does not make the level flap hour by hour
        # (upgrades are never held back).
        self.min_hold = timedelta(hours=min_hold_h)

    def submit_forecast(self, city: str, days: Sequence[tuple[date, float]], *, source: str,
                        issuer: str, now: datetime) -> int:
        """Store a forecast (consecutive local days, AQI 0-500); its id."""
        if self.register.for_city(city) is None:
            raise ForecastError(f"no alert scheme configured for city {city!r}")
        if source not in ("official", "statistical"):
            raise ForecastError("source must be 'official' or 'statistical'")
        ordered = sorted(days)
        if not ordered:
            raise ForecastError("a forecast needs at least one day")
        dates = [d for d, _ in ordered]
        if any(b - a != timedelta(days=1) for a, b in pairwise(dates)):
            raise ForecastError("forecast days must be consecutive dates without repeats")
        if any(not 0 <= aqi <= 500 for _, aqi in ordered):
            raise ForecastError("AQI values must be within 0-500")
        with self._sessions.begin() as session:
            forecast = AqiForecast(city=city, issued_at=now, source=source, issuer=issuer,
                                   days=[{"date": d.isoformat(), "aqi": float(a)}
                                         for d, a in ordered])
            session.add(forecast)
            session.flush()
            return forecast.id

    def _forecast(self, session: Session, city: str, now: datetime) -> AqiForecast | None:
        official = session.scalar(select(AqiForecast).where(
            AqiForecast.city == city, AqiForecast.source == "official",
            AqiForecast.issued_at > now - self.official_valid, AqiForecast.issued_at <= now)
            .order_by(AqiForecast.issued_at.desc(), AqiForecast.id.desc()).limit(1))
        if official is not None:
            return official
        return session.scalar(select(AqiForecast).where(
            AqiForecast.city == city, AqiForecast.source == "statistical",
            AqiForecast.issued_at <= now)
            .order_by(AqiForecast.issued_at.desc(), AqiForecast.id.desc()).limit(1))

    def evaluate(self, city: str, now: datetime) -> EmergencyEvent | None:
        """Decide the level now; record and publish a change; None when nothing changes."""
        jurisdiction = self.register.for_city(city)
        if jurisdiction is None:
            raise ForecastError(f"no alert scheme configured for city {city!r}")
        today = now.astimezone(self.tz).date()
        config = jurisdiction.scheme_on(today)
        if config is None:
            return None
        scheme = scheme_from_config(config)
        with self._sessions.begin() as session:
            forecast = self._forecast(session, city, now)
            ahead = [d for d in (forecast.days if forecast else [])
                     if date.fromisoformat(d["date"]) >= today]
            aqi = np.array([[d["aqi"] for d in ahead]], dtype=float)
            [level] = level_names(alert_levels(aqi, scheme), scheme) if ahead else [None]
            alert = session.scalar(select(EmergencyAlert).where(
                EmergencyAlert.city == city, EmergencyAlert.lifted_at.is_(None)))
            current = alert.level if alert else None
            if level == current:
                return None
            if alert is not None and current is not None and (
                    level is None or LEVEL_RANK[level] < LEVEL_RANK[current]):
                last_change = session.scalar(select(func.max(EmergencyEvent.at)).where(
                    EmergencyEvent.alert_id == alert.id))
                if last_change is not None and now - last_change < self.min_hold:
                    return None
            basis = (f"{forecast.source} forecast {forecast.id} by {forecast.issuer}: "
                     + ", ".join(f"{d['date']} AQI {d['aqi']:g}" for d in ahead)
                     if forecast else "no forecast")
            if current is None:
                action = "issue"
                alert = EmergencyAlert(city=city, level=level, scheme=config.name,
                                       issued_at=now)
                session.add(alert)
                session.flush()
            else:
                assert alert is not None
                if level is None:
                    action, alert.lifted_at = "lift", now
                else:
                    action = "upgrade" if LEVEL_RANK[level] > LEVEL_RANK[current] else "downgrade"
                    alert.level = level
            reason = (f"{config.name}: the forecast meets {level}" if level
                      else f"{config.name}: the forecast meets no level") + f" ({basis})"
            event = EmergencyEvent(alert_id=alert.id, city=city, at=now, action=action,
                                   from_level=current, to_level=level, reason=reason,
                                   forecast_id=forecast.id if forecast else None)
            session.add(event)
            session.flush()
            message = self._message(city, alert, event, config.name)
            session.expunge(event)
        if self.publish is not None:
            self.publish(city, message)
        return event

    @staticmethod
    def _message(city: str, alert: EmergencyAlert, event: EmergencyEvent,
                 scheme: str) -> dict[str, Any]:
        return {"city": city, "level": event.to_level, "action": event.action,
                "previous_level": event.from_level, "scheme": scheme, "alert_id": alert.id,
                "issued_at": alert.issued_at.isoformat(),
                "lifted_at": alert.lifted_at.isoformat() if alert.lifted_at else None,
                "at": event.at.isoformat(), "reason": event.reason}

    def state(self, city: str, history: int = 50) -> EmergencyState:
        with self._sessions() as session:
            alert = session.scalar(select(EmergencyAlert).where(
                EmergencyAlert.city == city, EmergencyAlert.lifted_at.is_(None)))
            events = list(session.scalars(select(EmergencyEvent).where(
                EmergencyEvent.city == city).order_by(EmergencyEvent.id.desc()).limit(history)))
            if alert is not None:
                session.expunge(alert)
            for event in events:
                session.expunge(event)
            return EmergencyState(city, alert, events)
