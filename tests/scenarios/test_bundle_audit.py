"""`lantian audit` on a labelled bundle in the contract format: real Beijing stations and
simulated CEMS outlets with every falsification type injected, audited through the CLI, scored
against the truth written with it."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from analytics.findings import FINDING_TYPES
from bench.labelled_bundles import generate_bundle, source_days
from bench.score_findings import score
from lantian.cli import app


def test_cli_audit_finds_the_injected_events(tmp_path: Path, beijing_data: Path) -> None:
    bundle = tmp_path / "bundle"
    truth = generate_bundle(bundle, seed=5, start="2015-11-01", months=2, n_outlets=8,
                            events_per_type=3, data_path=beijing_data)
    assert {t["type"] for t in truth} == FINDING_TYPES - {"reduction_shortfall"}
    out = tmp_path / "findings.jsonl"
    result = CliRunner().invoke(app, ["audit", str(bundle), "--out", str(out)])
    assert result.exit_code == 0, result.output
    findings = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert findings and all(f["type"] in FINDING_TYPES for f in findings)
    assert all(f["start"].endswith("+08:00") and f["end"] >= f["start"] for f in findings)
    assert not (tmp_path / "findings.rejected.csv").exists()
    for kind in ("flatline", "dilution", "neighbor_divergence"):
        assert kind in result.output  # the summary table names what was found
    scored = score(findings, truth, source_days=source_days(bundle))
    total = scored.total
    assert total.recall is not None and total.recall >= 0.85, scored.unmatched_events
    assert total.precision is not None and total.precision >= 0.85, scored.false_records
