"""`lantian heartbeat`: the collector's health check reads its recorded counters (both ledgers)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from alerts.ledger_db import create_schema, make_engine, make_session_factory
from config.settings import CollectorSettings, LedgerSettings, Settings, get_settings
from ingest.ingest_status import IngestStatusStore
from lantian.cli import app
from lantian.heartbeat import collector_heartbeat

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(ledger_url: str) -> IngestStatusStore:
    engine = make_engine(ledger_url)
    create_schema(engine)
    return IngestStatusStore(make_session_factory(engine))


def settings(ledger_url: str) -> Settings:
    return Settings(ledger=LedgerSettings(url=ledger_url),
                    collector=CollectorSettings(client_id="c-{hostname}", status_interval_s=5))


def test_the_verdict_follows_the_recorded_counters(ledger_url: str,
                                                   store: IngestStatusStore) -> None:
    cfg = settings(ledger_url)
    me = cfg.collector.instance_id()
    missing = collector_heartbeat(cfg, NOW)
    assert not missing.ok and "has not recorded" in missing.detail
    store.save(me, NOW, NOW - timedelta(seconds=10), {"connected": True})
    fresh = collector_heartbeat(cfg, NOW)
    assert fresh.ok and "connected" in fresh.detail
    store.save(me, NOW, NOW - timedelta(seconds=31), {"connected": True})
    stale = collector_heartbeat(cfg, NOW)
    assert not stale.ok and "31 s ago" in stale.detail and "stuck or stopped" in stale.detail
    store.save(me, NOW, NOW, {"connected": False})
    offline = collector_heartbeat(cfg, NOW)
    assert not offline.ok and "not connected" in offline.detail
    store.save("someone-else", NOW, NOW, {"connected": True})
    assert not collector_heartbeat(cfg, NOW).ok  # another collector's row proves nothing


def test_the_command_exits_by_the_verdict(ledger_url: str, store: IngestStatusStore,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANTIAN_LEDGER__URL", ledger_url)
    monkeypatch.setenv("LANTIAN_COLLECTOR__CLIENT_ID", "cli-collector")
    get_settings.cache_clear()
    failed = CliRunner().invoke(app, ["heartbeat"])
    assert failed.exit_code == 1 and "has not recorded" in failed.output
    store.save("cli-collector", NOW, datetime.now(UTC), {"connected": True})
    passed = CliRunner().invoke(app, ["heartbeat"])
    get_settings.cache_clear()
    assert passed.exit_code == 0, passed.output
