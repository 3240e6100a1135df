"""The dict-built station list is byte for byte the model-built one it replaced: readings with
missing pollutants and flags, AQI with one, two or no primary pollutant, unknown levels,
stations without data, in the bureau's offset and in UTC."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from support.station_reference import reference_stations

from api.schemas import StationsPublic
from api.station_view import stations_body
from config.stations import POLLUTANTS, Station

FETCHED = datetime(2026, 11, 23, 4, 0, 7, 250_000, tzinfo=UTC)


def _sample(n: int, seed: int = 1123) -> tuple[list[Station], dict, dict, dict]:  # type: ignore[type-arg]
    rng = random.Random(seed)
    stations = [Station(id=f"S{i:04d}", name=f"站{i}", city="beijing", district=f"d{i % 5}",
                        lat=round(rng.uniform(39, 41), 4), lon=round(rng.uniform(115, 117), 4))
                for i in range(n)]
    latest, aqi, daily = {}, {}, {}
    for i, s in enumerate(stations):
        if i % 10 == 0:
            continue  # no data at all
        reading: dict[str, object] = {"time_s": 1_795_996_800 - 60 * (i % 7)}
        for p in POLLUTANTS:
            if rng.random() < 0.85:
                reading[p] = round(rng.lognormvariate(3.5, 0.6), 1 if p != "co" else 2)
            if rng.random() < 0.85:
                reading[f"{p}_flag"] = rng.choice("NNNNTH")
        latest[s.id] = reading
        if i % 3:
            aqi[s.id] = {"time_s": 1_795_993_200, "aqi": float(rng.randint(0, 500)),
                         "level": float(rng.randint(0, 7)),  # 0 and 7: no category
                         "primary": rng.choice(["pm25", "pm25,pm10", "", None]),
                         "edition": 2026.0 if i % 2 else 2012.0}
        if i % 4:
            daily[s.id] = {"time_s": 1_795_939_200, "aqi": 77.0, "level": 2.0,
                           "primary": "o3_8h", "edition": 2012.0}
        if i % 11 == 0:
            daily[s.id] = {"time_s": 1_795_939_200, "level": 2.0}  # no aqi: shown as null
    return stations, latest, aqi, daily


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "UTC"])
def test_station_list_is_byte_for_byte_the_model_built_one(zone: str) -> None:
    tz = ZoneInfo(zone)
    stations, latest, aqi, daily = _sample(400)
    body = stations_body(stations, latest, aqi, daily, tz, FETCHED)
    assert body == reference_stations(stations, latest, aqi, daily, tz, FETCHED)
    listing = StationsPublic.model_validate_json(body)  # and it is valid against the schema
    assert listing.count == 400 and listing.data[0].latest is None
    assert listing.fetched_at == FETCHED


def test_fetched_at_and_times_are_local() -> None:
    stations, latest, aqi, daily = _sample(3)
    body = stations_body(stations, latest, aqi, daily, ZoneInfo("Asia/Shanghai"), FETCHED)
    assert b'"fetched_at":"2026-11-23T12:00:07.250000+08:00"' in body
    assert b'"time":"2026-11-30T07:59:00+08:00"' in body  # S0001's reading, 1 min before 08:00
