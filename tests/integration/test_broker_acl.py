"""Per-device broker credentials and ACL, against a real Mosquitto configured with the files
`lantian broker-auth` writes: a unit publishes only its own topic, nobody gets in without a valid
password, devices read nothing, and the secrets survive re-runs."""

from __future__ import annotations

import shutil
import stat
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
import yaml
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode
from typer.testing import CliRunner

from alerts.alert_publisher import MqttAlertPublisher
from api.routes.health import check_broker
from config.broker_accounts import (
    ALERTS_READER,
    ANALYTICS,
    COLLECTOR,
    FORECAST,
    HEALTH,
    SIMULATOR,
)
from config.outlets import load_outlets
from config.settings import MqttSettings, get_settings
from config.stations import load_stations
from lantian.cli import app
from lantian.local_services import LocalService, start_mosquitto, wait_until

ROOT = "lantian/v1"
NOT_AUTHORIZED = 0x87
TIMEOUT_S = 10.0


@dataclass
class SecuredBroker:
    broker: LocalService
    passwords: dict[str, str]
    secrets_file: Path
    out_dir: Path
    conf: str
    station_a: str
    station_b: str
    outlet: str
    other_outlet: str


def run_broker_auth(out_dir: Path, secrets_file: Path) -> str:
    """Run the command as an operator would; its stdout is the mosquitto.conf lines."""
    result = CliRunner().invoke(app, ["broker-auth", "--out", str(out_dir),
                                      "--secrets-file", str(secrets_file)])
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredBroker]:
    tmp = tmp_path_factory.mktemp("broker-acl")
    secrets_file, out_dir = tmp / "secrets" / "mqtt-passwords.yaml", tmp / "auth"
    conf = run_broker_auth(out_dir, secrets_file)
    settings = get_settings()
    stations = [s.id for s in load_stations(settings.stations_file).stations]
    outlets = [o.mn for o in load_outlets(settings.outlets_file).outlets]
    broker = start_mosquitto(tmp, extra_conf=conf)
    try:
        yield SecuredBroker(broker, yaml.safe_load(secrets_file.read_text(encoding="utf-8")),
                            secrets_file, out_dir, conf, stations[0], stations[1], outlets[0],
                            outlets[1])
    finally:
        broker.stop()


