"""HJ 212-2017 packet codec against the verified vectors of shared/domain.md §10.6."""

from __future__ import annotations

import pytest
from support.hj212_vectors import V0, V1, V2, V3, V4

from ingest.hj212_codec import (
    HJ212_2017,
    Hj212Codec,
    Hj212Edition,
    Hj212Error,
    Hj212Packet,
    hj212_crc,
    make_packet,
)

VECTORS = {"V0": (V0, 101, 0x1C80), "V1": (V1, 279, 0xF6C1), "V2": (V2, 630, 0xE8C1),
           "V3": (V3, 87, 0x42C0), "V4": (V4, 258, 0x0D80)}

codec = Hj212Codec()


def frame(segment: bytes, crc: int | None = None, length: int | None = None) -> bytes:
    """A packet around `segment`, with its real length and CRC unless told otherwise."""
    crc = hj212_crc(segment) if crc is None else crc
    length = len(segment) if length is None else length
    return b"##%04d%s%04X\r\n" % (length, segment, crc)


def segment(raw: bytes) -> bytes:
    return raw[6:-6]


def reason(raw: bytes, using: Hj212Codec = codec) -> str:
    """The Hj212Error message of decoding `raw` (fails the test if it decodes)."""
    with pytest.raises(Hj212Error) as info:
        using.decode(raw)
    return str(info.value)


# -- the verified vectors ---------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(VECTORS))
def test_vector_length_and_crc(name: str) -> None:
    raw, length, crc = VECTORS[name]
    assert raw[2:6] == b"%04d" % length
    assert len(segment(raw)) == length
    assert hj212_crc(segment(raw)) == crc
    assert raw[-6:-2] == b"%04X" % crc


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_vector_decodes_and_reencodes_byte_identically(name: str) -> None:
    raw = VECTORS[name][0]
    packet = codec.decode(raw)
    assert packet.data_segment().encode() == segment(raw)
    assert codec.encode(packet) == raw
    assert codec.decode(codec.encode(packet)) == packet


def test_crc_is_not_modbus() -> None:
    """CRC-16/MODBUS of V0's data segment is 0759; HJ 212 says 1C80."""
    assert hj212_crc(segment(V0)) == 0x1C80
    assert hj212_crc(b"") == 0xFFFF
    msg = reason(V0[:-6] + b"0759\r\n")
    assert "CRC mismatch" in msg
    assert "0759" in msg and "1C80" in msg


def test_lower_case_crc_is_accepted_and_upper_case_is_emitted() -> None:
    lower = V2[:-6] + b"e8c1\r\n"
    packet = codec.decode(lower)
    assert packet == codec.decode(V2)
    assert codec.encode(packet) == V2
    assert codec.decode(V4[:-6] + b"0d80\r\n").cn == "2051"


def test_reply_to_v2_is_v3() -> None:
    reply = codec.reply_to(codec.decode(V2))
    assert codec.encode(reply) == V3
    assert reply == codec.decode(V3)
    assert not reply.wants_reply
    assert reply.cp == ()


def test_reply_without_qn_and_pw_omits_them() -> None:
    packet = make_packet(st="22", cn="2011", mn="ABC123", flag=5, cp=[{"a34004-Rtd": 58}])
    reply = codec.reply_to(packet)
    assert reply.header == (("ST", "91"), ("CN", "9014"), ("MN", "ABC123"), ("Flag", "4"))
    assert codec.reply_to(packet, cn="9013").cn == "9013"


def test_field_accessors_on_v2() -> None:
    packet = codec.decode(V2)
    assert packet.qn == "20260315150000001"
    assert packet.st == "31"
    assert packet.cn == "2061"
    assert packet.pw == "123456"
    assert packet.mn == "020000B7700021E000214AA7"
    assert packet.flag == 5
    assert packet.wants_reply is True
    assert packet.version == 1
    assert packet.pnum is None and packet.pno is None
    assert packet.get("Nope") is None
    cp = packet.cp_dict()
    assert cp["DataTime"] == "20260315140000"
    assert cp["a21026-ZsAvg"] == "23.5"
    assert cp["a01013-Avg"] == "-0.215"
    assert cp["a01014-Flag"] == "N"
    assert len(packet.cp) == 10
    assert packet.cp[1] == (("a00000-Cou", "350000.0"), ("a00000-Min", "93.8"),
                            ("a00000-Avg", "97.2"), ("a00000-Max", "101.5"),
                            ("a00000-Flag", "N"))
    assert len(list(packet.cp_pairs())) == 1 + 5 + 6 + 6 + 6 + 2 * 5


