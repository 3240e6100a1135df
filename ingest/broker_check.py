"""Can this MQTT account talk to the broker: a real CONNECT/CONNACK round trip.

Shared by `/api/health` and `lantian doctor`, which tells an address that answers nothing apart
from a broker that refuses the account, so each gets its own fix.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from config.settings import MqttSettings

BrokerOutcome = Literal["accepted", "unreachable", "silent", "refused"]


@dataclass(frozen=True)
class BrokerAnswer:
    """How the broker answered: `accepted`; `unreachable` (no TCP connection: wrong address or
    broker down); `silent` (connected, but no CONNACK in time: not an MQTT listener, or TLS);
    `refused` (CONNACK with a failure code: wrong user or password, or not allowed)."""

    outcome: BrokerOutcome
    detail: str

    @property
    def ok(self) -> bool:
        return self.outcome == "accepted"


def check_broker(settings: MqttSettings, timeout_s: float = 5.0) -> BrokerAnswer:
    """Connect with `settings`' account, wait up to `timeout_s` seconds for the CONNACK,
    disconnect. An open port is not enough: a refused account is reported as such."""
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2,
                         client_id="", clean_session=True)
    client.connect_timeout = timeout_s
    if settings.username:
        password = settings.password.get_secret_value() if settings.password else None
        client.username_pw_set(settings.username, password)
    answers: list[mqtt.ReasonCode] = []
    client.on_connect = lambda c, u, flags, code, props: answers.append(code)
    where = f"{settings.host}:{settings.port}"
    try:
        client.connect(settings.host, settings.port, keepalive=5)
        deadline = time.monotonic() + timeout_s
        while not answers and time.monotonic() < deadline:
            client.loop(timeout=0.1)
        client.disconnect()
    except OSError as exc:
        return BrokerAnswer("unreachable", f"{where}: {exc}")
    if not answers:
        return BrokerAnswer("silent", f"{where}: no CONNACK within {timeout_s:.0f} s")
    if answers[0].is_failure:
        return BrokerAnswer("refused", f"{where} refused the connection: {answers[0]} "
                                       "(check mqtt.username and mqtt.password)")
    return BrokerAnswer("accepted", where)
