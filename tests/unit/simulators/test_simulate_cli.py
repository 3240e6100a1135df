"""The simulator CLI: commands exist, bad input fails before any connection is tried."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from simulators.cli import app

runner = CliRunner()


def test_help_lists_both_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "replay" in result.output
    assert "synthetic" in result.output


def test_replay_with_a_missing_data_file_names_it(tmp_path: Path) -> None:
    missing = tmp_path / "missing.csv.gz"
    result = runner.invoke(app, ["replay", "--data", str(missing)])
    assert result.exit_code == 2
    assert str(missing) in result.output


def test_synthetic_realtime_and_start_conflict() -> None:
    result = runner.invoke(app, ["synthetic", "--realtime", "--start", "2026-01-01"])
    assert result.exit_code == 2
