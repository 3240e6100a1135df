"""City AQI: hourly AQI from the mean of the city's stations (computed by the analytics loop)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from alerts.analytics_loop import CITY_AQI_MEASUREMENT
from api.aqi_view import aqi_public
from api.deps import Context
from api.routes.stations import series_public
from api.schemas import CityAqiPublic
from api.time_params import End, Start, resolve_range

router = APIRouter(prefix="/api/cities", tags=["cities"])
CITY_FIELDS = ["aqi", "level", "stations", "pm25", "pm10"]


@router.get("/{city}/aqi", response_model=CityAqiPublic,
            summary="A city's latest hourly AQI and its hourly series")
def city_aqi(
    city: str, ctx: Context,
    start: Start = None,
    end: End = None,
) -> CityAqiPublic:
    cities = {s.city for s in ctx.stations.stations}
    if city not in cities:
        raise HTTPException(
            404, f"city {city!r} has no registered stations; known: {sorted(cities)}")
    latest = ctx.store.latest_by_tag(CITY_AQI_MEASUREMENT, "city").get(city)
    latest_s = int(latest["time_s"]) if latest else None  # type: ignore[call-overload]
    start_s, end_s = resolve_range(start, end, lambda: latest_s, 2 * 86400)
    frame = ctx.store.read_series(CITY_AQI_MEASUREMENT, "city", city, CITY_FIELDS, start_s, end_s)
    stations = int(latest["stations"]) if latest and "stations" in latest else None  # type: ignore[call-overload]
    return CityAqiPublic(city=city, latest=aqi_public(latest, ctx.tz), stations=stations,
                         series=series_public(city, frame, CITY_FIELDS, start_s, end_s, None, ctx))
