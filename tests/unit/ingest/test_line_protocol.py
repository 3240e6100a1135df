"""Line protocol escaping and formatting."""

from __future__ import annotations

import math

import pytest

from ingest.line_protocol import escape_key, escape_string_field, format_point, reading_line
from ingest.station_payload import Reading


def test_escaping_of_keys_and_strings() -> None:
    assert escape_key("a b,c=d") == "a\\ b\\,c\\=d"
    assert escape_string_field('say "hi" \\ ok') == '"say \\"hi\\" \\\\ ok"'
    with pytest.raises(ValueError, match="newline"):
        escape_key("a\nb")


def test_format_point_skips_missing_and_types_fields() -> None:
    line = format_point("station aqi", {"station": "A B"},
                        {"aqi": 57.0, "missing": None, "nan": math.nan, "primary": "pm25",
                         "ok": True}, 1700000000)
    assert line == 'station\\ aqi,station=A\\ B aqi=57.0,primary="pm25",ok=true 1700000000'
    with pytest.raises(ValueError, match="no field"):
        format_point("m", {}, {"x": None}, 1)


def test_reading_line() -> None:
    reading = Reading("Dongsi", 1700000000, {"pm25": 35.2, "co": 0.6}, {"pm25": "M"})
    assert reading_line(reading) == (
        'station_reading,station=Dongsi pm25=35.2,pm25_flag="M",co=0.6,co_flag="N" 1700000000'
    )
