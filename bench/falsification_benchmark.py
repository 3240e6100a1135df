"""Falsification detectors against labelled bundles: recall, precision, false findings, time.

Generates labelled audit bundles (bench/labelled_bundles.py: the 12 real Beijing stations and
simulated CEMS stacks with injected falsifications, over periods spread across 2014–2016) and
clean ones (same kind of data, nothing injected), runs Lantian's audit
(`lantian.bundle_audit.audit_bundle`, every detector) and the ADTK baseline
(bench/adtk_baseline.py, in its own venv) on each, and scores both with bench/score_findings.py:
recall and precision per finding type on the labelled bundles, false findings per 100
source-days on the clean ones. Targets (the detector brief): recall ≥ 0.9, precision ≥ 0.9,
≤ 1 false finding per 100 source-days. Writes the "Falsification detectors" section of
docs/benchmarks.md.

    .venv/bin/python bench/falsification_benchmark.py [--bundles 4] [--clean 2]
        [--out docs/benchmarks.md] [--no-adtk] [--detectors a,b] [--adtk-sweep]

Bundles are kept under var/bench/falsification/ and reused while the generator and the
arguments are unchanged (`--regenerate` forces new ones); each bundle folder also receives the
findings of both systems (lantian.jsonl, adtk.jsonl) and Lantian's misses and false findings
(lantian.misses.json).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.console import Console
from rich.table import Table

from bench import adtk_baseline, labelled_bundles
from bench.score_findings import (
    TARGET_FALSE_PER_100_SOURCE_DAYS,
    TARGET_PRECISION,
    TARGET_RECALL,
    Score,
    combine,
    describe,
    markdown_table,
    read_station_ids,
    score,
)

ROOT = Path(__file__).resolve().parents[1]
WORK_DIR = ROOT / "var" / "bench" / "falsification"
SECTION = "## Falsification detectors"
# Labelled bundles start in every season of 2014–2016; clean ones in other months.
LABELLED_STARTS = ("2014-01-01", "2015-06-01", "2016-09-01", "2014-10-01", "2015-03-01",
                   "2016-06-01", "2014-05-01", "2015-11-01", "2016-01-01", "2014-07-01")
CLEAN_STARTS = ("2015-08-01", "2016-02-01", "2014-03-01", "2015-12-01", "2016-10-01")
LABELLED_SEED = 101
CLEAN_SEED = 901


@dataclass(frozen=True)
class BundleSpec:
    name: str
    seed: int
    start: str
    months: int
    n_outlets: int
    clean: bool

    @property
    def path(self) -> Path:
        return WORK_DIR / self.name


@dataclass
class BundleRun:
    """One bundle's truth, both systems' findings and their timings."""

    spec: BundleSpec
    truth: list[dict[str, Any]]
    stations: set[str]
    kinds: dict[str, str]
    source_days: float
    generate_s: float
    lantian: list[dict[str, Any]] = field(default_factory=list)
    lantian_s: float = 0.0
    lantian_error: str | None = None
    adtk: list[dict[str, Any]] | None = None
    adtk_s: float = 0.0

    def scored(self, findings: list[dict[str, Any]], by_kind: bool = False) -> Score:
        truth, found = self.truth, findings
        if by_kind:  # station exceedances keep their type: the scorer counts them apart
            truth = [_with_kind(r, self.kinds) for r in truth]
            found = [r if r["type"] == "exceedance" and r["source"] in self.stations
                     else _with_kind(r, self.kinds) for r in found]
        return score(found, truth, source_days=self.source_days, stations=self.stations)


def _with_kind(record: dict[str, Any], kinds: dict[str, str]) -> dict[str, Any]:
    """The record with its type qualified by the kind of its source ("flatline · outlet")."""
    return {**record, "type": f"{record['type']} · {kinds.get(record['source'], '?')}"}


def _generator_version() -> str:
    """Digest of the generator's source: bundles are regenerated when it changes."""
    return hashlib.sha256(Path(labelled_bundles.__file__).read_bytes()).hexdigest()[:16]


