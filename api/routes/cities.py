"""City AQI: hourly AQI from the mean of the city's stations, the daily AQI over the 24 h ending
with each hour (what alert rules judge), and the daily AQI of each local day (computed by the
analytics loop). Public ambient data: every signed-in user reads every city."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException

from alerts.analytics_loop import CITY_AQI_MEASUREMENT, CITY_DAILY_MEASUREMENT
from api.aqi_view import aqi_public
from api.auth import signed_in
from api.deps import AppContext, Context
from api.schemas import CityAqiPublic, SeriesPublic
from api.series_view import series_public
from api.time_params import End, Start, resolve_range

router = APIRouter(prefix="/api/cities", tags=["cities"], dependencies=[Depends(signed_in)])
CITY_FIELDS = ["aqi", "level", "stations", "pm25", "pm10", "aqi_24h", "level_24h",
               "primary_24h"]
CITY_DAILY_FIELDS = ["aqi", "level", "primary", "pm25_mean", "pm10_mean", "so2_mean",
                     "no2_mean", "co_mean", "pm25_hours"]


def _known(ctx: AppContext, city: str) -> None:
    cities = {s.city for s in ctx.stations.stations}
    if city not in cities:
        raise HTTPException(
            404, f"city {city!r} has no registered stations; known: {sorted(cities)}")


@router.get("/{city}/aqi", response_model=CityAqiPublic,
            summary="A city's latest hourly AQI and its hourly series")
def city_aqi(
    city: str, ctx: Context,
    start: Start = None,
    end: End = None,
) -> CityAqiPublic:
    _known(ctx, city)
    latest = ctx.store.latest_by_tag(CITY_AQI_MEASUREMENT, "city").get(city)
    latest_s = int(latest["time_s"]) if latest else None  # type: ignore[call-overload]
    start_s, end_s = resolve_range(start, end, lambda: latest_s, 2 * 86400)
    frame = ctx.store.read_series(CITY_AQI_MEASUREMENT, "city", city, CITY_FIELDS, start_s, end_s)
    stations = int(latest["stations"]) if latest and "stations" in latest else None  # type: ignore[call-overload]
    return CityAqiPublic(city=city, latest=aqi_public(latest, ctx.tz), stations=stations,
                         series=series_public(city, frame, CITY_FIELDS, start_s, end_s, None,
                                              ctx.tz))


@router.get("/{city}/daily", response_model=SeriesPublic,
            summary="A city's daily AQI per local natural day, with its daily means")
def city_daily(city: str, ctx: Context, start: Start = None, end: End = None) -> SeriesPublic:
    _known(ctx, city)
    start_s, end_s = resolve_range(
        start, end, lambda: ctx.store.latest_time_s(CITY_DAILY_MEASUREMENT), 31 * 86400)
    frame = ctx.store.read_series(CITY_DAILY_MEASUREMENT, "city", city, CITY_DAILY_FIELDS,
                                  start_s, end_s)
    return series_public(city, frame, CITY_DAILY_FIELDS, start_s, end_s, None, ctx.tz)
