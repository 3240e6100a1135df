"""HJ 212 packets: parse and build `##LLLL<data segment>CCCC\\r\\n` (shared/domain.md §4).

The edition is a property of the codec (`Hj212Edition`): HJ 212-2017 is built completely;
HJ 212-2025 units can be added as another edition without touching callers. Every packet's
length and CRC are checked; every violation raises `Hj212Error` whose message says exactly
what is wrong, so the raw packet can be kept as a dead letter with that reason.

Hand-written: there is no maintained Python HJ 212 library on PyPI, and the format is small.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

Pairs = tuple[tuple[str, str], ...]

HEADER = b"##"
TAIL = b"\r\n"
FLAG_ACK = 0b01  # A: the sender wants a data reply (CN 9014)
FLAG_SPLIT = 0b10  # D: PNUM/PNO present

_CRC_TABLE: tuple[int, ...]


def _build_crc_table() -> tuple[int, ...]:
    # After "register ← (register >> 8) XOR byte" the register is < 256, so the 8 shift/XOR
    # steps depend on that one byte only: a 256-entry table gives one lookup per byte.
    table = []
    for value in range(256):
        register = value
        for _ in range(8):
            lowest = register & 1
            register >>= 1
            if lowest:
                register ^= 0xA001
        table.append(register)
    return tuple(table)


_CRC_TABLE = _build_crc_table()


def hj212_crc(data: bytes) -> int:
    """The HJ 212-2017 "ANSI CRC16" of a data segment (Appendix A; not CRC-16/MODBUS)."""
    register = 0xFFFF
    table = _CRC_TABLE
    for byte in data:
        register = table[(register >> 8) ^ byte]
    return register


class Hj212Error(ValueError):
    """A packet that breaks HJ 212; the message is the dead-letter reason."""


@dataclass(frozen=True, slots=True)
class Hj212Edition:
    """What differs between editions of the standard, as data.

    `versions` are the Flag V5–V0 values the edition accepts (HJ 212-2017 devices send 1;
    many installed units still send 0, the HJ/T 212-2005 value, with 2017 content);
    `emit_version` is what built packets carry.
    """

    name: str
    versions: frozenset[int]
    emit_version: int
    max_data_length: int = 1024
    reply_st: str = "91"
    header_order: tuple[str, ...] = ("QN", "ST", "CN", "PW", "MN", "Flag", "PNUM", "PNO")
    required: tuple[str, ...] = ("ST", "CN", "MN")


HJ212_2017 = Hj212Edition(name="HJ 212-2017", versions=frozenset({0, 1}), emit_version=1)

_PATTERNS = {
    "QN": re.compile(r"\d{17}"),
    "ST": re.compile(r"[0-9A-Z]{2}"),
    "CN": re.compile(r"\d{4}"),
    "PW": re.compile(r"[!-~]{1,32}"),
    "MN": re.compile(r"[0-9A-Za-z]{1,24}"),
    "Flag": re.compile(r"\d{1,3}"),
    "PNUM": re.compile(r"\d{1,4}"),
    "PNO": re.compile(r"\d{1,4}"),
}
_FIELD_HELP = {
    "QN": "17 digits YYYYMMDDhhmmsszzz",
    "ST": "2 characters 0-9/A-Z",
    "CN": "4 digits",
    "PW": "1-32 printable ASCII characters",
    "MN": "1-24 letters or digits",
    "Flag": "an integer 0-255",
    "PNUM": "an integer",
    "PNO": "an integer",
}
_CP_KEY = re.compile(r"[A-Za-z0-9_\-]{1,64}")


@dataclass(frozen=True, slots=True)
class Hj212Packet:
    """One packet's data segment, kept in the order it came so a packet rebuilds exactly.

    `header` holds the fields before CP (QN, ST, CN, PW, MN, Flag, PNUM, PNO, as present);
    `cp` holds the data area as items (separated by ';') of key=value pairs (separated by ',').
    """

    header: Pairs
    cp: tuple[Pairs, ...] = field(default=())

    def get(self, name: str) -> str | None:
        for key, value in self.header:
            if key == name:
                return value
        return None

    @property
    def qn(self) -> str | None:
        return self.get("QN")

    @property
    def st(self) -> str:
        return self.get("ST") or ""

    @property
    def cn(self) -> str:
        return self.get("CN") or ""

    @property
    def pw(self) -> str | None:
        return self.get("PW")

    @property
    def mn(self) -> str:
        return self.get("MN") or ""

    @property
    def flag(self) -> int:
        text = self.get("Flag")
        return int(text) if text is not None else 0

    @property
    def wants_reply(self) -> bool:
        return bool(self.flag & FLAG_ACK)

    @property
    def version(self) -> int:
        """Flag bits V5–V0: 0 = HJ/T 212-2005, 1 = HJ 212-2017."""
        return self.flag >> 2

    @property
    def pnum(self) -> int | None:
        text = self.get("PNUM")
        return int(text) if text is not None else None

    @property
    def pno(self) -> int | None:
        text = self.get("PNO")
        return int(text) if text is not None else None

    def cp_pairs(self) -> Iterator[tuple[str, str]]:
        """Every key=value of the data area, in order."""
        for item in self.cp:
            yield from item

    def cp_dict(self) -> dict[str, str]:
        """The data area as one mapping (a repeated key keeps its last value)."""
        return dict(self.cp_pairs())

    def data_segment(self) -> str:
        header = ";".join(f"{k}={v}" for k, v in self.header)
        area = ";".join(",".join(f"{k}={v}" for k, v in item) for item in self.cp)
        return f"{header};CP=&&{area}&&" if header else f"CP=&&{area}&&"


def make_packet(*, st: str, cn: str, mn: str, qn: str | None = None, pw: str | None = None,
                flag: int | None = None, pnum: int | None = None, pno: int | None = None,
                cp: Iterable[Mapping[str, object] | Sequence[tuple[str, object]]] = ()
                ) -> Hj212Packet:
    """A packet with its header in the standard's order; `cp` items are mappings or pair lists.

    Numbers in `cp` are written with `str()` — pass strings to control the digits sent.
    """
    values = {"QN": qn, "ST": st, "CN": cn, "PW": pw, "MN": mn,
              "Flag": None if flag is None else str(flag),
              "PNUM": None if pnum is None else str(pnum), "PNO": None if pno is None else str(pno)}
    header = tuple((k, v) for k, v in values.items() if v is not None)
    items = []
    for item in cp:
        pairs = item.items() if isinstance(item, Mapping) else item
        items.append(tuple((str(k), str(v)) for k, v in pairs))
    return Hj212Packet(header, tuple(items))


class Hj212Codec:
    """Decode and encode whole packets of one edition (default HJ 212-2017)."""

    def __init__(self, edition: Hj212Edition = HJ212_2017) -> None:
        self.edition = edition

    # -- decoding -----------------------------------------------------------------------------
    def decode(self, frame: bytes) -> Hj212Packet:
        """Parse one complete packet (with its CR LF tail); Hj212Error says what is wrong."""
        if not frame.startswith(HEADER):
            raise Hj212Error(f"packet does not start with '##' (starts with {frame[:8]!r})")
        length_text = frame[2:6]
        if len(length_text) < 4 or not length_text.isdigit():
            raise Hj212Error(f"length field {length_text!r} is not 4 decimal digits")
        if not frame.endswith(TAIL):
            raise Hj212Error("packet does not end with CR LF (truncated?)")
        declared = int(length_text)
        data = frame[6:-6]
        if len(frame) < 12:
            raise Hj212Error(f"packet of {len(frame)} bytes is too short to hold length and CRC")
        if len(data) != declared:
            raise Hj212Error(f"length field says {declared} but the data segment has "
                             f"{len(data)} bytes")
        if declared > self.edition.max_data_length:
            raise Hj212Error(f"data segment of {declared} bytes exceeds the "
                             f"{self.edition.max_data_length} allowed by {self.edition.name}")
        crc_text = frame[-6:-2]
        try:
            sent_crc = int(crc_text.decode("ascii"), 16) if len(crc_text) == 4 else -1
        except (UnicodeDecodeError, ValueError):
            sent_crc = -1
        if sent_crc < 0 or not all(c in b"0123456789abcdefABCDEF" for c in crc_text):
            raise Hj212Error(f"CRC field {crc_text!r} is not 4 hex digits")
        computed = hj212_crc(data)
        if computed != sent_crc:
            raise Hj212Error(f"CRC mismatch: packet says {crc_text.decode('ascii').upper()}, "
                             f"data segment gives {computed:04X}")
        return self.parse_data_segment(data)

    def parse_data_segment(self, data: bytes) -> Hj212Packet:
        """Parse and check the fields of a data segment (already framed and CRC-checked)."""
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise Hj212Error(f"byte 0x{data[exc.start]:02X} at offset {exc.start} of the data "
                             "segment is neither ASCII nor UTF-8") from None
        marker = text.find("CP=&&")
        if marker < 0:
            raise Hj212Error("data segment has no 'CP=&&' data area")
        if not text.endswith("&&") or len(text) < marker + 7:
            raise Hj212Error("data area does not end with '&&'")
        head_text = text[:marker]
        if not head_text.isascii():
            raise Hj212Error("non-ASCII character in the header fields before CP")
        if head_text and not head_text.endswith(";"):
            raise Hj212Error("header fields must be followed by ';' before CP")
        header = self._parse_header(head_text[:-1]) if head_text else ()
        cp = self._parse_cp(text[marker + 5:-2])
        packet = Hj212Packet(header, cp)
        self._check_header(packet)
        return packet

    def _parse_header(self, text: str) -> Pairs:
        pairs = []
        seen: set[str] = set()
        for part in text.split(";"):
            key, sep, value = part.partition("=")
            if not sep:
                raise Hj212Error(f"header field {part[:40]!r} has no '='")
            if key not in _PATTERNS:
                raise Hj212Error(f"unknown header field {key[:20]!r} (expected one of "
                                 f"{', '.join(self.edition.header_order)})")
            if key in seen:
                raise Hj212Error(f"header field {key} appears twice")
            if not _PATTERNS[key].fullmatch(value):
                raise Hj212Error(f"{key}={value[:40]!r} is not {_FIELD_HELP[key]}")
            seen.add(key)
            pairs.append((key, value))
        return tuple(pairs)

    def _parse_cp(self, text: str) -> tuple[Pairs, ...]:
        if not text:
            return ()
        items = []
        for item_text in text.split(";"):
            pairs = []
            for pair in item_text.split(","):
                key, sep, value = pair.partition("=")
                if not sep:
                    raise Hj212Error(f"CP entry {pair[:40]!r} has no '='")
                if not _CP_KEY.fullmatch(key):
                    raise Hj212Error(f"CP field name {key[:40]!r} is not 1-64 letters, digits, "
                                     "'_' or '-'")
                if "&" in value:
                    raise Hj212Error(f"CP value of {key} contains '&'")
                pairs.append((key, value))
            items.append(tuple(pairs))
        return tuple(items)

    def _check_header(self, packet: Hj212Packet) -> None:
        for name in self.edition.required:
            if packet.get(name) is None:
                raise Hj212Error(f"missing {name} field")
        flag = packet.flag
        if flag > 255:
            raise Hj212Error(f"Flag={flag} is not in 0-255")
        if packet.version not in self.edition.versions:
            raise Hj212Error(f"Flag={flag} says protocol version {packet.version}; "
                             f"{self.edition.name} accepts {sorted(self.edition.versions)}")
        split = bool(flag & FLAG_SPLIT)
        pnum, pno = packet.pnum, packet.pno
        if split and (pnum is None or pno is None):
            raise Hj212Error(f"Flag={flag} marks a split packet but PNUM/PNO are missing")
        if not split and (pnum is not None or pno is not None):
            raise Hj212Error(f"PNUM/PNO present but Flag={flag} does not mark a split packet")
        if pnum is not None and pno is not None and not 1 <= pno <= pnum:
            raise Hj212Error(f"PNO={pno} is not within 1..PNUM={pnum}")

    # -- encoding -----------------------------------------------------------------------------
    def encode(self, packet: Hj212Packet) -> bytes:
        """The full packet: header, length, data segment, upper-case CRC, CR LF.

        The data segment is parsed back before it is sent: a packet that `decode` would reject,
        or read differently (a ';', ',' or '&' inside a value, an empty CP item), raises
        Hj212Error instead of going out silently changed.
        """
        data = packet.data_segment().encode("utf-8")
        if len(data) > self.edition.max_data_length:
            raise Hj212Error(f"data segment of {len(data)} bytes exceeds the "
                             f"{self.edition.max_data_length} allowed by {self.edition.name}")
        if self.parse_data_segment(data) != packet:
            raise Hj212Error("packet does not survive encoding: it would be read back "
                             "differently (a ';', ',' or '&' inside a value, or an empty CP item)")
        return b"##%04d%s%04X\r\n" % (len(data), data, hj212_crc(data))

    def reply_to(self, packet: Hj212Packet, cn: str = "9014") -> Hj212Packet:
        """The platform's reply (default CN 9014, data reply) echoing QN, PW and MN."""
        return make_packet(qn=packet.qn, st=self.edition.reply_st, cn=cn, pw=packet.pw,
                           mn=packet.mn, flag=self.edition.emit_version << 2)
