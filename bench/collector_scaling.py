"""Scale-out of the collector: 1, 2 and 3 `lantian collect` processes in one MQTT shared-
subscription group against one Mosquitto and one InfluxDB (started here), readings/s until
every reading is in InfluxDB. The baseline is one collector in the same run; the ratio says
what each added process buys on this machine. Prints a table and JSON.

On one 2-core machine the processes share the cores with the broker, InfluxDB and the
publishers, so this shows the mechanism and its overhead, not a cluster's capacity.

    .venv/bin/python bench/collector_scaling.py [--readings 60000] [--batch 1] [--publishers 2]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.collector_process import cpu_seconds, start_collector
from bench.collector_throughput import client, payloads, publish_all, readings
from config.settings import InfluxSettings
from ingest.influx_store import InfluxStore
from lantian.local_services import (
    LocalService,
    start_influxdb,
    start_mosquitto,
    stop_process,
    wait_until,
)

GROUP = "bench"


def _publish(port: int, messages: list[tuple[str, bytes]]) -> None:
    pub = client(port, "scale-pub")
    publish_all(pub, messages)
    pub.disconnect()
    pub.loop_stop()


def run(n: int, broker: LocalService, influx: LocalService, run_dir: Path,
        messages: list[tuple[str, bytes]], total: int, publishers: int) -> dict[str, float]:
    database = f"scale{n}"
    store = InfluxStore(InfluxSettings(url=influx.url, database=database))
    store.ensure_database()
    # a group per run: the previous run's stopped members keep persistent sessions in their
    # group, and the broker would keep queueing their share for them
    procs = [start_collector(broker, influx, run_dir, f"scale{n}-{k}", database,
                             LANTIAN_COLLECTOR__SHARED_GROUP=f"{GROUP}{n}")
             for k in range(n)]
    try:
        time.sleep(1.0)  # SUBACKs: a benchmark, not a test
        cpu_before = sum(cpu_seconds(p.pid) for p in procs)
        shares = [messages[i::publishers] for i in range(publishers)]
        started = time.perf_counter()
        workers = [multiprocessing.Process(target=_publish, args=(broker.port, share))
                   for share in shares]
        for worker in workers:
            worker.start()
        if not wait_until(lambda: store.count("station_reading", "pm25") >= total, 600, 0.05):
            raise SystemExit(f"{n} collectors stored {store.count('station_reading', 'pm25')}"
                             f" of {total}")
        elapsed = time.perf_counter() - started
        for worker in workers:
            worker.join(60)
        cpu = sum(cpu_seconds(p.pid) for p in procs) - cpu_before
    finally:
        for proc in procs:
            stop_process(proc)
    return {"collectors": n, "readings_per_s": total / elapsed, "seconds": elapsed,
            "collector_cpu_s_per_100k": cpu / total * 100_000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readings", type=int, default=60_000)
    parser.add_argument("--batch", type=int, default=1, help="readings per MQTT message")
    parser.add_argument("--publishers", type=int, default=2, help="publisher processes")
    parser.add_argument("--stations", type=int, default=500)
    args = parser.parse_args()
    messages = payloads(readings(args.readings, args.stations), args.batch)
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        run_dir = Path(scratch)
        broker, influx = start_mosquitto(run_dir), start_influxdb(run_dir)
        try:
            for n in (1, 2, 3):
                rows.append(run(n, broker, influx, run_dir, messages, args.readings,
                                args.publishers))
        finally:
            broker.stop()
            influx.stop()
    base = rows[0]["readings_per_s"]
    for row in rows:
        row["ratio_to_one"] = row["readings_per_s"] / base
    print(f"{'collectors':>10} {'readings/s':>11} {'ratio to 1':>11} {'CPU s/100k':>11}")
    for row in rows:
        print(f"{row['collectors']:>10} {row['readings_per_s']:>11,.0f} "
              f"{row['ratio_to_one']:>11.2f} {row['collector_cpu_s_per_100k']:>11.1f}")
    print(json.dumps({"readings": args.readings, "batch": args.batch,
                      "publishers": args.publishers, "runs": rows}))


if __name__ == "__main__":
    main()
