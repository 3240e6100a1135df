"""`lantian run`: the whole local stack as child processes, stopped together on Ctrl-C.

Mosquitto and InfluxDB are private instances on free loopback ports under the run folder; the
collector, analytics loop, API and Beijing replay run as `python -m lantian …` children that get
their addresses through LANTIAN_* variables. Children die with this process (PDEATHSIG).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import Engine

from alerts.accounts import AccountError, Accounts
from alerts.ledger_db import create_schema, make_engine, make_session_factory
from config.broker_accounts import ANALYTICS, COLLECTOR, HEALTH, SIMULATOR
from config.settings import Settings
from lantian.broker_auth import load_secrets, write_broker_auth
from lantian.local_services import (
    LocalService,
    free_port,
    start_influxdb,
    start_mosquitto,
    start_process,
    stop_process,
    wait_until,
)
from lantian.shutdown import shutdown_event

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StackOptions:
    run_dir: Path
    replay_start: str = "2016-12-16"
    hours_per_second: float = 1.0
    api_port: int = 0


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def child_environment(settings: Settings, broker: LocalService, influx: LocalService,
                      run_dir: Path, api_port: int, gateway_port: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "LANTIAN_MQTT__HOST": broker.host,
        "LANTIAN_MQTT__PORT": str(broker.port),
        "LANTIAN_INFLUX__URL": influx.url,
        "LANTIAN_LEDGER__URL": env.get("LANTIAN_LEDGER__URL", f"sqlite:///{run_dir / 'ledger.db'}"),
        "LANTIAN_API__HOST": settings.api.host,
        "LANTIAN_API__PORT": str(api_port),
        "LANTIAN_GATEWAY__HOST": settings.gateway.host,
        "LANTIAN_GATEWAY__PORT": str(gateway_port),
        "LANTIAN_COLLECTOR__SPOOL_DIR": str(run_dir / "spool"),
        "PYTHONUNBUFFERED": "1",
    })
    # the replay runs data time fast: a 1 s loop keeps AQI within an hour or two of the data
    env.setdefault("LANTIAN_ANALYTICS__INTERVAL_S", "1")
    # ...and an hour of data a second would leave a 30 s latest-values cache far behind it
    env.setdefault("LANTIAN_API__LATEST_CACHE_S", "1")
    return env


SIMULATORS = ("simulator", "cems")
# Which broker account (config/broker_accounts.py) each child connects with.
BROKER_ACCOUNT = {"collector": COLLECTOR, "analytics": ANALYTICS, "api": HEALTH,
                  "simulator": SIMULATOR, "cems": SIMULATOR}
DEMO_USER = "demo-admin"
DEMO_EXCEEDANCE = ("020000B7700021E000214AA7", "so2")  # config/outlets.yaml, first power unit


def cems_command(python: list[str], gateway_port: int, timezone: str) -> list[str]:
    """The CEMS simulator for the demo: the last 6 hours at once (with a 2-hour SO2
    exceedance 4 hours ago, so a case opens on start), then live over the TCP gateway."""
    now = datetime.now(ZoneInfo(timezone)).replace(minute=0, second=0, microsecond=0)
    mn, pollutant = DEMO_EXCEEDANCE
    start = (now - timedelta(hours=4)).replace(tzinfo=None).isoformat(timespec="minutes")
    return [*python, "simulate", "cems", "--transport", "tcp", "--port", str(gateway_port),
            "--hours", "6", "--follow-hours", "24", "--chunk", "400",
            "--exceed", f"{mn}:{pollutant}:{start}:2"]


def demo_token(engine: Engine) -> str:
    """A fresh token of the demo's admin user (created on first run) for the dashboard link."""
    accounts = Accounts(make_session_factory(engine))
    now = datetime.now(UTC)
    with contextlib.suppress(AccountError):  # exists from an earlier run
        accounts.add_user(DEMO_USER, "admin", now)
    return accounts.issue_token(DEMO_USER, now, "make run")


