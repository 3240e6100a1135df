"""Property-based fuzzing of the station JSON path (formats.md §1) with hostile payloads.

Hypothesis draws seeds (and raw bytes and topics); `random.Random(seed)` builds reading objects
and batches, swaps in hostile values (1e308, 10**400 and 1e400 as literals, NaN/Infinity,
nesting deeper than orjson reads, megabyte strings, invalid UTF-8, wrong types, years 0, 1 and
9999, duplicate keys) and damages the bytes; they go out on random and unicode topics. For every
payload: no exception; valid readings and/or rejections, each rejection with a reason and raw
bytes; every batch item accounted for; every accepted reading a line InfluxDB takes (a line it
refuses would make it refuse the whole batch). The memory test prints the peak memory of
handling 4 MiB payloads against their size.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

import orjson
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from support.recording_collector import handled, peak_bytes, recording_collector

from config.settings import CollectorSettings
from config.stations import POLLUTANTS, Station
from ingest.line_protocol import reading_line
from ingest.station_payload import (
    EARLIEST_S,
    FLAG_LETTERS,
    LATEST_S,
    MAX_ITEM_REJECTIONS,
    MAX_PAYLOAD_BYTES,
    DecodedPayload,
    ValidationRules,
    decode_station_payload,
)

NOW = datetime(2026, 11, 23, 0, 0, tzinfo=UTC).timestamp()
TOPIC = "lantian/v1/station/Dongsi/reading"
RANGES = CollectorSettings().plausible_ranges
STATIONS = {
    "Dongsi": Station(id="Dongsi", name="东四", city="beijing", lat=39.9, lon=116.4),
    # sends PM in mg/m³: ×1000 on the way in, so 1e306 overflows to inf in the conversion
    "Mgm": Station(id="Mgm", name="m", city="c", lat=39.9, lon=116.4,
                   units={"pm25": "mg/m3", "pm10": "mg/m3"}),
}
RULES = {
    "ranges": ValidationRules(now_s=NOW, plausible_ranges=RANGES, stations=STATIONS),
    "no ranges": ValidationRules(now_s=NOW, stations=STATIONS),
    "registered only": ValidationRules(now_s=NOW, plausible_ranges=RANGES, stations=STATIONS,
                                       require_registration=True),
}
MAX_REASON_CHARS = 600
FUZZ = settings(derandomize=True, deadline=None, database=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow])
EXAMPLES = 5000
MEGABYTE = 1 << 20


@dataclass
class Tally:
    payloads: int = 0
    readings: int = 0
    rejections: int = 0


TALLY = Tally()

# -- JSON with what orjson.dumps will not write ---------------------------------------------------


@dataclass(frozen=True)
class Lit:
    """JSON text sent as is: NaN, 10**400, a 100 000-deep nest, invalid UTF-8 …"""

    text: bytes


class Obj(tuple):  # type: ignore[type-arg]
    """A JSON object as (key, value) pairs, so that a key can appear twice."""


def render(value: object) -> bytes:
    if isinstance(value, Lit):
        return value.text
    if isinstance(value, Obj):
        return b"{" + b",".join(render(k) + b":" + render(v) for k, v in value) + b"}"
    if isinstance(value, list):
        return b"[" + b",".join(render(v) for v in value) + b"]"
    return orjson.dumps(value)


def nest(depth: int, open_: bytes = b"[", close: bytes = b"]", core: bytes = b"") -> Lit:
    return Lit(open_ * depth + core + close * depth)


HOSTILE = [
    Lit(b"NaN"), Lit(b"Infinity"), Lit(b"-Infinity"), Lit(b"nan"), Lit(b"inf"),
    Lit(b"1e308"), Lit(b"-1e308"), Lit(b"1.7976931348623157e308"), Lit(b"1e306"),
    Lit(b"1e400"), Lit(b"-1e400"), Lit(b"1" + b"0" * 400), Lit(b"-1" + b"0" * 400),
    Lit(b"18446744073709551615"), Lit(b"18446744073709551616"), Lit(b"-9223372036854775809"),
    Lit(b"4.9e-324"), Lit(b"-0"), Lit(b"0e0"), Lit(b"01"), Lit(b"1."), Lit(b".5"), Lit(b"+1"),
    Lit(b"0x10"), Lit(b"1_000"),
    nest(254), nest(255), nest(1023), nest(1024), nest(1025), nest(100_000),
    nest(300, b'{"a":', b"}", b"1"), nest(2000, b'{"a":', b"}", b"1"),
    Lit(b'"\xff\xfe"'), Lit(b'"\xc0\x80"'), Lit(b'"\xed\xa0\x80"'), Lit(b'"\\ud800"'),
    Lit(b'"\\u0000"'), Lit(b'"\x00"'), Lit(b'"' + b"x" * MEGABYTE + b'"'),
    Lit(b'"' + "站".encode() * 100_000 + b'"'), Lit(b"[" + b"1," * 50_000 + b"1]"),
    Lit(b"true"), Lit(b"null"), Lit(b"{}"), Lit(b"[]"), Lit(b'""'), Lit(b"tru"), Lit(b""),
]


def parses(literal: Lit) -> bool:
    try:
        orjson.loads(literal.text)
    except orjson.JSONDecodeError:
        return False
    return True


# Hostile values orjson reads (so the item-level checks see them) and those it does not.
HOSTILE_JSON = [literal for literal in HOSTILE if parses(literal)]
HOSTILE_TEXT = [literal for literal in HOSTILE if not parses(literal)]
BAD_TIMES = [
    "9999-12-31T23:59:59+00:00", "9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+00:00",
    "0001-01-01T00:00:00+14:00", "0000-01-01T00:00:00Z", "-0001-01-01T00:00:00Z",
    "1969-12-31T23:59:59Z", "2100-01-01T00:00:00Z", "2026-11-23T08:00:00", "2026-13-01T00:00Z",
    "2026-02-30T00:00:00Z", "2026-11-23T24:00:00Z", "2026-11-23T08:00:00+25:00", "yesterday",
    "", " ", "1700000000", "2026-11-23 08:00:00+08:00", "20261123T080000+0800",
    "2026-W47-1T00:00Z", "2026-11-23T08:00:00." + "0" * 100_000 + "+08:00",
    "2026-11-23T08:00:00+08:00" + "x" * 1000, -1, -1e308, 4_102_444_800, 253_402_300_799,
    1e308, 2**63, 2**64 - 1, -(2**63), 0.5, True, False, [], {}, Lit(b"NaN"), Lit(b"1e400"),
]


TEXT_CHARS = list("abcXYZ019 -_:+./T") + list('"\\/\n\t\x00\x7f\u2028\ufeff') + list("东四站µ³🏭")
NUMBERS = [0, -0.0, 1e308, -1e308, 5e-324, 2**63, 2**64 - 1, -(2**63), math.nan, math.inf,
           -math.inf]
FLAG_CHOICES = sorted(FLAG_LETTERS)
KEYS = ["time", *POLLUTANTS, "flags", "station", "Time", "PM25", ""]


def gen_text(rng: random.Random, most: int = 20) -> str:
    return "".join(rng.choices(TEXT_CHARS, k=rng.randint(0, most)))


def gen_scalar(rng: random.Random) -> object:
    kind = rng.randrange(6)
    if kind == 0:
        return rng.choice([None, True, False])
    if kind == 1:
        return rng.randint(-(2**63), 2**64 - 1)
    if kind == 2:
        return rng.choice(NUMBERS)
    if kind == 3:
        return rng.uniform(-1e6, 1e6)
    return gen_text(rng)


def gen_json(rng: random.Random, depth: int = 0) -> object:
    """Any JSON value, nested up to 3 levels (objects may repeat keys)."""
    kind = rng.randrange(4) if depth < 3 else 0
    if kind == 1:
        return [gen_json(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    if kind == 2:
        return Obj((gen_text(rng, 8), gen_json(rng, depth + 1)) for _ in range(rng.randint(0, 4)))
    return gen_scalar(rng)


def gen_good_time(rng: random.Random) -> object:
    time_s = rng.randint(1_480_550_400, int(NOW) + 300)
    kind = rng.randrange(3)
    if kind == 0:
        return time_s
    if kind == 1:
        return time_s + rng.random()
    offset = timezone(timedelta(hours=rng.randint(-12, 14), minutes=rng.choice([0, 30, 45])))
    return datetime.fromtimestamp(time_s, offset).isoformat()


def gen_value(rng: random.Random, text_ok: bool = True) -> object:
    """A value where a number belongs: in range, out of range, hostile or of the wrong type
    (with `text_ok`, sometimes one orjson cannot read, which spoils the whole payload)."""
    kind = rng.randrange(8)
    if kind < 3:
        return rng.uniform(-10, 6000)
    if kind == 3:
        return rng.choice(HOSTILE_TEXT if text_ok and rng.random() < 0.2 else HOSTILE_JSON)
    if kind == 4:
        return gen_json(rng)
    return gen_scalar(rng)


def gen_reading(rng: random.Random, text_ok: bool = True) -> Obj:
    """A valid reading object, then none to a few hostile changes: a bad time or value, a key
    dropped, repeated (orjson keeps the last) or added, bad flags, a key that is no string
    (only with `text_ok`, as other things orjson cannot read)."""
    times = BAD_TIMES if text_ok else [t for t in BAD_TIMES if not isinstance(t, Lit)]
    hostile = HOSTILE if text_ok else HOSTILE_JSON
    measured = rng.sample(POLLUTANTS, rng.randint(1, 6))
    pairs: list[tuple[object, object]] = [("time", gen_good_time(rng))]
    pairs += [(p, rng.choice([rng.uniform(0, 150), rng.randint(0, 150)])) for p in measured]
    if rng.random() < 0.5:
        pairs.append(("flags", Obj((p, rng.choice(FLAG_CHOICES)) for p in measured)))
    rng.shuffle(pairs)
    for _ in range(rng.choice([0, 0, 0, 1, 1, 2, 3])):
        op = rng.randrange(10)
        at = rng.randrange(len(pairs)) if pairs else 0
        if op == 0:
            pairs.append(("time", rng.choice([rng.choice(times), gen_scalar(rng)])))
        elif op == 1 and pairs:
            pairs[at] = (pairs[at][0], gen_value(rng, text_ok))
        elif op == 2 and pairs:
            del pairs[at]
        elif op == 3 and pairs:
            pairs.insert(rng.randint(0, len(pairs)), (pairs[at][0], gen_value(rng, text_ok)))
        elif op == 4:
            pairs.append((rng.choice([rng.choice(KEYS), gen_text(rng, 12)]),
                          gen_value(rng, text_ok)))
        elif op == 5:
            flags = Obj((rng.choice([rng.choice(POLLUTANTS), gen_text(rng, 6)]),
                         rng.choice([rng.choice(FLAG_CHOICES), gen_scalar(rng)]))
                        for _ in range(rng.randint(0, 3)))
            pairs.append(("flags", rng.choice([flags, gen_json(rng), rng.choice(hostile)])))
        elif op == 6 and text_ok:
            pairs.append((rng.choice(HOSTILE[:8]), 1))
        elif op == 7:
            pairs.append((rng.choice(POLLUTANTS), rng.choice(hostile)))
        # else: left valid
    return Obj(pairs)


def gen_document(rng: random.Random) -> object:
    kind = rng.random()
    if kind < 0.45:
        return gen_reading(rng)
    text_ok = rng.random() < 0.1  # one unreadable item spoils the whole batch
    if kind < 0.65:
        return [gen_reading(rng, text_ok) if rng.random() < 0.6
                else rng.choice([gen_json(rng), rng.choice(HOSTILE_JSON)])
                for _ in range(rng.randint(1, 12))]
    if kind < 0.75:
        return [gen_reading(rng, text_ok) for _ in range(rng.randint(0, 12))]
    if kind < 0.88:
        return gen_json(rng)
    return rng.choice(HOSTILE)


BYTE_TOKENS = [b"\xff", b"\xfe\xff", b"\xc0\x80", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",
               b"\xef\xbb\xbf", b"\x00", b"NaN", b"Infinity", b"1e400", b",", b":", b"{", b"}",
               b"[", b"]", b'"', b"\\", b"\\u", b" ", b"\n", b"//", b"/*"]


def mutate(rng: random.Random, raw: bytes) -> bytes:
    """One random damage to the bytes: a flipped bit, a cut, an inserted token or slice."""
    data = bytearray(raw)
    pos = rng.randrange(len(data) + 1)
    op = rng.randrange(5)
    if op == 0 and data:
        data[min(pos, len(data) - 1)] ^= 1 << rng.randrange(8)
    elif op == 1:
        del data[pos:]
    elif op == 2:
        del data[pos:pos + rng.randint(1, 8)]
    elif op == 3:
        end = min(len(data), pos + rng.randint(1, 40))
        data[end:end] = data[pos:end]
    else:
        data[pos:pos] = rng.choice(BYTE_TOKENS)
    return bytes(data)


def gen_payload(seed: int) -> bytes:
    """A payload built from `seed`: mostly readings and batches, then JSON and hostile literals;
    two in seven with damaged bytes."""
    rng = random.Random(seed)
    raw = render(gen_document(rng))
    for _ in range(rng.choice([0, 0, 0, 0, 0, 1, 2])):
        raw = mutate(rng, raw)
    return raw


PAYLOADS = st.one_of(
    st.integers(min_value=0, max_value=2**64 - 1).map(gen_payload),
    st.integers(min_value=0, max_value=2**64 - 1).map(gen_payload),
    st.integers(min_value=0, max_value=2**64 - 1).map(gen_payload),
    st.binary(max_size=200),
    st.sampled_from([b"", b" ", b"\n", b"\xef\xbb\xbf{}", b"null", b"{}", b"[]", b"[{}]", b"0",
                     b'"x"', b"\x00" * 64]),
)
STATION_IDS = st.one_of(st.sampled_from(["Dongsi", "Mgm", "Nowhere", "东四", "a" * 64, "a" * 65,
                                         "", "a b", "a+b", "a#", "\x00", "🏭", "A-1_b"]),
                        st.text(max_size=70))
TOPICS = st.one_of(
    st.just(TOPIC), st.just(TOPIC), st.just(TOPIC), st.just(TOPIC),
    st.just("lantian/v1/station/Mgm/reading"),
    st.builds("lantian/v1/station/{}/reading".format, STATION_IDS),
    st.sampled_from(["", "/", "#", "+", "lantian/v1/station//reading",
                     "lantian/v1/station/a/b/reading", "lantian/v1/station/Dongsi/reading/x",
                     "lantian/v1/outlet/AA01/hj212", "站/station/Dongsi/reading",
                     "lantian/v1/station/Dongsi/reading" * 2000]),
    st.text(max_size=80),
)

# -- checks ---------------------------------------------------------------------------------


def split_unescaped(text: str, sep: str) -> list[str]:
    """Split line protocol at `sep` outside double quotes, honouring backslash escapes."""
    parts, current, quoted, i = [], [], False, 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            current.append(text[i:i + 2])
            i += 2
            continue
        if char == '"':
            quoted = not quoted
        elif char == sep and not quoted:
            parts.append("".join(current))
            current = []
            i += 1
            continue
        current.append(char)
        i += 1
    parts.append("".join(current))
    return parts


FIELD_TYPES: dict[tuple[str, str], type] = {}


def assert_writable_line(line: str) -> None:
    """What InfluxDB 1.x refuses a whole batch for: a line break, bad UTF-8, a time outside its
    range, a field named `time`, a non-finite float, a field whose type changes (checked across
    every line this test session produced)."""
    assert "\n" not in line, line
    line.encode("utf-8")
    series, fields, stamp = split_unescaped(line, " ")
    assert EARLIEST_S <= int(stamp) < LATEST_S, line
    measurement = split_unescaped(series, ",")[0]
    for pair in split_unescaped(fields, ","):
        key, _, value = pair.partition("=")
        assert key and key != "time", line
        if value.startswith('"'):
            assert value.endswith('"') and len(value) >= 2, line
            kind: type = str
        elif value in ("true", "false"):
            kind = bool
        else:
            assert math.isfinite(float(value)), line
            kind = float
        assert FIELD_TYPES.setdefault((measurement, key), kind) is kind, (line, key)


def check(topic: str, payload: bytes, rules: ValidationRules) -> DecodedPayload:
    """decode_station_payload's contract on any input (see the module docstring)."""
    decoded = decode_station_payload(topic, payload, rules)
    TALLY.payloads += 1
    TALLY.readings += len(decoded.readings)
    TALLY.rejections += len(decoded.rejections)
    assert decoded.readings or decoded.rejections, payload[:200]
    assert len(decoded.rejections) <= MAX_ITEM_REJECTIONS + 1
    for rejection in decoded.rejections:
        assert isinstance(rejection.raw, bytes)
        assert rejection.reason.strip() and len(rejection.reason) <= MAX_REASON_CHARS, \
            rejection.reason[:1000]
        if rejection.raw != payload:  # a batch item, re-encoded
            orjson.loads(rejection.raw)
            assert rejection.reason.startswith("item ")
    for reading in decoded.readings:
        assert f"/station/{reading.station}/reading" in topic
        assert EARLIEST_S <= reading.time_s <= rules.now_s + rules.future_tolerance_s
        assert reading.values and set(reading.values) <= set(POLLUTANTS)
        for pollutant, value in reading.values.items():
            assert isinstance(value, float) and math.isfinite(value)
            low, high = rules.plausible_ranges.get(pollutant, (-math.inf, math.inf))
            assert low <= value <= high
        assert set(reading.flags.values()) <= FLAG_LETTERS
        assert_writable_line(reading_line(reading))
    # nothing lost: every item of a batch that was read is a reading or a rejection
    items_read = decoded.readings or any(r.reason.startswith("item ")
                                         for r in decoded.rejections)
    document = orjson.loads(payload) if items_read else None
    if isinstance(document, list) and len(decoded.rejections) <= MAX_ITEM_REJECTIONS:
        assert len(decoded.readings) + len(decoded.rejections) == len(document)
    return decoded


