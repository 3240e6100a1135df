"""Replay history through the pipeline and read back the heavy-pollution alerts it decides.

Real Beijing hourly data (shared/data) go over MQTT through the collector into InfluxDB; the
analytics loop's station cycle computes the city AQI (hourly, over any 24 h, per local day); the
statistical forecaster forecasts each hour and, on a data-time basis, the emergency service
decides the level hour by hour and records every issue, change and lift in the ledger. The
analytics steps are called until they have caught up instead of on their timer, so a replay is
deterministic and as fast as the machine allows.

A warm-up before `start` gives the statistical model the natural days it is fitted on.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import select

from alerts.analytics_loop import CITY_AQI_MEASUREMENT, CITY_DAILY_MEASUREMENT, AnalyticsLoop
from alerts.case_repository import CaseRepository
from alerts.emergency_forecaster import StatisticalForecaster
from alerts.emergency_models import EmergencyEvent
from alerts.emergency_service import EmergencyService
from alerts.ledger_db import create_schema, make_engine, make_session_factory
from config.emergency import load_emergency
from config.settings import Settings
from config.stations import load_stations
from ingest.dead_letters import DeadLetterStore
from ingest.influx_store import InfluxStore
from ingest.mqtt_collector import MqttCollector
from lantian.local_services import wait_until
from simulators.beijing_replay import load_beijing
from simulators.publisher import ReadingPublisher, readings_at

HOUR_S = 3600


@dataclass(frozen=True, slots=True)
class AlertPeriod:
    """One stretch at one level: from `start` until `end` (None: still active at the end)."""

    level: str
    start: datetime
    end: datetime | None
    reason: str


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """What the replay produced, in UTC: the periods and the observed AQI to draw them on."""

    city: str
    start: datetime
    end: datetime
    readings: int
    forecasts: int
    periods: list[AlertPeriod]
    events: list[EmergencyEvent]
    daily_times: np.ndarray  # datetime64[s] UTC starts of local days
    daily_aqi: np.ndarray
    hourly_times: np.ndarray  # datetime64[s] UTC hour starts
    aqi_24h: np.ndarray


def periods_of(events: list[EmergencyEvent]) -> list[AlertPeriod]:
    """Level periods from the ordered issue/upgrade/downgrade/lift events of one city."""
    periods: list[AlertPeriod] = []
    current: tuple[str, datetime, str] | None = None
    for event in events:
        if current is not None:
            periods.append(AlertPeriod(current[0], current[1], event.at, current[2]))
            current = None
        if event.to_level is not None:
            current = (event.to_level, event.at, event.reason)
    if current is not None:
        periods.append(AlertPeriod(current[0], current[1], None, current[2]))
    return periods


def _utc(day: date, tz: str) -> datetime:
    """The UTC instant of local midnight starting `day`."""
    return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(tz)).astimezone(UTC)


def replay_emergency(settings: Settings, start: date, end: date, *, city: str = "beijing",
                     warmup_days: int = 30, chunk_hours: int = 24, data_path: Path | None = None,
                     timeout_s: float = 300.0) -> ReplayResult:
    """Replay local days [start − warmup, end) of the Beijing data through the pipeline whose
    broker, InfluxDB and ledger `settings` point at; the alerts of [start, end) come back.

    Data arrive `chunk_hours` at a time, as live data would, and after each chunk the analytics
    and the forecaster catch up. `settings.emergency.time_basis` must be "data".
    """
    if settings.emergency.time_basis != "data":
        raise ValueError("a replay decides levels at data time: set emergency.time_basis=data")
    first = start - timedelta(days=warmup_days)
    window = load_beijing(data_path, start=first.isoformat(), end=end.isoformat())
    register = load_stations(settings.stations_file)
    if not {s.id for s in register.stations} & set(window.sources):
        raise ValueError(f"none of the replayed stations {window.sources} is registered in "
                         f"{settings.stations_file}")
    settings = settings.model_copy(update={"collector": settings.collector.model_copy(
        update={"client_id": f"lantian-replay-{uuid.uuid4().hex[:8]}"})})
    store = InfluxStore(settings.influx)
    store.ensure_database()
    engine = make_engine(settings.ledger.url)
    create_schema(engine)
    sessions = make_session_factory(engine)
    emergency = EmergencyService(sessions, load_emergency(settings.emergency_file),
                                 settings.timezone,
                                 official_valid_h=settings.emergency.official_valid_h,
                                 min_hold_h=settings.emergency.min_hold_h)
    forecaster = StatisticalForecaster(store, emergency, [city], settings.emergency,
                                       settings.timezone)
    loop = AnalyticsLoop(settings, store, CaseRepository(sessions, settings.cases), register)
    collector = MqttCollector(settings, store, DeadLetterStore(sessions), register.by_id())
    collector.start()
    readings = forecasts = 0
    try:
        if not wait_until(lambda: collector.counters.subscribed, 15):
            raise TimeoutError("the collector did not subscribe within 15 s")
        with ReadingPublisher(settings.mqtt.host, settings.mqtt.port,
                              client_id=f"lantian-replay-pub-{uuid.uuid4().hex[:6]}",
                              topic_root=settings.mqtt.topic_root) as publisher:
            publisher.connect()
            for chunk in range(0, len(window.times), chunk_hours):
                for index in range(chunk, min(chunk + chunk_hours, len(window.times))):
                    hour = readings_at(window, index)
                    readings += len(hour)
                    publisher.publish_readings(hour, batch_size=max(len(hour), 1))
                _wait_written(publisher, collector, readings, timeout_s)
                while loop.run_once() is not None:  # catch up, as the loop's timer would
                    pass
                forecasts += forecaster.run_once().forecasts
    finally:
        collector.stop()

    start_utc, end_utc = _utc(start, settings.timezone), _utc(end, settings.timezone)
    with sessions() as session:
        events = list(session.scalars(select(EmergencyEvent).where(
            EmergencyEvent.city == city).order_by(EmergencyEvent.at, EmergencyEvent.id)))
        for event in events:
            session.expunge(event)
    periods = [p for p in periods_of(events)
               if (p.end is None or p.end > start_utc) and p.start < end_utc]
    start_s, end_s = int(start_utc.timestamp()), int(end_utc.timestamp())
    daily = store.read_series(CITY_DAILY_MEASUREMENT, "city", city, ["aqi"], start_s, end_s)
    hourly = store.read_series(CITY_AQI_MEASUREMENT, "city", city, ["aqi_24h"], start_s, end_s)
    engine.dispose()
    store.close()
    return ReplayResult(
        city, start_utc, end_utc, readings, forecasts, periods, events,
        daily["time_s"].to_numpy(np.int64).astype("datetime64[s]"),
        daily["aqi"].to_numpy(np.float64),
        hourly["time_s"].to_numpy(np.int64).astype("datetime64[s]"),
        hourly["aqi_24h"].to_numpy(np.float64))


def _wait_written(publisher: ReadingPublisher, collector: MqttCollector, readings: int,
                  timeout_s: float) -> None:
    """Block until the broker acknowledged everything and the collector wrote (or dead-lettered)
    every reading published so far."""
    if not publisher.wait_all_acked(timeout_s):
        raise TimeoutError("the broker did not acknowledge every replayed message")
    counters = collector.counters
    if not wait_until(lambda: counters.readings_written + counters.dead_letters_stored
                      >= readings, timeout_s):
        raise TimeoutError(f"the collector wrote {counters.readings_written} of {readings} "
                           f"readings within {timeout_s:.0f} s")
