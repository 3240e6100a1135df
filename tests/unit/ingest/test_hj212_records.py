"""What a decoded HJ 212 packet means: records, checks on sender and content, station mapping."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from config.outlets import Outlet
from config.settings import EmissionSettings
from config.stations import Station
from ingest.hj212_codec import Hj212Error, make_packet
from ingest.hj212_records import Hj212Rules, interpret_packet, parse_data_time, record_line

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 3, 15, 16, 0, tzinfo=TZ).timestamp()
OUTLET = Outlet(mn="AA01", name="stack", enterprise="E", industry="power", reference_o2=6,
                password="123456")
STATION = Station(id="S1", name="s", city="c", lat=39.9, lon=116.4, mn="BB02",
                  units={"pm25": "ng/m3"})
RULES = Hj212Rules(now_s=NOW, tz=TZ, outlets={OUTLET.mn: OUTLET},
                   stations_by_mn={"BB02": STATION}, require_registration=True,
                   ranges=EmissionSettings().plausible_ranges,
                   station_ranges={"pm25": (0.0, 2000.0)})


def packet(cp: list[dict[str, str]], *, cn: str = "2061", mn: str = "AA01", pw: str = "123456",
           st: str = "31"):  # type: ignore[no-untyped-def]
    return make_packet(st=st, cn=cn, mn=mn, pw=pw, flag=4, cp=cp)


def test_hourly_record_keeps_every_field_with_flags_and_unknown_codes() -> None:
    meaning = interpret_packet(packet([
        {"DataTime": "20260315140000"},
        {"a21026-Avg": "18.5", "a21026-ZsAvg": "23.5", "a21026-Cou": "6.475",
         "a21026-Flag": "C"},
        {"a00000-Avg": "97.2", "a00000-Cou": "350000000.0"},  # a volume (m³), not a flow
        {"a99999-Avg": "1.5", "a99999-Zz": "x"}, {"SB1-RS": "1"}, {"RtdInterval": "30"},
    ]), RULES, expected_mn="AA01")
    record = meaning.record
    assert record is not None and meaning.problems == [] and meaning.readings == []
    assert record.kind == "hourly"
    assert record.time_s == int(datetime(2026, 3, 15, 14, 0, tzinfo=TZ).timestamp())
    assert record.numbers == {"so2": 18.5, "so2_zs": 23.5, "so2_cou": 6.475, "flow": 97.2,
                              "flow_cou": 350000000.0, "a99999": 1.5}
    assert record.texts == {"so2_flag": "C", "flow_flag": "N", "a99999_flag": "N",
                            "a99999__Zz": "x", "SB1_rs": "1", "cp_RtdInterval": "30"}
    line = record_line(record)
    assert line.startswith("hj212_hourly,mn=AA01 ") and 'so2_flag="C"' in line


@pytest.mark.parametrize(("changes", "reason"), [
    ({"mn": "ZZ99"}, "ZZ99 is not a registered outlet or station"),
    ({"pw": "000000"}, "wrong PW for MN AA01"),
    ({"cp": [{"a21026-Avg": "1"}]}, "CN 2061 data packet has no DataTime"),
    ({"cp": [{"DataTime": "20260230140000"}]}, "not a valid date and time"),
    ({"cp": [{"DataTime": "2026031514"}]}, "is not YYYYMMDDhhmmss"),
    ({"cp": [{"DataTime": "20260315170000"}, {"a21026-Avg": "1"}]}, "is in the future"),
    ({"cp": [{"DataTime": "20260315140000"}]}, "carries no values"),
])
def test_packets_that_cannot_be_accepted_say_why(changes: dict, reason: str) -> None:
    arguments = {"cp": [{"DataTime": "20260315140000"}, {"a21026-Avg": "1"}], **changes}
    with pytest.raises(Hj212Error, match=reason):
        interpret_packet(packet(**arguments), RULES)


def test_mn_must_match_the_topic() -> None:
    with pytest.raises(Hj212Error, match="does not match the MN CC03 of its topic"):
        interpret_packet(packet([{"DataTime": "20260315140000"}, {"a21026-Avg": "1"}]),
                         RULES, expected_mn="CC03")


def test_impossible_and_non_numeric_values_are_dropped_and_reported() -> None:
    meaning = interpret_packet(packet([
        {"DataTime": "20260315140000"}, {"a21026-Avg": "-800"}, {"a19001-Avg": "abc"},
        {"a21002-Avg": "nan"}, {"a34013-Avg": "2.5"},
    ]), RULES)
    assert meaning.record is not None and meaning.record.numbers == {"particulate": 2.5}
    assert meaning.problems == [
        "a21026-Avg=-800 is outside the plausible range [-5, 20000] for so2",
        "a19001-Avg='abc' is not a number",
        "a21002-Avg=nan is not a finite number",
    ]


def test_other_commands_are_kept_as_messages_at_receipt_time() -> None:
    meaning = interpret_packet(packet([{"QnRtn": "1"}], cn="9011", st="91"), RULES)
    assert meaning.record is not None and meaning.record.kind == "message"
    assert meaning.record.time_s == int(NOW)
    assert meaning.record.texts == {"cp_QnRtn": "1", "cp": "QnRtn=1"}
    assert record_line(meaning.record).startswith("hj212_message,cn=9011,mn=AA01 ")


def test_station_packets_become_readings_in_canonical_units() -> None:
    meaning = interpret_packet(packet([
        {"DataTime": "20260315140000"}, {"a34004-Avg": "58000", "a34004-Flag": "N"},
        {"a21026-Avg": "9"},
    ], mn="BB02", st="22"), RULES)
    [reading] = meaning.readings
    assert reading.station == "S1" and reading.values == {"pm25": 58.0, "so2": 9.0}
    assert reading.flags == {"pm25": "N", "so2": "N"}
    minute = interpret_packet(packet([{"DataTime": "20260315140000"}, {"a34004-Avg": "1"}],
                                     mn="BB02", st="22", cn="2051"), RULES)
    assert minute.readings == []  # an hourly station's readings are its hourly values


def test_data_time_is_local_time() -> None:
    assert parse_data_time("20260315000000", TZ) == int(
        datetime(2026, 3, 14, 16, 0, tzinfo=ZoneInfo("UTC")).timestamp())