def plan(n_labelled: int, n_clean: int, months: int, n_outlets: int) -> list[BundleSpec]:
    specs = []
    for i in range(n_labelled):
        start = LABELLED_STARTS[i % len(LABELLED_STARTS)]
        seed = LABELLED_SEED + i
        specs.append(BundleSpec(f"labelled-{start[:7]}-s{seed}-{months}m-{n_outlets}o", seed,
                                start, months, n_outlets, False))
    for i in range(n_clean):
        start = CLEAN_STARTS[i % len(CLEAN_STARTS)]
        seed = CLEAN_SEED + i
        specs.append(BundleSpec(f"clean-{start[:7]}-s{seed}-{months}m-{n_outlets}o", seed,
                                start, months, n_outlets, True))
    return specs


def prepare(spec: BundleSpec, regenerate: bool, console: Console) -> tuple[list[dict], float]:
    """(truth, generation seconds) of a bundle, generating it unless an identical one exists."""
    stamp = spec.path / "bench.json"
    wanted = {"seed": spec.seed, "start": spec.start, "months": spec.months,
              "n_outlets": spec.n_outlets, "clean": spec.clean,
              "generator": _generator_version()}
    if not regenerate and stamp.is_file():
        kept = json.loads(stamp.read_text())
        if kept.get("params") == wanted:
            return labelled_bundles.read_truth(spec.path), float(kept["generate_s"])
    console.print(f"generating {spec.name} …")
    began = time.perf_counter()
    truth = labelled_bundles.generate_bundle(spec.path, seed=spec.seed, start=spec.start,
                                             months=spec.months, n_outlets=spec.n_outlets,
                                             clean=spec.clean)
    seconds = time.perf_counter() - began
    stamp.write_text(json.dumps({"params": wanted, "generate_s": seconds}, indent=1))
    return truth, seconds


def _kinds(bundle: Path) -> dict[str, str]:
    import csv

    with (bundle / "sources.csv").open(encoding="utf-8", newline="") as handle:
        return {row["id"]: row["kind"] for row in csv.DictReader(handle)}


def run_lantian(run: BundleRun, detectors: tuple[str, ...] | None) -> None:
    from analytics.falsification.suite import DetectorSettings
    from lantian.bundle_audit import audit_bundle

    tz = ZoneInfo(labelled_bundles.TZ_NAME)
    began = time.perf_counter()
    try:
        findings = (audit_bundle(run.spec.path,
                                 DetectorSettings.from_overrides({}, enabled=detectors))
                    if detectors else audit_bundle(run.spec.path))
    except Exception:  # report it with the bundle, go on with the others
        run.lantian_error = traceback.format_exc()
        return
    finally:
        run.lantian_s = time.perf_counter() - began
    run.lantian = [f.to_record(tz) for f in findings]
    _write_jsonl(run.spec.path / "lantian.jsonl", run.lantian)
    if not run.spec.clean:
        scored = run.scored(run.lantian)
        misses = {"unmatched_events": list(scored.unmatched_events),
                  "false_findings": list(scored.false_records)}
        (run.spec.path / "lantian.misses.json").write_text(
            json.dumps(misses, ensure_ascii=False, indent=1), encoding="utf-8")


def _write_jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def _cell(value: float | None, target: float, higher_is_better: bool = True) -> str:
    if value is None:
        return "—"
    ok = value >= target if higher_is_better else value <= target
    return f"[{'green' if ok else 'red'}]{value:.2f}[/]"


