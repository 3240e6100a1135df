"""Property-based fuzzing of HJ 212 over MQTT at the intake level: whole payloads of packets.

test_hj212_fuzz.py pushes syntax through the codec and framer; this file sends what a unit (or
an attacker) can put in an MQTT payload — packets that are well framed, with a correct CRC, but
hostile content (DataTime in year 0, 1, 1969 or 9999, values 1e309, NaN, 10**400, a field
named `time`, wrong MN or PW), packets damaged by the codec fuzz's mutations, several back to
back with line noise between, megabyte payloads, empty payloads, unicode topics. For every
payload: no exception; points and/or dead letters, each with a reason and bytes of the payload;
the payload's result is the sum of its pieces' results (nothing lost, nothing invented); every
point is a line InfluxDB takes. The memory test prints peak memory against payload size.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import example, given, settings
from hypothesis import strategies as st
from support.recording_collector import handled, peak_bytes, recording_collector
from test_hj212_fuzz import FUZZ, SEEDS, garbage_bytes, gen_packet, mutate, reframe
from test_station_payload_fuzz import MAX_REASON_CHARS, assert_writable_line

from config.outlets import Outlet
from config.settings import CollectorSettings, Settings
from config.stations import Station
from ingest.hj212_codec import Hj212Codec, Hj212Error, make_packet
from ingest.hj212_framer import Frame, Garbage, split_packets
from ingest.hj212_intake import MAX_LETTERS_PER_PAYLOAD, Hj212Intake, IntakeResult

TZ = ZoneInfo("Asia/Shanghai")
NOW_LOCAL = datetime(2026, 3, 15, 16, 0, tzinfo=TZ)
NOW = NOW_LOCAL.timestamp()
CODEC = Hj212Codec()
OUTLET = Outlet(mn="AA01", name="stack", enterprise="E", industry="power", reference_o2=6,
                password="123456")
STATIONS_BY_MN = {
    "BB02": Station(id="S1", name="s", city="c", lat=39.9, lon=116.4, mn="BB02",
                    units={"pm25": "ng/m3"}),
    # sends mg/m³: ×1000 on the way in, so 1e306 overflows to inf in the conversion
    "CC03": Station(id="S2", name="s", city="c", lat=39.9, lon=116.4, mn="CC03",
                    interval_s=60, units={"pm25": "mg/m3", "so2": "mg/m3"}),
}


def make_intake(require_registration: bool = False, ranges: bool = True) -> Hj212Intake:
    settings = Settings(collector=CollectorSettings(require_registration=require_registration))
    if not ranges:
        settings.collector.plausible_ranges = {}
        settings.emissions.plausible_ranges = {}
    return Hj212Intake(settings, {OUTLET.mn: OUTLET}, STATIONS_BY_MN, clock=lambda: NOW)


INTAKES = {"open": make_intake(), "registered only": make_intake(require_registration=True),
           "no ranges": make_intake(ranges=False)}
MEGABYTE = 1 << 20
EXAMPLES = 2500


@dataclass
class Tally:
    payloads: int = 0
    packets: int = 0
    lines: int = 0
    letters: int = 0


TALLY = Tally()

# -- packets with hostile content, well framed ----------------------------------------------------
MNS = ["AA01", "BB02", "CC03", "ZZ99", "aa01", "A" * 24]
CODES = ["a21026", "a21002", "a34013", "a19001", "a00000", "a01012", "a34004", "a34002",
         "a21005", "a05024", "a99999", "time", "Time", "mn", "cp", "DataTime", "SB1", "x"]
SUFFIXES = ["Rtd", "Avg", "Avg", "Min", "Max", "Cou", "ZsAvg", "ZsRtd", "Flag", "EFlag", "Info",
            "SampleTime", "RS", "Zz", ""]
BAD_NUMBERS = ["1e308", "-1e308", "1e309", "-1e400", "1" + "0" * 400, "NaN", "nan", "inf",
               "-Infinity", "1e306", "4.9e-324", "0x10", "1_000", "", " ", "+1", "1.", ".5",
               "１２", "٣", "1e-400", "9" * 300, "-0", "N", "1,5", "18446744073709551616"]
BAD_TIMES = ["99991231235959", "00000101000000", "00010101000000", "19691231235959",
             "19700101075959", "19700101080000", "21000101000000", "20991231235959",
             "20261301000000", "20260230000000", "20260315240000", "20260315160060",
             "2026031516000", "202603151600000", "2026-03-15T16:00", "abcdefghijklmn", "",
             "２０２６０３１５１６００００"]
VALUE_CHARS = [c for c in string.printable if c not in ";,&"] + list("站µ³\x00\x7f")
CNS = ["2011", "2051", "2061", "2031", "2061", "2061", "9014", "2021", "3020", "9999"]


def data_time(rng: random.Random) -> str:
    if rng.random() < 0.8:
        local = NOW_LOCAL - timedelta(minutes=rng.randint(-4, 60 * 24 * 400))
        return local.strftime("%Y%m%d%H%M%S")
    return rng.choice(BAD_TIMES)


def number(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.6:
        return f"{rng.uniform(0, 300):.{rng.randint(0, 3)}f}"
    if kind < 0.9:
        return rng.choice(BAD_NUMBERS)
    return "".join(rng.choices(VALUE_CHARS, k=rng.randint(0, 12)))


def gen_content_packet(rng: random.Random) -> bytes:
    """A packet with a correct length and CRC and content that is often hostile."""
    cp: list[list[tuple[str, str]]] = []
    if rng.random() < 0.95:
        cp.append([("DataTime", data_time(rng))])
    for _ in range(rng.randint(0, 6)):
        item = []
        for _ in range(rng.randint(1, 3)):
            code, suffix = rng.choice(CODES), rng.choice(SUFFIXES)
            key = f"{code}-{suffix}" if suffix else code
            value = rng.choice("NFMSDCTBX") if suffix == "Flag" else number(rng)
            item.append((key, value))
        cp.append(item)
    mn = "AA01" if rng.random() < 0.8 else rng.choice(MNS)  # the topic's MN, mostly
    pw = OUTLET.password if rng.random() < 0.85 else rng.choice(["654321", "x", "1" * 32])
    flag = rng.choice([4, 4, 5, 0, 1])
    while True:
        try:
            return CODEC.encode(make_packet(st=rng.choice(["31", "32", "22", "91"]),
                                            cn=rng.choice(CNS), mn=mn, pw=pw, flag=flag,
                                            qn=rng.choice([None, "20260315160000000"]), cp=cp))
        except Hj212Error:  # too long (or a value the codec will not send): drop an item
            assert cp
            cp = cp[:-1]


def gen_piece(rng: random.Random, pool: list[bytes]) -> bytes:
    kind = rng.random()
    if kind < 0.45:
        return gen_content_packet(rng)
    if kind < 0.6:
        return CODEC.encode(gen_packet(rng, max_data=rng.choice([150, 300, 1024])))
    if kind < 0.85:
        return mutate(rng, rng.choice(pool), pool)
    if kind < 0.92:
        return garbage_bytes(rng, rng.randint(1, 80))
    return reframe(rng.choice([b"", b"CP=&&&&", b"ST=31;CN=2061;MN=AA01;CP=&&&&",
                               b"ST=31;CN=2061;MN=AA01;PW=123456;Flag=4;CP=&&DataTime=&&",
                               "站".encode() * 300]))


def gen_payload(seed: int) -> bytes:
    """One MQTT payload from `seed`: one to five pieces back to back, sometimes a megabyte."""
    rng = random.Random(seed)
    pool = [gen_content_packet(rng) for _ in range(3)]
    pieces = [gen_piece(rng, pool) for _ in range(rng.choice([1, 1, 1, 2, 3, 5]))]
    if rng.random() < 0.1:
        pieces.insert(rng.randrange(len(pieces) + 1), rng.choice([b"\r\n", b" ", b"\n", b"#"]))
    payload = b"".join(pieces)
    if rng.random() < 0.004:  # a megabyte: the pieces over and over, or line noise
        payload = (payload or b"#") * (MEGABYTE // max(1, len(payload)))
    return payload


PAYLOADS = st.one_of(SEEDS.map(gen_payload), SEEDS.map(gen_payload), SEEDS.map(gen_payload),
                     st.binary(max_size=300),
                     st.sampled_from([b"", b"##", b"\r\n", b"##0000\r\n", b"#" * 5000]))
# The topic's MN: mostly the one the generated packets carry (AA01), so their content is judged.
MN_TOPICS = st.one_of(st.just("AA01"), st.just("AA01"), st.just("AA01"), st.sampled_from(MNS),
                      st.text(max_size=30))

# -- checks ---------------------------------------------------------------------------------------


def check(intake: Hj212Intake, payload: bytes, mn: str) -> IntakeResult:
    """The intake's contract on one payload (see the module docstring)."""
    topic = f"lantian/v1/outlet/{mn}/hj212"
    result = intake.payload(payload, topic, expected_mn=mn)
    TALLY.payloads += 1
    TALLY.packets += result.packets
    TALLY.lines += len(result.lines)
    TALLY.letters += len(result.letters)
    assert result.lines or result.letters, payload[:200]
    assert len(result.letters) <= MAX_LETTERS_PER_PAYLOAD + 1
    for letter in result.letters:
        assert letter.topic == topic and isinstance(letter.payload, bytes)
        assert letter.reason.startswith("HJ 212") and len(letter.reason) <= MAX_REASON_CHARS, \
            letter.reason[:1000]
        assert letter.payload in payload
    for line in result.lines:
        assert_writable_line(line)
    for reply in result.replies:
        assert CODEC.decode(reply).cn == "9014"

    # the payload's result is the sum of its pieces': every frame and every run of garbage
    # gives points or a dead letter of its own bytes
    pieces = split_packets(payload, intake.settings.gateway.max_frame_bytes)
    frames = [piece.data for piece in pieces if isinstance(piece, Frame)]
    assert result.packets == len(frames)
    rules = intake.rules()
    expected = IntakeResult()
    runs = 0
    for i, piece in enumerate(pieces):
        if isinstance(piece, Frame):
            one = intake.frame(piece.data, topic, mn, rules)
            assert one.lines or one.letters
            assert all(letter.payload == piece.data for letter in one.letters)
            expected.extend(one)
        elif i == 0 or not isinstance(pieces[i - 1], Garbage):
            runs += 1
    assert result.lines == expected.lines
    assert len(result.replies) == len(expected.replies)
    letters = len(expected.letters) + runs + (not payload)
    if letters <= MAX_LETTERS_PER_PAYLOAD:
        assert len(result.letters) == letters
        kept = sum(len(letter.payload) for letter in result.letters)
        rejected = sum(len(letter.payload) for letter in expected.letters)
        garbage = sum(len(piece.data) for piece in pieces if isinstance(piece, Garbage))
        assert kept == rejected + garbage
    else:
        assert result.letters[-1].payload is payload
        assert "not listed one by one" in result.letters[-1].reason
    return result


