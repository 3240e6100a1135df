"""The model-by-model station list the API built before issue 8 (api/routes/stations.py and
api/aqi_view.py then), kept as the reference the dict-built list must equal byte for byte."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, tzinfo

from analytics.hj633_tables import CATEGORY_BY_LEVEL
from api.schemas import AqiPublic, LatestReading, StationPublic, StationsPublic
from config.stations import POLLUTANTS, Station

Points = dict[str, dict[str, object]]


def _aqi(point: dict[str, object] | None, tz: tzinfo) -> AqiPublic | None:
    if not point or "aqi" not in point:
        return None
    level = int(point.get("level", 0))  # type: ignore[call-overload]
    category = CATEGORY_BY_LEVEL.get(level)
    primary = point.get("primary")
    return AqiPublic(
        time=datetime.fromtimestamp(int(point["time_s"]), UTC).astimezone(tz),  # type: ignore[call-overload]
        aqi=int(point["aqi"]), level=level,  # type: ignore[call-overload]
        category=category.name_zh if category else "",
        category_en=category.name_en if category else "",
        colour=category.colour_hex if category else "",
        primary=[p for p in str(primary).split(",") if p] if isinstance(primary, str) else [],
        edition=f"HJ 633-{int(point.get('edition', 0))}",  # type: ignore[call-overload]
    )


def _latest(point: dict[str, object] | None, tz: tzinfo) -> LatestReading | None:
    if not point:
        return None
    values = {p: float(point[p]) for p in POLLUTANTS if p in point}  # type: ignore[arg-type]
    flags = {p: str(point[f"{p}_flag"]) for p in POLLUTANTS if f"{p}_flag" in point}
    moment = datetime.fromtimestamp(int(point["time_s"]), UTC)  # type: ignore[call-overload]
    return LatestReading(time=moment.astimezone(tz), values=values, flags=flags)


def reference_stations(stations: Sequence[Station], latest: Points, aqi: Points, daily: Points,
                       tz: tzinfo, fetched_at: datetime) -> bytes:
    """StationsPublic built model by model and encoded as FastAPI encodes a response_model."""
    data = [StationPublic(
        id=s.id, name=s.name, city=s.city, district=s.district, lat=s.lat, lon=s.lon,
        latest=_latest(latest.get(s.id), tz), aqi=_aqi(aqi.get(s.id), tz),
        daily_aqi=_aqi(daily.get(s.id), tz)) for s in stations]
    listing = StationsPublic(data=data, count=len(data), fetched_at=fetched_at.astimezone(tz))
    return listing.model_dump_json().encode("utf-8")
