"""HJ 212 over MQTT and over the TCP gateway, against a real Mosquitto and InfluxDB:
exact counts, 9014 replies, framing across chunks, dead letters with their reasons."""

from __future__ import annotations

import random
import socket
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import paho.mqtt.client as mqtt
import pytest
from support.hj212_pipeline import running_pipeline

from alerts.ledger_db import create_schema, make_engine, make_session_factory
from config.outlets import Outlet
from config.settings import (
    CollectorSettings,
    GatewaySettings,
    InfluxSettings,
    Settings,
)
from config.stations import Station
from ingest.dead_letters import DeadLetterStore
from ingest.hj212_codec import Hj212Codec, make_packet
from ingest.hj212_gateway import Hj212Gateway
from ingest.hj212_intake import Hj212Intake
from ingest.influx_store import InfluxStore
from ingest.mqtt_collector import MqttCollector
from ingest.write_buffer import WriteBuffer
from lantian.local_services import LocalService, wait_until

TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 3, 15, 14, 0, tzinfo=TZ)
CODEC = Hj212Codec()
OUTLETS = [
    Outlet(mn=f"0200000000000000000000{i:02d}", name=f"stack {i}", enterprise=f"E{i % 2}",
           industry="power", reference_o2=6, limits={"so2": 35}, password="123456")
    for i in range(6)
]
STATION = Station(id="HJStation", name="HJ 212 station", city="beijing", lat=39.9, lon=116.4,
                  mn="010000A8900016F000169DC1",
                  units={"pm25": "ng/m3", "pm10": "ng/m3"})


def minute_packet(mn: str, minute: int, *, flag: int = 5, pw: str = "123456",
                  so2: str = "18.5") -> bytes:
    start = T0 + timedelta(minutes=minute)
    qn = start.strftime("%Y%m%d%H%M%S") + f"{minute % 1000:03d}"
    return CODEC.encode(make_packet(
        qn=qn, st="31", cn="2051", pw=pw, mn=mn, flag=flag,
        cp=[{"DataTime": start.strftime("%Y%m%d%H%M%S")},
            {"a21026-Min": "15.1", "a21026-Avg": so2, "a21026-Max": "22.7", "a21026-Flag": "N"},
            {"a19001-Avg": "9.2", "a19001-Flag": "N"},
            {"a99999-Avg": "1.5", "a99999-Flag": "N"}]))


@pytest.fixture
def ingest(mqtt_broker: LocalService, influx_settings: InfluxSettings, tmp_path
           ) -> Iterator[tuple[MqttCollector, Hj212Gateway, DeadLetterStore]]:
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    create_schema(engine)
    letters = DeadLetterStore(make_session_factory(engine))
    with running_pipeline(mqtt_broker, influx_settings, letters, {o.mn: o for o in OUTLETS},
                          {STATION.id: STATION}) as pipeline:
        yield pipeline.collector, pipeline.gateway, letters


