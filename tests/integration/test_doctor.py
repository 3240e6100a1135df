"""`lantian doctor` against the real parts: all green on a working setup; a wrong broker address,
a refused InfluxDB token, an unreachable ledger and other faults each get a clear message that
names the setting to change."""

from __future__ import annotations

import socket
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.secured_influx import influx_with_admin
from typer.testing import CliRunner

from alerts.ledger_db import create_schema, make_engine
from config.settings import (
    CollectorSettings,
    InfluxSettings,
    LedgerSettings,
    MqttSettings,
    Settings,
    get_settings,
)
from ingest.broker_check import check_broker
from ingest.influx_store import InfluxStore
from lantian.cli import app
from lantian.doctor import (
    check_influxdb,
    check_ledger,
    check_mqtt,
    check_registers,
    check_spool,
)
from lantian.local_services import LocalService, free_port, start_mosquitto

ADMIN, ADMIN_PASSWORD = "admin", "doctor-admin-pw"


@pytest.fixture(autouse=True)
def fresh_settings() -> Iterator[None]:
    """The command reads settings through the cached get_settings: each test its own env."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def working_env(mqtt_broker: LocalService, influxdb: LocalService,
                tmp_path: Path) -> Iterator[dict[str, str]]:
    """Environment of a working installation: private broker, InfluxDB, migrated ledger."""
    database = f"doctor_{uuid.uuid4().hex[:10]}"
    ledger_url = f"sqlite:///{tmp_path / 'ledger.db'}"
    engine = make_engine(ledger_url)
    create_schema(engine)
    engine.dispose()
    yield {"LANTIAN_MQTT__HOST": mqtt_broker.host, "LANTIAN_MQTT__PORT": str(mqtt_broker.port),
           "LANTIAN_INFLUX__URL": influxdb.url, "LANTIAN_INFLUX__DATABASE": database,
           "LANTIAN_LEDGER__URL": ledger_url,
           "LANTIAN_COLLECTOR__SPOOL_DIR": str(tmp_path / "spool"),
           "COLUMNS": "240"}  # rich: one table row per line, no words folded
    store = InfluxStore(InfluxSettings(url=influxdb.url, database=database))
    store.execute(f'DROP DATABASE "{database}"')
    store.close()


@pytest.fixture(scope="module")
def secured_influx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalService]:
    """A private InfluxDB with authentication on and one admin user."""
    with influx_with_admin(tmp_path_factory.mktemp("doctor-influx-auth"), ADMIN,
                           ADMIN_PASSWORD) as service:
        yield service


def run_doctor(env: dict[str, str]) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["doctor"], env=env)
    return result.exit_code, result.output


def test_a_working_installation_is_all_green(working_env: dict[str, str]) -> None:
    code, output = run_doctor(working_env)
    assert code == 0, output
    assert "all checks passed" in output and "FAILED" not in output
    for name in ("settings", "registers", "broker", "influxdb", "ledger", "spool"):
        assert name in output
    assert "schema current" in output and "created database" in output

    code, output = run_doctor(working_env)  # the database exists now: nothing to create
    assert code == 0 and "created database" not in output, output


def test_a_wrong_broker_address_names_the_host_and_port_settings(
        working_env: dict[str, str]) -> None:
    code, output = run_doctor({**working_env, "LANTIAN_MQTT__PORT": str(free_port())})
    assert code == 1, output
    assert "LANTIAN_MQTT__HOST" in output and "LANTIAN_MQTT__PORT" in output
    assert "1 check(s) failed" in output


def test_a_wrong_influx_token_is_reported_as_refused(working_env: dict[str, str],
                                                     secured_influx: LocalService) -> None:
    code, output = run_doctor({**working_env, "LANTIAN_INFLUX__URL": secured_influx.url,
                               "LANTIAN_INFLUX__TOKEN": "wrong"})
    assert code == 1, output
    assert "wrong token: InfluxDB refused the token" in output
    assert "LANTIAN_INFLUX__TOKEN" in output and "1 check(s) failed" in output


def test_influx_credentials_accepted_or_refused(secured_influx: LocalService) -> None:
    def check(**credentials: str):  # type: ignore[no-untyped-def]
        return check_influxdb(InfluxSettings(url=secured_influx.url, database="doctor_auth",
                                             **credentials))

    good = check(username=ADMIN, password=ADMIN_PASSWORD)
    assert good.ok, good.detail
    wrong = check(username=ADMIN, password="nope")
    assert not wrong.ok and "wrong password" in wrong.detail and "refused" in wrong.detail
    assert "LANTIAN_INFLUX__PASSWORD" in wrong.fix
    anonymous = check()
    assert not anonymous.ok and "requires credentials" in anonymous.detail


def test_unreachable_influx_and_missing_database(influxdb: LocalService) -> None:
    gone = check_influxdb(InfluxSettings(url=f"http://127.0.0.1:{free_port()}"))
    assert not gone.ok and "unreachable" in gone.detail and "LANTIAN_INFLUX__URL" in gone.fix
    missing = check_influxdb(InfluxSettings(url=influxdb.url, database="doctor_absent",
                                            create_database=False))
    assert not missing.ok and "'doctor_absent' not found" in missing.detail
    assert "DBRP" in missing.fix and "dbrp create --db doctor_absent" in missing.fix


def test_an_unreachable_ledger_is_named_with_its_password_masked(
        working_env: dict[str, str]) -> None:
    url = "postgresql+psycopg://nobody:hunter2-secret@127.0.0.1:1/x"
    result = check_ledger(LedgerSettings(url=url))
    assert not result.ok, result.detail
    assert result.detail.startswith("postgresql+psycopg://nobody:***@127.0.0.1:1/x unreachable")
    assert "hunter2" not in result.detail and "LANTIAN_LEDGER__URL" in result.fix

    code, output = run_doctor({**working_env, "LANTIAN_LEDGER__URL": url})
    assert code == 1 and "unreachable" in output and "hunter2" not in output, output
    assert "LANTIAN_LEDGER__URL" in output


def test_the_ledger_schema_is_current_on_both_backends(ledger_url: str) -> None:
    engine = make_engine(ledger_url)
    create_schema(engine)
    engine.dispose()
    result = check_ledger(LedgerSettings(url=ledger_url))
    assert result.ok and "schema current" in result.detail, result.detail


def test_a_ledger_behind_is_migrated_on_start_not_a_failure(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    sqlite3.connect(path).close()  # exists, no tables: every migration still to apply
    behind = check_ledger(LedgerSettings(url=f"sqlite:///{path}"))
    assert behind.ok and "will be applied on start" in behind.detail, behind.detail
    fresh = check_ledger(LedgerSettings(url=f"sqlite:///{tmp_path / 'new' / 'ledger.db'}"))
    assert fresh.ok and "created with the newest schema on start" in fresh.detail
    assert not (tmp_path / "new").exists()  # the doctor only looks


def test_settings_registers_and_spool_faults(working_env: dict[str, str],
                                             tmp_path: Path) -> None:
    code, output = run_doctor({**working_env, "LANTIAN_MQTT__PORT": "not-a-port"})
    assert code == 1 and "mqtt.port" in output and "LANTIAN_MQTT__PORT" in output, output

    registers = check_registers(Settings(stations_file=tmp_path / "absent.yaml"))
    assert not registers.ok and "absent.yaml" in registers.detail
    assert "LANTIAN_STATIONS_FILE" in registers.fix

    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    spool = check_spool(CollectorSettings(spool_dir=blocker / "spool"))
    assert not spool.ok and "is not a folder" in spool.detail
    assert "LANTIAN_COLLECTOR__SPOOL_DIR" in spool.fix
    assert check_spool(CollectorSettings(spool_dir=None)).ok


def test_a_refused_broker_account_points_at_broker_auth(tmp_path: Path) -> None:
    broker = start_mosquitto(tmp_path, extra_conf="allow_anonymous false")
    try:
        refused = check_mqtt(MqttSettings(host=broker.host, port=broker.port,
                                          username="lantian-collector", password="wrong"))
    finally:
        broker.stop()
    assert not refused.ok and "refused" in refused.detail, refused.detail
    assert "LANTIAN_MQTT__USERNAME" in refused.fix and "lantian broker-auth" in refused.fix
    assert "LANTIAN_MQTT__HOST" not in refused.fix


def test_a_port_that_does_not_speak_mqtt_is_told_apart_from_a_closed_one() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        silent = check_broker(MqttSettings(host="127.0.0.1", port=port), timeout_s=0.5)
    closed = check_broker(MqttSettings(host="127.0.0.1", port=free_port()), timeout_s=0.5)
    assert silent.outcome == "silent" and "no CONNACK" in silent.detail
    assert closed.outcome == "unreachable"