class Probe:
    """An MQTT client that records its CONNACK, SUBACKs, PUBACK reason codes and messages."""

    def __init__(self, broker: LocalService, username: str | None, password: str | None,
                 protocol: mqtt.MQTTProtocolVersion = mqtt.MQTTv311,
                 client_id: str | None = None) -> None:
        self.connack: ReasonCode | None = None
        self.subacks: list[list[ReasonCode]] = []
        self.pubacks: dict[int, ReasonCode] = {}
        self.messages: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        self.client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2,
                                  client_id=client_id or f"acl-{uuid.uuid4().hex[:8]}",
                                  protocol=protocol)
        if username is not None:
            self.client.username_pw_set(username, password)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_publish = self._on_publish
        self.client.on_message = self._on_message
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        assert wait_until(lambda: self.connack is not None, TIMEOUT_S), "no CONNACK"

    def _on_connect(self, client: mqtt.Client, userdata: object, flags: object,
                    reason_code: ReasonCode, properties: object) -> None:
        if reason_code.is_failure:
            client.disconnect()  # no reconnect attempts: the refusal is the answer
        self.connack = reason_code

    def _on_subscribe(self, client: mqtt.Client, userdata: object, mid: int,
                      reason_codes: list[ReasonCode], properties: object) -> None:
        self.subacks.append(reason_codes)

    def _on_publish(self, client: mqtt.Client, userdata: object, mid: int,
                    reason_code: ReasonCode, properties: object) -> None:
        self.pubacks[mid] = reason_code

    def _on_message(self, client: mqtt.Client, userdata: object,
                    message: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append((message.topic, message.payload))

    def subscribe(self, *topics: str) -> None:
        before = len(self.subacks)
        self.client.subscribe([(topic, 1) for topic in topics])
        assert wait_until(lambda: len(self.subacks) > before, TIMEOUT_S), "no SUBACK"

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> ReasonCode:
        """Publish at QoS 1 and wait for the PUBACK; its reason code (always success
        before MQTT v5, where a broker cannot tell a client it dropped the message)."""
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        info.wait_for_publish(TIMEOUT_S)
        assert wait_until(lambda: info.mid in self.pubacks, TIMEOUT_S), "no PUBACK"
        return self.pubacks[info.mid]

    def payloads(self) -> list[bytes]:
        with self._lock:
            return [payload for _, payload in self.messages]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def probes(secured: SecuredBroker) -> Iterator[list[Probe]]:
    opened: list[Probe] = []
    yield opened
    for probe in opened:
        probe.close()


def login(secured: SecuredBroker, probes: list[Probe], username: str,
          protocol: mqtt.MQTTProtocolVersion = mqtt.MQTTv311,
          client_id: str | None = None) -> Probe:
    probe = Probe(secured.broker, username, secured.passwords[username], protocol, client_id)
    probes.append(probe)
    assert probe.connack is not None and not probe.connack.is_failure, probe.connack
    return probe


def collector(secured: SecuredBroker, probes: list[Probe]) -> Probe:
    """The collector's account with the collector's subscriptions."""
    probe = login(secured, probes, COLLECTOR)
    probe.subscribe(f"{ROOT}/station/+/reading", f"{ROOT}/outlet/+/hj212", f"{ROOT}/forecast/+")
    return probe


def test_units_publish_their_own_topics_to_the_collector(secured: SecuredBroker,
                                                         probes: list[Probe]) -> None:
    listener = collector(secured, probes)
    station = login(secured, probes, secured.station_a)
    outlet = login(secured, probes, secured.outlet)
    station.publish(f"{ROOT}/station/{secured.station_a}/reading", b"reading-a")
    outlet.publish(f"{ROOT}/outlet/{secured.outlet}/hj212", b"packet-o")
    assert wait_until(lambda: len(listener.messages) == 2, TIMEOUT_S), listener.messages
    assert sorted(listener.messages) == [
        (f"{ROOT}/outlet/{secured.outlet}/hj212", b"packet-o"),
        (f"{ROOT}/station/{secured.station_a}/reading", b"reading-a")]


@pytest.mark.parametrize("protocol", [mqtt.MQTTv311, mqtt.MQTTv5], ids=["mqtt311", "mqtt5"])
def test_a_unit_cannot_publish_as_another(secured: SecuredBroker, probes: list[Probe],
                                          protocol: mqtt.MQTTProtocolVersion) -> None:
    listener = collector(secured, probes)
    # The client id claims to be station B: the broker goes by the account, not the id.
    station = login(secured, probes, secured.station_a, protocol, client_id=secured.station_b)
    outlet = login(secured, probes, secured.outlet, protocol)
    forbidden = [
        (station, f"{ROOT}/station/{secured.station_b}/reading", b"forged-b"),
        (station, f"{ROOT}/outlet/{secured.outlet}/hj212", b"forged-outlet"),
        (outlet, f"{ROOT}/outlet/{secured.other_outlet}/hj212", b"forged-other-outlet"),
        (outlet, f"{ROOT}/station/{secured.station_a}/reading", b"forged-a"),
        (outlet, f"{ROOT}/forecast/beijing", b"forged-forecast"),
    ]
    codes = [probe.publish(topic, payload) for probe, topic, payload in forbidden]
    # Controls after the forbidden messages on the same connections: once they are in, the
    # broker has already routed (or dropped) everything sent before them.
    assert not station.publish(f"{ROOT}/station/{secured.station_a}/reading",
                               b"control-a").is_failure
    assert not outlet.publish(f"{ROOT}/outlet/{secured.outlet}/hj212", b"control-o").is_failure
    assert wait_until(lambda: {b"control-a", b"control-o"} <= set(listener.payloads()),
                      TIMEOUT_S), listener.messages
    assert sorted(listener.payloads()) == [b"control-a", b"control-o"]
    if protocol == mqtt.MQTTv5:
        assert [code.value for code in codes] == [NOT_AUTHORIZED] * len(forbidden)
    else:
        assert not any(code.is_failure for code in codes)  # 3.1.1: dropped silently


@pytest.mark.parametrize("protocol", [mqtt.MQTTv311, mqtt.MQTTv5], ids=["mqtt311", "mqtt5"])
@pytest.mark.parametrize("who", ["wrong_password", "unknown_user", "anonymous", "empty_password"])
def test_connect_is_refused_without_valid_credentials(secured: SecuredBroker, probes: list[Probe],
                                                      who: str,
                                                      protocol: mqtt.MQTTProtocolVersion) -> None:
    username, password = {
        "wrong_password": (secured.station_a, secured.passwords[secured.station_b]),
        "unknown_user": ("not-registered-unit", secured.passwords[secured.station_a]),
        "anonymous": (None, None),
        "empty_password": (secured.station_a, ""),
    }[who]
    probe = Probe(secured.broker, username, password, protocol)
    probes.append(probe)
    assert probe.connack is not None and probe.connack.value == NOT_AUTHORIZED, probe.connack
    assert not probe.client.is_connected()


def test_a_unit_cannot_read_other_units_data(secured: SecuredBroker, probes: list[Probe]) -> None:
    listener = collector(secured, probes)
    spy = login(secured, probes, secured.station_a)
    spy.subscribe("#", f"{ROOT}/station/{secured.station_b}/reading",
                  f"{ROOT}/outlet/+/hj212", f"{ROOT}/station/{secured.station_a}/reading")
    other = login(secured, probes, secured.station_b)
    outlet = login(secured, probes, secured.outlet)
    other.publish(f"{ROOT}/station/{secured.station_b}/reading", b"reading-b")
    outlet.publish(f"{ROOT}/outlet/{secured.outlet}/hj212", b"packet-o")
    assert wait_until(lambda: len(listener.messages) == 2, TIMEOUT_S), listener.messages
    # Both messages have been routed to every allowed subscriber; a PUBACK on the spy's own
    # connection is written after anything routed to it before.
    assert not spy.publish(f"{ROOT}/station/{secured.station_a}/reading", b"own").is_failure
    assert wait_until(lambda: len(listener.messages) == 3, TIMEOUT_S)
    assert spy.messages == []


def test_service_accounts_reach_their_topics(secured: SecuredBroker,
                                             probes: list[Probe]) -> None:
    listener = collector(secured, probes)
    reader = login(secured, probes, ALERTS_READER)
    reader.subscribe(f"{ROOT}/alerts/+", f"{ROOT}/emergency/+")
    analytics = MqttAlertPublisher(MqttSettings(
        host=secured.broker.host, port=secured.broker.port, username=ANALYTICS,
        password=secured.passwords[ANALYTICS], topic_root=ROOT))
    try:
        assert wait_until(analytics.connected, TIMEOUT_S)
        analytics.publish_case_event({"event": "opened", "case_id": 1})
        analytics.publish_emergency("beijing", {"level": "orange"})
        assert wait_until(lambda: len(reader.messages) == 2, TIMEOUT_S), reader.messages
    finally:
        analytics.close()
    assert sorted(topic for topic, _ in reader.messages) == [f"{ROOT}/alerts/case",
                                                             f"{ROOT}/emergency/beijing"]
    forecaster = login(secured, probes, FORECAST)
    simulator = login(secured, probes, SIMULATOR, mqtt.MQTTv5)
    forecaster.publish(f"{ROOT}/forecast/beijing", b"forecast")
    for station in (secured.station_a, secured.station_b):
        assert not simulator.publish(f"{ROOT}/station/{station}/reading", b"sim").is_failure
    assert not simulator.publish(f"{ROOT}/outlet/{secured.outlet}/hj212", b"sim").is_failure
    # The simulator may impersonate units, not services.
    assert simulator.publish(f"{ROOT}/alerts/case", b"fake").value == NOT_AUTHORIZED
    assert wait_until(lambda: len(listener.messages) == 4, TIMEOUT_S), listener.messages
    collector_v5 = login(secured, probes, COLLECTOR, mqtt.MQTTv5)
    assert collector_v5.publish(f"{ROOT}/station/{secured.station_a}/reading",
                               b"x").value == NOT_AUTHORIZED


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_secrets_are_kept_on_rerun_and_private(secured: SecuredBroker, tmp_path: Path) -> None:
    secrets_file = tmp_path / "mqtt-passwords.yaml"
    shutil.copy(secured.secrets_file, secrets_file)
    secrets_file.chmod(0o644)
    kept = dict(secured.passwords)
    dropped = kept.pop(secured.station_b)
    secrets_file.write_text(yaml.safe_dump(kept, sort_keys=False), encoding="utf-8")

    conf = run_broker_auth(tmp_path / "auth", secrets_file)

    again = yaml.safe_load(secrets_file.read_text(encoding="utf-8"))
    assert {name: again[name] for name in kept} == kept
    assert again[secured.station_b] != dropped and len(again[secured.station_b]) >= 32
    assert set(again) == set(secured.passwords)
    for path in (secrets_file, tmp_path / "auth" / "passwd", tmp_path / "auth" / "acl",
                 secured.secrets_file, secured.out_dir / "passwd", secured.out_dir / "acl"):
        assert mode(path) == 0o600, path
    assert mode(secured.secrets_file.parent) == 0o700
    assert conf.splitlines()[0] == "allow_anonymous false"
    hashed = (tmp_path / "auth" / "passwd").read_text(encoding="utf-8")
    assert dropped not in hashed and again[secured.station_a] not in hashed
    assert hashed.startswith(f"{COLLECTOR}:$7$")  # mosquitto_passwd's PBKDF2-SHA512
    assert [p.name for p in (tmp_path / "auth").iterdir()] in (["acl", "passwd"],
                                                               ["passwd", "acl"])

    unchanged = secured.secrets_file.read_bytes()
    run_broker_auth(secured.out_dir, secured.secrets_file)
    assert secured.secrets_file.read_bytes() == unchanged


def test_the_health_check_reports_a_refused_account(secured: SecuredBroker) -> None:
    """/api/health's broker check waits for the CONNACK: a wrong password is not 'ok'."""
    where = {"host": secured.broker.host, "port": secured.broker.port}
    good = check_broker(MqttSettings(**where, username=HEALTH,
                                     password=secured.passwords[HEALTH]))
    wrong = check_broker(MqttSettings(**where, username=HEALTH, password="not-the-password"))
    anonymous = check_broker(MqttSettings(**where))
    assert good.ok, good.detail
    assert not wrong.ok and "refused" in wrong.detail and "mqtt.password" in wrong.detail
    assert not anonymous.ok and "refused" in anonymous.detail