def test_flags_of_other_vectors() -> None:
    v4 = codec.decode(V4)
    assert v4.flag == 4 and not v4.wants_reply and v4.version == 1
    assert codec.decode(V0).cp_dict() == {"RtdInterval": "30"}


def test_make_packet_orders_header_like_the_standard() -> None:
    packet = make_packet(mn="M1", cn="2011", st="22", pw="pw", qn="20260315143000123",
                         flag=7, pnum=2, pno=1, cp=[[("a", 1), ("b", "x")], {"c": 2.5}])
    assert [key for key, _ in packet.header] == ["QN", "ST", "CN", "PW", "MN", "Flag", "PNUM",
                                                 "PNO"]
    assert packet.data_segment() == ("QN=20260315143000123;ST=22;CN=2011;PW=pw;MN=M1;Flag=7;"
                                     "PNUM=2;PNO=1;CP=&&a=1,b=x;c=2.5&&")
    assert codec.decode(codec.encode(packet)) == packet


def test_packet_without_qn_is_accepted() -> None:
    raw = frame(b"ST=22;CN=2011;PW=123456;MN=010000A8900016F000169DC1;Flag=4;"
                b"CP=&&DataTime=20260315143000;a34004-Rtd=58,a34004-Flag=N&&")
    packet = codec.decode(raw)
    assert packet.qn is None
    assert packet.cp_dict()["a34004-Rtd"] == "58"
    assert codec.encode(packet) == raw


def test_packet_without_flag_pw_is_accepted_as_version_0() -> None:
    packet = codec.decode(frame(b"ST=22;CN=2011;MN=X1;CP=&&a=1&&"))
    assert packet.flag == 0 and packet.version == 0 and not packet.wants_reply
    assert packet.pw is None


def test_split_packet_with_pnum_pno_is_accepted() -> None:
    raw = frame(b"QN=20260315143000123;ST=22;CN=2011;PW=123456;MN=X1;Flag=7;PNUM=3;PNO=2;"
                b"CP=&&a34004-Rtd=58&&")
    packet = codec.decode(raw)
    assert (packet.flag, packet.pnum, packet.pno) == (7, 3, 2)
    assert packet.wants_reply
    assert codec.encode(packet) == raw


@pytest.mark.parametrize(("header", "expected"), [
    (b"Flag=7", "PNUM/PNO are missing"),
    (b"Flag=7;PNUM=3", "PNUM/PNO are missing"),
    (b"Flag=7;PNO=1", "PNUM/PNO are missing"),
    (b"Flag=5;PNUM=3;PNO=1", "does not mark a split packet"),
    (b"Flag=7;PNUM=3;PNO=4", "PNO=4 is not within 1..PNUM=3"),
    (b"Flag=7;PNUM=3;PNO=0", "PNO=0 is not within"),
])
def test_split_packet_fields_are_checked(header: bytes, expected: str) -> None:
    raw = frame(b"ST=22;CN=2011;MN=X1;" + header + b";CP=&&a=1&&")
    assert expected in reason(raw)


# -- every class of bad input names its problem ------------------------------------------------
def test_wrong_crc() -> None:
    msg = reason(V1[:-6] + b"F6C2\r\n")
    assert "CRC mismatch" in msg and "F6C2" in msg and "F6C1" in msg


def test_flipped_data_byte_is_caught_by_crc() -> None:
    raw = V1.replace(b"a34004-Rtd=58", b"a34004-Rtd=59")
    assert "CRC mismatch" in reason(raw)


def test_crc_that_is_not_hex() -> None:
    assert "not 4 hex digits" in reason(V0[:-6] + b"1C8G\r\n")
    assert "not 4 hex digits" in reason(V0[:-6] + b"+1C8\r\n")
    assert "not 4 hex digits" in reason(V0[:-6] + b" 1c8\r\n")


@pytest.mark.parametrize("length", [100, 102, 0, 9999])
def test_wrong_length_field(length: int) -> None:
    msg = reason(b"##%04d" % length + V0[6:])
    assert f"length field says {length}" in msg
    assert "101 bytes" in msg


@pytest.mark.parametrize("field", [b"01a1", b"010", b" 101", b"-101", b"\xd9\xa1\xd9\xa0"])
def test_length_field_that_is_not_4_digits(field: bytes) -> None:
    assert "not 4 decimal digits" in reason(b"##" + field + V0[6:])


def test_missing_header() -> None:
    assert "does not start with '##'" in reason(V0[1:])
    assert "does not start with '##'" in reason(b"")


@pytest.mark.parametrize("raw", [V0[:-2], V0[:-1], V0[:-6], V0[:50], V0[:-2] + b"\n\r",
                                 V0[:-2] + b"\n"])
