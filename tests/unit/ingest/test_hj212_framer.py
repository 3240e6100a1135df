"""Cutting HJ 212 packets out of a TCP byte stream: split, merged, garbage, truncation."""

from __future__ import annotations

import pytest
from support.hj212_vectors import V0, V3, V4

from ingest.hj212_codec import Hj212Codec
from ingest.hj212_framer import DEFAULT_MAX_FRAME, Frame, Garbage, Hj212Framer, split_packets

OUTSIDE = "bytes outside any packet (no '##' header)"
BEFORE = "bytes before a '##' header"


def feed_all(chunks: list[bytes], max_frame: int = DEFAULT_MAX_FRAME) -> list[Frame | Garbage]:
    framer = Hj212Framer(max_frame)
    out: list[Frame | Garbage] = []
    for chunk in chunks:
        out += framer.feed(chunk)
    out += framer.close()
    assert framer.buffered == 0
    return out


def frames(items: list[Frame | Garbage]) -> list[bytes]:
    return [item.data for item in items if isinstance(item, Frame)]


def garbage(items: list[Frame | Garbage]) -> list[Garbage]:
    return [item for item in items if isinstance(item, Garbage)]


def joined(items: list[Frame | Garbage]) -> bytes:
    return b"".join(item.data for item in items)


def test_merged_packets_in_one_chunk() -> None:
    framer = Hj212Framer()
    out = framer.feed(V0 + V3 + V4 + V0)
    assert out == [Frame(V0), Frame(V3), Frame(V4), Frame(V0)]
    assert framer.buffered == 0
    assert framer.close() == []
    codec = Hj212Codec()
    assert [codec.decode(item.data).cn for item in out] == ["1062", "9014", "2051", "1062"]


def test_split_packets_function() -> None:
    assert split_packets(V3 + V4) == [Frame(V3), Frame(V4)]
    assert split_packets(b"") == []


@pytest.mark.parametrize("packet", [V0, V3])
def test_one_packet_split_at_every_boundary(packet: bytes) -> None:
    for cut in range(len(packet) + 1):
        framer = Hj212Framer()
        first = framer.feed(packet[:cut])
        assert first == ([Frame(packet)] if cut == len(packet) else []), cut
        second = framer.feed(packet[cut:])
        assert first + second == [Frame(packet)], cut
        assert framer.close() == []


@pytest.mark.parametrize("packet", [V0, V4])
def test_one_packet_fed_byte_by_byte(packet: bytes) -> None:
    framer = Hj212Framer()
    out: list[Frame | Garbage] = []
    for index in range(len(packet)):
        out += framer.feed(packet[index:index + 1])
        assert out == ([Frame(packet)] if index == len(packet) - 1 else []), index
        assert framer.buffered == (index + 1) % len(packet)
    assert framer.close() == []


def test_three_packets_split_at_every_boundary_of_the_middle_one() -> None:
    stream = V3 + V0 + V3
    for cut in range(len(V3), len(V3) + len(V0) + 1):
        assert feed_all([stream[:cut], stream[cut:]]) == [Frame(V3), Frame(V0), Frame(V3)], cut


def test_garbage_before_between_and_after() -> None:
    stream = b"BOOT v1.2\r\n" + V3 + b"\x00\xffnoise" + V0 + b"tail"
    out = split_packets(stream)
    assert out == [Garbage(b"BOOT v1.2\r\n", BEFORE), Frame(V3),
                   Garbage(b"\x00\xffnoise", BEFORE), Frame(V0), Garbage(b"tail", OUTSIDE)]
    assert joined(out) == stream


def test_garbage_without_any_header_is_returned_at_once() -> None:
    framer = Hj212Framer()
    assert framer.feed(b"hello\r\n") == [Garbage(b"hello\r\n", OUTSIDE)]
    assert framer.buffered == 0


def test_stray_hash_before_a_header_does_not_hide_the_packet() -> None:
    for prefix in [b"#", b"x#", b"###", b"abc#", b"#x#"]:
        stream = prefix + V3
        out = split_packets(stream)
        assert frames(out) == [V3], prefix
        assert joined(out) == stream
    # the same when the '#' run is split across reads
    for cut in range(1, 5):
        stream = b"ab#" + V3
        assert frames(feed_all([stream[:cut], stream[cut:]])) == [V3], cut


def test_truncated_packet_then_a_full_one() -> None:
    stream = V0[:40] + V3
    out = split_packets(stream)
    assert len(out) == 2
    assert isinstance(out[0], Garbage)
    assert out[0].data == V0[:40]
    assert out[0].reason.startswith("truncated")
    assert "new '##' header" in out[0].reason
    assert out[1] == Frame(V3)


