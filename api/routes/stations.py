"""Stations: the register with each station's latest reading and AQI; one station's series.
Public ambient data: every signed-in user, enterprise users included, reads all of it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response

from alerts.analytics_loop import STATION_AQI_MEASUREMENT, STATION_DAILY_MEASUREMENT
from api.auth import signed_in
from api.cached_response import CACHE_NOTE, EncodedJson, age_headers, encoded_response
from api.deps import AppContext, Context
from api.latest_cache import Snapshot
from api.schemas import SeriesPublic, StationPublic, StationsPublic
from api.series_view import series_public
from api.station_view import Points, station_json, stations_body
from api.time_params import End, Start, resolve_range
from config.stations import POLLUTANTS, Station
from ingest.line_protocol import STATION_MEASUREMENT

router = APIRouter(prefix="/api/stations", tags=["stations"], dependencies=[Depends(signed_in)])
EVERY_HELP = "mean per bucket of this many seconds; omit for raw points"
ALL = ",".join(POLLUTANTS)
READING_FIELDS = [*POLLUTANTS, *(f"{p}_flag" for p in POLLUTANTS)]
AQI_FIELDS = ["aqi", "level", "primary", "edition"]  # what aqi_public shows


@dataclass(frozen=True)
class StationPoints:
    """Newest reading, hourly AQI and daily AQI of every station, by station id, and the
    whole station list already encoded as JSON (StationsPublic), for the cache."""

    latest: Points
    aqi: Points
    daily: Points
    body: EncodedJson


def _read_points(ctx: AppContext, fetched_at: datetime) -> StationPoints:
    """Three queries, each for only the fields the station list shows; then the list's JSON,
    encoded once per snapshot rather than once per request (and gzipped once when cached)."""
    latest, aqi, daily = (ctx.store.latest_by_tag(m, "station", fields)
                          for m, fields in ((STATION_MEASUREMENT, READING_FIELDS),
                                            (STATION_AQI_MEASUREMENT, AQI_FIELDS),
                                            (STATION_DAILY_MEASUREMENT, AQI_FIELDS)))
    body = stations_body(ctx.stations.stations, latest, aqi, daily, ctx.tz, fetched_at)
    return StationPoints(latest, aqi, daily,
                         EncodedJson.of(body, gzipped=ctx.latest.ttl_s > 0))


def stations_snapshot(ctx: AppContext) -> Snapshot[StationPoints]:
    """Every station's latest points and encoded list, shared for api.latest_cache_s seconds
    (the list, the single-station route and the overview read the same snapshot)."""
    return ctx.latest.get("stations", lambda fetched_at: _read_points(ctx, fetched_at))


@router.get("", response_model=StationsPublic, summary="All stations with latest reading and AQI",
            description=CACHE_NOTE)
def list_stations(ctx: Context, request: Request) -> Response:
    snapshot = stations_snapshot(ctx)
    return encoded_response(snapshot.value.body, request, age_headers(ctx.latest, snapshot))


def _known(ctx: AppContext, station_id: str) -> Station:
    station = ctx.station_by_id.get(station_id)
    if station is None:
        raise HTTPException(404, f"station {station_id!r} is not in the station register")
    return station


@router.get("/{station_id}", response_model=StationPublic, summary="One station",
            description=CACHE_NOTE)
def get_station(station_id: str, ctx: Context, response: Response) -> StationPublic:
    station = _known(ctx, station_id)
    snapshot = stations_snapshot(ctx)
    response.headers.update(age_headers(ctx.latest, snapshot))
    points = snapshot.value
    return StationPublic.model_validate(
        station_json(station, points.latest, points.aqi, points.daily, ctx.tz))


@router.get("/{station_id}/series", response_model=SeriesPublic,
            summary="One station's readings over a time range")
def station_series(
    station_id: str, ctx: Context,
    start: Start = None,
    end: End = None,
    pollutants: Annotated[str, Query(description="comma-separated, e.g. pm25,pm10")] = ALL,
    every_s: Annotated[int | None, Query(ge=60, le=86400, description=EVERY_HELP)] = None,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 20_000,
) -> SeriesPublic:
    _known(ctx, station_id)
    fields = [p.strip() for p in pollutants.split(",") if p.strip()]
    unknown = sorted(set(fields) - set(POLLUTANTS))
    if unknown or not fields:
        raise HTTPException(422, f"unknown pollutants {unknown}; choose from {list(POLLUTANTS)}")
    start_s, end_s = resolve_range(
        start, end, lambda: ctx.store.latest_time_s(STATION_MEASUREMENT), 7 * 86400)
    frame = ctx.store.read_series(STATION_MEASUREMENT, "station", station_id, fields,
                                  start_s, end_s, every_s=every_s, limit=limit)
    return series_public(station_id, frame, fields, start_s, end_s, every_s, ctx.tz)


def _stored_series(ctx: AppContext, station_id: str, measurement: str, fields: list[str],
                   start: datetime | None, end: datetime | None, default_span_s: int
                   ) -> SeriesPublic:
    """A series the analytics loop wrote for one station (AQI, daily means), as stored."""
    _known(ctx, station_id)
    start_s, end_s = resolve_range(start, end, lambda: ctx.store.latest_time_s(measurement),
                                   default_span_s)
    frame = ctx.store.read_series(measurement, "station", station_id, fields, start_s, end_s)
    return series_public(station_id, frame, fields, start_s, end_s, None, ctx.tz)


@router.get("/{station_id}/aqi", response_model=SeriesPublic,
            summary="One station's hourly AQI (HJ 633, the edition in force each hour): aqi, "
                    "level 1–6 and the edition's year")
def station_aqi(station_id: str, ctx: Context, start: Start = None, end: End = None
                ) -> SeriesPublic:
    return _stored_series(ctx, station_id, STATION_AQI_MEASUREMENT, AQI_SERIES_FIELDS, start,
                          end, 7 * 86400)


AQI_SERIES_FIELDS = ["aqi", "level", "edition"]
DAILY_FIELDS = ["aqi", "level", "pm25_mean", "pm10_mean", "so2_mean", "no2_mean", "co_mean",
                "pm25_hours", "pm10_hours"]


@router.get("/{station_id}/daily", response_model=SeriesPublic,
            summary="One station's daily AQI (HJ 633 daily columns) and daily means per local day")
def station_daily(station_id: str, ctx: Context, start: Start = None, end: End = None
                  ) -> SeriesPublic:
    return _stored_series(ctx, station_id, STATION_DAILY_MEASUREMENT, DAILY_FIELDS, start, end,
                          31 * 86400)