def test_truncated_packet_without_cr_lf(raw: bytes) -> None:
    assert "does not end with CR LF" in reason(raw)


def test_too_short_packet() -> None:
    assert "too short" in reason(b"##0000\r\n")
    assert "too short" in reason(b"##0000FF\r\n")


def test_missing_mn() -> None:
    assert "missing MN field" in reason(frame(b"QN=20260315143000123;ST=22;CN=2011;Flag=4;"
                                              b"CP=&&a=1&&"))


@pytest.mark.parametrize(("field", "expected"), [(b"ST", "missing ST field"),
                                                 (b"CN", "missing CN field")])
def test_missing_st_or_cn(field: bytes, expected: str) -> None:
    header = {b"ST": b"ST=22", b"CN": b"CN=2011"}
    del header[field]
    raw = frame(b";".join([*header.values(), b"MN=X1", b"CP=&&a=1&&"]))
    assert expected in reason(raw)


def test_non_ascii_byte_in_header() -> None:
    raw = frame("QN=20260315143000123;ST=22;CN=2011;MN=站点1;Flag=4;CP=&&a=1&&".encode())
    assert "non-ASCII character in the header" in reason(raw)


def test_non_ascii_utf8_text_in_cp_is_accepted() -> None:
    raw = frame("ST=22;CN=3020;MN=X1;Flag=4;CP=&&i13004-Info=北京东四站&&".encode())
    assert len(segment(raw)) == int(raw[2:6])  # length counts UTF-8 bytes
    packet = codec.decode(raw)
    assert packet.cp_dict() == {"i13004-Info": "北京东四站"}
    assert codec.encode(packet) == raw


def test_invalid_utf8() -> None:
    head = b"ST=22;CN=2011;MN=X1;Flag=4;CP=&&a="
    msg = reason(frame(head + b"\xff\xfe&&"))
    assert "0xFF" in msg and "neither ASCII nor UTF-8" in msg
    assert f"offset {len(head)} " in msg
    # a UTF-8 sequence cut short is invalid too
    cut = "站".encode()[:2]
    assert f"byte 0x{cut[0]:02X} at offset {len(head)} " in reason(frame(head + cut + b"&&"))


@pytest.mark.parametrize(("segment_text", "expected"), [
    (b"ST=22;CN=2011;MN=X1;XX=1;CP=&&a=1&&", "unknown header field 'XX'"),
    (b"ST=22;CN=2011;MN=X1;qn=20260315143000123;CP=&&a=1&&", "unknown header field 'qn'"),
    (b"ST=22;CN=2011;MN=X1;CP=&&a=1,b;c=2&&", "CP entry 'b' has no '='"),
    (b"ST=22;CN=2011;MN=X1;CP=&&a=1;;c=2&&", "CP entry '' has no '='"),
    (b"ST=22;CN=2011;MN=X1;CP=&&a b=1&&", "CP field name 'a b'"),
    (b"ST=22;CN=2011;MN=X1;CP=&&=1&&", "CP field name ''"),
    (b"ST=22;CN=2011;MN=X1;CP=&&a=1&2&&", "CP value of a contains '&'"),
    (b"ST=22;CN=2011;MN=X1;CP=&&a=1&&x", "does not end with '&&'"),
    (b"ST=22;CN=2011;MN=X1;CP=&&&", "does not end with '&&'"),
    (b"ST=22;CN=2011;MN=X1;CP=&a=1&&", "no 'CP=&&' data area"),
    (b"ST=22;CN=2011;MN=X1", "no 'CP=&&' data area"),
    (b"ST=22;CN=2011;MN=X1CP=&&a=1&&", "followed by ';' before CP"),
    (b"ST=22;CN=2011;MN;CP=&&a=1&&", "header field 'MN' has no '='"),
    (b"ST=22;CN=2011;CN=2011;MN=X1;CP=&&a=1&&", "CN appears twice"),
    (b"ST=2;CN=2011;MN=X1;CP=&&a=1&&", "ST='2' is not 2 characters"),
    (b"ST=22;CN=20111;MN=X1;CP=&&a=1&&", "CN='20111' is not 4 digits"),
    (b"QN=2026;ST=22;CN=2011;MN=X1;CP=&&a=1&&", "QN='2026' is not 17 digits"),
    (b"ST=22;CN=2011;MN=;CP=&&a=1&&", "MN='' is not 1-24 letters or digits"),
    (b"ST=22;CN=2011;MN=A-1;CP=&&a=1&&", "MN='A-1' is not"),
    (b"ST=22;CN=2011;MN=X1;Flag=x;CP=&&a=1&&", "Flag='x' is not an integer 0-255"),
    (b"ST=22;CN=2011;MN=X1;Flag=1000;CP=&&a=1&&", "Flag='1000' is not an integer 0-255"),
])
def test_malformed_data_segment(segment_text: bytes, expected: str) -> None:
    assert expected in reason(frame(segment_text))


