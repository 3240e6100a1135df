"""`lantian audit`: the live detectors over an exported audit bundle (shared/formats.md §3).

Reads the bundle, runs analytics.falsification.suite over each kind of source with a progress
bar, writes findings as JSON lines, keeps every rejected row with its reason beside them, and
prints a summary table by type.
"""

from __future__ import annotations

import csv
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from analytics.falsification.suite import DetectorSettings, count_steps, run_detectors
from analytics.findings import Finding
from ingest.audit_bundle import AuditBundle, RejectedRow, read_bundle


@dataclass
class AuditResult:
    """What an audit found and what it could not read."""

    bundle: AuditBundle
    findings: list[Finding] = field(default_factory=list)
    seconds: float = 0.0

    def by_type(self) -> Counter[str]:
        return Counter(f.type for f in self.findings)


def audit_bundle(path: Path, settings: DetectorSettings | None = None, tz: str = "Asia/Shanghai",
                 progress: Callable[[str, int], None] | None = None) -> list[Finding]:
    """Every detector's findings over the bundle at `path` (no files written)."""
    return run_audit(path, settings, tz, progress).findings


def run_audit(path: Path, settings: DetectorSettings | None = None, tz: str = "Asia/Shanghai",
              progress: Callable[[str, int], None] | None = None) -> AuditResult:
    """Read the bundle and run the detectors; the result keeps the bundle (and its rejects)."""
    return judge_bundle(read_bundle(Path(path), tz), settings or DetectorSettings(), progress)


def judge_bundle(bundle: AuditBundle, settings: DetectorSettings,
                 progress: Callable[[str, int], None] | None = None) -> AuditResult:
    """Every detector over each kind of source in a bundle already read; seconds spent judging."""
    began = time.perf_counter()
    findings: list[Finding] = []
    for series in bundle.series():
        findings += run_detectors(series, settings, progress)
    return AuditResult(bundle, findings, time.perf_counter() - began)


def write_findings(findings: list[Finding], out: Path, tz: str) -> None:
    """JSON lines in the finding format of formats.md §3, times in the bureau's offset."""
    zone = ZoneInfo(tz)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("wb") as handle:
        for item in findings:
            handle.write(orjson.dumps(item.to_record(zone)) + b"\n")


def rejected_path(out: Path) -> Path:
    """Where the rows the audit could not use are kept: beside the findings."""
    return out.with_name(out.stem + ".rejected.csv")


def write_rejected(rows: list[RejectedRow], path: Path) -> None:
    """Rejected readings.csv rows with their line number and reason (UTF-8 CSV)."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["line", "reason", "time", "source", "pollutant", "value", "flag"])
        for row in rows:
            writer.writerow([row.line, row.reason, *(row.raw.get(c, "") for c in
                                                     ("time", "source", "pollutant", "value",
                                                      "flag"))])


def summary_table(result: AuditResult) -> Table:
    """Findings by type and kind of source, with the sources affected."""
    table = Table(title=f"Audit of {result.bundle.path} — {len(result.findings)} finding(s) "
                        f"in {result.seconds:.1f} s")
    for column in ("type", "station findings", "outlet findings", "sources"):
        table.add_column(column, justify="left" if column == "type" else "right")
    kinds = dict(zip(result.bundle.sources["id"], result.bundle.sources["kind"], strict=True))
    types = sorted({f.type for f in result.findings})
    for kind_type in types:
        of_type = [f for f in result.findings if f.type == kind_type]
        table.add_row(kind_type,
                      str(sum(kinds.get(f.source) == "station" for f in of_type)),
                      str(sum(kinds.get(f.source) == "outlet" for f in of_type)),
                      str(len({f.source for f in of_type})))
    if not types:
        table.add_row("(none)", "0", "0", "0")
    return table


def audit_command(bundle: Path, out: Path, settings: DetectorSettings, tz: str,
                  console: Console) -> AuditResult:
    """The CLI's work: audit with a progress bar, write findings and rejects, print the table."""
    bundle_data = read_bundle(bundle, tz)
    total = count_steps(bundle_data.series(), settings)
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("detecting", total=total)

        def advance(name: str, _n_sources: int) -> None:
            bar.update(task, advance=1, description=f"detecting: {name}")

        result = judge_bundle(bundle_data, settings, advance)
    write_findings(result.findings, out, tz)
    console.print(summary_table(result))
    n_sources = len(bundle_data.sources)
    console.print(f"{bundle_data.n_readings:,} rows read for {n_sources} source(s); findings "
                  f"written to {out}")
    if bundle_data.rejected:
        kept = rejected_path(out)
        write_rejected(bundle_data.rejected, kept)
        reasons = Counter(r.reason for r in bundle_data.rejected)
        console.print(f"[yellow]{len(bundle_data.rejected):,} row(s) rejected, kept with their "
                      f"reasons in {kept}[/yellow]")
        for reason, count in reasons.most_common():
            console.print(f"  {count:,} × {reason}")
    return result