# -- the properties -------------------------------------------------------------------------------
# Regression examples: packets whose points InfluxDB refused (and the whole batch with them)
# or whose value became inf, accepted before the fixes in hj212_records.py.
TIME_FIELD = CODEC.encode(make_packet(st="31", cn="2061", mn="AA01", pw="123456", flag=4, cp=[
    {"DataTime": "20260315140000"}, {"time-Avg": "1.5", "a21026-Avg": "18.5"}]))
YEAR_ONE = CODEC.encode(make_packet(st="31", cn="2061", mn="AA01", pw="123456", flag=4, cp=[
    {"DataTime": "00010101000000"}, {"a21026-Avg": "18.5"}]))
OVERFLOW = CODEC.encode(make_packet(st="22", cn="2051", mn="CC03", flag=4, cp=[
    {"DataTime": "20260315150000"}, {"a34004-Avg": "1e306", "a21026-Avg": "0.01"}]))


@settings(FUZZ, max_examples=EXAMPLES)
@given(payload=PAYLOADS, mn=MN_TOPICS, intake=st.sampled_from(sorted(INTAKES)))
@example(payload=TIME_FIELD, mn="AA01", intake="open")
@example(payload=YEAR_ONE, mn="AA01", intake="open")
@example(payload=OVERFLOW, mn="CC03", intake="no ranges")
@example(payload=b"##x" * 50_000, mn="AA01", intake="open")  # was 50 000 dead letters
def fuzz_intake(payload: bytes, mn: str, intake: str) -> None:
    check(INTAKES[intake], payload, mn)