def test_data_segment_longer_than_1024_bytes() -> None:
    head = b"ST=22;CN=2011;MN=X1;Flag=4;CP=&&a="
    long = head + b"1" * (1025 - len(head) - 2) + b"&&"
    assert len(long) == 1025
    msg = reason(frame(long))
    assert "1025 bytes exceeds the 1024 allowed by HJ 212-2017" in msg
    # 1024 bytes exactly is fine, and encode refuses what decode would refuse
    ok = head + b"1" * (1024 - len(head) - 2) + b"&&"
    packet = codec.decode(frame(ok))
    too_long = make_packet(st="22", cn="2011", mn="X1", flag=4,
                           cp=[{"a": packet.cp_dict()["a"] + "1"}])
    with pytest.raises(Hj212Error, match="1025 bytes exceeds"):
        codec.encode(too_long)


@pytest.mark.parametrize("flag", [256, 260, 999])
def test_flag_above_255(flag: int) -> None:
    raw = frame(b"ST=22;CN=2011;MN=X1;Flag=%d;CP=&&a=1&&" % flag)
    assert f"Flag={flag} is not in 0-255" in reason(raw)


@pytest.mark.parametrize(("flag", "version"), [(8, 2), (9, 2), (252, 63), (128, 32)])
def test_unsupported_version_bits(flag: int, version: int) -> None:
    raw = frame(b"ST=22;CN=2011;MN=X1;Flag=%d;CP=&&a=1&&" % flag)
    msg = reason(raw)
    assert f"protocol version {version}" in msg
    assert "HJ 212-2017 accepts [0, 1]" in msg


@pytest.mark.parametrize("flag", [0, 1, 4, 5])
def test_supported_version_bits(flag: int) -> None:
    packet = codec.decode(frame(b"ST=22;CN=2011;MN=X1;Flag=%d;CP=&&a=1&&" % flag))
    assert packet.version == flag >> 2
    assert packet.wants_reply == bool(flag & 1)


def test_edition_is_configurable() -> None:
    assert HJ212_2017.versions == frozenset({0, 1})
    only_2017 = Hj212Codec(Hj212Edition("strict", frozenset({1}), 1, max_data_length=100))
    raw = frame(b"ST=22;CN=2011;MN=X1;Flag=1;CP=&&a=1&&")
    assert "strict accepts [1]" in reason(raw, only_2017)
    assert codec.decode(raw).version == 0
    assert "exceeds the 100 allowed by strict" in reason(V0, only_2017)


def test_hj212_error_is_a_value_error() -> None:
    assert issubclass(Hj212Error, ValueError)


# -- encode refuses what would not come back the same -------------------------------------------
@pytest.mark.parametrize(("packet", "expected"), [
    (make_packet(st="22", cn="2011", mn="X1", cp=[{"a": "1;b=2"}]), "does not survive encoding"),
    (make_packet(st="22", cn="2011", mn="X1", cp=[{"a": "1,b=2"}]), "does not survive encoding"),
    (make_packet(st="22", cn="2011", mn="X1", cp=[{"a": "1&2"}]), "contains '&'"),
    (make_packet(st="22", cn="2011", mn="X1", cp=[{}]), "does not survive encoding"),
    (make_packet(st="22", cn="2011", mn="X1", cp=[{"a b": 1}]), "CP field name 'a b'"),
    (make_packet(st="22", cn="2011", mn="X1", flag=300), "Flag=300 is not in 0-255"),
    (make_packet(st="22", cn="2011", mn="X1", flag=7), "PNUM/PNO are missing"),
    (make_packet(st="22", cn="2011", mn="X-1"), "MN='X-1' is not"),
    (make_packet(st="22", cn="2011", mn="X1", pw="a;b"), "header field 'b' has no '='"),
    (Hj212Packet((("ST", "22"), ("CN", "2011"))), "missing MN field"),
    (Hj212Packet((("ST", "22"), ("CN", "2011"), ("MN", "X1"), ("Foo", "1"))),
     "unknown header field 'Foo'"),
])
def test_encode_refuses_packets_that_would_not_decode_the_same(packet: Hj212Packet,
                                                               expected: str) -> None:
    with pytest.raises(Hj212Error) as info:
        codec.encode(packet)
    assert expected in str(info.value)
