"""`lantian bench`: the ingest cases of the performance issue, each against fresh private
Mosquitto and InfluxDB instances and the ceilings of those parts measured in the same run.
Prints one table and writes the rows as JSON.

    .venv/bin/python -m bench.suite [--cases json-single,json-batch] [--quick] [--json F]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bench.ingest_cases import JsonCase, run_json_case
from bench.results import BenchRow, print_rows, write_json
from lantian.local_services import LocalService, start_influxdb, start_mosquitto

Runner = Callable[[LocalService, LocalService, Path], BenchRow]

# The targets: batched payloads ≥ 60 % of the InfluxDB write ceiling, single readings
# ≥ 70 % of raw paho QoS 1 publish → subscribe.
FULL: dict[str, JsonCase] = {
    "json-single": JsonCase("json-single", 60_000, 1, target_ratio=0.70),
    "json-batch": JsonCase("json-batch", 300_000, 100, target_ratio=0.60),
}
QUICK: dict[str, JsonCase] = {
    "json-single": JsonCase("json-single", 3_000, 1, stations=50, target_ratio=0.70),
    "json-batch": JsonCase("json-batch", 20_000, 100, stations=50, target_ratio=0.60),
}


def runners(quick: bool) -> dict[str, Runner]:
    """Every case by name, sized for a full run or a quick check."""
    table = QUICK if quick else FULL
    out: dict[str, Runner] = {
        name: (lambda b, i, d, c=case: run_json_case(c, b, i, d)) for name, case in table.items()
    }
    return out


def run_cases(names: list[str], quick: bool, scratch: Path) -> list[BenchRow]:
    """Run the named cases one after another, each on its own fresh broker and database."""
    available = runners(quick)
    unknown = [n for n in names if n not in available]
    if unknown:
        raise SystemExit(f"unknown case(s) {', '.join(unknown)}; "
                         f"choose from {', '.join(available)}")
    rows = []
    for name in names:
        run_dir = scratch / name
        run_dir.mkdir(parents=True)
        broker, influx = start_mosquitto(run_dir), start_influxdb(run_dir)
        try:
            rows.append(available[name](broker, influx, run_dir))
        finally:
            broker.stop()
            influx.stop()
    return rows


def machine() -> dict[str, object]:
    """Where the figures were taken: they only mean something next to this."""
    load = os.getloadavg()
    return {"date": datetime.now(UTC).isoformat(timespec="seconds"),
            "host": platform.node(), "cpus": os.cpu_count(), "python": platform.python_version(),
            "load_average_at_start": [round(x, 2) for x in load]}


def main(argv: list[str] | None = None) -> list[BenchRow]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=",".join(FULL),
                        help=f"comma-separated, from: {', '.join(FULL)}")
    parser.add_argument("--quick", action="store_true", help="small sizes: checks it works")
    parser.add_argument("--json", type=Path, help="write the rows here as JSON")
    args = parser.parse_args(argv)
    meta = machine()
    with tempfile.TemporaryDirectory(prefix="lantian-bench-") as scratch:
        rows = run_cases([c for c in args.cases.split(",") if c], args.quick, Path(scratch))
    print_rows(rows)
    if args.json:
        write_json(rows, args.json, {**meta, "quick": args.quick})
    return rows


if __name__ == "__main__":
    main()
