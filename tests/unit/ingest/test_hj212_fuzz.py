"""Property-based fuzzing of the HJ 212 codec and framer.

Hypothesis draws a seed per example; `random.Random(seed)` then builds a batch of packets, mutants
and streams, so that over 100 000 packets go through the codec (118 800) and through the framer
(102 000) in about 15 seconds. Each test counts what it processed and asserts the total at its end.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.hj212_codec import Hj212Codec, Hj212Error, Hj212Packet, hj212_crc
from ingest.hj212_framer import DEFAULT_MAX_FRAME, Frame, Garbage, Hj212Framer

MIN_PACKETS = 100_000
CODEC = Hj212Codec()
SEEDS = st.integers(min_value=0, max_value=2**64 - 1)
FUZZ = settings(derandomize=True, deadline=None, database=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow])


@dataclass
class Counter:
    decoded: int = 0  # generated or mutated packets given to Hj212Codec.decode
    framed: int = 0  # generated or mutated packets put into a stream for the framer


COUNT = Counter()

# -- packet generation --------------------------------------------------------------------------
POLLUTANTS = ["a34004", "a34002", "a34001", "a34013", "a21026", "a21002", "a21003", "a21004",
              "a21005", "a05024", "a19001", "a00000", "a01011", "a01012", "a01013", "a01014",
              "a24088", "w01018", "e20001", "i13004"]
SUFFIXES = ["Rtd", "Min", "Avg", "Max", "ZsRtd", "ZsMin", "ZsAvg", "ZsMax", "Cou", "Flag",
            "EFlag", "SampleTime", "SN", "Info"]
KEY_CHARS = string.ascii_letters + string.digits + "_-"
ALNUM = string.ascii_letters + string.digits
# Everything a CP value may hold: no ';' ',' '&' (separators) — but '=', '#', CR, LF, tab,
# control characters and UTF-8 text are all legal and must round-trip.
VALUE_CHARS = [c for c in string.printable if c not in ";,&"] + list("站点东四北京µ³°é\x00\x7f")
PW_CHARS = [chr(c) for c in range(0x21, 0x7F) if chr(c) != ";"]  # PW: printable, no ';'


def digits(rng: random.Random, count: int) -> str:
    return "".join(rng.choices(string.digits, k=count))


def gen_value(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.45:
        return f"{rng.uniform(-1000, 100000):.{rng.randint(0, 4)}f}"
    if kind < 0.6:
        return str(rng.randint(-99999, 999999))
    if kind < 0.75:
        return rng.choice("NFMSDCTB")
    if kind < 0.8:
        return ""
    return "".join(rng.choices(VALUE_CHARS, k=rng.randint(1, 24)))


def gen_key(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.7:
        return f"{rng.choice(POLLUTANTS)}-{rng.choice(SUFFIXES)}"
    if kind < 0.8:
        return rng.choice(["DataTime", "RtdInterval", "MinInterval", "SystemTime", "QnRtn",
                           "ExeRtn", "PolId", "SB1-RS", "SB2-RT"])
    return "".join(rng.choices(KEY_CHARS, k=rng.randint(1, 64)))


def gen_packet(rng: random.Random, max_data: int = 1024) -> Hj212Packet:
    """A valid packet with random fields; CP items are dropped until it fits `max_data`."""
    assert max_data >= 150  # the longest header with an empty CP is 134 bytes
    header: list[tuple[str, str]] = []
    if rng.random() < 0.7:
        header.append(("QN", digits(rng, 17)))
    header.append(("ST", "".join(rng.choices(string.digits + string.ascii_uppercase, k=2))))
    header.append(("CN", digits(rng, 4)))
    if rng.random() < 0.7:
        header.append(("PW", "".join(rng.choices(PW_CHARS, k=rng.randint(1, 32)))))
    header.append(("MN", "".join(rng.choices(ALNUM, k=rng.randint(1, 24)))))
    split = rng.random() < 0.2
    if split or rng.random() < 0.8:
        flag = (rng.randint(0, 1) << 2) | (2 if split else 0) | rng.randint(0, 1)
        header.append(("Flag", str(flag)))
    if split:
        pnum = rng.randint(1, 9999)
        header += [("PNUM", str(pnum)), ("PNO", str(rng.randint(1, pnum)))]
    items: list[tuple[tuple[str, str], ...]] = []
    for _ in range(rng.choice([0, 1, 2, 3, 4, 6, 10])):
        items.append(tuple((gen_key(rng), gen_value(rng)) for _ in range(rng.randint(1, 5))))
    packet = Hj212Packet(tuple(header), tuple(items))
    while len(packet.data_segment().encode()) > max_data:
        packet = Hj212Packet(packet.header, packet.cp[:-1])
    return packet


def reframe(segment: bytes) -> bytes:
    """A data segment with a correct length and CRC: only the data-segment checks can catch it."""
    return b"##%04d%s%04X\r\n" % (len(segment), segment, hj212_crc(segment))


# -- mutation -------------------------------------------------------------------------------------
TOKENS = [b";", b",", b"=", b"&", b"&&", b"CP=&&", b"##", b"\r\n", b"\r", b"\n", b"#", b"\xff",
          b"\xe7\xab", "站".encode(), b"\x00", b"Flag=999;", b"Flag=7;", b"Flag=8;", b"PNUM=0;",
          b"MN=;", b"QN=1;", b"ST=22;", b"XX=1;", b" ", b"0", b"9999", b"-", b"_"]


def garbage_bytes(rng: random.Random, size: int) -> bytes:
    kind = rng.random()
    if kind < 0.3:
        return rng.randbytes(size)
    if kind < 0.6:
        return bytes(rng.choices(b"##\r\n0123456789ABCDEFabc;=&,", k=size))
    return b"".join(rng.choices(TOKENS, k=max(1, size // 3)))[:size]


def mutate_bytes(rng: random.Random, raw: bytes, others: list[bytes]) -> bytes:
    """One random damage to the raw bytes (framing, length and CRC are not repaired)."""
    data = bytearray(raw)
    op = rng.randrange(11)
    pos = rng.randrange(len(data) + 1)
    if op == 0 and data:  # flip one bit
        data[min(pos, len(data) - 1)] ^= 1 << rng.randrange(8)
    elif op == 1 and data:  # replace one byte
        data[min(pos, len(data) - 1)] = rng.randrange(256)
    elif op == 2:  # insert random bytes
        data[pos:pos] = garbage_bytes(rng, rng.randint(1, 6))
    elif op == 3:  # delete a slice
        del data[pos:pos + rng.randint(1, 6)]
    elif op == 4:  # truncate
        del data[pos:]
    elif op == 5:  # duplicate a slice
        end = min(len(data), pos + rng.randint(1, 40))
        data[end:end] = data[pos:end]
    elif op == 6:  # garbage before or after
        junk = garbage_bytes(rng, rng.randint(1, 20))
        data = bytearray(junk + data) if rng.random() < 0.5 else data + junk
    elif op == 7:  # merged with another packet (or a piece of it)
        other = rng.choice(others)
        data += other[:rng.randint(0, len(other))]
    elif op == 8 and len(data) >= 6:  # another length field
        data[2:6] = b"%04d" % rng.choice([0, 1, 1024, 1025, 9999, len(data) - 12,
                                          len(data) - 11, len(data) - 13, rng.randrange(10000)])
    elif op == 9 and len(data) >= 6:  # another CRC, or the right one in lower case
        data[-6:-2] = rng.choice([b"%04x" % hj212_crc(bytes(data[6:-6])),
                                  b"%04X" % rng.randrange(65536), b"0759", b"zzzz", b"12\r\n"])
    else:  # a token where it hurts
        data[pos:pos] = rng.choice(TOKENS)
    return bytes(data)


def mutate_segment(rng: random.Random, raw: bytes) -> bytes:
    """Damage the data segment only, then re-frame it with a correct length and CRC."""
    segment = bytearray(raw[6:-6])
    for _ in range(rng.randint(1, 3)):
        pos = rng.randrange(len(segment) + 1)
        op = rng.randrange(6)
        if op == 0 and segment:
            del segment[pos:pos + rng.randint(1, 8)]
        elif op == 1 and segment:
            segment[min(pos, len(segment) - 1)] = rng.randrange(256)
        elif op == 2:
            segment[pos:pos] = rng.choice(TOKENS)
        elif op == 3:  # swap two fields
            parts = bytes(segment).split(b";")
            i, j = rng.randrange(len(parts)), rng.randrange(len(parts))
            parts[i], parts[j] = parts[j], parts[i]
            segment = bytearray(b";".join(parts))
        elif op == 4:  # drop a field
            parts = bytes(segment).split(b";")
            del parts[rng.randrange(len(parts))]
            segment = bytearray(b";".join(parts))
        else:  # grow past the 1024 limit, or nearly
            segment[pos:pos] = b"9" * rng.choice([1, 500, 1024 - len(segment),
                                                   1025 - len(segment)])
    return reframe(bytes(segment[:9999]))


def mutate(rng: random.Random, raw: bytes, others: list[bytes]) -> bytes:
    if rng.random() < 0.4:
        return mutate_segment(rng, raw)
    out = raw
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        out = mutate_bytes(rng, out, others)
    return out


def try_decode(raw: bytes) -> Hj212Packet | None:
    """decode() returns a packet or raises Hj212Error with a reason — nothing else."""
    COUNT.decoded += 1
    try:
        return CODEC.decode(raw)
    except Hj212Error as exc:
        assert str(exc), raw
        return None


def check_decode(raw: bytes) -> Hj212Packet | None:
    """try_decode(), and whatever is accepted re-encodes to the same bytes (CRC upper case)."""
    packet = try_decode(raw)
    if packet is not None:
        assert CODEC.encode(packet) == raw[:-6] + raw[-6:-2].upper() + raw[-2:], raw
    return packet


# -- (a) + (b): the codec --------------------------------------------------------------------------
PACKETS_PER_CODEC_EXAMPLE = 6
MUTANTS_PER_PACKET = 16
CODEC_EXAMPLES = 1100


@settings(FUZZ, max_examples=CODEC_EXAMPLES)
@given(SEEDS)
def fuzz_codec(seed: int) -> None:
    rng = random.Random(seed)
    packets = [gen_packet(rng) for _ in range(PACKETS_PER_CODEC_EXAMPLE)]
    raws = [CODEC.encode(packet) for packet in packets]
    for packet, raw in zip(packets, raws, strict=True):
        assert len(raw) - 12 == int(raw[2:6]) <= 1024
        assert check_decode(raw) == packet  # (a) round trip
        lower = raw[:-6] + raw[-6:-2].lower() + raw[-2:]
        assert check_decode(lower) == packet
        for _ in range(MUTANTS_PER_PACKET):  # (b) only Hj212Error
            check_decode(mutate(rng, raw, raws))


def test_codec_round_trip_and_mutations() -> None:
    before = COUNT.decoded
    fuzz_codec()
    assert COUNT.decoded - before >= MIN_PACKETS


# -- (c): the framer -------------------------------------------------------------------------------
PACKETS_PER_STREAM = 100
FRAMER_EXAMPLES = 1020


@dataclass(frozen=True)
class Part:
    data: bytes
    intact: bool  # a valid packet, undamaged, that the framer must find


def framable(raw: bytes, max_frame: int) -> bool:
    """A valid packet the framer can find: no '##' or CR LF of its own inside, not too long."""
    return b"##" not in raw[2:] and b"\r\n" not in raw[:-2] and len(raw) <= max_frame


def random_chunks(rng: random.Random, stream: bytes) -> list[bytes]:
    # reads of a few bytes are slow to feed: a small share of streams get them
    top = rng.choices([1, 4, 40, 200, 1000, 5000], weights=[1, 2, 10, 30, 30, 27])[0]
    chunks, pos = [], 0
    while pos < len(stream):
        size = rng.randint(0, top)  # empty reads too
        chunks.append(stream[pos:pos + size])
        pos += size
    return chunks


def run_framer(chunks: list[bytes], max_frame: int) -> list[Frame | Garbage]:
    framer = Hj212Framer(max_frame)
    out: list[Frame | Garbage] = []
    for chunk in chunks:
        out += framer.feed(chunk)
        assert framer.buffered < max_frame
    out += framer.close()
    assert framer.buffered == 0
    return out


@settings(FUZZ, max_examples=FRAMER_EXAMPLES)
@given(SEEDS)
def fuzz_framer(seed: int) -> None:
    rng = random.Random(seed)
    max_frame = DEFAULT_MAX_FRAME if rng.random() < 0.7 else rng.randint(12, 1200)
    packets = [gen_packet(rng, max_data=rng.choice([150, 300, 1024])) for _ in range(8)]
    pool = [CODEC.encode(packet) for packet in packets]
    parts: list[Part] = []
    for _ in range(PACKETS_PER_STREAM):
        if rng.random() < 0.25:
            parts.append(Part(garbage_bytes(rng, rng.randint(1, 60)), False))
        raw = rng.choice(pool)
        if rng.random() < 0.55:
            parts.append(Part(raw, framable(raw, max_frame)))
        else:
            parts.append(Part(mutate(rng, raw, pool), False))
        COUNT.framed += 1
    stream = b"".join(part.data for part in parts)

    whole = run_framer([stream], max_frame)
    chunked = run_framer(random_chunks(rng, stream), max_frame)
    for out in (whole, chunked):
        # nothing lost, nothing added, order kept
        assert b"".join(item.data for item in out) == stream
        for item in out:
            if isinstance(item, Frame):
                assert item.data.startswith(b"##") and item.data.endswith(b"\r\n")
                assert b"##" not in item.data[2:-2] and b"\r\n" not in item.data[:-2]
                assert item.data[2:3] != b"#"
                assert len(item.data) <= max_frame
            else:
                assert item.data and item.reason
    # the frames do not depend on how the stream was cut into reads
    frames = [item.data for item in whole if isinstance(item, Frame)]
    assert [item.data for item in chunked if isinstance(item, Frame)] == frames

    # every intact packet is found as a frame of its own, in stream order
    offsets, pos = [], 0
    for item in whole:
        offsets.append(pos)
        pos += len(item.data)
    found = {(offset, item.data) for offset, item in zip(offsets, whole, strict=True)
             if isinstance(item, Frame)}
    pos = 0
    for part in parts:
        if part.intact:
            assert (pos, part.data) in found, (pos, part.data)
        pos += len(part.data)

    # and every other frame goes through the codec (the intact ones are the pool's packets,
    # whose round trip is checked once, here and in the codec test)
    for raw, packet in zip(pool, packets, strict=True):
        assert check_decode(raw) == packet
    for data in set(frames).difference(pool):
        try_decode(data)


def test_framer_loses_nothing_and_finds_every_intact_packet() -> None:
    before = COUNT.framed
    fuzz_framer()
    assert COUNT.framed - before >= MIN_PACKETS