# -- the properties -------------------------------------------------------------------------------
# Regression examples: payloads that raised before the fixes in station_payload.py.
DEEP_ITEM = b"[" + nest(300).text + b"]"  # orjson.dumps of the item: "Recursion limit reached"
DEEP_VALUE = b'{"time": 1700000000, "pm25": ' + nest(1000).text + b"}"  # repr() RecursionError


@settings(FUZZ, max_examples=EXAMPLES)
@given(topic=TOPICS, payload=PAYLOADS, rules=st.sampled_from(sorted(RULES)))
@example(topic=TOPIC, payload=DEEP_ITEM, rules="ranges")
@example(topic=TOPIC, payload=b'[{"time": ' + nest(300).text + b"}]", rules="ranges")
@example(topic=TOPIC, payload=DEEP_VALUE, rules="ranges")
@example(topic=TOPIC, payload=b'{"time": "0001-01-01T00:00:00+00:00", "pm25": 1}',
         rules="ranges")  # was accepted: InfluxDB refuses the time and the whole batch with it
@example(topic="lantian/v1/station/Mgm/reading", payload=b'{"time": 1700000000, "pm25": 1e306}',
         rules="no ranges")  # was accepted as inf after the mg/m³ conversion
@example(topic=TOPIC, payload=b'{"time": 1700000000, "pm25": "' + b"x" * MEGABYTE + b'"}',
         rules="ranges")  # the reason quoted the whole megabyte
