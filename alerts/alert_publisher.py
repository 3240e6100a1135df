"""Publishes case changes on ``lantian/v1/alerts/{kind}`` (formats.md §2) for other systems."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from alerts.case_repository import CaseChange
from config.settings import MqttSettings

log = logging.getLogger(__name__)


class CaseNotifier(Protocol):
    """Tells the outside world that cases were opened or got new evidence."""

    def notify(self, changes: Sequence[CaseChange], at: datetime) -> None: ...


def alert_message(change: CaseChange, at: datetime) -> dict[str, object]:
    return {
        "event": "case_opened" if change.opened else "case_updated",
        "case_id": change.case_id,
        "source": change.source,
        "type": change.problem_type,
        "new_findings": change.new_findings,
        "updated_findings": change.updated_findings,
        "time": at.isoformat(),
    }


class MqttAlertPublisher:
    """QoS 1 publisher of alert messages; reconnects in the background, never blocks the loop."""

    def __init__(self, settings: MqttSettings) -> None:
        self.topic_root = settings.topic_root
        self._client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2,
                                   client_id=f"lantian-alerts-{uuid.uuid4().hex[:8]}")
        if settings.username:
            password = settings.password.get_secret_value() if settings.password else None
            self._client.username_pw_set(settings.username, password)
        self._client.reconnect_delay_set(1, 30)
        self._client.connect_async(settings.host, settings.port, settings.keepalive_s)
        self._client.loop_start()

    def connected(self) -> bool:
        return self._client.is_connected()

    def notify(self, changes: Sequence[CaseChange], at: datetime) -> None:
        for change in changes:
            topic = f"{self.topic_root}/alerts/{change.problem_type}"
            info = self._client.publish(topic, orjson.dumps(alert_message(change, at)), qos=1)
            if info.rc != mqtt.MQTT_ERR_SUCCESS and info.rc != mqtt.MQTT_ERR_NO_CONN:
                log.warning("alert for case %s not queued: rc=%s", change.case_id, info.rc)

    def publish_case_event(self, message: dict[str, object]) -> None:
        """One case event on ``{root}/alerts/case`` (QoS 1); raises when the broker is not
        connected, so the delivery is recorded as failed and retried."""
        if not self._client.is_connected():
            raise ConnectionError("not connected to the MQTT broker")
        info = self._client.publish(f"{self.topic_root}/alerts/case", orjson.dumps(message),
                                    qos=1)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise ConnectionError(f"publish refused: rc={info.rc}")

    def publish_emergency(self, city: str, message: dict[str, object]) -> None:
        """The city's current alert level on ``{root}/emergency/{city}``, retained, so a
        subscriber that connects later gets the level in force at once."""
        info = self._client.publish(f"{self.topic_root}/emergency/{city}",
                                    orjson.dumps(message), qos=1, retain=True)
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            raise ConnectionError(f"publish refused: rc={info.rc}")

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
