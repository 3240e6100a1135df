"""Turning a stored AQI point into its public form (category names and colour from HJ 633)."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

from analytics.hj633_tables import CATEGORY_BY_LEVEL
from api.schemas import AqiPublic


def aqi_json(point: dict[str, object] | None, tz: tzinfo) -> dict[str, object] | None:
    """`point` (a station_aqi/city_aqi row: time_s, aqi, level, primary, edition) as the fields
    of AqiPublic, unvalidated: the station list builds 10,000 of these per read."""
    if not point or "aqi" not in point:
        return None
    level = int(point.get("level", 0))  # type: ignore[call-overload]
    category = CATEGORY_BY_LEVEL.get(level)
    primary = point.get("primary")
    return {
        "time": datetime.fromtimestamp(int(point["time_s"]), UTC).astimezone(tz),  # type: ignore[call-overload]
        "aqi": int(point["aqi"]),  # type: ignore[call-overload]
        "level": level,
        "category": category.name_zh if category else "",
        "category_en": category.name_en if category else "",
        "colour": category.colour_hex if category else "",
        "primary": [p for p in str(primary).split(",") if p] if isinstance(primary, str) else [],
        "edition": f"HJ 633-{int(point.get('edition', 0))}",  # type: ignore[call-overload]
    }


def aqi_public(point: dict[str, object] | None, tz: tzinfo) -> AqiPublic | None:
    """`point` as a validated AqiPublic (None without an AQI)."""
    fields = aqi_json(point, tz)
    return None if fields is None else AqiPublic.model_validate(fields)
