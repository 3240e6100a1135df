"""InfluxDB with authentication on (a private 1.x with auth-enabled): Lantian writes and reads
with its credentials; wrong or missing credentials are a clear error that never turns data
into dead letters — the batch goes to the spool and waits."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.secured_influx import influx_with_admin

from alerts.ledger_db import create_schema, make_engine, make_session_factory
from config.settings import CollectorSettings, InfluxSettings, Settings
from ingest.dead_letters import DeadLetterStore
from ingest.errors import StoreUnauthorized
from ingest.influx_store import InfluxStore
from ingest.spool import Spool
from ingest.write_buffer import WriteBuffer
from lantian.local_services import LocalService
from lantian.services import _ready_store

USER, PASSWORD = "lantian", "s3cret-from-the-environment"
LINES = [f"station_reading,station=Dongsi pm25={v}.0 {1_480_550_400 + 60 * v}" for v in range(5)]


@pytest.fixture(scope="module")
def secured_influx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalService]:
    with influx_with_admin(tmp_path_factory.mktemp("influx-auth"), USER, PASSWORD) as service:
        yield service


def settings_for(service: LocalService, **credentials: str) -> InfluxSettings:
    return InfluxSettings(url=service.url, database="lantian_auth", timeout_s=5, **credentials)


def test_lantian_writes_and_reads_with_its_credentials(secured_influx: LocalService) -> None:
    store = InfluxStore(settings_for(secured_influx, username=USER, password=PASSWORD))
    store.ensure_database()
    store.write_lines(LINES)
    assert store.count("station_reading", "pm25") == len(LINES)


@pytest.mark.parametrize("credentials", [{"username": USER, "password": "wrong"}, {}],
                         ids=["wrong password", "no credentials"])
def test_refused_credentials_are_a_clear_error(secured_influx: LocalService,
                                               credentials: dict[str, str]) -> None:
    store = InfluxStore(settings_for(secured_influx, **credentials))
    with pytest.raises(StoreUnauthorized, match=r"refused the credentials.*LANTIAN_INFLUX__"):
        store.write_lines(LINES)
    with pytest.raises(StoreUnauthorized):
        store.count("station_reading", "pm25")
    # at start-up it is a configuration error, not something to wait for
    with pytest.raises(StoreUnauthorized):
        _ready_store(Settings(influx=settings_for(secured_influx, **credentials)),
                     threading.Event())


def test_refused_credentials_spool_the_data_instead_of_dead_lettering_it(
        secured_influx: LocalService, tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    create_schema(engine)
    letters = DeadLetterStore(make_session_factory(engine))
    wrong = settings_for(secured_influx, username=USER, password="wrong")
    settings = Settings(influx=wrong, collector=CollectorSettings(spool_dir=tmp_path / "spool"))
    buffer = WriteBuffer(settings, InfluxStore(wrong), letters, Spool(tmp_path / "spool"))
    acks: list[int] = []
    buffer.put(LINES, messages=1, on_durable=lambda: acks.append(1))
    buffer.flush_once()
    assert acks == [1] and buffer.counters.readings_spooled == len(LINES)
    assert letters.list()[1] == 0
    buffer.store = InfluxStore(settings_for(secured_influx, username=USER, password=PASSWORD))
    buffer.store.ensure_database()
    assert buffer.replay_spool() == len(LINES)
    assert buffer.store.count("station_reading", "pm25") >= len(LINES)


def test_blank_credentials_from_compose_count_as_unset(secured_influx: LocalService,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """deploy/docker-compose.influxdb1.yml blanks the 2.x token with `KEY: ""`: Lantian must
    then log in with its 1.x user, not send an empty `Authorization: Token` header."""
    monkeypatch.setenv("LANTIAN_INFLUX__URL", secured_influx.url)
    monkeypatch.setenv("LANTIAN_INFLUX__DATABASE", "lantian_blank")
    monkeypatch.setenv("LANTIAN_INFLUX__TOKEN", "")
    monkeypatch.setenv("LANTIAN_INFLUX__USERNAME", USER)
    monkeypatch.setenv("LANTIAN_INFLUX__PASSWORD", PASSWORD)
    influx = Settings().influx
    assert influx.token is None and influx.username == USER
    store = InfluxStore(influx)
    assert "authorization" not in store._client.headers
    store.ensure_database()
    store.write_lines(LINES)
    assert store.count("station_reading", "pm25") == len(LINES)
