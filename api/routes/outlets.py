"""Enterprise outlets (HJ 212): latest values measured and converted, limits and status; one
outlet's series; enterprises and their outlets."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query

from alerts.accounts import Principal
from alerts.emission_cycle import OUTLET_HOUR_MEASUREMENT
from api.auth import SignedIn
from api.deps import AppContext, Context
from api.outlet_view import hour_view, latest_view, outlet_public, status_of
from api.routes.stations import EVERY_HELP, series_public
from api.schemas import (
    EnterprisePublic,
    EnterprisesPublic,
    OutletPublic,
    OutletsPublic,
    SeriesPublic,
)
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


def _views(ctx: AppContext, outlets: list[Outlet]) -> list[OutletPublic]:
    """Every outlet with its newest record and judged hour (four queries in all)."""
    minute = ctx.store.latest_by_tag(measurement_of("minute"), "mn")
    rtd = ctx.store.latest_by_tag(measurement_of("rtd"), "mn")
    hours = ctx.store.latest_by_tag(OUTLET_HOUR_MEASUREMENT, "mn")
    now = datetime.now(UTC)
    views = []
    for outlet in outlets:
        candidates = [(p, k) for p, k in ((rtd.get(outlet.mn), "rtd"),
                                          (minute.get(outlet.mn), "minute")) if p]
        point, kind = max(candidates, key=lambda c: c[0]["time_s"]) if candidates else (None, "")
        latest = latest_view(point, kind, outlet, ctx.tz)
        hour = hour_view(hours.get(outlet.mn), outlet, ctx.tz)
        status = status_of(latest, hour, now, ctx.settings.emissions.offline_after_s)
        views.append(outlet_public(outlet, latest, hour, status))
    return views


def _known(ctx: AppContext, mn: str, who: Principal) -> Outlet:
    outlet = ctx.outlets.by_mn().get(mn)
    if outlet is None or not who.can_see_enterprise(outlet.enterprise):
        raise HTTPException(404, f"outlet MN {mn!r} is not in the outlet register")
    return outlet


@router.get("/api/outlets", response_model=OutletsPublic,
            summary="All outlets with latest values (measured and at reference O2) and status")
def list_outlets(
    ctx: Context, who: SignedIn,
    enterprise: Annotated[str | None, Query(description="only this enterprise's")] = None,
    industry: Annotated[str | None, Query(description="e.g. power, steel, cement")] = None,
) -> OutletsPublic:
    chosen = [o for o in ctx.outlets.outlets
              if (enterprise is None or o.enterprise == enterprise)
              and (industry is None or o.industry == industry)
              and who.can_see_enterprise(o.enterprise)]
    data = _views(ctx, chosen)
    return OutletsPublic(data=data, count=len(data))


@router.get("/api/outlets/{mn}", response_model=OutletPublic, summary="One outlet")
def get_outlet(mn: str, ctx: Context, who: SignedIn) -> OutletPublic:
    return _views(ctx, [_known(ctx, mn, who)])[0]


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
    return series_public(mn, frame, chosen, start_s, end_s, every_s, ctx)


@router.get("/api/enterprises", response_model=EnterprisesPublic,
            summary="Enterprises with their outlets' statuses")
def list_enterprises(ctx: Context, who: SignedIn) -> EnterprisesPublic:
    visible = {name: outlets for name, outlets in ctx.outlets.enterprises().items()
               if who.can_see_enterprise(name)}
    views = _views(ctx, [o for outlets in visible.values() for o in outlets])
    data = []
    for name, outlets in visible.items():
        statuses: dict[str, int] = {}
        for view in views:
            if view.enterprise == name:
                statuses[view.status.code] = statuses.get(view.status.code, 0) + 1
        data.append(EnterprisePublic(name=name, industries=sorted({o.industry for o in outlets}),
                                     outlets=len(outlets), statuses=statuses))
    return EnterprisesPublic(data=data, count=len(data))


@router.get("/api/enterprises/{name}/outlets", response_model=OutletsPublic,
            summary="One enterprise's outlets")
def enterprise_outlets(name: str, ctx: Context, who: SignedIn) -> OutletsPublic:
    outlets = ctx.outlets.enterprises().get(name)
    if outlets is None or not who.can_see_enterprise(name):
        raise HTTPException(404, f"enterprise {name!r} has no outlet in the outlet register")
    data = _views(ctx, outlets)
    return OutletsPublic(data=data, count=len(data))