def test_truncated_packet_then_a_full_one_fed_byte_by_byte() -> None:
    stream = V4[:-3] + V3
    out = feed_all([stream[i:i + 1] for i in range(len(stream))])
    assert [type(item) for item in out] == [Garbage, Frame]
    assert out[0].data == V4[:-3] and out[0].reason.startswith("truncated")
    assert out[1] == Frame(V3)


def test_run_without_cr_lf_longer_than_max_frame_is_discarded() -> None:
    framer = Hj212Framer(max_frame=64)
    run = b"##" + b"7" * 100
    out = framer.feed(run)
    assert out == [Garbage(run[:64], "no CR LF within 64 bytes of a '##' header"),
                   Garbage(run[64:], OUTSIDE)]
    assert framer.buffered == 0
    # V0 (113 bytes) is longer than this framer allows, fed whole or in pieces
    assert framer.feed(V0[:50]) == []
    out = framer.feed(V0[50:])
    assert frames(out) == []
    assert out[0] == Garbage(V0[:64], "no CR LF within 64 bytes of a '##' header")
    assert joined(out) == V0
    assert framer.close() == []


def test_max_frame_is_the_largest_frame_whatever_the_reads() -> None:
    size = len(V0)
    for max_frame, found in [(size, True), (size - 1, False)]:
        for chunks in ([V0], [V0[:60], V0[60:]], [V0[i:i + 1] for i in range(size)]):
            out = feed_all(chunks, max_frame)
            assert (frames(out) == [V0]) is found, (max_frame, len(chunks))
            assert joined(out) == V0
            if not found:
                assert garbage(out)[0] == Garbage(V0[:max_frame],
                                                  f"no CR LF within {max_frame} bytes of a "
                                                  "'##' header")


@pytest.mark.parametrize("cut", [None, 100, 127, 128, 129, 130])
def test_long_run_keeps_a_last_hash_that_may_start_the_next_header(cut: int | None) -> None:
    run = b"##" + b"7" * 125 + b"#"  # 128 bytes: the limit, ending in '#'
    stream = run + V3[1:]
    chunks = [stream] if cut is None else [stream[:cut], stream[cut:]]
    out = feed_all(chunks, max_frame=128)
    assert out == [Garbage(run[:-1], "no CR LF within 128 bytes of a '##' header"), Frame(V3)]


@pytest.mark.parametrize("cut", [None, 127, 128, 129])
def test_header_right_after_a_long_run(cut: int | None) -> None:
    run = b"##" + b"7" * 125 + b"#"
    stream = run + V3  # "###0087…" across the limit
    chunks = [stream] if cut is None else [stream[:cut], stream[cut:]]
    out = feed_all(chunks, max_frame=128)
    assert frames(out) == [V3]
    assert joined(out) == stream


def test_max_frame_below_the_shortest_packet_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 12"):
        Hj212Framer(max_frame=11)


def test_close_returns_leftovers() -> None:
    framer = Hj212Framer()
    assert framer.feed(V3 + V0[:30]) == [Frame(V3)]
    assert framer.buffered == 30
    assert framer.close() == [Garbage(V0[:30],
                                      "truncated packet: stream ended before its CR LF")]
    assert framer.buffered == 0
    assert framer.close() == []
    # the framer can be used again after close
    assert framer.feed(V3) == [Frame(V3)]


def test_trailing_single_hash_is_kept_for_the_next_feed() -> None:
    framer = Hj212Framer()
    assert framer.feed(b"noise#") == [Garbage(b"noise", OUTSIDE)]
    assert framer.buffered == 1
    assert framer.feed(V3[1:]) == [Frame(V3)]
    assert framer.buffered == 0
    # a lone '#' at the end of the stream is garbage
    assert framer.feed(b"#") == []
    assert framer.close() == [Garbage(b"#", OUTSIDE)]


def test_header_split_after_first_hash_between_packets() -> None:
    stream = V3 + V0
    cut = len(V3) + 1
    assert feed_all([stream[:cut], stream[cut:]]) == [Frame(V3), Frame(V0)]


def test_cr_lf_split_between_reads() -> None:
    framer = Hj212Framer()
    assert framer.feed(V3[:-1]) == []
    assert framer.feed(b"\n") == [Frame(V3)]


def test_bare_cr_or_lf_does_not_end_a_frame() -> None:
    packet = V3[:-2] + b"\n\r" + V0
    out = split_packets(packet)
    assert out[0] == Garbage(V3[:-2] + b"\n\r",
                             "truncated packet: a new '##' header began before its CR LF")
    assert out[1:] == [Frame(V0)]