def run_stack(settings: Settings, options: StackOptions) -> int:
    """Start everything, print the URLs, wait for Ctrl-C/SIGTERM, stop everything. Exit code."""
    stop = shutdown_event()
    run_dir = options.run_dir
    logs = run_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    api_port = options.api_port or (
        settings.api.port if _port_free(settings.api.host, settings.api.port) else free_port())
    services: list[LocalService] = []
    children: list[tuple[str, subprocess.Popen[bytes]]] = []
    try:
        # The broker runs with per-device accounts and an ACL, as in production: each child
        # connects with its own account; passwords live in run_dir, outside the repository.
        auth = write_broker_auth(settings, run_dir / "secrets" / "mqtt-passwords.yaml",
                                 run_dir / "broker-auth")
        passwords = load_secrets(auth.secrets_file)
        services.append(start_mosquitto(run_dir, extra_conf=auth.mosquitto_conf()))
        services.append(start_influxdb(run_dir))
        broker, influx = services
        gateway_port = (settings.gateway.port
                        if settings.gateway.port and _port_free(settings.gateway.host,
                                                                settings.gateway.port)
                        else free_port())
        env = child_environment(settings, broker, influx, run_dir, api_port, gateway_port)
        ledger = make_engine(env["LANTIAN_LEDGER__URL"])
        create_schema(ledger)  # once, before the services that use it start
        token = demo_token(ledger)
        ledger.dispose()
        (run_dir / "demo-token").write_text(token + "\n", encoding="utf-8")
        python = [sys.executable, "-m", "lantian"]
        commands = {
            "collector": [*python, "collect"],
            "analytics": [*python, "analyze"],
            "api": [*python, "api"],
            "simulator": [*python, "simulate", "replay", "--start", options.replay_start,
                          "--hours-per-second", str(options.hours_per_second)],
            "cems": cems_command(python, gateway_port, settings.timezone),
        }
        for name, argv in commands.items():
            account = BROKER_ACCOUNT[name]
            child_env = {**env, "LANTIAN_MQTT__USERNAME": account,
                         "LANTIAN_MQTT__PASSWORD": passwords[account]}
            children.append((name, start_process(argv, logs / f"{name}.log", child_env)))
        base = f"http://{settings.api.host}:{api_port}"
        if not wait_until(lambda: _api_up(base) or stop.is_set()
                          or any(p.poll() is not None for _, p in children), 60):
            log.error("the API did not come up; see %s", logs / "api.log")
            return 1
        _print_urls(base, broker, influx, run_dir, settings.gateway.host, gateway_port, token)
        while not stop.wait(1.0):
            for name, proc in children:
                if proc.poll() is not None and name not in SIMULATORS:
                    log.error("%s exited with %s; see %s", name, proc.returncode,
                              logs / f"{name}.log")
                    return 1
        return 0
    finally:
        print("\nStopping Lantian…", flush=True)
        for _name, proc in reversed(children):
            stop_process(proc)
        for service in reversed(services):
            service.stop()
        print("All Lantian processes stopped.", flush=True)


def _api_up(base: str) -> bool:
    try:
        return httpx.get(f"{base}/api/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _print_urls(base: str, broker: LocalService, influx: LocalService, run_dir: Path,
                gateway_host: str, gateway_port: int, token: str) -> None:
    print(
        "\nLantian is running (Ctrl-C stops everything):\n"
        f"  Dashboard        {base}/?token={token}\n"
        f"  API token        {token}  (user demo-admin; also in {run_dir / 'demo-token'})\n"
        f"  API docs         {base}/docs\n"
        f"  Stations (JSON)  {base}/api/stations\n"
        f"  Outlets (JSON)   {base}/api/outlets\n"
        f"  Cases (JSON)     {base}/api/cases\n"
        f"  MQTT broker      mqtt://{broker.host}:{broker.port}  (accounts and ACL in "
        f"{run_dir / 'broker-auth'}, passwords in {run_dir / 'secrets'})\n"
        f"  Metrics          {base}/metrics  (Prometheus, same bearer token)\n"
        f"  HJ 212 gateway   tcp://{gateway_host}:{gateway_port}\n"
        f"  InfluxDB         {influx.url}  (database lantian)\n"
        f"  Logs             {run_dir / 'logs'}\n",
        flush=True,
    )