def fuzz_station_payloads(topic: str, payload: bytes, rules: str) -> None:
    check(topic, payload, RULES[rules])


def test_any_payload_gives_readings_or_rejections_with_reasons() -> None:
    before = Tally(**vars(TALLY))
    fuzz_station_payloads()
    payloads_seen = TALLY.payloads - before.payloads
    print(f"\nstation fuzz: {payloads_seen} payloads, {TALLY.readings - before.readings} "
          f"readings, {TALLY.rejections - before.rejections} rejections")
    assert payloads_seen >= EXAMPLES
    assert TALLY.readings > before.readings and TALLY.rejections > before.rejections


def test_regressions_say_why() -> None:
    rules = RULES["ranges"]
    [deep] = decode_station_payload(TOPIC, DEEP_ITEM, rules).rejections
    assert deep.raw == DEEP_ITEM and "too deeply nested" in deep.reason
    [value] = decode_station_payload(TOPIC, DEEP_VALUE, rules).rejections
    assert value.reason == "pm25 must be a number, got an array of 1 items"
    [year1] = decode_station_payload(
        TOPIC, b'{"time": "0001-01-01T00:00:00+00:00", "pm25": 1}', rules).rejections
    assert "out of range" in year1.reason
    [inf] = decode_station_payload("lantian/v1/station/Mgm/reading",
                                   b'{"time": 1700000000, "pm25": 1e306}',
                                   RULES["no ranges"]).rejections
    assert "must be finite" in inf.reason
    # duplicate keys: the last one counts (orjson's rule, as in most JSON readers)
    [reading] = decode_station_payload(
        TOPIC, b'{"time": 1700000000, "pm25": "x", "pm25": 5}', rules).readings
    assert reading.values == {"pm25": 5.0}


