"""Private Mosquitto and InfluxDB 1.x instances on free loopback ports, under a run folder.

Used by `make run` and by the test fixtures, so that neither depends on (or disturbs) any
broker or database already running on the machine.
"""

from __future__ import annotations

import contextlib
import ctypes
import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

CONFIG_DIR = Path(__file__).resolve().parents[1] / "config"
_PR_SET_PDEATHSIG = 1


class ServiceStartError(RuntimeError):
    """A local service did not come up; the message names its log file."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def find_executable(name: str, *fallbacks: str) -> str:
    """The path of a program, looking in PATH and then in Debian's sbin folders."""
    found = shutil.which(name)
    if found:
        return found
    for candidate in fallbacks:
        if os.access(candidate, os.X_OK):
            return candidate
    raise ServiceStartError(
        f"{name} is not installed; run `make install` (installs Debian's package)"
    )


def wait_until(condition: Callable[[], bool], timeout_s: float, interval_s: float = 0.05) -> bool:
    """Poll `condition` until it is true or `timeout_s` passes; return its last value."""
    deadline = time.monotonic() + timeout_s
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval_s)


def _die_with_parent() -> None:
    # Linux: the child gets SIGTERM if the process that started it dies, even by SIGKILL,
    # so a killed `lantian run` or pytest never leaves brokers or databases behind.
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def start_process(argv: list[str], log_path: Path, env: dict[str, str] | None = None
                  ) -> subprocess.Popen[bytes]:
    """Start a child in its own session (Ctrl-C is handled by the parent), tied to our life."""
    log = log_path.open("ab")
    try:
        return subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, preexec_fn=_die_with_parent, env=env,
        )
    finally:
        log.close()


def stop_process(proc: subprocess.Popen[bytes], timeout_s: float = 10.0) -> None:
    """SIGTERM, wait, then SIGKILL: the process is gone when this returns."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout_s)


@dataclass
class LocalService:
    """A started service: where it listens, its process and its log."""

    name: str
    host: str
    port: int
    proc: subprocess.Popen[bytes]
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        stop_process(self.proc)

    def alive(self) -> bool:
        return self.proc.poll() is None


def _port_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def start_mosquitto(run_dir: Path, port: int | None = None, timeout_s: float = 15.0,
                    extra_conf: str = "") -> LocalService:
    """A Mosquitto listening on 127.0.0.1 with persistence in `run_dir`/mosquitto.

    `extra_conf` is appended after config/mosquitto.conf; Mosquitto takes the last value of a
    repeated option, so it can override ours (benchmarks, fault tests).
    """
    exe = find_executable("mosquitto", "/usr/sbin/mosquitto")
    home = run_dir / "mosquitto"
    home.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    conf = home / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\n"
        f"persistence_location {home}/\n"
        f"user {getpass.getuser()}\n"
        "log_dest stdout\n"
        "log_type error\nlog_type warning\nlog_type notice\n"
        + (CONFIG_DIR / "mosquitto.conf").read_text()
        + (f"\n{extra_conf}\n" if extra_conf else ""),
        encoding="utf-8",
    )
    log_path = home / "mosquitto.log"
    proc = start_process([exe, "-c", str(conf)], log_path)
    service = LocalService("mosquitto", "127.0.0.1", port, proc, log_path)
    if not wait_until(lambda: not service.alive() or _port_open("127.0.0.1", port), timeout_s) \
            or not service.alive():
        service.stop()
        raise ServiceStartError(f"mosquitto did not start on port {port}; see {log_path}")
    return service


def start_influxdb(run_dir: Path, port: int | None = None, timeout_s: float = 30.0,
                   auth: bool = False) -> LocalService:
    """An InfluxDB 1.x with its data in `run_dir`/influxdb, HTTP API on 127.0.0.1; with `auth`,
    requests need a user (create the first admin with CREATE USER … WITH ALL PRIVILEGES)."""
    exe = find_executable("influxd", "/usr/bin/influxd")
    home = run_dir / "influxdb"
    home.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    rpc_port = free_port()
    conf = home / "influxdb.conf"
    conf.write_text(
        f"""reporting-enabled = false
bind-address = "127.0.0.1:{rpc_port}"
[meta]
  dir = "{home}/meta"
  logging-enabled = false
[data]
  dir = "{home}/data"
  wal-dir = "{home}/wal"
  query-log-enabled = false
  max-values-per-tag = 0
[monitor]
  store-enabled = false
[http]
  bind-address = "127.0.0.1:{port}"
  log-enabled = false
  max-body-size = 0
  auth-enabled = {"true" if auth else "false"}
[logging]
  level = "warn"
[continuous_queries]
  enabled = false
""",
        encoding="utf-8",
    )
    log_path = home / "influxd.log"
    proc = start_process([exe, "-config", str(conf)], log_path)
    service = LocalService("influxdb", "127.0.0.1", port, proc, log_path)

    def ready() -> bool:
        if not service.alive():
            return True
        try:
            return httpx.get(f"{service.url}/ping", timeout=0.5).status_code == 204
        except httpx.HTTPError:
            return False

    if not wait_until(ready, timeout_s) or not service.alive():
        service.stop()
        raise ServiceStartError(f"influxd did not start on port {port}; see {log_path}")
    return service
