"""Hostile payloads over the real Mosquitto into a running collector, InfluxDB and ledger.

A fixed, seeded set of about 200 payloads — not JSON, NaN and 10**400 literals, nesting deeper
than orjson reads, a megabyte, invalid UTF-8, wrong types, years 0, 1 and 9999, duplicate keys,
unicode topics; HJ 212 with bad CRCs, wrong MNs, impossible DataTimes, line noise and a field
InfluxDB refuses — each with the number of dead letters it must give. Afterwards the collector
is still connected and still writes, the ledger holds exactly those dead letters, each with a
reason, and InfluxDB refused nothing (a refused point would take its whole batch with it).
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import orjson
import paho.mqtt.client as mqtt
import pytest

from alerts.ledger_db import create_schema, make_engine, make_session_factory
from config.settings import CollectorSettings, InfluxSettings, MqttSettings, Settings
from config.stations import Station
from ingest.dead_letters import DeadLetterStore
from ingest.hj212_codec import Hj212Codec, make_packet
from ingest.influx_store import InfluxStore
from ingest.mqtt_collector import MqttCollector
from lantian.local_services import LocalService, wait_until

STATION_TOPIC = "lantian/v1/station/Dongsi/reading"
OUTLET_TOPIC = "lantian/v1/outlet/AA01/hj212"
T0 = 1_700_000_000  # 2023-11-14T22:13:20Z
TZ = ZoneInfo("Asia/Shanghai")
CODEC = Hj212Codec()
MEGABYTE = 1 << 20


@dataclass(frozen=True)
class Hostile:
    """A payload to publish, and how many dead letters (and HJ 212 points) it must give."""

    topic: str
    payload: bytes
    letters: int = 1
    points: int = 0


def reading(**fields: object) -> bytes:
    return orjson.dumps({"time": T0, "pm25": 12.0, **fields})


def hours_ago(hours: int) -> str:
    return (datetime.now(TZ) - timedelta(hours=hours)).strftime("%Y%m%d%H0000")


def packet(cp: list[dict[str, str]], *, mn: str = "AA01", data_time: str | None = None,
           crc_ok: bool = True) -> bytes:
    raw = CODEC.encode(make_packet(st="31", cn="2061", mn=mn, pw="123456", flag=4,
                                   cp=[{"DataTime": data_time or hours_ago(2)}, *cp]))
    if crc_ok:
        return raw
    wrong = b"0000" if raw[-6:-2] != b"0000" else b"0001"
    return raw[:-6] + wrong + b"\r\n"


def station_payloads(rng: random.Random) -> list[Hostile]:
    """JSON on station topics: each gives exactly `letters` dead letters and no reading."""
    nest = b"[" * 100_000 + b"]" * 100_000
    fixed = [
        b"", b" ", b"null", b"[]", b"{}", b"[[]]", b"\xef\xbb\xbf{}",
        b'{"time": 1700000000, "pm25": NaN}', b'{"time": 1700000000, "pm25": Infinity}',
        b'{"time": 1700000000, "pm25": -Infinity}', b'{"time": 1700000000, "pm25": 1e400}',
        b'{"time": 1700000000, "pm25": 1' + b"0" * 400 + b"}",
        reading(pm25=1e308), reading(pm25=-1e308), reading(pm25=2**64 - 1),
        reading(pm25=-5.0), reading(co=1e308),
        nest, b'{"time": 1700000000, "pm25": ' + b"[" * 1000 + b"]" * 1000 + b"}",
        b"[" + b"[" * 300 + b"]" * 300 + b"]",  # an item deeper than orjson writes back
        b'{"time": 1700000000, "pm25": "\xff\xfe"}', b"\xff\xfe\xfd", b"\xed\xa0\x80",
        b'{"time": 1700000000, "pm25": "\\ud800"}',
        reading(time="9999-12-31T23:59:59+00:00"), reading(time="0001-01-01T00:00:00+00:00"),
        reading(time="0000-01-01T00:00:00Z"), reading(time="1969-12-31T23:59:59Z"),
        reading(time=-1), reading(time=-1e308), reading(time=253_402_300_799),
        reading(time="2016-12-01 08:00"), reading(time="2016-12-01T08:00:00"),
        reading(time="yesterday"), reading(time=""), reading(time=True), reading(time=None),
        reading(time=[T0]), reading(time={"s": T0}),
        reading(pm25="12"), reading(pm25=True), reading(pm25=[1]), reading(pm25={"v": 1}),
        reading(pm25=None), reading(flags="N"), reading(flags={"pm25": "X"}),
        reading(flags={"nox": "N"}), reading(flags={"pm25": 1}), reading(flags=[["pm25", "N"]]),
        b'{"time": 1700000000, "pm25": 5, "pm25": "high"}',  # duplicate key: the last counts
        b'{"time": 1700000000, "time": "soon", "pm25": 5}',
        reading(pm25="x" * MEGABYTE),  # a megabyte
    ]
    out = [Hostile(STATION_TOPIC, payload) for payload in fixed]
    # batches whose every item is bad: one dead letter per item
    bad_items = [{"time": "x", "pm25": 1}, 5, "text", None, [], {"pm25": 1},
                 {"time": T0, "pm25": float("1e308")}, {"time": T0, "so2": "NaN"}]
    for _ in range(12):
        items = rng.choices(bad_items, k=rng.randint(2, 6))
        out.append(Hostile(STATION_TOPIC, orjson.dumps(items), letters=len(items)))
    # 150 bad items: 100 listed one by one, the rest in one more letter with the whole payload
    out.append(Hostile(STATION_TOPIC, orjson.dumps([{"time": "x"}] * 150), letters=101))
    # random bytes and damaged readings
    for _ in range(50):
        raw = bytearray(reading(so2=rng.uniform(0, 100)))
        del raw[rng.randrange(1, len(raw) - 1):]  # cut short: never valid JSON
        out.append(Hostile(STATION_TOPIC, bytes(raw)))
    for _ in range(20):
        out.append(Hostile(STATION_TOPIC, b"\xff" + rng.randbytes(rng.randint(0, 300))))
    # topics that are no station's (unicode, too long, empty id)
    for station in ["东四", "🏭", "a" * 65, "a b", "Dongsi.1", "站点", "%41"]:
        out.append(Hostile(f"lantian/v1/station/{station}/reading", reading()))
    return out


def outlet_payloads(rng: random.Random) -> list[Hostile]:
    """HJ 212 on outlet topics: dead letters, and the points of packets partly accepted."""
    so2 = {"a21026-Avg": "18.5"}
    out = [
        Hostile(OUTLET_TOPIC, b""),
        Hostile(OUTLET_TOPIC, packet([so2], crc_ok=False)),
        Hostile(OUTLET_TOPIC, packet([so2], mn="BB02")),  # not the topic's MN
        Hostile(OUTLET_TOPIC, packet([so2], data_time="99991231235959")),
        Hostile(OUTLET_TOPIC, packet([so2], data_time="00010101000000")),
        Hostile(OUTLET_TOPIC, packet([so2], data_time="00000101000000")),
        Hostile(OUTLET_TOPIC, packet([so2], data_time="19691231235959")),
        Hostile(OUTLET_TOPIC, packet([so2], data_time="20261301000000")),
        Hostile(OUTLET_TOPIC, packet([{"a21026-Avg": "1e309"}])),  # no value left
        Hostile(OUTLET_TOPIC, packet([{"a21026-Avg": "NaN"}])),
        # partly accepted: the good value is stored, the packet kept as a dead letter (each in
        # an hour of its own, so that InfluxDB does not merge their points)
        Hostile(OUTLET_TOPIC, packet([{"time-Avg": "1.5", "a21026-Avg": "18.5"}],
                                     data_time=hours_ago(3)), points=1),
        Hostile(OUTLET_TOPIC, packet([{"a21026-Avg": "1" + "0" * 400, "a19001-Avg": "9"}],
                                     data_time=hours_ago(4)), points=1),
        Hostile(OUTLET_TOPIC, packet([{"a21026-Avg": "-inf", "a19001-Avg": "9"}],
                                     data_time=hours_ago(5)), points=1),
        Hostile(OUTLET_TOPIC, b"##x" * 30_000),  # 30 000 pieces of line noise: one letter
        Hostile(OUTLET_TOPIC, b"\x00boot banner v1.2\r\n" + packet([so2], crc_ok=False),
                letters=2),
        Hostile(OUTLET_TOPIC, b"##0000\r\n" * 500, letters=101),
        Hostile("lantian/v1/outlet/站/hj212", packet([so2])),
        Hostile("lantian/v1/outlet/" + "A" * 200 + "/hj212", packet([so2])),
    ]
    for _ in range(25):  # one byte of the data segment changed: the CRC catches it
        raw = bytearray(packet([so2, {"a19001-Avg": "9.2"}]))
        at = rng.randrange(6, len(raw) - 6)
        raw[at] = rng.choice([c for c in b"0123456789ABCXYZ;=" if c != raw[at]])
        out.append(Hostile(OUTLET_TOPIC, bytes(raw)))
    for _ in range(20):
        out.append(Hostile(OUTLET_TOPIC, bytes(rng.choices(b"0123456789abc;=&,", k=300))))
    return out


def hostile_set() -> list[Hostile]:
    rng = random.Random(20261123)
    payloads = station_payloads(rng) + outlet_payloads(rng)
    rng.shuffle(payloads)
    return payloads


@pytest.fixture
def dead_letters(ledger_url: str) -> Iterator[DeadLetterStore]:
    engine = make_engine(ledger_url)
    create_schema(engine)
    yield DeadLetterStore(make_session_factory(engine))
    engine.dispose()


def test_hostile_payloads_become_dead_letters_and_the_collector_keeps_working(
        mqtt_broker: LocalService, influx_settings: InfluxSettings, influx_store: InfluxStore,
        dead_letters: DeadLetterStore, publisher: mqtt.Client) -> None:
    settings = Settings(
        mqtt=MqttSettings(host=mqtt_broker.host, port=mqtt_broker.port), influx=influx_settings,
        collector=CollectorSettings(client_id=f"collector-{uuid.uuid4().hex[:8]}"))
    stations = {"Dongsi": Station(id="Dongsi", name="东四", city="beijing", lat=39.9, lon=116.4)}
    collector = MqttCollector(settings, InfluxStore(influx_settings), dead_letters, stations)
    hostile = hostile_set()
    expected_letters = sum(h.letters for h in hostile)
    expected_points = sum(h.points for h in hostile)
    collector.start()
    try:
        assert wait_until(lambda: collector.counters.subscribed, 10)
        for item in hostile:
            publisher.publish(item.topic, item.payload, qos=1).wait_for_publish(10)

        def stored() -> int:
            return dead_letters.list(limit=1)[1]

        assert wait_until(lambda: stored() >= expected_letters, 60)
        # still connected, still writing: a valid reading published after them lands
        publisher.publish(STATION_TOPIC, reading(time=T0 + 3600, pm25=7.0),
                          qos=1).wait_for_publish(10)
        assert wait_until(lambda: influx_store.count("station_reading", "pm25") == 1, 30)
        assert wait_until(lambda: collector.counters.messages == len(hostile) + 1, 10)
        assert collector.counters.connected and collector.counters.subscribed

        letters, total = dead_letters.list(limit=10_000)
        by_topic = Counter(letter.topic for letter in letters)
        expected_by_topic: Counter[str] = Counter()
        for item in hostile:
            expected_by_topic[item.topic[:512]] += item.letters
        sizes = Counter(len(item.payload) // MEGABYTE for item in hostile)
        print(f"\n{len(hostile)} hostile payloads ({sizes[1]} of a megabyte, "
              f"{sum(len(h.payload) for h in hostile) / MEGABYTE:.1f} MiB in all) -> {total} "
              f"dead letters (expected {expected_letters}), {expected_points} HJ 212 points; "
              f"then 1 valid reading written")
        assert total == expected_letters
        assert by_topic == expected_by_topic
        assert "influxdb/write" not in by_topic  # InfluxDB refused nothing
        assert all(letter.reason.strip() for letter in letters)
        assert sum(not letter.payload for letter in letters) == sum(
            not item.payload for item in hostile)  # only empty payloads give empty letters
        published = {bytes(h.payload) for h in hostile}
        assert any(bytes(letter.payload) in published and len(letter.payload) > MEGABYTE
                   for letter in letters)  # the megabyte kept whole
        assert influx_store.count("hj212_hourly", "so2") + influx_store.count(
            "hj212_hourly", "o2") == expected_points
        assert influx_store.count("station_reading", "pm25") == 1
    finally:
        collector.stop()
