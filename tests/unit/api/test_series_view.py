"""The vectorised series formatting equals the per-point code it replaced: time strings in
every offset (DST and historical offsets included), numbers, flags, missing values, and the
encoded SeriesPublic byte for byte."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from pydantic import TypeAdapter
from support.series_reference import reference_points, reference_series

from api.schemas import SeriesPublic
from api.series_view import json_column, local_iso_times, series_points, series_public

SHANGHAI = ZoneInfo("Asia/Shanghai")
ZONES = ("Asia/Shanghai", "UTC", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe",
         "America/St_Johns")


@pytest.mark.parametrize("zone", ZONES)
def test_times_equal_isoformat_in_every_offset(zone: str) -> None:
    tz = ZoneInfo(zone)
    rng = np.random.default_rng(8)
    # 1970–2040 at random, plus every hour across a year (DST changes where the zone has them)
    times = np.sort(np.concatenate([
        rng.integers(0, 2_208_988_800, 5_000),
        np.arange(1_767_225_600, 1_798_761_600, 3_600)]))
    expected = [datetime.fromtimestamp(int(t), UTC).astimezone(tz).isoformat() for t in times]
    assert local_iso_times(times, tz) == expected


def test_times_before_1970_and_shanghai_summer_time() -> None:
    # China kept summer time 1986–1991 (+09:00); 1901 is still local mean time in some zones.
    times = np.array([-2_177_452_800, 516_000_000, 520_000_000, 0], dtype="int64")
    for tz in (SHANGHAI, ZoneInfo("Europe/Amsterdam")):
        expected = [datetime.fromtimestamp(int(t), UTC).astimezone(tz).isoformat()
                    for t in times]
        assert local_iso_times(times, tz) == expected
    assert local_iso_times(np.array([520_000_000]), SHANGHAI)[0].endswith("+09:00")
    assert local_iso_times(np.array([], dtype="int64"), SHANGHAI) == []


def test_columns_become_floats_text_and_none() -> None:
    assert json_column(pd.Series([1.5, np.nan, 3.0])) == [1.5, None, 3.0]
    ints = json_column(pd.Series([1, 2], dtype="int64"))
    assert ints == [1.0, 2.0] and all(type(v) is float for v in ints)
    assert json_column(pd.Series([True, False])) == [1.0, 0.0]
    assert json_column(pd.Series(["N", np.nan, "T"], dtype=object)) == ["N", None, "T"]
    assert json_column(pd.Series([np.nan, np.nan], dtype=object)) == [None, None]
    assert json_column(pd.Series(["N", 2, np.nan], dtype=object)) == ["N", 2.0, None]


def _sample_frame(n: int, seed: int = 20261123) -> pd.DataFrame:
    """A read_series-shaped frame: floats with gaps, an int column, flags with gaps, an
    all-missing field."""
    rng = np.random.default_rng(seed)
    pm25 = np.round(rng.lognormal(4.0, 0.5, n), 1)
    pm25[rng.random(n) < 0.1] = np.nan
    flags = np.where(rng.random(n) < 0.9, "N", "T").astype(object)
    flags[rng.random(n) < 0.05] = np.nan
    return pd.DataFrame({
        "time_s": 1_790_000_000 + 60 * np.arange(n, dtype="int64"),
        "pm25": pm25,
        "pm25_hours": rng.integers(0, 25, n),
        "pm25_flag": flags,
        "co": np.full(n, np.nan),
    })


def test_points_equal_the_per_point_code() -> None:
    frame = _sample_frame(2_000)
    fields = ["pm25", "pm25_hours", "pm25_flag", "co"]
    assert series_points(frame, fields, SHANGHAI) == reference_points(frame, fields, SHANGHAI)
    assert series_points(frame.iloc[:0], fields, SHANGHAI) == []


def test_encoded_series_is_byte_for_byte_the_old_one() -> None:
    frame = _sample_frame(1_440)
    fields = ["pm25", "pm25_flag", "pm25_hours", "co"]
    start_s, end_s = 1_790_000_000, 1_790_000_000 + 86_400
    adapter = TypeAdapter(SeriesPublic)  # what FastAPI encodes a response_model with
    new = adapter.dump_json(series_public("Dongsi", frame, fields, start_s, end_s, None,
                                          SHANGHAI))
    old = adapter.dump_json(reference_series("Dongsi", frame, fields, start_s, end_s, None,
                                             SHANGHAI))
    assert new == old
    body = adapter.validate_json(new)
    assert body.count == 1_440 and body.start.isoformat() == "2026-09-21T22:13:20+08:00"
    assert body.points[0]["time"] == "2026-09-21T22:13:20+08:00"
    assert body.points[0]["co"] is None
