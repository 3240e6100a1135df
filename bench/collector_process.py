"""A `lantian collect` process for the benchmarks (its own interpreter, as in production), and
its CPU time: one launcher for every benchmark that measures the collector."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bench.proc_meter import cpu_seconds
from lantian.local_services import LocalService, start_process, wait_until

__all__ = ["cpu_seconds", "start_collector"]


def start_collector(broker: LocalService, influx: LocalService, run_dir: Path, name: str,
                    database: str, **overrides: str) -> subprocess.Popen[bytes]:
    """Start a collector named `name` writing to `database`, gateway off, its spool and ledger
    in `run_dir`; `overrides` are extra LANTIAN_… settings. Returns once it has connected."""
    env = {**os.environ, "LANTIAN_MQTT__PORT": str(broker.port),
           "LANTIAN_INFLUX__URL": influx.url, "LANTIAN_INFLUX__DATABASE": database,
           "LANTIAN_LEDGER__URL": f"sqlite:///{run_dir / f'{name}.db'}",
           "LANTIAN_GATEWAY__ENABLED": "false", "LANTIAN_COLLECTOR__CLIENT_ID": name,
           "LANTIAN_COLLECTOR__SPOOL_DIR": str(run_dir / f"spool-{name}"), **overrides}
    log_path = run_dir / f"{name}.log"
    proc = start_process([sys.executable, "-m", "lantian", "collect"], log_path, env)
    if not wait_until(lambda: "connected to broker" in log_path.read_text(), 60):
        proc.kill()
        raise SystemExit(f"collector {name} did not connect; see {log_path}")
    return proc
