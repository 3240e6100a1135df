"""Case events reach MQTT (real broker) and webhooks (a real local HTTP server), failures are
retried with doubling delays on an injected clock, and every delivery is recorded — on both
ledger backends."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import orjson
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from alerts.alert_publisher import MqttAlertPublisher
from alerts.case_notifications import MQTT_CHANNEL, CaseNotifications, Channel, webhook_sender
from alerts.case_repository import CaseRepository
from alerts.case_workflow import CaseUpdate, CaseWorkflow
from analytics.findings import Finding
from config.settings import MqttSettings, NotificationSettings
from lantian.local_services import LocalService, wait_until

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
SETTINGS = NotificationSettings(first_retry_s=30, max_attempts=3)


def open_case(ledger_sessions, now: datetime = T0) -> int:  # type: ignore[no-untyped-def]
    start = datetime(2026, 11, 20, tzinfo=UTC)
    [change] = CaseRepository(ledger_sessions).record_findings(
        [Finding("exceedance", "MN-A", "so2", start, start, 1.4, {})], now)
    return change.case_id


class Hook(BaseHTTPRequestHandler):
    """Answers 500 to the first `failures` requests, then 204; keeps the bodies."""

    failures = 0
    bodies: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        body = orjson.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).bodies.append(body)
        failing = len(type(self).bodies) <= type(self).failures
        self.send_response(500 if failing else 204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hook_url() -> Iterator[tuple[str, type[Hook]]]:
    handler = type("TestHook", (Hook,), {"failures": 2, "bodies": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/lantian", handler
    server.shutdown()


def test_webhook_failures_are_retried_with_doubling_delays_and_recorded(
        ledger_sessions, hook_url) -> None:  # type: ignore[no-untyped-def]
    url, handler = hook_url
    case_id = open_case(ledger_sessions)
    channel = Channel(f"webhook:{url}", webhook_sender(url, 5.0))
    notes = CaseNotifications(ledger_sessions, SETTINGS, [channel])
    [first] = notes.dispatch(T0)
    assert (first.status, first.attempts) == ("pending", 1)
    assert "500" in (first.last_error or "")
    assert first.next_attempt_at == T0 + timedelta(seconds=30)
    assert notes.dispatch(T0 + timedelta(seconds=10)) == []  # not due yet
    [second] = notes.dispatch(T0 + timedelta(seconds=31))
    assert second.status == "pending" and second.next_attempt_at == T0 + timedelta(seconds=91)
    [third] = notes.dispatch(T0 + timedelta(seconds=95))
    assert (third.status, third.attempts, third.last_error) == ("sent", 3, None)
    assert [b["action"] for b in handler.bodies] == ["open", "open", "open"]
    assert handler.bodies[0]["case_id"] == case_id
    assert handler.bodies[0]["case"]["source"] == "MN-A"
    # A second dispatcher (another service) does not notify again.
    again = CaseNotifications(ledger_sessions, SETTINGS, [channel])
    assert again.dispatch(T0 + timedelta(seconds=200)) == []
    assert len(notes.deliveries()) == 1


def test_a_dead_endpoint_is_given_up_after_max_attempts_and_filters_apply(
        ledger_sessions) -> None:  # type: ignore[no-untyped-def]
    case_id = open_case(ledger_sessions)

    def refuse(message: dict) -> None:
        raise ConnectionError("connection refused")

    received: list[dict] = []
    notes = CaseNotifications(ledger_sessions, SETTINGS, [
        Channel("webhook:http://dead.invalid/", refuse),
        Channel("webhook:escalations", received.append, frozenset({"escalate"})),
    ])
    for seconds in (0, 30, 90):
        notes.dispatch(T0 + timedelta(seconds=seconds))
    [dead] = notes.deliveries()
    assert (dead.status, dead.attempts) == ("failed", 3)
    assert dead.last_error == "ConnectionError: connection refused"
    CaseWorkflow(ledger_sessions).act(case_id, "escalate", actor="li", now=T0)
    notes.dispatch(T0 + timedelta(seconds=100))
    assert [m["action"] for m in received] == ["escalate"]


def test_case_events_are_published_on_mqtt(ledger_sessions, mqtt_broker: LocalService  # type: ignore[no-untyped-def]
                                           ) -> None:
    received: list[dict] = []
    subscriber = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2,
                             client_id=f"sub-{uuid.uuid4().hex[:8]}")
    subscriber.on_message = lambda c, u, m: received.append(orjson.loads(m.payload))
    subscriber.connect(mqtt_broker.host, mqtt_broker.port)
    subscriber.subscribe("lantian/v1/alerts/case", qos=1)
    subscriber.loop_start()
    publisher = MqttAlertPublisher(MqttSettings(host=mqtt_broker.host, port=mqtt_broker.port))
    try:
        assert wait_until(publisher.connected, 10)
        now = datetime.now(UTC)
        case_id = open_case(ledger_sessions, now)
        CaseWorkflow(ledger_sessions).act(
            case_id, "assign", actor="li", now=now,
            update=CaseUpdate(responsible_unit="甲企业", responsible_person="张"))
        notes = CaseNotifications(ledger_sessions, SETTINGS,
                                  [Channel(MQTT_CHANNEL, publisher.publish_case_event)])
        assert [d.status for d in notes.dispatch(now)] == ["sent", "sent"]
        assert wait_until(lambda: len(received) == 2, 10)
        assert [(m["action"], m["to"]) for m in received] == [("open", "open"),
                                                              ("assign", "assigned")]
        assert received[1]["changes"]["responsible_unit"] == "甲企业"
    finally:
        publisher.close()
        subscriber.loop_stop()
        subscriber.disconnect()
