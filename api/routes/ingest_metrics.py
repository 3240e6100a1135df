"""Ingest counters: what each collector received, wrote, spooled and dead-lettered (JSON), and
the same as Prometheus metrics on /metrics. The collectors record them in the ledger."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from pydantic import BaseModel

from alerts.accounts import Principal
from alerts.ledger_db import make_session_factory
from api.auth import SignedIn
from api.deps import Context
from ingest.ingest_status import IngestStatus, IngestStatusStore

router = APIRouter(tags=["ingest"])


class IngestStatusPublic(BaseModel):
    """One collector since its start: readings (points) received = written + spooled +
    dead-lettered + still buffered; `balanced` says whether that holds."""

    collector_id: str
    started_at: datetime
    updated_at: datetime
    age_s: float
    connected: bool
    received: int
    written: int
    spooled: int
    replayed: int
    dead_lettered: int
    buffered: int
    balanced: bool
    spool_pending_bytes: int
    broker_dropped: int
    counters: dict[str, int | bool]


class IngestPublic(BaseModel):
    data: list[IngestStatusPublic]
    count: int


def _statuses(ctx: Context, who: Principal) -> list[IngestStatus]:
    if who.role == "enterprise":
        raise HTTPException(403, f"user {who.name} (enterprise) may not read the ingest "
                                 "counters of the whole network")
    return IngestStatusStore(make_session_factory(ctx.engine)).all()


def _int(status: IngestStatus, name: str) -> int:
    return int(status.counters.get(name, 0))


@router.get("/api/ingest", response_model=IngestPublic,
            summary="Each collector's counters: received = written + spooled + dead-lettered")
def ingest_status(ctx: Context, who: SignedIn) -> IngestPublic:
    now = datetime.now(UTC)
    data = [IngestStatusPublic(
        collector_id=s.collector_id, started_at=ctx.local(s.started_at),
        updated_at=ctx.local(s.updated_at), age_s=(now - s.updated_at).total_seconds(),
        connected=bool(s.counters.get("connected", False)), received=s.received,
        written=_int(s, "readings_written"), spooled=_int(s, "readings_spooled"),
        replayed=_int(s, "readings_replayed"), dead_lettered=s.dead_lettered,
        buffered=s.buffered, balanced=s.balanced,
        spool_pending_bytes=_int(s, "spool_pending_bytes"),
        broker_dropped=_int(s, "broker_dropped"), counters=dict(s.counters),
    ) for s in _statuses(ctx, who)]
    return IngestPublic(data=data, count=len(data))


class _IngestCollector(Collector):
    """Prometheus view of the recorded counters (one label set per collector)."""

    def __init__(self, statuses: list[IngestStatus], dead_letters: int) -> None:
        self.statuses = statuses
        self.dead_letters = dead_letters

    def collect(self) -> Iterator[Metric]:
        now = datetime.now(UTC)
        labels = ["collector"]
        readings = CounterMetricFamily(
            "lantian_ingest_readings", "Readings (points) by outcome since the collector "
            "started: received = written + spooled + dead_lettered + buffered",
            labels=[*labels, "outcome"])
        counters = {
            "lantian_ingest_messages": ("MQTT messages taken from the broker", "messages"),
            "lantian_ingest_messages_acked": ("Messages acknowledged (durable)",
                                              "messages_acked"),
            "lantian_ingest_write_retries": ("Failed writes retried", "write_retries"),
            "lantian_ingest_spool_full": ("Batches refused by a full spool", "spool_full"),
        }
        counter_families = {name: CounterMetricFamily(name, text, labels=labels)
                            for name, (text, _) in counters.items()}
        gauges = {
            "lantian_ingest_buffered_readings": ("Readings in memory, not yet durable", None),
            "lantian_spool_pending_bytes": ("Bytes in the spool waiting for InfluxDB",
                                            "spool_pending_bytes"),
            "lantian_broker_dropped_messages": ("Mosquitto's $SYS count of dropped messages",
                                                "broker_dropped"),
            "lantian_collector_connected": ("1 when connected to the broker", "connected"),
            "lantian_ingest_balanced": ("1 when received = written + spooled + "
                                        "dead_lettered + buffered", None),
            "lantian_ingest_status_age_seconds": ("Seconds since the collector last "
                                                  "recorded its counters", None),
        }
        gauge_families = {name: GaugeMetricFamily(name, text, labels=labels)
                          for name, (text, _) in gauges.items()}
        for s in self.statuses:
            who = [s.collector_id]
            for outcome, value in (("received", s.received),
                                   ("written", _int(s, "readings_written")),
                                   ("spooled", _int(s, "readings_spooled")),
                                   ("replayed", _int(s, "readings_replayed")),
                                   ("dead_lettered", s.dead_lettered)):
                readings.add_metric([*who, outcome], value)
            for name, (_, key) in counters.items():
                counter_families[name].add_metric(who, _int(s, key))
            derived = {"lantian_ingest_buffered_readings": s.buffered,
                       "lantian_ingest_balanced": int(s.balanced),
                       "lantian_ingest_status_age_seconds":
                           (now - s.updated_at).total_seconds()}
            for name, (_, key) in gauges.items():
                gauge_families[name].add_metric(
                    who, derived[name] if key is None else _int(s, key))
        yield readings
        yield from counter_families.values()
        yield from gauge_families.values()
        yield GaugeMetricFamily("lantian_dead_letters", "Dead letters kept in the ledger",
                                value=self.dead_letters)


@router.get("/metrics", response_class=Response, summary="Prometheus metrics (bearer token)",
            responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
def metrics(ctx: Context, who: SignedIn) -> Response:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_IngestCollector(_statuses(ctx, who), ctx.dead_letters.list(limit=1)[1]))
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
