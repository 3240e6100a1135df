"""Long-running service entry points: build the real clients, run until SIGINT/SIGTERM."""

from __future__ import annotations

import logging
import threading

from alerts.alert_publisher import MqttAlertPublisher
from alerts.analytics_loop import AnalyticsLoop
from alerts.case_repository import CaseRepository
from alerts.ledger_db import create_schema, make_engine, make_session_factory
from config.settings import Settings
from config.stations import load_stations
from ingest.dead_letters import DeadLetterStore
from ingest.errors import StoreError
from ingest.influx_store import InfluxStore
from ingest.mqtt_collector import StationCollector
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
            if not exc.retryable:
                raise
            log.warning("waiting for InfluxDB at %s: %s", settings.influx.url, exc)
            stop.wait(delay)
            delay = min(delay * 2, 10)
    return None


def run_collector(settings: Settings) -> None:
    stop = shutdown_event()
    stations = load_stations(settings.stations_file).by_id()
    store = _ready_store(settings, stop)
    if store is None:
        return
    engine = make_engine(settings.ledger.url)
    create_schema(engine)
    collector = StationCollector(settings, store, DeadLetterStore(make_session_factory(engine)),
                                 stations)
    collector.start()
    log.info("collector running: %s → %s/%s", collector.topic, settings.influx.url,
             settings.influx.database)
    stop.wait()
    collector.stop()
    log.info("collector stopped: %s", collector.counters)


def run_analytics(settings: Settings) -> None:
    stop = shutdown_event()
    stations = load_stations(settings.stations_file)
    store = _ready_store(settings, stop)
    if store is None:
        return
    engine = make_engine(settings.ledger.url)
    create_schema(engine)
    notifier = MqttAlertPublisher(settings.mqtt)
    loop = AnalyticsLoop(settings, store, CaseRepository(make_session_factory(engine)),
                         stations, notifier)
    log.info("analytics loop running every %.1f s", settings.analytics.interval_s)
    loop.run_forever(stop)
    notifier.close()
