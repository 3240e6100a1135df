"""readings_at and message grouping, and their round trip through the station payload codec."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import numpy as np
import orjson
import pytest

from analytics.series_window import SeriesWindow
from ingest.station_payload import (
    Reading,
    ValidationRules,
    decode_station_payload,
    encode_readings,
    reading_topic,
)
from simulators.publisher import group_into_messages, readings_at

FAR_FUTURE = ValidationRules(now_s=4_000_000_000)
T0 = np.datetime64("2016-12-14T16:00:00", "s")
T0_S = int(T0.astype(np.int64))


def _window() -> SeriesWindow:
    times = T0 + np.arange(3) * np.timedelta64(3600, "s")
    nan = np.nan
    return SeriesWindow(
        sources=("A", "B", "C"),
        times=times,
        values={
            "pm25": np.array([[35.26, 40.0, nan], [nan, nan, nan], [12.04, nan, 8.0]]),
            "co": np.array([[0.61234, nan, 1.0], [nan, nan, nan], [nan, 0.5, 2.0]]),
        },
    )


def test_readings_at_rounds_and_skips_missing() -> None:
    readings = readings_at(_window(), 0)
    assert readings == [
        Reading("A", T0_S, {"pm25": 35.3, "co": 0.612}),
        Reading("C", T0_S, {"pm25": 12.0}),
    ]
    assert all(type(r.time_s) is int for r in readings)


def test_readings_at_later_column_and_station_without_values() -> None:
    assert readings_at(_window(), 1) == [
        Reading("A", T0_S + 3600, {"pm25": 40.0}),
        Reading("C", T0_S + 3600, {"co": 0.5}),
    ]
    assert [r.station for r in readings_at(_window(), 2)] == ["A", "C"]


def _interleaved(n_steps: int) -> list[Reading]:
    return [
        Reading(station, T0_S + 3600 * step, {"pm25": float(10 * step + i)})
        for step in range(n_steps)
        for i, station in enumerate(("S1", "S2", "S3"))
    ]


def test_grouping_batches_each_stations_consecutive_readings() -> None:
    readings = _interleaved(5)
    messages = group_into_messages(readings, 2)
    assert [(station, len(batch)) for station, batch in messages] == [
        ("S1", 2), ("S1", 2), ("S1", 1),
        ("S2", 2), ("S2", 2), ("S2", 1),
        ("S3", 2), ("S3", 2), ("S3", 1),
    ]  # fmt: skip
    for station, batch in messages:
        assert all(r.station == station for r in batch)
    s1 = [r.time_s for station, batch in messages if station == "S1" for r in batch]
    assert s1 == [T0_S + 3600 * step for step in range(5)]


def test_batch_size_one_is_one_message_per_reading() -> None:
    readings = _interleaved(2)
    messages = group_into_messages(readings, 1)
    assert len(messages) == 6
    assert [batch[0] for _, batch in messages] == sorted(
        readings, key=lambda r: ["S1", "S2", "S3"].index(r.station)
    )


def test_grouping_rejects_batch_size_below_one() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        group_into_messages(_interleaved(1), 0)


@pytest.mark.parametrize("batch_size", [1, 2, 5])
def test_round_trip_through_the_payload_codec(batch_size: int) -> None:
    window = _window()
    readings = [r for i in range(len(window.times)) for r in readings_at(window, i)]
    decoded: list[Reading] = []
    for station, batch in group_into_messages(readings, batch_size):
        payload = encode_readings(batch, ZoneInfo("Asia/Shanghai"))
        document = orjson.loads(payload)
        assert isinstance(document, list) == (len(batch) > 1)
        result = decode_station_payload(reading_topic("lantian/v1", station), payload, FAR_FUTURE)
        assert result.rejections == []
        decoded.extend(result.readings)
    key = lambda r: (r.station, r.time_s)  # noqa: E731
    assert sorted(decoded, key=key) == sorted(readings, key=key)