def test_mqtt_packets_are_stored_exactly_and_bad_ones_kept_with_reasons(
        ingest, publisher: mqtt.Client, influx_store: InfluxStore) -> None:
    collector, _, letters = ingest
    mn = OUTLETS[0].mn
    topic = f"lantian/v1/outlet/{mn}/hj212"
    for minute in range(30):
        publisher.publish(topic, minute_packet(mn, minute), qos=1).wait_for_publish(10)
    # Several packets back to back in one message.
    merged = b"".join(minute_packet(mn, minute) for minute in range(30, 40))
    publisher.publish(topic, merged, qos=1).wait_for_publish(10)
    bad_crc = bytearray(minute_packet(mn, 50))
    bad_crc[-3] = ord("0") if bad_crc[-3] != ord("0") else ord("1")
    bad = [
        (topic, bytes(bad_crc)),
        (topic, minute_packet(OUTLETS[1].mn, 51)),  # MN differs from the topic's
        (topic, minute_packet(mn, 52, pw="999999")),
        (topic, minute_packet(mn, 53, so2="-800")),  # impossible SO2; O2 still stored
        (topic, b"not a packet at all"),
        (f"lantian/v1/outlet/{'F' * 24}/hj212", minute_packet("F" * 24, 54)),
    ]
    for bad_topic, payload in bad:
        publisher.publish(bad_topic, payload, qos=1).wait_for_publish(10)

    assert wait_until(lambda: collector.counters.dead_letters_stored == 6, 15)
    assert wait_until(lambda: collector.counters.readings_written == 41, 15)
    assert influx_store.count("hj212_minute", "o2") == 41
    assert influx_store.count("hj212_minute", "so2") == 40
    # An unknown parameter code is kept under its own name.
    assert influx_store.count("hj212_minute", "a99999") == 41
    rows = influx_store.read_series("hj212_minute", "mn", mn, ["so2", "so2_min", "o2"],
                                    int(T0.timestamp()), int(T0.timestamp()) + 3600)
    assert rows["time_s"].iloc[0] == int(T0.timestamp())  # DataTime is local time
    assert rows["so2"].iloc[0] == 18.5 and rows["so2_min"].iloc[0] == 15.1
    reasons = sorted(letter.reason for letter in letters.list(limit=10)[0])
    assert any("CRC mismatch" in r for r in reasons)
    assert any("does not match the MN" in r for r in reasons)
    assert any("wrong PW" in r for r in reasons)
    assert any("a21026-Avg=-800 is outside the plausible range" in r for r in reasons)
    assert any("no '##' header" in r for r in reasons)
    assert any("not a registered outlet" in r for r in reasons)


def _unit(port: int, mn: str, packets: list[bytes], seed: int, replies: dict[str, int]) -> None:
    """One data acquisition unit: garbage, packets cut at random, then read all replies."""
    rng = random.Random(seed)
    stream = b"AT+BOOT\r\n" + b"".join(p + (b"\x00\xff" if i % 7 == 0 else b"")
                                       for i, p in enumerate(packets))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        position = 0
        while position < len(stream):
            step = rng.randint(1, 300)
            sock.sendall(stream[position:position + step])
            position += step
        received = b""
        expected = sum(1 for p in packets if b"Flag=5" in p)
        while received.count(b"\r\n") < expected:
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
    replies[mn] = sum(1 for line in received.split(b"\r\n")
                      if line and CODEC.decode(line + b"\r\n").cn == "9014")


