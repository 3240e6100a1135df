"""Long-running service entry points: build the real clients, run until SIGINT/SIGTERM."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

from alerts.alert_publisher import MqttAlertPublisher
from alerts.analytics_loop import AnalyticsLoop
from alerts.case_notifications import MQTT_CHANNEL, CaseNotifications, Channel, webhook_sender
from alerts.case_repository import CaseRepository
from alerts.case_workflow import CaseWorkflow
from alerts.emergency_fanout import fan_out, webhook_publisher
from alerts.emergency_forecaster import StatisticalForecaster
from alerts.emergency_service import EmergencyService
from alerts.emission_cycle import EmissionJudge
from alerts.falsification_cycle import FalsificationCycle
from alerts.ledger_db import create_schema, make_engine, make_session_factory
from alerts.reduction_audit import ReductionAuditor
from config.emergency import load_emergency
from config.outlets import load_outlets
from config.settings import Settings
from config.stations import load_stations
from ingest.dead_letters import DeadLetterStore
from ingest.errors import StoreError, StoreUnauthorized
from ingest.forecast_payload import ForecastPayload
from ingest.hj212_gateway import Hj212Gateway
from ingest.hj212_intake import Hj212Intake
from ingest.influx_store import InfluxStore
from ingest.ingest_status import IngestStatusStore
from ingest.mqtt_collector import MqttCollector
from ingest.status_recorder import StatusRecorder
from ingest.write_buffer import WriteBuffer, spool_for
from lantian.shutdown import shutdown_event

log = logging.getLogger(__name__)


def _ready_store(settings: Settings, stop: threading.Event) -> InfluxStore | None:
    """The InfluxDB store once it answers (retrying while it starts), database created."""
    store = InfluxStore(settings.influx)
    delay = 0.5
    while not stop.is_set():
        try:
            store.ensure_database()
            return store
        except StoreError as exc:
            if not exc.retryable or isinstance(exc, StoreUnauthorized):
                raise
            log.warning("waiting for InfluxDB at %s: %s", settings.influx.url, exc)
            stop.wait(delay)
            delay = min(delay * 2, 10)
    return None


def build_hj212_intake(settings: Settings) -> Hj212Intake:
    """The HJ 212 intake with the outlet and station registers; a configuration error if an
    MN is used by both an outlet and a station."""
    outlets = load_outlets(settings.outlets_file).by_mn()
    stations_by_mn = load_stations(settings.stations_file).by_mn()
    shared = sorted(set(outlets) & set(stations_by_mn))
    if shared:
        raise ValueError(f"MNs registered both as outlet and as station: {shared}")
    return Hj212Intake(settings, outlets, stations_by_mn)


def run_collector(settings: Settings) -> None:
    """MQTT collector and HJ 212 TCP gateway in one process, sharing one write buffer."""
    stop = shutdown_event()
    stations = load_stations(settings.stations_file).by_id()
    intake = build_hj212_intake(settings)
    store = _ready_store(settings, stop)
    if store is None:
        return
    engine = make_engine(settings.ledger.url)
    create_schema(engine)
    sessions = make_session_factory(engine)
    buffer = WriteBuffer(settings, store, DeadLetterStore(sessions), spool_for(settings))
    status = StatusRecorder(buffer, IngestStatusStore(sessions), settings.collector.instance_id(),
                            settings.collector.status_interval_s)
    emergency = EmergencyService(sessions,
                                 load_emergency(settings.emergency_file), settings.timezone)

    def store_forecast(city: str, forecast: ForecastPayload) -> None:
        emergency.submit_forecast(city, [(d.date, d.aqi) for d in forecast.days],
                                  source=forecast.source, issuer=forecast.issuer,
                                  now=datetime.now(UTC))

    collector = MqttCollector(settings, store, buffer.dead_letters, stations, hj212=intake,
                              buffer=buffer, forecasts=store_forecast)
    collector.start()
    status.start()
    log.info("collector running: %s → %s/%s", ", ".join(collector.topics),
             settings.influx.url, settings.influx.database)
    gateway = None
    if settings.gateway.enabled:
        gateway = Hj212Gateway(settings.gateway, intake, buffer)
        port = gateway.start()
        log.info("HJ 212 TCP gateway on %s:%d", settings.gateway.host, port)
    stop.wait()
    if gateway is not None:
        gateway.stop()
    collector.stop()
    status.stop()
    log.info("collector stopped: %s", collector.counters)


def retire_collector(settings: Settings, idle_s: float) -> bool:
    """Run the collector `settings.collector.client_id` until its queued share is durable in
    InfluxDB, then unsubscribe it from the group (see MqttCollector.retire)."""
    stop = shutdown_event()
    store = _ready_store(settings, stop)
    if store is None:
        return False
    engine = make_engine(settings.ledger.url)
    create_schema(engine)
    collector = MqttCollector(settings, store, DeadLetterStore(make_session_factory(engine)),
                              load_stations(settings.stations_file).by_id(),
                              hj212=build_hj212_intake(settings))
    collector.start()
    try:
        return collector.retire(idle_s)
    finally:
        collector.stop()


def run_analytics(settings: Settings) -> None:
    stop = shutdown_event()
    stations = load_stations(settings.stations_file)
    store = _ready_store(settings, stop)
    if store is None:
        return
    engine = make_engine(settings.ledger.url)
    create_schema(engine)
    notifier = MqttAlertPublisher(settings.mqtt)
    sessions = make_session_factory(engine)
    cases = CaseRepository(sessions, settings.cases)
    outlets = load_outlets(settings.outlets_file)
    emissions = EmissionJudge(settings, store, cases, outlets, notifier)
    notify = settings.notifications
    channels = [Channel(MQTT_CHANNEL, notifier.publish_case_event)] if notify.mqtt else []
    channels += [Channel(f"webhook:{hook.url}", webhook_sender(hook.url, hook.timeout_s),
                         frozenset(hook.actions)) for hook in notify.webhooks]
    schemes = load_emergency(settings.emergency_file)
    emergency = EmergencyService(sessions, schemes, settings.timezone,
                                 publish=fan_out(
                                     [("mqtt", notifier.publish_emergency)]
                                     + [(f"webhook:{hook.url}", webhook_publisher(hook))
                                        for hook in notify.webhooks]),
                                 official_valid_h=settings.emergency.official_valid_h,
                                 min_hold_h=settings.emergency.min_hold_h)
    loop = AnalyticsLoop(settings, store, cases, stations, notifier, emissions=emissions,
                         workflow=CaseWorkflow(sessions, settings.cases),
                         notifications=CaseNotifications(sessions, notify, channels),
                         emergency=emergency,
                         forecaster=StatisticalForecaster(
                             store, emergency, [j.city for j in schemes.jurisdictions],
                             settings.emergency, settings.timezone)
                         if settings.emergency.statistical_forecast else None,
                         auditor=ReductionAuditor(settings, store, cases, sessions, outlets,
                                                  notifier),
                         # its own InfluxDB client: it runs on its own thread
                         falsification=FalsificationCycle(settings, InfluxStore(settings.influx),
                                                          cases,
                                                          stations.stations, outlets.by_mn(),
                                                          notifier))
    log.info("analytics loop running every %.1f s", settings.analytics.interval_s)
    loop.run_forever(stop)
    notifier.close()