def rich_table(title: str, labelled: dict[str, Score], clean: dict[str, Score]) -> Table:
    """Per type: events, recall and precision of each system, false/100 source-days clean."""
    table = Table(title=title)
    names = list(labelled)
    table.add_column("type")
    table.add_column("events", justify="right")
    for heading in ("recall", "precision"):
        for name in names:
            table.add_column(f"{heading}\n{name}", justify="right")
    for name in clean:
        table.add_column(f"false/100 sd\nclean {name}", justify="right")
    types = sorted({t for s in (*labelled.values(), *clean.values()) for t in s.types})
    for type_ in [*types, "all"]:
        def pick(s: Score, t: str = type_) -> Any:
            return s.total if t == "all" else s.of(t)
        row = [type_, str(pick(labelled[names[0]]).events)]
        row += [_cell(pick(labelled[n]).recall, TARGET_RECALL) for n in names]
        row += [_cell(pick(labelled[n]).precision, TARGET_PRECISION) for n in names]
        row += [_cell(c.false_per_100_source_days(None if type_ == "all" else type_),
                      TARGET_FALSE_PER_100_SOURCE_DAYS, higher_is_better=False)
                for c in clean.values()]
        table.add_row(*row, end_section=type_ == types[-1] if types else False)
    return table


def bundle_table(runs: list[BundleRun]) -> list[list[str]]:
    rows = [["bundle", "period", "sources", "source-days", "events", "generate s",
             "Lantian s", "Lantian findings", "ADTK s", "ADTK findings"]]
    for run in runs:
        n_sources = len(run.kinds)
        rows.append([
            run.spec.name, f"{run.spec.start} + {run.spec.months} mo", str(n_sources),
            f"{run.source_days:,.0f}", str(len(run.truth)), f"{run.generate_s:.1f}",
            "failed" if run.lantian_error else f"{run.lantian_s:.1f}", str(len(run.lantian)),
            "—" if run.adtk is None else f"{run.adtk_s:.1f}",
            "—" if run.adtk is None else str(len(run.adtk)),
        ])
    return rows


