"""An alert level goes to MQTT and to every webhook; a failing webhook is retried and never
keeps the level from the other channels."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import orjson
import pytest

from alerts.emergency_fanout import fan_out, webhook_publisher
from config.settings import WebhookSettings

MESSAGE = {"city": "beijing", "level": "orange", "action": "issue", "reason": "test"}


class Hook(BaseHTTPRequestHandler):
    failures = 0
    bodies: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = orjson.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).bodies.append(body)
        self.send_response(500 if len(type(self).bodies) <= type(self).failures else 204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[tuple[str, type[Hook]]]:
    handler = type("FlakyHook", (Hook,), {"failures": 2, "bodies": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/alerts", handler
    server.shutdown()


def test_a_flaky_webhook_gets_the_level_after_retries(hook) -> None:  # type: ignore[no-untyped-def]
    url, handler = hook
    waits: list[float] = []
    mqtt_got: list[tuple[str, dict[str, Any]]] = []
    publish = fan_out([("webhook", webhook_publisher(WebhookSettings(url=url))),
                       ("mqtt", lambda city, m: mqtt_got.append((city, m)))],
                      attempts=3, first_retry_s=0.5, sleep=waits.append)
    publish("beijing", MESSAGE)
    assert len(handler.bodies) == 3 and handler.bodies[-1] == {"kind": "emergency", **MESSAGE}
    assert waits == [0.5, 1.0]
    assert mqtt_got == [("beijing", MESSAGE)]


def test_a_dead_channel_does_not_stop_the_others(hook) -> None:  # type: ignore[no-untyped-def]
    url, handler = hook
    handler.failures = 99
    delivered: list[str] = []
    publish = fan_out([("webhook", webhook_publisher(WebhookSettings(url=url))),
                       ("mqtt", lambda city, m: delivered.append(city))],
                      attempts=2, sleep=lambda _: None)
    publish("beijing", MESSAGE)
    assert len(handler.bodies) == 2 and delivered == ["beijing"]


def test_webhook_action_filter(hook) -> None:  # type: ignore[no-untyped-def]
    url, handler = hook
    handler.failures = 0
    publish = webhook_publisher(WebhookSettings(url=url, actions=["lift"]))
    publish("beijing", MESSAGE)
    publish("beijing", {**MESSAGE, "action": "lift", "level": None})
    assert [b["action"] for b in handler.bodies] == ["lift"]
