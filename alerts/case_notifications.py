"""Telling people about case events: every event in the audit trail goes to each configured
channel (MQTT ``{root}/alerts/case``, webhooks), retried with doubling delays, and every delivery
is recorded (`deliveries`) — a transactional outbox read from the append-only events.

A delivery row is created once per (event, channel) under a unique constraint, so two services
dispatching at once never notify twice for the same event.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import and_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from alerts.case_models import Case, CaseEvent, Delivery
from config.settings import NotificationSettings

log = logging.getLogger(__name__)

MQTT_CHANNEL = "mqtt"
# A channel's sender: raises on failure (the message is recorded as the delivery's error).
Sender = Callable[[dict[str, Any]], None]


def event_message(event: CaseEvent, case: Case) -> dict[str, Any]:
    """The JSON a channel receives for one case event."""
    return {
        "event": "case_event", "event_id": event.id, "case_id": case.id,
        "action": event.action, "from": event.from_status, "to": event.to_status,
        "actor": event.actor, "at": event.at.isoformat(), "note": event.note,
        "changes": event.changes,
        "case": {"title": case.title, "source": case.source, "source_kind": case.source_kind,
                 "problem_type": case.problem_type, "status": case.status,
                 "enterprise": case.enterprise, "district": case.district,
                 "responsible_unit": case.responsible_unit,
                 "deadline": case.deadline.isoformat() if case.deadline else None,
                 "escalation_level": case.escalation_level,
                 "recurrence_count": case.recurrence_count},
    }


@dataclass(frozen=True, slots=True)
class Channel:
    name: str
    send: Sender
    actions: frozenset[str] = frozenset()  # empty: all


def webhook_sender(url: str, timeout_s: float, client: httpx.Client | None = None) -> Sender:
    http = client or httpx.Client(timeout=timeout_s)

    def send(message: dict[str, Any]) -> None:
        response = http.post(url, json=message, timeout=timeout_s)
        if response.status_code >= 300:
            raise RuntimeError(f"{url} answered {response.status_code}: {response.text[:200]}")

    return send


class CaseNotifications:
    """Creates and attempts deliveries; call `dispatch(now)` from a periodic loop."""

    def __init__(self, sessions: sessionmaker, settings: NotificationSettings,
                 channels: Sequence[Channel]) -> None:
        self._sessions = sessions
        self.settings = settings
        self.channels = {c.name: c for c in channels}

    def _enqueue(self, now: datetime) -> int:
        """Delivery rows for recent events that a channel has not got yet."""
        oldest = now - timedelta(hours=self.settings.backlog_hours)
        created = 0
        for channel in self.channels.values():
            with self._sessions() as session:
                query = (select(CaseEvent.id, CaseEvent.action)
                         .outerjoin(Delivery, and_(Delivery.event_id == CaseEvent.id,
                                                   Delivery.channel == channel.name))
                         .where(Delivery.id.is_(None), CaseEvent.at >= oldest)
                         .order_by(CaseEvent.id).limit(1000))
                missing = [(i, a) for i, a in session.execute(query)
                           if not channel.actions or a in channel.actions]
            for event_id, _ in missing:
                try:
                    with self._sessions.begin() as session:
                        session.add(Delivery(event_id=event_id, channel=channel.name,
                                             status="pending", attempts=0,
                                             next_attempt_at=now))
                    created += 1
                except IntegrityError:
                    continue  # another dispatcher created it first
        return created

    def dispatch(self, now: datetime) -> list[Delivery]:
        """Enqueue new events, then try every delivery that is due; returns those attempted."""
        self._enqueue(now)
        attempted = []
        with self._sessions.begin() as session:
            due = session.scalars(select(Delivery).where(
                Delivery.status == "pending", Delivery.next_attempt_at <= now)
                .order_by(Delivery.id).limit(500).with_for_update(skip_locked=True)).all()
            for delivery in due:
                channel = self.channels.get(delivery.channel)
                if channel is None:
                    continue  # channel removed from the configuration: leave it recorded
                event = session.get(CaseEvent, delivery.event_id)
                case = session.get(Case, event.case_id) if event is not None else None
                if event is None or case is None:
                    continue
                delivery.attempts += 1
                try:
                    channel.send(event_message(event, case))
                    delivery.status, delivery.sent_at, delivery.last_error = "sent", now, None
                except Exception as exc:  # any failure of a channel is recorded and retried
                    delivery.last_error = f"{type(exc).__name__}: {exc}"[:2000]
                    if delivery.attempts >= self.settings.max_attempts:
                        delivery.status = "failed"
                        log.error("giving up on %s for case event %s: %s", delivery.channel,
                                  delivery.event_id, delivery.last_error)
                    else:
                        delay = self.settings.first_retry_s * 2 ** (delivery.attempts - 1)
                        delivery.next_attempt_at = now + timedelta(seconds=delay)
                attempted.append(delivery)
            session.flush()
            for delivery in attempted:
                session.expunge(delivery)
        return attempted

    def deliveries(self, event_id: int | None = None) -> list[Delivery]:
        with self._sessions() as session:
            query = select(Delivery).order_by(Delivery.id)
            if event_id is not None:
                query = query.where(Delivery.event_id == event_id)
            return list(session.scalars(query))