def test_tcp_gateway_serves_many_units_with_split_and_merged_packets(
        ingest, influx_store: InfluxStore) -> None:
    collector, gateway, letters = ingest
    replies: dict[str, int] = {}
    threads = []
    for index, outlet in enumerate(OUTLETS):
        packets = [minute_packet(outlet.mn, m, flag=5 if m % 3 else 4) for m in range(60)]
        threads.append(threading.Thread(target=_unit, args=(gateway.port, outlet.mn, packets,
                                                            index, replies)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert replies == {o.mn: 40 for o in OUTLETS}  # every Flag=5 packet answered with 9014
    total = 60 * len(OUTLETS)
    assert wait_until(lambda: collector.counters.readings_written == total, 20)
    assert influx_store.count("hj212_minute", "so2") == total
    for outlet in OUTLETS:
        assert influx_store.count("hj212_minute", "so2", f"mn = '{outlet.mn}'") == 60
    # Boot banner and the bytes between packets were kept, not dropped.
    assert wait_until(lambda: collector.counters.dead_letters_stored >= len(OUTLETS), 10)
    kept = letters.list(limit=500)[0]
    assert all(letter.topic.startswith("tcp://127.0.0.1:") for letter in kept)
    assert any(letter.payload.startswith(b"AT+BOOT") for letter in kept)


def test_hj212_station_packets_become_station_readings_in_canonical_units(
        ingest, influx_store: InfluxStore) -> None:
    collector, gateway, _ = ingest
    packet = CODEC.encode(make_packet(
        qn="20260315150000001", st="22", cn="2061", pw="123456", mn=STATION.mn, flag=4,
        cp=[{"DataTime": "20260315140000"}, {"a34004-Avg": "58000", "a34004-Flag": "N"},
            {"a34002-Avg": "96000", "a34002-Flag": "M"}]))
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as sock:
        sock.sendall(packet)
    assert wait_until(lambda: collector.counters.readings_written == 2, 15)
    rows = influx_store.read_series("station_reading", "station", STATION.id,
                                    ["pm25", "pm10"], int(T0.timestamp()),
                                    int(T0.timestamp()) + 3600)
    assert rows["pm25"].tolist() == [58.0]  # sent in ng/m³ as configured for the station
    flags = influx_store.query_frame("SELECT pm10_flag FROM station_reading")
    assert flags["pm10_flag"].tolist() == ["M"]


def test_gateway_keeps_a_packet_cut_off_by_a_closed_connection(ingest) -> None:
    collector, gateway, letters = ingest
    whole = minute_packet(OUTLETS[0].mn, 0)
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as sock:
        sock.sendall(whole[:40])
    assert wait_until(lambda: collector.counters.dead_letters_stored == 1, 10)
    [letter], _ = letters.list()
    assert letter.payload == whole[:40]
    assert "stream ended before its CR LF" in letter.reason


def test_gateway_limits_connections_and_closes_idle_ones(influx_settings: InfluxSettings,
                                                        tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    create_schema(engine)
    letters = DeadLetterStore(make_session_factory(engine))
    settings = Settings(gateway=GatewaySettings(port=0, max_connections=1, idle_timeout_s=0.5))
    buffer = WriteBuffer(settings, InfluxStore(influx_settings), letters)
    gateway = Hj212Gateway(settings.gateway, Hj212Intake(settings, {}, {}), buffer)
    port = gateway.start()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as first:
            assert wait_until(lambda: gateway.active == 1, 5)
            with socket.create_connection(("127.0.0.1", port), timeout=5) as second:
                assert second.recv(10) == b""  # refused: closed at once
            assert first.recv(10) == b""  # idle for longer than 0.5 s: closed by the gateway
        assert wait_until(lambda: gateway.active == 0, 5)
    finally:
        gateway.stop()


def _reply_to(sock: socket.socket, timeout_s: float) -> bytes:
    sock.settimeout(timeout_s)
    try:
        return sock.recv(65536)
    except TimeoutError:
        return b""


def test_gateway_answers_only_once_the_packet_is_durable(influx_settings: InfluxSettings,
                                                         influx_store: InfluxStore,
                                                         tmp_path) -> None:
    """No spool and InfluxDB away: the 9014 is withheld (the unit keeps the packet and resends);
    once InfluxDB is back the resent packet is answered and stored once."""
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    create_schema(engine)
    settings = Settings(gateway=GatewaySettings(port=0, reply_timeout_s=1.0),
                        collector=CollectorSettings(retry_max_s=0.5))
    away = InfluxStore(influx_settings.model_copy(update={"url": "http://127.0.0.1:9",
                                                          "timeout_s": 0.5}))
    buffer = WriteBuffer(settings, away, DeadLetterStore(make_session_factory(engine)))
    gateway = Hj212Gateway(settings.gateway, Hj212Intake(settings, {o.mn: o for o in OUTLETS},
                                                         {}), buffer)
    port = gateway.start()
    buffer.start()
    packet = minute_packet(OUTLETS[0].mn, 0)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(packet)
            assert _reply_to(sock, 2.5) == b""  # not durable: no acknowledgement
            buffer.store = InfluxStore(influx_settings)  # InfluxDB is back
            assert wait_until(lambda: buffer.counters.readings_written == 1, 10)
            sock.sendall(packet)  # the unit resends what was never answered
            reply = _reply_to(sock, 5)
        assert CODEC.decode(reply).cn == "9014"
        assert influx_store.count("hj212_minute", "so2") == 1
    finally:
        gateway.stop()
        buffer.stop()
