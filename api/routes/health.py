"""Health: is the broker reachable, does InfluxDB answer, can the ledger be read."""

from __future__ import annotations

from fastapi import APIRouter, Response
from sqlalchemy import text

from api.deps import Context
from api.schemas import ComponentHealth, HealthPublic
from config.settings import MqttSettings
from ingest import broker_check
from ingest.errors import StoreError

router = APIRouter(prefix="/api", tags=["health"])


def check_broker(settings: MqttSettings, timeout_s: float = 5.0) -> ComponentHealth:
    """A real MQTT CONNECT/CONNACK round trip, not just an open port: a broker that refuses
    this account (wrong password, not allowed) is reported as such."""
    answer = broker_check.check_broker(settings, timeout_s)
    return ComponentHealth(ok=answer.ok, detail=answer.detail)


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
