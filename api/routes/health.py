"""Health: is the broker reachable, does InfluxDB answer, can the ledger be read."""

from __future__ import annotations

import time

import paho.mqtt.client as mqtt
from fastapi import APIRouter, Response
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import text

from api.deps import Context
from api.schemas import ComponentHealth, HealthPublic
from config.settings import MqttSettings
from ingest.errors import StoreError

router = APIRouter(prefix="/api", tags=["health"])


def check_broker(settings: MqttSettings, timeout_s: float = 5.0) -> ComponentHealth:
    """A real MQTT CONNECT/CONNACK round trip, not just an open port: a broker that refuses
    this account (wrong password, not allowed) is reported as such."""
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2,
                         client_id="", clean_session=True)
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
        return ComponentHealth(ok=False, detail=f"{where}: {exc}")
    if not answers:
        return ComponentHealth(ok=False, detail=f"{where}: no CONNACK within {timeout_s:.0f} s")
    if answers[0].is_failure:
        return ComponentHealth(ok=False, detail=f"{where} refused the connection: {answers[0]} "
                                                "(check mqtt.username and mqtt.password)")
    return ComponentHealth(ok=True, detail=where)


@router.get("/health", response_model=HealthPublic,
            summary="503 when the broker, InfluxDB or the ledger is unreachable")
def health(ctx: Context, response: Response) -> HealthPublic:
    broker = check_broker(ctx.settings.mqtt)
    try:
        influx = ComponentHealth(ok=True, detail=f"InfluxDB {ctx.store.ping()}")
    except StoreError as exc:
        influx = ComponentHealth(ok=False, detail=str(exc))
    try:
        with ctx.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        ledger = ComponentHealth(ok=True, detail=ctx.engine.url.get_backend_name())
    except Exception as exc:
        ledger = ComponentHealth(ok=False, detail=str(exc))
    ok = broker.ok and influx.ok and ledger.ok
    if not ok:
        response.status_code = 503
    return HealthPublic(status="ok" if ok else "degraded", broker=broker, influxdb=influx,
                        ledger=ledger)
