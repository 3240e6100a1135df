"""What a city's daily bulletin (日报) says for one local day: each station's and the city's
daily AQI (written by the analytics loop), the exceedances found that day, the cases opened
and closed that day and the alert level in force; the HTML and PDF renderers only lay it out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from alerts.accounts import Principal
from alerts.analytics_loop import CITY_DAILY_MEASUREMENT, STATION_DAILY_MEASUREMENT
from alerts.case_models import Case, FindingRecord
from alerts.emergency_service import EmergencyService
from analytics.aqi import round_half_even
from analytics.standards_calendar import gb3095_daily_limit
from api.case_titles import title_zh
from api.deps import AppContext
from ingest.influx_store import InfluxStore, quote_ident

DAILY_FIELDS = ("aqi", "level", "primary", "pm25_mean", "pm10_mean")
PM = ("pm25", "pm10")


@dataclass(frozen=True)
class DayAqi:
    """One station's (or the city's) daily AQI and PM daily means (µg/m³); None when the
    analytics loop wrote no figure for that day. `over` lists the PM whose reported (rounded)
    mean is above the GB 3095 Grade II daily limit in force that day."""

    id: str
    name: str
    district: str
    aqi: int | None
    level: int | None
    primary: tuple[str, ...]
    pm25_mean: float | None
    pm10_mean: float | None
    over: tuple[str, ...]


@dataclass(frozen=True)
class ExceedanceLine:
    source: str
    pollutant: str
    start: datetime  # local
    value: float | None  # stations: daily mean; outlets: highest converted hourly mean
    limit: float | None
    unit: str  # µg/m³ (stations) or mg/m³ (outlets)


@dataclass(frozen=True)
class CaseLine:
    id: int
    title: str
    title_zh: str  # api/case_titles.py
    source: str
    problem_type: str
    status: str
    opened_at: datetime  # local
    closed_at: datetime | None  # local


@dataclass(frozen=True)
class LevelChange:
    at: datetime  # local
    from_level: str
    to_level: str
    reason: str


@dataclass(frozen=True)
class DailyBulletin:
    city: str
    day: date
    generated_at: datetime  # local
    city_aqi: DayAqi
    stations: tuple[DayAqi, ...]
    exceedances: tuple[ExceedanceLine, ...]
    opened: tuple[CaseLine, ...]
    closed: tuple[CaseLine, ...]
    emergency_level: str  # none | blue | yellow | orange | red, at the day's end
    emergency_changes: tuple[LevelChange, ...]


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The local natural day as [start, end) in UTC (GB 3095 days are local days)."""
    start = datetime.combine(day, time(0), tzinfo=tz)
    return start.astimezone(UTC), datetime.combine(day + timedelta(days=1), time(0),
                                                   tzinfo=tz).astimezone(UTC)


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and value == value else None


def day_aqi(source: str, name: str, district: str, row: dict[str, object], day: date) -> DayAqi:
    """A station_daily / city_daily row as DayAqi, judging PM means against GB 3095."""
    means = {p: _number(row.get(f"{p}_mean")) for p in PM}
    dates = np.array([day], dtype="datetime64[D]")
    over = tuple(p for p, mean in means.items() if mean is not None
                 and round_half_even(np.array([mean]))[0] > gb3095_daily_limit(p, dates)[0][0])
    aqi, level, primary = _number(row.get("aqi")), _number(row.get("level")), row.get("primary")
    return DayAqi(source, name, district, None if aqi is None else int(aqi),
                  None if level is None else int(level),
                  tuple(p for p in primary.split(",") if p) if isinstance(primary, str) else (),
                  means["pm25"], means["pm10"], over)


def read_daily_rows(store: InfluxStore, measurement: str, tag: str, start_s: int, end_s: int
                    ) -> dict[str, dict[str, object]]:
    """Every source's daily row starting in [start_s, end_s) (one local day), by tag value."""
    fields = ", ".join(quote_ident(f) for f in (tag, *DAILY_FIELDS))
    frame = store.query_frame(f"SELECT {fields} FROM {quote_ident(measurement)} "
                              f"WHERE time >= {start_s}s AND time < {end_s}s")
    if frame.empty or tag not in frame:
        return {}
    return {str(r[tag]): r for r in frame.to_dict("records")}