def test_any_payload_gives_points_or_dead_letters_with_reasons() -> None:
    before = Tally(**vars(TALLY))
    fuzz_intake()
    counts = {name: getattr(TALLY, name) - getattr(before, name) for name in vars(TALLY)}
    print(f"\nHJ 212 intake fuzz: {counts['payloads']} payloads, {counts['packets']} framed "
          f"packets, {counts['lines']} points, {counts['letters']} dead letters")
    assert counts["payloads"] >= EXAMPLES
    assert counts["lines"] > 0 and counts["letters"] > 0


def test_regressions_say_why() -> None:
    intake = INTAKES["open"]
    topic = "lantian/v1/outlet/AA01/hj212"
    time_field = intake.payload(TIME_FIELD, topic, expected_mn="AA01")
    [line] = time_field.lines
    assert " so2=18.5," in line and "time=" not in line.split(" ")[1]
    assert "'time' is reserved" in time_field.letters[0].reason
    [year_one] = intake.payload(YEAR_ONE, topic, expected_mn="AA01").letters
    assert "out of range" in year_one.reason and b"DataTime=00010101000000" in year_one.payload
    overflow = INTAKES["no ranges"].payload(OVERFLOW, "lantian/v1/outlet/CC03/hj212",
                                            expected_mn="CC03")
    assert "pm25=1e+306 overflows" in overflow.letters[0].reason
    assert not any("pm25=" in line for line in overflow.lines if "station_reading" in line)
    noise = intake.payload(b"##x" * 50_000, topic, expected_mn="AA01")
    [letter] = noise.letters
    assert letter.payload == b"##x" * 50_000 and "(50000 pieces in a row)" in letter.reason


