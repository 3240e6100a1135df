"""Case changes go out on lantian/v1/alerts/{kind} (formats.md §2) through the real broker."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from alerts.alert_publisher import MqttAlertPublisher
from alerts.case_repository import CaseChange
from config.settings import MqttSettings
from lantian.local_services import LocalService, wait_until


def test_opened_and_updated_cases_are_published(mqtt_broker: LocalService) -> None:
    received: list[tuple[str, dict]] = []
    subscribed = threading.Event()
    listener = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2,
                           client_id=f"alert-listener-{uuid.uuid4().hex[:6]}")
    listener.on_message = lambda c, u, m: received.append((m.topic, orjson.loads(m.payload)))
    listener.on_subscribe = lambda *args: subscribed.set()
    listener.connect(mqtt_broker.host, mqtt_broker.port)
    listener.subscribe("lantian/v1/alerts/#", qos=1)
    listener.loop_start()
    publisher = MqttAlertPublisher(MqttSettings(host=mqtt_broker.host, port=mqtt_broker.port))
    try:
        assert subscribed.wait(10)
        assert wait_until(publisher.connected, 10)
        at = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
        publisher.notify([CaseChange(7, "Dongsi", "exceedance", True, 2, 0),
                          CaseChange(3, "Tiantan", "exceedance", False, 0, 1)], at)
        assert wait_until(lambda: len(received) == 2, 10)
    finally:
        publisher.close()
        listener.disconnect()
        listener.loop_stop()
    by_case = {message["case_id"]: (topic, message) for topic, message in received}
    topic, opened = by_case[7]
    assert topic == "lantian/v1/alerts/exceedance"
    assert opened == {"event": "case_opened", "case_id": 7, "source": "Dongsi",
                      "type": "exceedance", "new_findings": 2, "updated_findings": 0,
                      "time": "2026-11-23T08:00:00+00:00"}
    assert by_case[3][1]["event"] == "case_updated"
