"""docker-compose.yml cannot run here (no Docker engine), so check what can drift from the code:
every Lantian service runs a real `lantian` subcommand, and its LANTIAN_* variables are settings."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.main import get_command

from config.settings import Settings
from lantian.cli import app

ROOT = Path(__file__).resolve().parents[2]


def test_compose_services_run_lantian_commands_with_valid_settings(
        monkeypatch: pytest.MonkeyPatch) -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    commands = get_command(app).commands  # type: ignore[attr-defined]
    lantian_services = {name: spec for name, spec in compose["services"].items()
                        if spec.get("build") == "."}
    assert set(lantian_services) == {"collector", "analytics", "api", "simulator"}
    for spec in lantian_services.values():
        assert spec["command"][0] in commands
        for key, value in spec["environment"].items():
            monkeypatch.setenv(key, value)
    settings = Settings()
    assert settings.influx.url == "http://influxdb:8086"
    assert settings.ledger.url.startswith("postgresql+psycopg://")