def test_a_megabyte_of_bad_frames_gives_a_bounded_number_of_dead_letters() -> None:
    good = CODEC.encode(make_packet(st="31", cn="2061", mn="AA01", pw="123456", flag=4, cp=[
        {"DataTime": "20260315140000"}, {"a21026-Avg": "18.5"}]))
    payload = b"##0000\r\n" * (MEGABYTE // 8) + good
    result = INTAKES["open"].payload(payload, "lantian/v1/outlet/AA01/hj212", expected_mn="AA01")
    assert len(result.lines) == 1 and result.packets == MEGABYTE // 8 + 1
    assert len(result.letters) == MAX_LETTERS_PER_PAYLOAD + 1
    assert result.letters[0].payload == b"##0000\r\n"
    assert result.letters[-1].payload is payload
    assert result.letters[-1].reason.startswith(
        f"HJ 212: {MEGABYTE // 8 - MAX_LETTERS_PER_PAYLOAD} more rejected pieces")


# -- through the collector's message handler (topic routing included) ----------------------------


COLLECTOR, BUFFER = recording_collector(clock=lambda: NOW, hj212=INTAKES["open"])
HANDLER_EXAMPLES = 300
OUTLET_TOPICS = st.one_of(
    MN_TOPICS.map("lantian/v1/outlet/{}/hj212".format),
    st.sampled_from(["lantian/v1/outlet//hj212", "lantian/v1/outlet/AA01/hj212/x",
                     "lantian/v1/outlet/a/b/hj212", "lantian/v1/outlet/站/hj212"]),
    st.text(max_size=60))


@settings(FUZZ, max_examples=HANDLER_EXAMPLES)
@given(topic=OUTLET_TOPICS, payload=PAYLOADS)
def test_the_message_handler_queues_points_or_dead_letters_for_every_message(
        topic: str, payload: bytes) -> None:
    lines, _ = handled(COLLECTOR, BUFFER, topic, payload)
    for line in lines:
        assert_writable_line(line)


# -- memory ---------------------------------------------------------------------------------------
SIZE = 4 * MEGABYTE
GOOD = CODEC.encode(make_packet(st="31", cn="2061", mn="AA01", pw="123456", flag=5, cp=[
    {"DataTime": "20260315140000"}, {"a21026-Avg": "18.5", "a21026-Flag": "N"}]))


def repeat(piece: bytes, size: int) -> bytes:
    return piece * (size // len(piece))


# Payloads the framer cuts into many pieces are measured at 128 KiB: tracemalloc makes its byte
# loop 10-40 times slower (4 MiB of '#' takes 28 s traced, 0.7 s not), and the peak is linear.
SMALL = MEGABYTE // 8
SHAPES: dict[str, Callable[[], bytes]] = {
    "4 MiB of random bytes": lambda: random.Random(7).randbytes(SIZE),
    "4 MiB of CR LF": lambda: b"\r\n" * (SIZE // 2),
    "4 MiB header without CR LF": lambda: b"##1024" + b"9" * (SIZE - 6),
    "4 MiB of 1000-byte bad packets": lambda: repeat(b"##1000" + b"9" * 1000 + b"ABCD\r\n", SIZE),
    "128 KiB of '#'": lambda: b"#" * SMALL,
    "128 KiB of '##x' (44 000 pieces)": lambda: repeat(b"##x", SMALL),
    "128 KiB of 8-byte bad frames": lambda: repeat(b"##0000\r\n", SMALL),
    "128 KiB of valid packets": lambda: repeat(GOOD, SMALL),
    "128 KiB of packets and noise": lambda: repeat(GOOD + b"\x00noise\r\n" + GOOD[:40], SMALL),
}
# Measured worst: 2.2 x (valid packets: their points and replies), plus what one 16 KiB chunk
# of the framer's output holds (~0.6 MiB when it is cut into 3-byte pieces).
MAX_PEAK_RATIO = 3.0
CHUNK_ALLOWANCE = MEGABYTE


def test_memory_of_a_4_mib_payload_is_a_bounded_multiple_of_its_size() -> None:
    print("\npeak memory (tracemalloc) of Hj212Intake.payload on one payload:")
    intake = INTAKES["open"]
    for name, build in SHAPES.items():
        payload = build()
        box: list[IntakeResult] = []
        peak, seconds = peak_bytes(lambda: box.append(intake.payload(  # noqa: B023
            payload, "lantian/v1/outlet/AA01/hj212", expected_mn="AA01")))  # noqa: B023
        [result] = box
        ratio = peak / len(payload)
        print(f"  {name:34s} {len(payload) / MEGABYTE:4.1f} MiB: peak {peak / MEGABYTE:5.1f} MiB "
              f"= {ratio:4.1f} x, {len(result.lines)} points, {len(result.letters)} dead "
              f"letters, {seconds:.2f} s")
        assert peak <= MAX_PEAK_RATIO * len(payload) + CHUNK_ALLOWANCE
        assert len(result.letters) <= MAX_LETTERS_PER_PAYLOAD + 1
