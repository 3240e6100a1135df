"""What an HJ 212 packet means: a record of one source's values for one period, checked.

The codec (ingest.hj212_codec) knows the syntax; this module knows the content: which commands
carry data, DataTime as the start of the period in the bureau's local time, which MNs are
registered (and their passwords), which values are impossible. A packet that cannot be
accepted at all raises Hj212Error; single impossible values are dropped from the record and
listed in `problems`, so the caller keeps the raw packet as a dead letter with that reason
while the packet's good values are stored.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from config.outlets import Outlet
from config.stations import CANONICAL_UNITS, Station
from ingest.hj212_codec import Hj212Error, Hj212Packet
from ingest.hj212_codes import (
    DATA_COMMANDS,
    NUMERIC_SUFFIXES,
    STATION_FIELDS,
    TEXT_SUFFIXES,
    field_name,
)
from ingest.line_protocol import format_point
from ingest.station_payload import EARLIEST_S, FLAG_LETTERS, LATEST_S, Reading

STATION_ST = "22"
MESSAGE_KIND = "message"
_CODE = re.compile(r"[A-Za-z0-9]{1,32}")
# Field names InfluxDB refuses (it would refuse the whole batch the point is written in).
_RESERVED_FIELDS = frozenset({"time"})


def measurement_of(kind: str) -> str:
    """InfluxDB measurement of a record kind: hj212_rtd, hj212_minute, hj212_hourly, …"""
    return f"hj212_{kind}"


@dataclass(frozen=True, slots=True)
class Hj212Record:
    """One packet's values. `time_s`: Unix seconds (UTC) of the period start (DataTime), or of
    receipt for non-data commands. `numbers` are floats by stored field name (``so2``,
    ``so2_zs``, ``so2_min``, …, in the unit's units: mg/m³, O2 %, flow m³/s); `texts` hold
    flags and other text fields (``so2_flag`` …)."""

    mn: str
    st: str
    cn: str
    kind: str
    time_s: int
    numbers: dict[str, float]
    texts: dict[str, str]


@dataclass(frozen=True, slots=True)
class Hj212Rules:
    """What a packet's content must satisfy; built from settings and the registers."""

    now_s: float
    tz: tzinfo
    future_tolerance_s: float = 300.0
    outlets: Mapping[str, Outlet] = field(default_factory=dict)
    stations_by_mn: Mapping[str, Station] = field(default_factory=dict)
    require_registration: bool = False
    # Plausible ranges of stored fields (outlets: mg/m³, %, m³/s, °C, kPa); outside → dropped.
    ranges: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    # Plausible ranges of station pollutants in canonical units (µg/m³, CO mg/m³).
    station_ranges: Mapping[str, tuple[float, float]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Interpretation:
    """A packet's record (None when it carried no values), the station readings it yields
    (HJ 212 stations), and the values that were dropped with why."""

    record: Hj212Record | None
    readings: list[Reading]
    problems: list[str]


def parse_data_time(text: str, tz: tzinfo) -> int:
    """DataTime ``YYYYMMDDhhmmss`` in local time → Unix seconds; Hj212Error when invalid or
    outside 1970–2099 (what InfluxDB and the analytics handle)."""
    if not re.fullmatch(r"\d{14}", text):
        raise Hj212Error(f"DataTime={text[:20]!r} is not YYYYMMDDhhmmss")
    try:
        local = datetime.strptime(text, "%Y%m%d%H%M%S")
    except ValueError:
        raise Hj212Error(f"DataTime={text} is not a valid date and time") from None
    time_s = int(local.replace(tzinfo=tz).timestamp())
    if not EARLIEST_S <= time_s < LATEST_S:
        raise Hj212Error(f"DataTime={text} is out of range (1970 to 2099)")
    return time_s


def _check_sender(packet: Hj212Packet, rules: Hj212Rules, expected_mn: str | None) -> None:
    mn = packet.mn
    if expected_mn is not None and mn != expected_mn:
        raise Hj212Error(f"packet MN {mn} does not match the MN {expected_mn} of its topic")
    outlet = rules.outlets.get(mn)
    station = rules.stations_by_mn.get(mn)
    if outlet is None and station is None and rules.require_registration:
        raise Hj212Error(f"MN {mn} is not a registered outlet or station")
    if outlet is not None and outlet.password is not None and packet.pw != outlet.password:
        raise Hj212Error(f"wrong PW for MN {mn}")


def _split_values(packet: Hj212Packet, rules: Hj212Rules
                  ) -> tuple[dict[str, float], dict[str, str], list[str]]:
    numbers: dict[str, float] = {}
    texts: dict[str, str] = {}
    problems: list[str] = []
    primaries: list[str] = []
    for key, value in packet.cp_pairs():
        if key == "DataTime":
            continue
        code, dash, suffix = key.partition("-")
        if not dash or not _CODE.fullmatch(code):
            texts[f"cp_{key}"] = value
            continue
        name = field_name(code)
        if suffix in NUMERIC_SUFFIXES:
            target = name + NUMERIC_SUFFIXES[suffix]
            if target in _RESERVED_FIELDS:
                problems.append(f"{key}: field name {target!r} is reserved by InfluxDB")
                continue
            try:
                number = float(value)
            except ValueError:
                problems.append(f"{key}={value[:20]!r} is not a number")
                continue
            if not math.isfinite(number):
                problems.append(f"{key}={value[:20]} is not a finite number")
                continue
            # -Cou is an amount over the period (kg, or m³ of flue gas), not a concentration.
            bounds = None if suffix == "Cou" else rules.ranges.get(name)
            if bounds is not None and not bounds[0] <= number <= bounds[1]:
                problems.append(f"{key}={value} is outside the plausible range "
                                f"[{bounds[0]:g}, {bounds[1]:g}] for {name}")
                continue
            numbers[target] = number
            if target == name:
                primaries.append(name)
        elif suffix in TEXT_SUFFIXES:
            # An unknown flag letter is kept as sent; it is not a valid flag, so the value
            # does not count in statistics.
            texts[name + TEXT_SUFFIXES[suffix]] = value
        else:
            # A double underscore keeps unknown text suffixes apart from the known fields.
            texts[f"{name}__{suffix}"] = value
    # Every measured value gets its flag (N when the unit sent none), as for stations, so
    # queries select the values valid for statistics with a plain WHERE on the flag field.
    for name in primaries:
        texts.setdefault(f"{name}_flag", "N")
    return numbers, texts, problems


def _station_readings(record: Hj212Record, station: Station, rules: Hj212Rules,
                      problems: list[str]) -> list[Reading]:
    """An HJ 212 station's values as a station reading in canonical units, when the packet is
    of the kind the station reports as its readings (hourly data for hourly stations, minute
    data otherwise)."""
    wanted = "hourly" if station.interval_s == 3600 else "minute"
    if record.kind != wanted:
        return []
    values: dict[str, float] = {}
    flags: dict[str, str] = {}
    for pollutant in STATION_FIELDS:
        if pollutant not in record.numbers:
            continue
        value = record.numbers[pollutant] * station.factor_to_canonical(pollutant)
        bounds = rules.station_ranges.get(pollutant)
        if not math.isfinite(value):
            problems.append(f"{pollutant}={record.numbers[pollutant]:g} overflows in unit "
                            "conversion")
            continue
        if bounds is not None and not bounds[0] <= value <= bounds[1]:
            problems.append(f"{pollutant}={value:g} {CANONICAL_UNITS[pollutant]} (after unit "
                            f"conversion) is outside the plausible range "
                            f"[{bounds[0]:g}, {bounds[1]:g}]")
            continue
        values[pollutant] = value
        flag = record.texts.get(f"{pollutant}_flag", "N")
        if flag in FLAG_LETTERS:
            flags[pollutant] = flag
    return [Reading(station.id, record.time_s, values, flags)] if values else []


def interpret_packet(packet: Hj212Packet, rules: Hj212Rules, expected_mn: str | None = None
                     ) -> Interpretation:
    """Check a decoded packet's sender and content and turn it into a record.

    Raises Hj212Error when the packet as a whole cannot be accepted (wrong MN for the topic,
    unregistered MN when registration is required, wrong password, data without a valid
    DataTime, a period starting in the future).
    """
    _check_sender(packet, rules, expected_mn)
    kind = DATA_COMMANDS.get(packet.cn)
    if kind is None:
        texts = {f"cp_{key}": value for key, value in packet.cp_pairs()}
        texts["cp"] = ";".join(",".join(f"{k}={v}" for k, v in item) for item in packet.cp)
        record = Hj212Record(packet.mn, packet.st, packet.cn, MESSAGE_KIND, int(rules.now_s),
                             {}, texts)
        return Interpretation(record, [], [])
    cp = packet.cp_dict()
    if "DataTime" not in cp:
        raise Hj212Error(f"CN {packet.cn} data packet has no DataTime")
    time_s = parse_data_time(cp["DataTime"], rules.tz)
    if time_s > rules.now_s + rules.future_tolerance_s:
        raise Hj212Error(f"DataTime={cp['DataTime']} is in the future (more than "
                         f"{rules.future_tolerance_s:g} s ahead of the platform clock)")
    numbers, texts, problems = _split_values(packet, rules)
    if not numbers and not texts:
        raise Hj212Error(f"CN {packet.cn} data packet carries no values")
    record = Hj212Record(packet.mn, packet.st, packet.cn, kind, time_s, numbers, texts)
    station = rules.stations_by_mn.get(packet.mn)
    readings = _station_readings(record, station, rules, problems) if station else []
    return Interpretation(record, readings, problems)


def record_line(record: Hj212Record) -> str:
    """The record as one line-protocol point in ``hj212_<kind>``, tagged by MN (and CN for
    non-data messages)."""
    tags = {"mn": record.mn}
    if record.kind == MESSAGE_KIND:
        tags["cn"] = record.cn
    return format_point(measurement_of(record.kind), tags, {**record.numbers, **record.texts},
                        record.time_s)
