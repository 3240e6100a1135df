"""Stations: the register with each station's latest reading and AQI; one station's series.
Public ambient data: every signed-in user, enterprise users included, reads all of it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query

from alerts.analytics_loop import STATION_AQI_MEASUREMENT, STATION_DAILY_MEASUREMENT
from api.aqi_view import aqi_public
from api.auth import signed_in
from api.deps import AppContext, Context
from api.schemas import LatestReading, SeriesPublic, StationPublic, StationsPublic
from api.time_params import End, Start, resolve_range
from config.stations import POLLUTANTS, Station
from ingest.line_protocol import STATION_MEASUREMENT

router = APIRouter(prefix="/api/stations", tags=["stations"], dependencies=[Depends(signed_in)])
EVERY_HELP = "mean per bucket of this many seconds; omit for raw points"
ALL = ",".join(POLLUTANTS)


def _latest(point: dict[str, object] | None, ctx: AppContext) -> LatestReading | None:
    if not point:
        return None
    values = {p: float(point[p]) for p in POLLUTANTS if p in point}  # type: ignore[arg-type]
    flags = {p: str(point[f"{p}_flag"]) for p in POLLUTANTS if f"{p}_flag" in point}
    moment = datetime.fromtimestamp(int(point["time_s"]), UTC)  # type: ignore[call-overload]
    return LatestReading(time=ctx.local(moment), values=values, flags=flags)


def _station(station: Station, latest: dict, aqi: dict, daily: dict, ctx: AppContext
             ) -> StationPublic:
    return StationPublic(
        id=station.id, name=station.name, city=station.city, district=station.district,
        lat=station.lat, lon=station.lon, latest=_latest(latest.get(station.id), ctx),
        aqi=aqi_public(aqi.get(station.id), ctx.tz),
        daily_aqi=aqi_public(daily.get(station.id), ctx.tz),
    )


def _latest_points(ctx: AppContext) -> tuple[dict, dict, dict]:
    """Newest reading, hourly AQI and daily AQI of every station (three queries in all)."""
    return tuple(ctx.store.latest_by_tag(m, "station")  # type: ignore[return-value]
                 for m in (STATION_MEASUREMENT, STATION_AQI_MEASUREMENT,
                           STATION_DAILY_MEASUREMENT))


@router.get("", response_model=StationsPublic, summary="All stations with latest reading and AQI")
def list_stations(ctx: Context) -> StationsPublic:
    latest, aqi, daily = _latest_points(ctx)
    data = [_station(s, latest, aqi, daily, ctx) for s in ctx.stations.stations]
    return StationsPublic(data=data, count=len(data))


def _known(ctx: AppContext, station_id: str) -> Station:
    station = ctx.stations.by_id().get(station_id)
    if station is None:
        raise HTTPException(404, f"station {station_id!r} is not in the station register")
    return station


@router.get("/{station_id}", response_model=StationPublic, summary="One station")
def get_station(station_id: str, ctx: Context) -> StationPublic:
    station = _known(ctx, station_id)
    return _station(station, *_latest_points(ctx), ctx)


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
    return series_public(station_id, frame, fields, start_s, end_s, every_s, ctx)


DAILY_FIELDS = ["aqi", "level", "pm25_mean", "pm10_mean", "so2_mean", "no2_mean", "co_mean",
                "pm25_hours", "pm10_hours"]


@router.get("/{station_id}/daily", response_model=SeriesPublic,
            summary="One station's daily AQI (HJ 633 daily columns) and daily means per local day")
def station_daily(
    station_id: str, ctx: Context,
    start: Start = None,
    end: End = None,
) -> SeriesPublic:
    _known(ctx, station_id)
    start_s, end_s = resolve_range(
        start, end, lambda: ctx.store.latest_time_s(STATION_DAILY_MEASUREMENT), 31 * 86400)
    frame = ctx.store.read_series(STATION_DAILY_MEASUREMENT, "station", station_id,
                                  DAILY_FIELDS, start_s, end_s)
    return series_public(station_id, frame, DAILY_FIELDS, start_s, end_s, None, ctx)


def series_public(source: str, frame, fields: list[str], start_s: int, end_s: int,  # type: ignore[no-untyped-def]
                  every_s: int | None, ctx: AppContext) -> SeriesPublic:
    points = []
    for row in frame.itertuples(index=False):
        point: dict[str, object] = {
            "time": ctx.local(datetime.fromtimestamp(int(row.time_s), UTC)).isoformat()}
        for field in fields:
            value = getattr(row, field)
            if isinstance(value, str):  # flags and other text fields
                point[field] = value
            else:
                point[field] = None if value != value else float(value)  # NaN → null
        points.append(point)
    return SeriesPublic(
        source=source, start=ctx.local(datetime.fromtimestamp(start_s, UTC)),
        end=ctx.local(datetime.fromtimestamp(end_s, UTC)), every_s=every_s, fields=fields,
        points=points, count=len(points),
    )
