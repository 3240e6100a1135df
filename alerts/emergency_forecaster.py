"""The built-in statistical forecast at work: for every new hour of city data, a forecast of the
coming days' daily AQI (analytics/aqi_forecast.py), stored in the ledger as source
"statistical" so every alert decision can name the forecast behind it.

The emergency service prefers a fresh official forecast; this one only fills the gap. With
``emergency.time_basis = data`` (replays of history) the level is also decided at each hour's
data time, so a replay at any speed gives the alert periods live operation would have given.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np

from alerts.analytics_loop import CITY_AQI_MEASUREMENT, CITY_DAILY_MEASUREMENT
from alerts.emergency_models import EmergencyEvent
from alerts.emergency_service import EmergencyService
from analytics.aqi_forecast import damped_forecast, fit_damped_persistence
from analytics.standards_calendar import local_dates
from config.settings import EmergencySettings
from ingest.influx_store import InfluxStore

log = logging.getLogger(__name__)

HOUR_S = 3600
DAY_S = 86400
ISSUER = "Lantian statistical forecast (damped persistence of the daily AQI)"


@dataclass(frozen=True, slots=True)
class ForecastRun:
    """What one run did: forecasts stored and level changes made, per city."""

    forecasts: int
    events: list[EmergencyEvent]


class StatisticalForecaster:
    """Incremental over data time per city: each cycle handles the hours since the last one."""

    def __init__(self, store: InfluxStore, service: EmergencyService, cities: Sequence[str],
                 settings: EmergencySettings, tz: str) -> None:
        self.store = store
        self.service = service
        self.cities = list(cities)
        self.settings = settings
        self.tz_name = tz
        self._done_s: dict[str, int] = {}  # last hour start forecast from, per city

    def run_once(self) -> ForecastRun:
        latest = self.store.latest_by_tag(CITY_AQI_MEASUREMENT, "city")
        stored, events = 0, []
        for city in self.cities:
            point = latest.get(city)
            if point is None:
                continue
            latest_s = int(point["time_s"])  # type: ignore[call-overload]
            first_s = self._done_s.get(city, latest_s - int(self.settings.catchup_days * DAY_S)
                                       - HOUR_S) + HOUR_S
            if first_s > latest_s:
                continue
            count, changes = self._city(city, first_s, latest_s)
            stored += count
            events += changes
            self._done_s[city] = latest_s
        return ForecastRun(stored, events)

    def _local_day(self, time_s: np.ndarray) -> np.ndarray:
        """Local dates (datetime64[D]) of UTC unix seconds, in the bureau's zone."""
        return local_dates(np.asarray(time_s, dtype=np.int64).astype("datetime64[s]"),
                           self.tz_name).astype("datetime64[D]")

    def _city(self, city: str, first_s: int, last_s: int) -> tuple[int, list[EmergencyEvent]]:
        cfg = self.settings
        hourly = self.store.read_series(CITY_AQI_MEASUREMENT, "city", city, ["aqi_24h"],
                                        first_s, last_s + HOUR_S)
        hours = hourly["time_s"].to_numpy(dtype=np.int64)
        anchors = hourly["aqi_24h"].to_numpy(dtype=np.float64)
        if len(hours) == 0:
            return 0, []
        issued_s = hours + HOUR_S  # the 24 h that ended with the hour are known at its end
        today = self._local_day(issued_s)
        first_day = today.min() - np.timedelta64(cfg.fit_days, "D")
        days = np.arange(first_day, today.max() + np.timedelta64(1, "D"))
        daily = self.store.read_series(
            CITY_DAILY_MEASUREMENT, "city", city, ["aqi"],
            int(first_day.astype("datetime64[s]").astype(np.int64)) - DAY_S,
            int(issued_s.max()))
        observed = np.full(len(days), np.nan)
        if not daily.empty:
            index = np.searchsorted(days, self._local_day(daily["time_s"].to_numpy(np.int64)))
            inside = (index >= 0) & (index < len(days))
            observed[index[inside]] = daily["aqi"].to_numpy(np.float64)[inside]
        mu, phi = fit_damped_persistence(observed[None, :], fit_days=cfg.fit_days,
                                         min_pairs=cfg.min_fit_pairs)
        column = np.searchsorted(days, today)
        forecast = damped_forecast(anchors, mu[0, column], phi[0, column], cfg.horizon_days)
        stored, events = 0, []
        for row, issued in enumerate(issued_s.tolist()):
            now = datetime.fromtimestamp(issued, UTC)
            if not np.isnan(forecast[row]).any():
                start = date.fromisoformat(str(today[row]))
                self.service.submit_forecast(
                    city, [(start + timedelta(days=k), round(float(v), 1))
                           for k, v in enumerate(forecast[row])],
                    source="statistical", issuer=ISSUER, now=now)
                stored += 1
            if cfg.time_basis == "data":
                event = self.service.evaluate(city, now)
                if event is not None:
                    log.info("%s alert at %s: %s", city, now.isoformat(), event.reason)
                    events.append(event)
        return stored, events
