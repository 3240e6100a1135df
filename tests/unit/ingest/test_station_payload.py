"""The station payload contract (formats.md §1): what is accepted, what is rejected and why."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest

from config.stations import Station
from ingest.station_payload import (
    Reading,
    ValidationRules,
    decode_station_payload,
    encode_readings,
    station_from_topic,
)

NOW = datetime(2026, 11, 23, 0, 0, tzinfo=UTC).timestamp()
TOPIC = "lantian/v1/station/Dongsi/reading"
RANGES = {"pm25": (0.0, 2000.0), "co": (0.0, 150.0)}


def rules(**overrides: object) -> ValidationRules:
    base: dict[str, object] = {"now_s": NOW, "future_tolerance_s": 300, "plausible_ranges": RANGES}
    base.update(overrides)
    return ValidationRules(**base)  # type: ignore[arg-type]


def test_the_contract_example_is_accepted() -> None:
    payload = (b'{"time": "2026-11-23T08:00:00+08:00", "pm25": 35.2, "pm10": 61.0, "so2": 8,'
               b' "no2": 31, "o3": 40, "co": 0.6, "flags": {"pm25": "N", "pm10": "N"}}')
    decoded = decode_station_payload(TOPIC, payload, rules())
    assert decoded.rejections == []
    [reading] = decoded.readings
    assert reading.station == "Dongsi"
    assert reading.time_s == int(datetime(2026, 11, 23, 0, 0, tzinfo=UTC).timestamp())
    assert reading.values == {"pm25": 35.2, "pm10": 61.0, "so2": 8.0, "no2": 31.0, "o3": 40.0,
                              "co": 0.6}
    assert reading.flags == {"pm25": "N", "pm10": "N"}


def test_epoch_seconds_and_batches() -> None:
    payload = orjson.dumps([{"time": 1700000000, "pm25": 1}, {"time": 1700003600, "pm25": 2}])
    decoded = decode_station_payload(TOPIC, payload, rules())
    assert [r.time_s for r in decoded.readings] == [1700000000, 1700003600]


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"not json", "not JSON"),
        (b"[]", "non-empty array"),
        (b'"text"', "reading object"),
        (b'{"pm25": 3}', "time is missing"),
        (b'{"time": "2026-11-23T08:00:00", "pm25": 3}', "no UTC offset"),
        (b'{"time": "yesterday", "pm25": 3}', "not ISO 8601"),
        (b'{"time": 1700000000, "pm25": "3"}', "pm25 must be a number"),
        (b'{"time": 1700000000, "pm25": true}', "pm25 must be a number"),
        (b'{"time": 1700000000}', "no pollutant value"),
        (b'{"time": 1700000000, "pm25": -4}', "outside the plausible range"),
        (b'{"time": 1700000000, "pm25": 99999}', "outside the plausible range"),
        (b'{"time": 1700000000, "pm25": 3, "flags": {"pm25": "X"}}', "flag 'X'"),
        (b'{"time": 1700000000, "pm25": 3, "flags": {"nox": "N"}}', "unknown pollutant"),
        (b'{"time": "2026-11-23T00:10:00+00:00", "pm25": 3}', "in the future"),
    ],
)
def test_bad_payloads_are_rejected_with_the_reason(payload: bytes, reason: str) -> None:
    decoded = decode_station_payload(TOPIC, payload, rules())
    assert decoded.readings == []
    [rejection] = decoded.rejections
    assert reason in rejection.reason
    assert rejection.raw == payload


def test_a_bad_item_in_a_batch_is_rejected_alone() -> None:
    payload = orjson.dumps([{"time": 1700000000, "pm25": 1}, {"time": 1700003600, "pm25": "x"}])
    decoded = decode_station_payload(TOPIC, payload, rules())
    assert len(decoded.readings) == 1
    [rejection] = decoded.rejections
    assert rejection.reason.startswith("item 1 of 2: pm25 must be a number")
    assert orjson.loads(rejection.raw) == {"time": 1700003600, "pm25": "x"}


def test_topic_checks() -> None:
    assert station_from_topic("lantian/v1/station/A-1_b/reading") == "A-1_b"
    decoded = decode_station_payload("lantian/v1/station/bad id/reading",
                                     b'{"time": 1, "pm25": 1}', rules())
    assert "must match" in decoded.rejections[0].reason


def test_registration_and_unit_conversion() -> None:
    station = Station(id="Dongsi", name="东四", city="beijing", lat=39.9, lon=116.4,
                      units={"co": "ug/m3"})
    decoded = decode_station_payload(
        TOPIC, b'{"time": 1700000000, "co": 600}', rules(stations={"Dongsi": station}))
    assert decoded.readings[0].values == {"co": 0.6}
    unknown = decode_station_payload(
        "lantian/v1/station/Nowhere/reading", b'{"time": 1700000000, "pm25": 1}',
        rules(stations={"Dongsi": station}, require_registration=True))
    assert "not registered" in unknown.rejections[0].reason


def test_encode_decode_round_trip() -> None:
    tz = timezone(timedelta(hours=8))
    readings = [Reading("Dongsi", 1700000000 + 3600 * i, {"pm25": 10.5 + i, "co": 0.7},
                        {"pm25": "M"}) for i in range(3)]
    payload = encode_readings(readings, tz)
    assert b"+08:00" in payload
    decoded = decode_station_payload(TOPIC, payload, rules())
    assert decoded.readings == readings
