"""The overview screen's snapshot (OverviewPublic's JSON): stations and outlets for the map, city
AQI, alert levels and case counts, assembled from the latest-values cache so that every screen
and every live stream together cost one read of each kind per `api.latest_cache_s`."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, tzinfo
from typing import TypeVar

from sqlalchemy import Engine, func, select
from sqlalchemy import case as when
from sqlalchemy.orm import Session

from alerts.accounts import Principal
from alerts.analytics_loop import CITY_AQI_MEASUREMENT
from alerts.case_lifecycle import ACTIVE
from alerts.case_models import Case
from alerts.emergency_service import EmergencyService
from api.aqi_view import aqi_json
from api.deps import AppContext
from api.latest_cache import Snapshot
from api.routes import outlets as outlet_routes
from api.routes import stations as station_routes
from api.schemas import OutletPublic
from api.station_view import Points
from config.outlets import Outlet
from config.stations import Station

# Map colours of outlet statuses (stations use the HJ 633 category colours).
STATUS_COLOUR = {"normal": "#2e7d32", "exceeding": "#d32f2f", "abnormal": "#f9a825",
                 "offline": "#757575", "no_data": "#bdbdbd"}
CITY_FIELDS = ["aqi", "level", "primary", "edition"]
T = TypeVar("T")
Item = dict[str, object]


class _Memo:
    """The items last built from one cached snapshot value, rebuilt only when the snapshot is
    (by identity): 5,000 stations are one build per cache refresh, not one per screen."""

    def __init__(self) -> None:
        self._last: tuple[object, list[Item]] | None = None
        self._lock = threading.Lock()

    def get(self, source: object, build: Callable[[], list[Item]]) -> list[Item]:
        last = self._last
        if last is not None and last[0] is source:
            return last[1]
        items = build()
        with self._lock:
            self._last = (source, items)
        return items


_stations_memo = _Memo()


def _aqi_fields(point: dict[str, object] | None, tz: tzinfo) -> Item:
    """aqi, level, category (zh), category_en, colour, primary ("pm25,pm10"); None without AQI."""
    shown = aqi_json(point, tz)
    if shown is None:
        return dict.fromkeys(("aqi", "level", "category", "category_en", "colour", "primary"))
    primary = ",".join(shown["primary"])  # type: ignore[arg-type]
    return {"aqi": shown["aqi"], "level": shown["level"],
            "category": shown["category"] or None, "category_en": shown["category_en"] or None,
            "colour": shown["colour"] or None, "primary": primary or None}


def station_items(stations: Sequence[Station], latest: Points, aqi: Points, tz: tzinfo
                  ) -> list[Item]:
    """Every station in register order: `time` and pm25/pm10 (µg/m³) of its newest reading,
    the AQI fields of its latest hourly AQI; None where there is none."""
    items = []
    for station in stations:
        reading = latest.get(station.id) or {}
        time_s = reading.get("time_s")
        pm = {p: float(v) if isinstance(v, int | float) else None  # type: ignore[arg-type]
              for p in ("pm25", "pm10") for v in (reading.get(p),)}
        items.append({
            "id": station.id, "name": station.name, "city": station.city,
            "district": station.district, "lat": station.lat, "lon": station.lon,
            "time": None if time_s is None
            else datetime.fromtimestamp(int(time_s), UTC).astimezone(tz),  # type: ignore[call-overload]
            **_aqi_fields(aqi.get(station.id), tz), **pm,
        })
    return items


def outlet_items(outlets: Sequence[Outlet], views: dict[str, OutletPublic], who: Principal
                 ) -> list[Item]:
    """The outlets `who` may see, register order, with status and its map colour; `time` is
    the newest of the latest record and the last judged hour."""
    items = []
    for outlet in outlets:
        if not who.can_see_enterprise(outlet.enterprise):
            continue
        view = views[outlet.mn]
        times = [t for t in (view.latest.time if view.latest else None,
                             view.last_hour.time if view.last_hour else None) if t]
        items.append({"mn": outlet.mn, "name": outlet.name, "enterprise": outlet.enterprise,
                      "city": outlet.city, "lat": outlet.lat, "lon": outlet.lon,
                      "time": max(times) if times else None, "status": view.status.code,
                      "colour": STATUS_COLOUR.get(view.status.code, STATUS_COLOUR["no_data"])})
    return items


def city_items(cities: Sequence[str], latest: Points, tz: tzinfo) -> list[Item]:
    """Each city's latest hourly AQI (the mean of its stations), None fields without one."""
    items = []
    for city in cities:
        point = latest.get(city)
        time_s = point.get("time_s") if point else None
        items.append({"city": city, "time": None if time_s is None
                      else datetime.fromtimestamp(int(time_s), UTC).astimezone(tz),  # type: ignore[call-overload]
                      **_aqi_fields(point, tz)})
    return items


