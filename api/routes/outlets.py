"""Enterprise outlets (HJ 212): latest values measured and converted, limits and status; one
outlet's series; enterprises and their outlets."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Response
from pydantic import BaseModel

from alerts.accounts import Principal
from alerts.emission_cycle import OUTLET_HOUR_MEASUREMENT
from api.auth import SignedIn
from api.cached_response import CACHE_NOTE, age_headers
from api.deps import AppContext, Context
from api.latest_cache import Snapshot
from api.outlet_view import SHOWN, hour_view, latest_view, outlet_public, status_of
from api.routes.stations import EVERY_HELP
from api.schemas import (
    EnterprisePublic,
    EnterprisesPublic,
    OutletPublic,
    OutletsPublic,
    SeriesPublic,
)
from api.series_view import series_public
from api.time_params import End, Start, resolve_range
from config.outlets import LIMITED_POLLUTANTS, Outlet
from ingest.hj212_records import measurement_of

router = APIRouter(tags=["outlets"])
Kind = Literal["rtd", "minute", "hourly", "daily", "judged"]
DEFAULT_FIELDS = {
    "judged": [*LIMITED_POLLUTANTS, *(f"{p}_zs" for p in LIMITED_POLLUTANTS),
               *(f"{p}_limit" for p in LIMITED_POLLUTANTS)],
}
RAW_DEFAULT = ["particulate", "so2", "nox", "o2", "flow", "temperature", "moisture",
               "particulate_flag", "so2_flag", "nox_flag", "o2_flag"]
SPAN_S = {"rtd": 86400, "minute": 86400, "hourly": 7 * 86400, "daily": 92 * 86400,
          "judged": 7 * 86400}


def _measurement(kind: str) -> str:
    return OUTLET_HOUR_MEASUREMENT if kind == "judged" else measurement_of(kind)


# Fields each latest-values query reads (stored names): what latest_view and hour_view show.
RECORD_FIELDS = [*SHOWN, *(f"{p}_flag" for p in SHOWN),
                 *(f"{p}_zs" for p in LIMITED_POLLUTANTS)]
HOUR_FIELDS = [*LIMITED_POLLUTANTS, *(f"{p}_zs" for p in LIMITED_POLLUTANTS),
               *(f"{p}_basis" for p in LIMITED_POLLUTANTS)]


def _read_views(ctx: AppContext, fetched_at: datetime) -> dict[str, OutletPublic]:
    """Every registered outlet with its newest record and judged hour, by MN (three queries
    in all, each for only the fields shown); the status is judged as of `fetched_at`."""
    minute = ctx.store.latest_by_tag(measurement_of("minute"), "mn", RECORD_FIELDS)
    rtd = ctx.store.latest_by_tag(measurement_of("rtd"), "mn", RECORD_FIELDS)
    hours = ctx.store.latest_by_tag(OUTLET_HOUR_MEASUREMENT, "mn", HOUR_FIELDS)
    views = {}
    for outlet in ctx.outlets.outlets:
        candidates = [(p, k) for p, k in ((rtd.get(outlet.mn), "rtd"),
                                          (minute.get(outlet.mn), "minute")) if p]
        point, kind = max(candidates, key=lambda c: c[0]["time_s"]) if candidates else (None, "")
        latest = latest_view(point, kind, outlet, ctx.tz)
        hour = hour_view(hours.get(outlet.mn), outlet, ctx.tz)
        status = status_of(latest, hour, fetched_at, ctx.settings.emissions.offline_after_s)
        views[outlet.mn] = outlet_public(outlet, latest, hour, status)
    return views


def outlets_snapshot(ctx: AppContext) -> Snapshot[dict[str, OutletPublic]]:
    """The views of every outlet, shared by all callers for api.latest_cache_s seconds;
    callers filter them to what they may see (scoping applies after the cache)."""
    return ctx.latest.get("outlets", lambda fetched_at: _read_views(ctx, fetched_at))


def _json(model: BaseModel, ctx: AppContext, snapshot: Snapshot[object]) -> Response:
    """`model` encoded once, as FastAPI would, without validating the cached views again."""
    return Response(model.model_dump_json(), media_type="application/json",
                    headers=age_headers(ctx.latest, snapshot))


def _known(ctx: AppContext, mn: str, who: Principal) -> Outlet:
    outlet = ctx.outlet_by_mn.get(mn)
    if outlet is None or not who.can_see_enterprise(outlet.enterprise):
        raise HTTPException(404, f"outlet MN {mn!r} is not in the outlet register")
    return outlet


@router.get("/api/outlets", response_model=OutletsPublic,
            summary="All outlets with latest values (measured and at reference O2) and status",
            description=CACHE_NOTE)
def list_outlets(
    ctx: Context, who: SignedIn,
    enterprise: Annotated[str | None, Query(description="only this enterprise's")] = None,
    industry: Annotated[str | None, Query(description="e.g. power, steel, cement")] = None,
) -> Response:
    snapshot = outlets_snapshot(ctx)
    data = [snapshot.value[o.mn] for o in ctx.outlets.outlets
            if (enterprise is None or o.enterprise == enterprise)
            and (industry is None or o.industry == industry)
            and who.can_see_enterprise(o.enterprise)]
    listing = OutletsPublic.model_construct(data=data, count=len(data),
                                            fetched_at=ctx.local(snapshot.fetched_at))
    return _json(listing, ctx, snapshot)


@router.get("/api/outlets/{mn}", response_model=OutletPublic, summary="One outlet",
            description=CACHE_NOTE)
def get_outlet(mn: str, ctx: Context, who: SignedIn) -> Response:
    outlet = _known(ctx, mn, who)
    snapshot = outlets_snapshot(ctx)
    return _json(snapshot.value[outlet.mn], ctx, snapshot)


@router.get("/api/outlets/{mn}/series", response_model=SeriesPublic,
            summary="One outlet's data: raw HJ 212 records by kind, or judged hours")
def outlet_series(
    mn: str, ctx: Context, who: SignedIn,
    kind: Annotated[Kind, Query(description="rtd (2011), minute (2051), hourly (2061), "
                                            "daily (2031) as the unit sent them; judged: "
                                            "Lantian's hourly values at reference O2")] = "judged",
    fields: Annotated[str | None, Query(description="comma-separated stored field names, "
                                                     "e.g. so2,so2_zs,so2_flag")] = None,
    start: Start = None,
    end: End = None,
    every_s: Annotated[int | None, Query(ge=60, le=86400, description=EVERY_HELP)] = None,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 20_000,
) -> SeriesPublic:
    _known(ctx, mn, who)
    chosen = ([f.strip() for f in fields.split(",") if f.strip()] if fields
              else DEFAULT_FIELDS.get(kind, RAW_DEFAULT))
    bad = [f for f in chosen if not f.replace("_", "").isalnum()]
    if bad or not chosen:
        raise HTTPException(422, f"invalid field names {bad}; use stored names like so2_zs")
    if every_s and any(f.endswith(("_flag", "_basis")) for f in chosen):
        raise HTTPException(422, "flags and bases cannot be averaged; drop every_s or the "
                                 "_flag/_basis fields")
    measurement = _measurement(kind)
    start_s, end_s = resolve_range(start, end, lambda: ctx.store.latest_time_s(measurement),
                                   SPAN_S[kind])
    frame = ctx.store.read_series(measurement, "mn", mn, chosen, start_s, end_s,
                                  every_s=every_s, limit=limit)
    return series_public(mn, frame, chosen, start_s, end_s, every_s, ctx.tz)


@router.get("/api/enterprises", response_model=EnterprisesPublic,
            summary="Enterprises with their outlets' statuses", description=CACHE_NOTE)
def list_enterprises(ctx: Context, who: SignedIn) -> Response:
    visible = {name: outlets for name, outlets in ctx.outlets.enterprises().items()
               if who.can_see_enterprise(name)}
    snapshot = outlets_snapshot(ctx)
    data = []
    for name, outlets in visible.items():
        statuses: dict[str, int] = {}
        for outlet in outlets:
            code = snapshot.value[outlet.mn].status.code
            statuses[code] = statuses.get(code, 0) + 1
        data.append(EnterprisePublic(name=name, industries=sorted({o.industry for o in outlets}),
                                     outlets=len(outlets), statuses=statuses))
    listing = EnterprisesPublic.model_construct(data=data, count=len(data),
                                                fetched_at=ctx.local(snapshot.fetched_at))
    return _json(listing, ctx, snapshot)


@router.get("/api/enterprises/{name}/outlets", response_model=OutletsPublic,
            summary="One enterprise's outlets", description=CACHE_NOTE)
def enterprise_outlets(name: str, ctx: Context, who: SignedIn) -> Response:
    outlets = ctx.outlets.enterprises().get(name)
    if outlets is None or not who.can_see_enterprise(name):
        raise HTTPException(404, f"enterprise {name!r} has no outlet in the outlet register")
    snapshot = outlets_snapshot(ctx)
    data = [snapshot.value[o.mn] for o in outlets]
    listing = OutletsPublic.model_construct(data=data, count=len(data),
                                            fetched_at=ctx.local(snapshot.fetched_at))
    return _json(listing, ctx, snapshot)