def _level_at_end(service: EmergencyService, city: str, start: datetime, end: datetime,
                  tz: ZoneInfo) -> tuple[str, tuple[LevelChange, ...]]:
    """The alert level in force at the day's end and the changes made during the day."""
    if service.register.for_city(city) is None:
        return "none", ()
    events = service.state(city, history=1000).events  # newest first
    before = next((e for e in events if e.at < end), None)
    level = (before.to_level or "none") if before is not None else "none"
    changes = tuple(LevelChange(e.at.astimezone(tz), e.from_level or "none",
                                e.to_level or "none", e.reason)
                    for e in reversed(events) if start <= e.at < end)
    return level, changes


def _case_line(case: Case, ctx: AppContext, pollutants: list[str]) -> CaseLine:
    tz = ctx.tz
    return CaseLine(case.id, case.title,
                    title_zh(case, pollutants, ctx.station_by_id, ctx.outlet_by_mn),
                    case.source, case.problem_type, case.status,
                    case.opened_at.astimezone(tz),
                    case.closed_at.astimezone(tz) if case.closed_at else None)


def build_bulletin(ctx: AppContext, city: str, day: date, who: Principal) -> DailyBulletin:
    """The bulletin of `city` for local `day` as `who` may see it: stations and AQI are public,
    an enterprise user sees only its own outlets' exceedances and its own cases."""
    tz = ctx.tz
    start, end = day_bounds(day, tz)
    start_s, end_s = int(start.timestamp()), int(end.timestamp())
    stations = [s for s in ctx.stations.stations if s.city == city]
    rows = read_daily_rows(ctx.store, STATION_DAILY_MEASUREMENT, "station", start_s, end_s)
    city_row = read_daily_rows(ctx.store, CITY_DAILY_MEASUREMENT, "city", start_s, end_s)
    outlets = [o for o in ctx.outlets.outlets if o.city == city
               and who.can_see_enterprise(o.enterprise)]
    sources = [s.id for s in stations if who.role != "enterprise"] + [o.mn for o in outlets]
    enterprises = sorted({o.enterprise for o in outlets})
    with Session(ctx.engine) as session:
        findings = session.scalars(select(FindingRecord).where(
            FindingRecord.type == "exceedance", FindingRecord.source.in_(sources),
            FindingRecord.start >= start, FindingRecord.start < end)
            .order_by(FindingRecord.start, FindingRecord.source)).all()
        in_city = or_(Case.source.in_(sources), Case.enterprise.in_(enterprises))
        if who.role == "enterprise":
            in_city = and_(in_city, Case.enterprise == who.enterprise)
        cases = session.scalars(select(Case).where(in_city, or_(
            and_(Case.opened_at >= start, Case.opened_at < end),
            and_(Case.closed_at >= start, Case.closed_at < end))).order_by(Case.id)).all()
        exceedances = tuple(ExceedanceLine(
            f.source, f.pollutant, f.start.astimezone(tz),
            _number(f.evidence.get("daily_mean_ugm3", f.evidence.get("max_converted_mgm3"))),
            _number(f.evidence.get("limit_ugm3", f.evidence.get("limit_mgm3"))),
            "µg/m³" if "limit_ugm3" in f.evidence else "mg/m³")
            for f in findings)
        found = ctx.cases.pollutants_of([c.id for c in cases])
        opened = tuple(_case_line(c, ctx, found.get(c.id, [])) for c in cases
                       if start <= c.opened_at < end)
        closed = tuple(_case_line(c, ctx, found.get(c.id, [])) for c in cases
                       if c.closed_at is not None and start <= c.closed_at < end)
    level, changes = _level_at_end(ctx.emergency, city, start, end, tz)
    return DailyBulletin(
        city=city, day=day, generated_at=datetime.now(UTC).astimezone(tz),
        city_aqi=day_aqi(city, city, "", city_row.get(city, {}), day),
        stations=tuple(day_aqi(s.id, s.name, s.district, rows.get(s.id, {}), day)
                       for s in stations),
        exceedances=exceedances, opened=opened, closed=closed, emergency_level=level,
        emergency_changes=changes)