def emergency_items(service: EmergencyService, tz: tzinfo) -> list[Item]:
    """Each configured city's current alert level ("none" without an alert), since when
    (local) and the reason of its last change."""
    items = []
    for jurisdiction in service.register.jurisdictions:
        state = service.state(jurisdiction.city, history=1)
        alert = state.alert
        items.append({"city": jurisdiction.city, "level": alert.level if alert else "none",
                      "since": alert.issued_at.astimezone(tz) if alert else None,
                      "reason": state.events[0].reason if alert and state.events else None})
    return items


def count_cases(engine: Engine, now: datetime, enterprise: str | None = None) -> dict[str, int]:
    """Unresolved cases (open, assigned, rectifying, submitted), those of them past their
    deadline at `now` and those escalated (挂牌督办 level > 0); one query, one enterprise's
    when `enterprise` is given."""
    query = select(func.count(Case.id),
                   func.coalesce(func.sum(when((Case.deadline < now, 1), else_=0)), 0),
                   func.coalesce(func.sum(when((Case.escalation_level > 0, 1), else_=0)), 0)
                   ).where(Case.status.in_(sorted(ACTIVE)))
    if enterprise is not None:
        query = query.where(Case.enterprise == enterprise)
    with Session(engine) as session:
        active, overdue, escalated = session.execute(query).one()
    return {"open": int(active), "overdue": int(overdue), "escalated": int(escalated)}


def build_overview(ctx: AppContext, who: Principal) -> Item:
    """The overview as `who` may see it (enterprise users: their outlets and cases only);
    `age_s` is the age of the oldest cached part, in seconds."""
    cache = ctx.latest
    stations = station_routes.stations_snapshot(ctx)
    outlets = outlet_routes.outlets_snapshot(ctx)
    cities: Snapshot[Points] = cache.get("city_aqi", lambda _: ctx.store.latest_by_tag(
        CITY_AQI_MEASUREMENT, "city", CITY_FIELDS))
    emergency: Snapshot[list[Item]] = cache.get(
        "emergency", lambda _: emergency_items(ctx.emergency, ctx.tz))
    scope = who.enterprise if who.role == "enterprise" else None
    cases: Snapshot[dict[str, int]] = cache.get(
        f"case_counts:{scope or '*'}", lambda at: count_cases(ctx.engine, at, scope))
    points = stations.value
    city_names = list(dict.fromkeys(s.city for s in ctx.stations.stations))
    snapshots: list[Snapshot[object]] = [stations, outlets, cities, emergency, cases]  # type: ignore[list-item]
    return {
        "generated_at": datetime.now(UTC).astimezone(ctx.tz),
        "age_s": round(max(cache.age_s(s) for s in snapshots), 3),
        "stations": _stations_memo.get(points, lambda: station_items(
            ctx.stations.stations, points.latest, points.aqi, ctx.tz)),
        "outlets": outlet_items(ctx.outlets.outlets, outlets.value, who),
        "cities": city_items(city_names, cities.value, ctx.tz),
        "emergency": emergency.value,
        "cases": cases.value,
    }


def without_timing(overview: Item) -> Item:
    """The overview without its clock fields: what the live stream compares to see a change."""
    return {k: v for k, v in overview.items() if k not in ("generated_at", "age_s")}