def test_a_batch_of_a_million_bad_items_gives_a_bounded_number_of_dead_letters() -> None:
    payload = b"[" + b",".join([b"1"] * 1_000_000) + b',{"time": 1700000000, "pm25": 3}]'
    decoded = decode_station_payload(TOPIC, payload, RULES["ranges"])
    assert len(decoded.readings) == 1
    assert len(decoded.rejections) == MAX_ITEM_REJECTIONS + 1
    assert decoded.rejections[0].raw == b"1"
    last = decoded.rejections[-1]
    assert last.raw is payload
    assert last.reason.startswith(f"{1_000_000 - MAX_ITEM_REJECTIONS} more bad items of 1000001")


# -- through the collector's message handler ------------------------------------------------------


COLLECTOR, BUFFER = recording_collector(stations=STATIONS, clock=lambda: NOW)
HANDLER_EXAMPLES = 300


@settings(FUZZ, max_examples=HANDLER_EXAMPLES)
@given(topic=TOPICS, payload=PAYLOADS)
def test_the_message_handler_queues_lines_or_dead_letters_for_every_message(
        topic: str, payload: bytes) -> None:
    lines, _ = handled(COLLECTOR, BUFFER, topic, payload)
    for line in lines:
        assert_writable_line(line)


# -- memory ---------------------------------------------------------------------------------
SIZE = MAX_PAYLOAD_BYTES  # 4 MiB: the largest payload that is read
# Batches of tiny items are measured at 512 KiB: tracing 1.4 million allocations of a 4 MiB batch
# takes 20 s, and the peak is linear in the size (36.0 x at 512 KiB, 1 MiB and 4 MiB alike).
BATCH_SIZE = 1 << 19


