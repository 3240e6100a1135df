"""Shared fixtures: a private Mosquitto and InfluxDB per test session, fresh databases per test,
and the ledger on both backends (SQLite file and PostgreSQL)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from alerts.ledger_db import create_schema, make_engine, make_session_factory
from config.settings import InfluxSettings
from ingest.influx_store import InfluxStore
from lantian.local_services import LocalService, start_influxdb, start_mosquitto

# The deployment tests build images and run the compose stack on a Docker Engine (minutes):
# only `make test-deploy` collects them.
collect_ignore = [] if os.environ.get("LANTIAN_DEPLOY_TESTS") else ["deploy"]

POSTGRES_URL = os.environ.get(
    "LANTIAN_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture(scope="session")
def beijing_data() -> Path:
    """The real Beijing data set (../shared/data). Required in CI; locally its absence skips."""
    from simulators.beijing_replay import DEFAULT_DATA_PATH

    if not DEFAULT_DATA_PATH.is_file():
        if os.environ.get("CI"):
            raise FileNotFoundError(f"CI needs the Beijing data set at {DEFAULT_DATA_PATH}")
        pytest.skip(f"Beijing data set not at {DEFAULT_DATA_PATH}")
    return DEFAULT_DATA_PATH


@pytest.fixture(scope="session")
def services_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("services")


@pytest.fixture(scope="session")
def mqtt_broker(services_dir: Path) -> Iterator[LocalService]:
    """A private Mosquitto on a free loopback port, for the whole session."""
    broker = start_mosquitto(services_dir)
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
def influxdb(services_dir: Path) -> Iterator[LocalService]:
    """A private InfluxDB 1.x on a free loopback port, for the whole session."""
    server = start_influxdb(services_dir)
    yield server
    server.stop()


@pytest.fixture
def publisher(mqtt_broker: LocalService) -> Iterator[mqtt.Client]:
    """A connected MQTT client for publishing test messages (QoS 1: call wait_for_publish)."""
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2,
                         client_id=f"test-pub-{uuid.uuid4().hex[:8]}")
    client.connect(mqtt_broker.host, mqtt_broker.port)
    client.loop_start()
    yield client
    client.disconnect()
    client.loop_stop()


@pytest.fixture
def influx_settings(influxdb: LocalService) -> InfluxSettings:
    """Settings for a database of this test's own, so tests never share points."""
    return InfluxSettings(url=influxdb.url, database=f"t_{uuid.uuid4().hex[:12]}",
                          flush_interval_s=0.05)


@pytest.fixture
def influx_store(influx_settings: InfluxSettings) -> Iterator[InfluxStore]:
    store = InfluxStore(influx_settings)
    store.ensure_database()
    yield store
    store.execute(f'DROP DATABASE "{influx_settings.database}"')
    store.close()


def _postgres_database_url() -> Iterator[str]:
    admin_url = make_url(POSTGRES_URL)
    name = f"lantian_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # pragma: no cover - depends on the machine
        admin.dispose()
        if os.environ.get("CI"):
            raise RuntimeError(f"PostgreSQL at {POSTGRES_URL} is required in CI: {exc}") from exc
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}: {exc}")
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty ledger database URL on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.db'}"
    else:
        yield from _postgres_database_url()


@pytest.fixture
def ledger_sessions(ledger_url: str):  # type: ignore[no-untyped-def]
    engine = make_engine(ledger_url)
    create_schema(engine)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def api_client(tmp_path: Path, influx_settings: InfluxSettings):  # type: ignore[no-untyped-def]
    """The API on this test's InfluxDB database and a fresh SQLite ledger: (client, ledger URL)."""
    from fastapi.testclient import TestClient

    from api.main import create_app
    from config.settings import LedgerSettings, Settings

    settings = Settings(influx=influx_settings,
                        ledger=LedgerSettings(url=f"sqlite:///{tmp_path / 'api-ledger.db'}"))
    with TestClient(create_app(settings)) as client:
        yield client, settings.ledger.url
