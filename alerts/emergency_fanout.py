"""Publishing a city's alert level to every channel: MQTT (retained) and the webhooks.

Each channel is tried on its own with a few quick retries, so a webhook that is down neither
blocks the others nor loses the level: every change also stays in the ledger and in
``GET /api/emergency/{city}``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from alerts.case_notifications import webhook_sender
from config.settings import WebhookSettings

log = logging.getLogger(__name__)

Publish = Callable[[str, dict[str, Any]], None]


def webhook_publisher(hook: WebhookSettings) -> Publish:
    """POST ``{"kind": "emergency", …message}`` to the hook (its `actions`, when set, filter
    on issue/upgrade/downgrade/lift)."""
    send = webhook_sender(hook.url, hook.timeout_s)

    def publish(city: str, message: dict[str, Any]) -> None:
        if not hook.actions or message.get("action") in hook.actions:
            send({"kind": "emergency", **message})

    return publish


def fan_out(channels: Sequence[tuple[str, Publish]], *, attempts: int = 3,
            first_retry_s: float = 0.5, sleep: Callable[[float], None] = time.sleep
            ) -> Publish:
    """One Publish that sends to every channel, retrying each up to `attempts` times with
    doubling delays; a channel that still fails is logged and skipped."""
    if attempts < 1:
        raise ValueError("attempts must be at least 1")

    def publish(city: str, message: dict[str, Any]) -> None:
        for name, send in channels:
            for attempt in range(attempts):
                try:
                    send(city, message)
                    break
                except Exception as exc:  # any channel failure: retry, never stop the others
                    if attempt == attempts - 1:
                        log.error("emergency level of %s not delivered to %s after %d "
                                  "attempts: %s", city, name, attempts, exc)
                    else:
                        sleep(first_retry_s * 2 ** attempt)

    return publish
