"""One row per benchmark case, the same for every case of `lantian bench`: what was pushed
through, how fast, against which ceiling measured in the same run, and what it cost (CPU and
peak memory per process). Printed as a table (rich) and written as JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table


@dataclass
class BenchRow:
    """A case's figures. `rate_per_s` and `ceiling_per_s` are in the same unit (`unit`/s);
    `cpu_cores` is each process's average CPU use over the timed part (1.0 = one core busy);
    `peak_rss_mib` each process's high-water resident memory."""

    case: str
    unit: str
    count: int
    seconds: float
    rate_per_s: float
    ceiling: str
    ceiling_per_s: float
    target_ratio: float | None = None
    cpu_cores: dict[str, float] = field(default_factory=dict)
    peak_rss_mib: dict[str, float] = field(default_factory=dict)
    extra: dict[str, float | int | str] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.rate_per_s / self.ceiling_per_s if self.ceiling_per_s else float("nan")

    @property
    def met(self) -> bool | None:
        return None if self.target_ratio is None else self.ratio >= self.target_ratio

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "ratio": round(self.ratio, 3), "met": self.met}


def _cores(values: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.2f}" for k, v in values.items())


def _mib(values: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.0f}" for k, v in values.items())


def table(rows: list[BenchRow], title: str = "Lantian benchmarks") -> Table:
    """The rows as a rich table (one line per case)."""
    out = Table(title=title)
    for name, justify in (("case", "left"), ("count", "right"), ("rate/s", "right"),
                          ("ceiling", "left"), ("ceiling/s", "right"), ("ratio", "right"),
                          ("target", "right"), ("CPU cores", "left"),
                          ("peak RSS MiB", "left")):
        out.add_column(name, justify=justify)  # type: ignore[arg-type]
    for row in rows:
        verdict = "" if row.met is None else (" ✓" if row.met else " ✗")
        out.add_row(
            row.case, f"{row.count:,} {row.unit}", f"{row.rate_per_s:,.0f}", row.ceiling,
            f"{row.ceiling_per_s:,.0f}", f"{row.ratio:.2f}{verdict}",
            "" if row.target_ratio is None else f"≥ {row.target_ratio:.2f}",
            _cores(row.cpu_cores), _mib(row.peak_rss_mib))
    return out


def print_rows(rows: list[BenchRow], console: Console | None = None) -> None:
    # wide enough for one line per case even when the output is a pipe or a CI log
    (console or Console(width=200)).print(table(rows))


def write_json(rows: list[BenchRow], path: Path, meta: dict[str, object]) -> None:
    """`{"meta": …, "cases": [row, …]}`: what a CI job or a later comparison reads."""
    path.write_text(json.dumps({"meta": meta, "cases": [r.as_dict() for r in rows]},
                               indent=2, ensure_ascii=False) + "\n")