def _markdown_rows(rows: list[list[str]]) -> str:
    head, *body = rows
    lines = ["| " + " | ".join(head) + " |",
             "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in body]
    return "\n".join(lines)


def section_text(runs: list[BundleRun], labelled: dict[str, Score], clean: dict[str, Score],
                 labelled_kind: dict[str, Score], clean_kind: dict[str, Score],
                 command: str) -> str:
    """The markdown of the docs section."""
    lab = [r for r in runs if not r.spec.clean]
    cln = [r for r in runs if r.spec.clean]
    lantian_sd = sum(r.source_days for r in runs)
    lantian_s = sum(r.lantian_s for r in runs)
    adtk_runs = [r for r in runs if r.adtk is not None]
    exceed_lab = labelled["Lantian"].station_exceedances
    exceed_clean = clean["Lantian"].station_exceedances if "Lantian" in clean else 0
    months = lab[0].spec.months
    n_sources = len(lab[0].kinds)
    per_type = labelled_bundles.default_events_per_type(months)
    parts = [
        f"{SECTION}: `bench/falsification_benchmark.py`",
        "",
        "Labelled audit bundles (shared/formats.md §3) from `bench/labelled_bundles.py`: the 12"
        " real Beijing stations (shared/data, hourly) and simulated CEMS stacks (minute data "
        "from `simulators/cems_*`, made hourly as HJ 212 does; the register's 6 outlets and "
        f"copies with other limits and industries) over {months}-month periods spread across "
        "2014–2016, with falsifications injected in the detector brief's ranges (each type "
        f"{per_type} times per bundle and kind of source, durations and strengths stratified "
        "over the whole range, ≥ 24 h between events on one source and pollutant). Clean "
        "bundles hold the same kind of data with nothing injected. A finding matches an event "
        "when source and type are equal, the pollutants are equal (or either is `all`) and the "
        "hour spans overlap within ± 3 h; recall counts events matched, precision findings "
        "matching, false findings are counted per 100 source-days on the clean bundles. Station"
        " `exceedance` findings are not scored: real Beijing days exceed GB 3095 for real "
        f"({exceed_lab} such findings on the labelled bundles, {exceed_clean} on the clean "
        "ones). The baseline is ADTK 0.6.2 (PersistAD, LevelShiftAD, VolatilityShiftAD, "
        "InterQuartileRangeAD, ThresholdAD with the limit) per series, each detector mapped to "
        "the finding types it can see (table in `bench/adtk_baseline.py`; no ADTK detector "
        "looks at repetition, missing values or flags, so copy_paste, gap_at_peak and "
        "flag_abuse get no baseline finding). Targets: recall ≥ 0.9, precision ≥ 0.9, ≤ 1 false"
        " finding per 100 source-days; misses are bold.",
        "",
        f"    {command}",
        "",
        f"Measured {date.today().isoformat()} on the {os.cpu_count()}-core build machine: "
        f"{len(lab)} labelled and {len(cln)} clean bundles.",
        "",
        _markdown_rows(bundle_table(runs)),
        "",
        "By type (labelled bundles for recall and precision, clean bundles for false findings):",
        "",
        markdown_table(labelled, clean),
        "",
        "By type and kind of source:",
        "",
        markdown_table(labelled_kind, clean_kind),
        "",
        f"Lantian: {describe(labelled['Lantian'])} (labelled).",
    ]
    if "Lantian" in clean:
        parts += ["", f"Lantian on clean data: {describe(clean['Lantian'])}."]
    if "ADTK" in labelled:
        parts += ["", f"ADTK: {describe(labelled['ADTK'])} (labelled)."]
    parts += ["", f"Time: Lantian's audit read and judged {lantian_sd:,.0f} source-days in "
              f"{lantian_s:.1f} s"
              + (f"; ADTK took {sum(r.adtk_s for r in adtk_runs):.1f} s for "
                 f"{sum(r.source_days for r in adtk_runs):,.0f}" if adtk_runs else "")
              + f"; generating a {months}-month bundle of {n_sources} sources takes ≈ "
              f"{_mean([r.generate_s for r in lab]):.0f} s (labelled) and "
              f"{_mean([r.generate_s for r in cln]):.0f} s (clean).", ""]
    return "\n".join(parts)


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def update_docs(path: Path, text: str) -> None:
    """Replace (or append) the section starting with SECTION, keeping every other section."""
    old = path.read_text(encoding="utf-8") if path.is_file() else "# Benchmarks\n"
    lines = old.splitlines()
    begin = next((i for i, line in enumerate(lines) if line.startswith(SECTION)), None)
    if begin is None:
        updated = old.rstrip("\n") + "\n\n" + text
    else:
        end = next((i for i in range(begin + 1, len(lines)) if lines[i].startswith("## ")),
                   len(lines))
        before = "\n".join(lines[:begin]).rstrip("\n")
        after = "\n".join(lines[end:])
        updated = before + "\n\n" + text + ("\n" + after if after else "")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(updated.rstrip("\n") + "\n", encoding="utf-8")


def adtk_sweep(run: BundleRun, console: Console) -> None:
    """One-at-a-time sweep of the ADTK thresholds on one labelled bundle (how SETTINGS was
    chosen): events found and findings true for each type the setting's detector maps to."""
    table = Table(title=f"ADTK sweep on {run.spec.name}")
    for column in ("setting", "value", "types: found/events, true/findings", "F1"):
        table.add_column(column)
    for key, values in adtk_baseline.SWEEP_GRID.items():
        for value in values:
            findings, _ = adtk_baseline.run_baseline(run.spec.path, settings={key: value})
            scored = run.scored(findings)
            cells, f1s = [], []
            for type_, counts in scored.types.items():
                if not counts.findings and not counts.events_found:
                    continue
                cells.append(f"{type_} {counts.events_found}/{counts.events}, "
                             f"{counts.findings_true}/{counts.findings}")
                r, p = counts.recall or 0.0, counts.precision or 0.0
                f1s.append(2 * r * p / (r + p) if r + p else 0.0)
            table.add_row(key, f"{value:g}", "; ".join(cells), f"{_mean(f1s):.3f}")
    console.print(table)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundles", type=int, default=4, help="labelled bundles")
    parser.add_argument("--clean", type=int, default=2, help="clean bundles")
    parser.add_argument("--months", type=int, default=4)
    parser.add_argument("--outlets", type=int, default=38)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--no-docs", action="store_true", help="print only")
    parser.add_argument("--no-adtk", action="store_true", help="skip the ADTK baseline")
    parser.add_argument("--no-lantian", action="store_true",
                        help="skip Lantian's audit (baseline only; no docs written)")
    parser.add_argument("--detectors", help="comma-separated Lantian detectors (default all)")
    parser.add_argument("--regenerate", action="store_true", help="regenerate every bundle")
    parser.add_argument("--adtk-sweep", action="store_true",
                        help="sweep the ADTK thresholds on the first labelled bundle and stop")
    args = parser.parse_args(argv)
    console = Console(width=None if sys.stdout.isatty() else 160)
    detectors = tuple(args.detectors.split(",")) if args.detectors else None
    runs: list[BundleRun] = []
    for spec in plan(args.bundles, args.clean, args.months, args.outlets):
        truth, generate_s = prepare(spec, args.regenerate, console)
        kinds = _kinds(spec.path)
        period = labelled_bundles.period_of(spec.start, spec.months)
        run = BundleRun(spec, truth, read_station_ids(spec.path), kinds,
                        len(kinds) * period.days, generate_s)
        if args.adtk_sweep and not spec.clean:
            adtk_sweep(run, console)
            return 0
        if not args.no_lantian:
            run_lantian(run, detectors)
        if run.lantian_error:
            console.print(f"[red]Lantian's audit failed on {spec.name}:[/]\n{run.lantian_error}")
        if not args.no_adtk:
            run.adtk, run.adtk_s = adtk_baseline.run_baseline(spec.path,
                                                              spec.path / "adtk.jsonl")
        console.print(f"{spec.name}: {len(truth)} events in {generate_s:.1f} s"
                      + ("" if args.no_lantian else
                         f", Lantian {len(run.lantian)} findings in {run.lantian_s:.1f} s")
                      + ("" if run.adtk is None else
                         f", ADTK {len(run.adtk)} in {run.adtk_s:.1f} s"))
        runs.append(run)

    systems: dict[str, Callable[[BundleRun], list[dict[str, Any]]]] = {}
    if not args.no_lantian:
        systems["Lantian"] = lambda r: r.lantian
    if not args.no_adtk:
        systems["ADTK"] = lambda r: r.adtk or []
    lab = [r for r in runs if not r.spec.clean]
    cln = [r for r in runs if r.spec.clean]
    labelled = {n: combine(r.scored(get(r)) for r in lab) for n, get in systems.items()}
    clean = {n: combine(r.scored(get(r)) for r in cln) for n, get in systems.items()} if cln \
        else {}
    labelled_kind = {n: combine(r.scored(get(r), by_kind=True) for r in lab)
                     for n, get in systems.items()}
    clean_kind = ({n: combine(r.scored(get(r), by_kind=True) for r in cln)
                   for n, get in systems.items()} if cln else {})

    table = Table(title="Bundles")
    head, *body = bundle_table(runs)
    for column in head:
        table.add_column(column, justify="left" if column in ("bundle", "period") else "right")
    for row in body:
        table.add_row(*row)
    console.print(table)
    targets = (f"targets: recall ≥ {TARGET_RECALL}, precision ≥ {TARGET_PRECISION}, "
               f"≤ {TARGET_FALSE_PER_100_SOURCE_DAYS} false / 100 source-days")
    console.print(rich_table(f"By type ({targets})", labelled, clean))
    console.print(rich_table("By type and kind of source", labelled_kind, clean_kind))
    for name, scored in labelled.items():
        console.print(f"{name} (labelled): {describe(scored)}")
    for name, scored in clean.items():
        console.print(f"{name} (clean): {describe(scored)}")

    failed = [r.spec.name for r in runs if r.lantian_error]
    if failed:
        console.print(f"[red]Lantian's audit failed on {', '.join(failed)}; "
                      f"{args.out} left unchanged.[/]")
        return 1
    if not args.no_docs and not args.no_lantian and lab:
        command = ".venv/bin/python bench/falsification_benchmark.py " + " ".join(
            a for a in (argv if argv is not None else sys.argv[1:]) if a)
        update_docs(args.out, section_text(runs, labelled, clean, labelled_kind, clean_kind,
                                           command.strip()))
        console.print(f"wrote the '{SECTION}' section of {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
