"""Stations as the list shows them (StationPublic's JSON shape), built as plain dicts and
encoded in one pass: constructing and validating 5,000 StationPublic models (with 15,000
nested ones) was the largest part of the API's CPU for the station list."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, tzinfo

import pydantic_core

from api.aqi_view import aqi_json
from config.stations import POLLUTANTS, Station

Points = dict[str, dict[str, object]]  # newest point of each station, by station id


def latest_json(point: dict[str, object] | None, tz: tzinfo) -> dict[str, object] | None:
    """A station_reading point as LatestReading's fields: time (local), values (µg/m³; CO
    mg/m³) and flags of the pollutants it holds; None without a point."""
    if not point:
        return None
    return {
        "time": datetime.fromtimestamp(int(point["time_s"]), UTC).astimezone(tz),  # type: ignore[call-overload]
        "values": {p: float(point[p]) for p in POLLUTANTS if p in point},  # type: ignore[arg-type]
        "flags": {p: str(point[f"{p}_flag"]) for p in POLLUTANTS if f"{p}_flag" in point},
    }


def station_json(station: Station, latest: Points, aqi: Points, daily: Points, tz: tzinfo
                 ) -> dict[str, object]:
    """One station with its newest reading, hourly AQI and daily AQI: StationPublic's fields."""
    return {
        "id": station.id, "name": station.name, "city": station.city,
        "district": station.district, "lat": station.lat, "lon": station.lon,
        "latest": latest_json(latest.get(station.id), tz),
        "aqi": aqi_json(aqi.get(station.id), tz),
        "daily_aqi": aqi_json(daily.get(station.id), tz),
    }


def stations_body(stations: Sequence[Station], latest: Points, aqi: Points, daily: Points,
                  tz: tzinfo, fetched_at: datetime) -> bytes:
    """The StationsPublic JSON of `stations`, byte for byte what the model would encode
    (pydantic's own encoder, same field order and datetime format)."""
    data = [station_json(s, latest, aqi, daily, tz) for s in stations]
    return pydantic_core.to_json({"data": data, "count": len(data),
                                  "fetched_at": fetched_at.astimezone(tz)})