def batch_of(item: bytes, size: int = BATCH_SIZE) -> bytes:
    count = (size - 2) // (len(item) + 1)
    body = b"[" + b",".join([item] * count)
    return body + b" " * (size - 1 - len(body)) + b"]"


SHAPES: dict[str, Callable[[], bytes]] = {
    "one 4 MiB string value": lambda: b'{"time":1700000000,"pm25":"' + b"x" * (SIZE - 29) + b'"}',
    "4 MiB: nesting 2 million deep": lambda: b"[" * (SIZE // 2) + b"]" * (SIZE // 2),
    "4 MiB of random bytes": lambda: random.Random(7).randbytes(SIZE),
    "4 MiB of NaN literals": lambda: batch_of(b"NaN", SIZE),
    "4 MiB: a batch of 400 bad readings": lambda: batch_of(
        b'{"time":"2026-11-23T08:00:00+08:00","pm25":"' + b"x" * 10_000 + b'"}', SIZE),
    "4 MiB + 1 byte (over the limit)": lambda: b" " * (SIZE + 1),
    "512 KiB batch of empty objects (worst)": lambda: batch_of(b"{}"),
    "512 KiB batch of valid readings": lambda: batch_of(b'{"time":1700000000,"pm25":1}'),
    "512 KiB batch of readings, bad time": lambda: batch_of(b'{"time":"x","pm25":1}'),
}
MAX_PEAK_RATIO = 40.0  # measured worst: 36 (orjson's document ~12x, then ~350 000 dicts per MiB)


def test_memory_of_a_4_mib_payload_is_a_bounded_multiple_of_its_size() -> None:
    collector, buffer = recording_collector(stations=STATIONS, clock=lambda: NOW)
    print("\npeak memory (tracemalloc) of MqttCollector.handle_message on one payload:")
    for name, build in SHAPES.items():
        payload = build()
        peak, seconds = peak_bytes(lambda: collector.handle_message(TOPIC, payload))  # noqa: B023
        [(lines, letters)] = buffer.puts
        buffer.puts.clear()
        ratio = peak / len(payload)
        print(f"  {name:38s} {len(payload) / MEGABYTE:4.1f} MiB: peak {peak / MEGABYTE:5.1f} MiB "
              f"= {ratio:4.1f} x, {len(lines)} lines, {len(letters)} dead letters, "
              f"{seconds:.2f} s")
        assert ratio <= MAX_PEAK_RATIO
        assert lines or letters
        assert len(letters) <= MAX_ITEM_REJECTIONS + 1
        assert sum(len(letter.reason) for letter in letters) <= len(letters) * MAX_REASON_CHARS
        if name.startswith("4 MiB + 1"):
            assert ratio < 0.1 and "not read" in letters[0].reason
