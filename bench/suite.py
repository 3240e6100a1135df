"""`lantian bench`: the ingest cases of the performance issue, each against fresh private
Mosquitto and InfluxDB instances and the ceilings of those parts measured in the same run.
Prints one table and writes the rows as JSON.

    .venv/bin/python -m bench.suite [--cases json-single,json-batch,hj212-mqtt,hj212-tcp]
                                    [--quick] [--json F]

Cases: JSON with one reading a message and with 100 (bench/ingest_cases.py); HJ 212 minute and
real-time packets over MQTT (bench/hj212_mqtt.py) and over the TCP gateway from 1,000 units
connected at once (bench/hj212_tcp.py). An HJ 212 packet is one reading (one point).
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.hj212_mqtt import run_mqtt_case
from bench.hj212_tcp import run_tcp_case
from bench.ingest_cases import JsonCase, run_json_case
from bench.results import BenchRow, print_rows, write_json
from lantian.local_services import LocalService, start_influxdb, start_mosquitto

Runner = Callable[[LocalService, LocalService, Path], BenchRow]

# The targets: batched payloads ≥ 60 % of the InfluxDB write ceiling, single readings
# ≥ 70 % of raw paho QoS 1 publish → subscribe.
FULL: dict[str, JsonCase] = {
    "json-single": JsonCase("json-single", 100_000, 1, stations=20, publisher="c",
                            target_ratio=0.70),
    "json-batch": JsonCase("json-batch", 300_000, 100, target_ratio=0.60),
}
QUICK: dict[str, JsonCase] = {
    "json-single": JsonCase("json-single", 3_000, 1, stations=5, publisher="c",
                            target_ratio=0.70),
    "json-batch": JsonCase("json-batch", 20_000, 100, stations=50, target_ratio=0.60),
}


# HJ 212: (units, data hours per unit); each unit sends a real-time and a minute packet a minute
HJ212_FULL = {"hj212-mqtt": (50, 4.0), "hj212-tcp": (1000, 0.25)}
HJ212_QUICK = {"hj212-mqtt": (5, 0.1), "hj212-tcp": (20, 0.1)}


def _hj212_row(figures: dict[str, Any], cpu_key: str = "cpu") -> BenchRow:
    """A row from the HJ 212 cases' figures (their own keys, see bench/hj212_*.py)."""
    keep = ("units", "hours", "connected", "mqtt_ceiling_per_s", "influx_ceiling_per_s")
    extra: dict[str, float | int | str] = {k: figures[k] for k in keep if k in figures}
    extra.update({f"latency_ms_{k}": v for k, v in figures.get("latency_ms", {}).items()})
    return BenchRow(
        case=figures["case"], unit="packets", count=int(figures["count"]),
        seconds=float(figures["seconds"]), rate_per_s=float(figures["rate_per_s"]),
        ceiling="paho pub→sub" if figures["ceiling_per_s"] == figures.get(
            "mqtt_ceiling_per_s") else "InfluxDB write",
        ceiling_per_s=float(figures["ceiling_per_s"]),
        cpu_cores=dict(figures[cpu_key]), peak_rss_mib=dict(figures["peak_rss_mib"]),
        extra=extra)


def runners(quick: bool) -> dict[str, Runner]:
    """Every case by name, sized for a full run or a quick check."""
    table = QUICK if quick else FULL
    out: dict[str, Runner] = {
        name: (lambda b, i, d, c=case: run_json_case(c, b, i, d)) for name, case in table.items()
    }
    sizes = HJ212_QUICK if quick else HJ212_FULL
    paced = {"paced": (0.1,), "paced_seconds": 3.0} if quick else {}
    out["hj212-mqtt"] = lambda b, i, d: _hj212_row(
        run_mqtt_case(*sizes["hj212-mqtt"], 1, d, b, i))
    out["hj212-tcp"] = lambda b, i, d: _hj212_row(
        run_tcp_case(*sizes["hj212-tcp"], 1, d, b, i, **paced))  # type: ignore[arg-type]
    return out


def run_cases(names: list[str], quick: bool, scratch: Path) -> list[BenchRow]:
    """Run the named cases one after another, each on its own fresh broker and database."""
    available = runners(quick)
    unknown = [n for n in names if n not in available]
    if unknown:
        raise SystemExit(f"unknown case(s) {', '.join(unknown)}; "
                         f"choose from {', '.join(available)}")
    rows = []
    for k, name in enumerate(names):
        run_dir = scratch / f"{k}-{name}"
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
    names = list(runners(quick=True))
    parser.add_argument("--cases", default=",".join(names),
                        help=f"comma-separated, from: {', '.join(names)}")
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
