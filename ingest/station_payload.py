"""The station reading JSON payload (shared/formats.md §1): decode with validation, and encode.

This module owns the wire format in both directions; simulators, the collector and tests all use
it, so one round-trip test pins the format.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo

import orjson

from config.stations import POLLUTANTS, STATION_ID_PATTERN, Station

FLAG_LETTERS = frozenset("NFMSDCTB")
# Times a reading may carry (Unix s): 1970-01-01 to 2100-01-01, what InfluxDB and the analytics
# handle; a time outside would make InfluxDB refuse the whole batch it is written in.
EARLIEST_S = 0
LATEST_S = 4_102_444_800
# Parsing takes up to ~36 times a payload's size at its peak (orjson's document, then the Python
# objects, for a batch of tiny items): larger payloads are refused unread. A year of hourly
# readings from one station is about 1.5 MiB.
MAX_PAYLOAD_BYTES = 4 << 20
# A batch lists at most this many bad items one by one; the rest are counted in one more
# rejection that keeps the whole payload, so a hostile batch of a million bad items costs a
# bounded number of dead letters (and bytes of memory) instead of a million.
MAX_ITEM_REJECTIONS = 100
_SHOWN_CHARS = 60  # of a bad value quoted in a reason
_STATION_RE = re.compile(STATION_ID_PATTERN)
_TOPIC_RE = re.compile(r"^(?P<root>.+)/station/(?P<station>[^/]+)/reading$")


@dataclass(frozen=True, slots=True)
class Reading:
    """One station's values for one averaging period.

    `time_s` is Unix seconds (UTC) of the period's start; `values` are in canonical units
    (µg/m³, CO mg/m³); a pollutant absent from `values` was not measured.
    """

    station: str
    time_s: int
    values: Mapping[str, float]
    flags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Rejection:
    """A piece of a payload that could not be accepted: its raw bytes and why."""

    raw: bytes
    reason: str


@dataclass(frozen=True, slots=True)
class DecodedPayload:
    readings: list[Reading]
    rejections: list[Rejection]


@dataclass(frozen=True, slots=True)
class ValidationRules:
    """What a reading must satisfy; built from settings and the station register."""

    now_s: float
    future_tolerance_s: float = 300.0
    plausible_ranges: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    stations: Mapping[str, Station] = field(default_factory=dict)
    require_registration: bool = False
    max_payload_bytes: int = MAX_PAYLOAD_BYTES


class PayloadError(ValueError):
    """A reading or payload that breaks the contract; the message says what is wrong."""


def station_from_topic(topic: str) -> str:
    """The station id in ``…/station/{id}/reading``; PayloadError if the topic is not one."""
    match = _TOPIC_RE.match(topic)
    if not match:
        raise PayloadError(f"topic {_describe(topic)} is not '<root>/station/<station_id>/reading'")
    station = match.group("station")
    if not _STATION_RE.match(station):
        raise PayloadError(f"station id {_describe(station)} in topic must match "
                           f"{STATION_ID_PATTERN}")
    return station


def _describe(value: object) -> str:
    """A JSON value as a reason quotes it: short, whatever the payload holds (a megabyte string
    is cut, a container is named with its size, never rendered or recursed into)."""
    if isinstance(value, dict):
        return f"an object of {len(value)} keys"
    if isinstance(value, list):
        return f"an array of {len(value)} items"
    if isinstance(value, str) and len(value) > _SHOWN_CHARS:
        return f"{value[:_SHOWN_CHARS]!r}… ({len(value)} characters)"
    return repr(value)


def decode_station_payload(topic: str, payload: bytes, rules: ValidationRules) -> DecodedPayload:
    """Decode one MQTT message into valid readings and per-item rejections.

    A payload that cannot be read at all becomes one rejection holding the whole payload;
    in a batch, each bad item is rejected on its own (up to MAX_ITEM_REJECTIONS, then one more
    rejection keeps the whole payload for the rest) and the good ones are kept. Never raises.
    """
    try:
        station_id = station_from_topic(topic)
        station = rules.stations.get(station_id)
        if station is None and rules.require_registration:
            raise PayloadError(f"station {station_id!r} is not registered")
        if len(payload) > rules.max_payload_bytes:
            raise PayloadError(f"payload of {len(payload)} bytes is larger than the "
                               f"{rules.max_payload_bytes} allowed; not read")
        try:
            document = orjson.loads(payload)
        except orjson.JSONDecodeError as exc:
            raise PayloadError(f"not JSON: {exc}") from None
        if isinstance(document, dict):
            items, batch = [document], False
        elif isinstance(document, list) and document:
            items, batch = document, True
        else:
            raise PayloadError("payload must be a reading object or a non-empty array of them")
    except PayloadError as exc:
        return DecodedPayload([], [Rejection(payload, str(exc))])

    readings: list[Reading] = []
    rejections: list[Rejection] = []
    unlisted, first_unlisted = 0, ""
    for index, item in enumerate(items):
        try:
            readings.append(_decode_item(station_id, station, item, rules))
        except PayloadError as exc:
            if not batch:
                rejections.append(Rejection(payload, str(exc)))
            elif len(rejections) < MAX_ITEM_REJECTIONS:
                rejections.append(_item_rejection(payload, item, f"item {index} of "
                                                  f"{len(items)}: {exc}"))
            else:
                unlisted += 1
                first_unlisted = first_unlisted or f"item {index}: {exc}"
    if unlisted:
        rejections.append(Rejection(payload, (
            f"{unlisted} more bad items of {len(items)} not listed one by one (the whole "
            f"payload is kept); the first of them was {first_unlisted}")))
    return DecodedPayload(readings, rejections)


def _item_rejection(payload: bytes, item: object, reason: str) -> Rejection:
    """A batch item's own bytes (re-encoded, copied to their exact size: orjson's output
    buffer holds 4 KiB), or the whole payload when orjson cannot write the item back."""
    try:
        return Rejection(memoryview(orjson.dumps(item)).tobytes(), reason)
    except orjson.JSONEncodeError:  # nested deeper than orjson writes (254 levels)
        return Rejection(payload, f"{reason} (too deeply nested to cut out: the whole "
                                  "payload is kept)")


def _decode_item(
    station_id: str, station: Station | None, item: object, rules: ValidationRules
) -> Reading:
    if not isinstance(item, dict):
        raise PayloadError(f"reading must be a JSON object, got {type(item).__name__}")
    time_s = _parse_time(item.get("time"))
    if time_s > rules.now_s + rules.future_tolerance_s:
        ahead = time_s - rules.now_s
        raise PayloadError(
            f"time is {ahead:.0f} s in the future (tolerance {rules.future_tolerance_s:.0f} s)"
        )
    values: dict[str, float] = {}
    for pollutant in POLLUTANTS:
        raw_value = item.get(pollutant)
        if raw_value is None:
            continue
        if isinstance(raw_value, bool) or not isinstance(raw_value, int | float):
            raise PayloadError(f"{pollutant} must be a number, got {_describe(raw_value)}")
        value = float(raw_value)
        if station is not None:
            value *= station.factor_to_canonical(pollutant)
        if not math.isfinite(value):  # also a finite value that overflows in conversion
            raise PayloadError(f"{pollutant} must be finite, got {raw_value!r}")
        low_high = rules.plausible_ranges.get(pollutant)
        if low_high is not None and not low_high[0] <= value <= low_high[1]:
            raise PayloadError(
                f"{pollutant}={value:g} is outside the plausible range "
                f"[{low_high[0]:g}, {low_high[1]:g}]"
            )
        values[pollutant] = value
    if not values:
        raise PayloadError(f"no pollutant value; expected at least one of {', '.join(POLLUTANTS)}")
    flags = _parse_flags(item.get("flags"))
    return Reading(station_id, time_s, values, flags)


def _parse_time(raw: object) -> int:
    """Unix seconds of `raw` (ISO 8601 with offset, or epoch seconds), within the range."""
    if raw is None:
        raise PayloadError("time is missing")
    if isinstance(raw, bool):
        raise PayloadError(f"time must be ISO 8601 with offset or epoch seconds, got {raw!r}")
    if isinstance(raw, int | float):
        if not math.isfinite(raw) or not EARLIEST_S <= raw < LATEST_S:
            raise PayloadError(f"epoch time {raw!r} is out of range (1970 to 2099)")
        return int(raw)
    if isinstance(raw, str):
        try:
            parsed = datetime.fromisoformat(raw)
        except ValueError:
            raise PayloadError(f"time {_describe(raw)} is not ISO 8601") from None
        if parsed.tzinfo is None:
            raise PayloadError(f"time {_describe(raw)} has no UTC offset")
        time_s = parsed.timestamp()
        if not EARLIEST_S <= time_s < LATEST_S:
            raise PayloadError(f"time {_describe(raw)} is out of range (1970 to 2099)")
        return int(time_s)
    raise PayloadError(f"time must be a string or a number, got {type(raw).__name__}")


def _parse_flags(raw: object) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise PayloadError("flags must be an object of pollutant → flag letter")
    flags: dict[str, str] = {}
    for pollutant, letter in raw.items():
        if pollutant not in POLLUTANTS:
            raise PayloadError(f"flag for unknown pollutant {_describe(pollutant)}")
        if not isinstance(letter, str) or letter not in FLAG_LETTERS:
            raise PayloadError(f"flag {_describe(letter)} for {pollutant} is not one of "
                               f"{''.join(sorted(FLAG_LETTERS))}")
        flags[pollutant] = letter
    return flags


def reading_to_object(reading: Reading, tz: tzinfo = UTC) -> dict[str, object]:
    """The JSON object for one reading, time as ISO 8601 in `tz` (offset included)."""
    obj: dict[str, object] = {
        "time": datetime.fromtimestamp(reading.time_s, tz).isoformat(),
        **reading.values,
    }
    if reading.flags:
        obj["flags"] = dict(reading.flags)
    return obj


def encode_readings(readings: Iterable[Reading], tz: tzinfo = UTC) -> bytes:
    """One payload for one station: a single object, or an array when there are several."""
    objects = [reading_to_object(r, tz) for r in readings]
    if not objects:
        raise ValueError("nothing to encode")
    return orjson.dumps(objects[0] if len(objects) == 1 else objects)


def reading_topic(topic_root: str, station: str) -> str:
    return f"{topic_root}/station/{station}/reading"
