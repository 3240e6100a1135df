"""`lantian doctor`: check settings, broker, InfluxDB, ledger and spool; say what to fix.

Each check is a small function returning a `CheckResult` whose `fix` names the setting (as its
environment variable) to change, so an operator can act on a failure without reading code.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.table import Table
from rich.text import Text
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from alerts.ledger_db import MIGRATIONS, make_engine
from config.emergency import load_emergency
from config.outlets import load_outlets
from config.settings import (
    CollectorSettings,
    InfluxSettings,
    LedgerSettings,
    MqttSettings,
    Settings,
)
from config.stations import load_stations
from ingest.broker_check import check_broker
from ingest.errors import StoreError, StoreRejected, StoreUnauthorized, StoreUnavailable
from ingest.influx_store import InfluxStore

CONNECT_TIMEOUT_S = 5.0
SETTINGS_FILE = "config/lantian.yaml (or the file named by LANTIAN_CONFIG_FILE)"
DBRP_FIX = ("InfluxDB 2.x: create the bucket and a DBRP mapping (influx v1 dbrp create --db {db} "
            "--rp autogen --bucket-id … --default); 3.x: create database {db}; 1.x: "
            "CREATE DATABASE {db}, or set LANTIAN_INFLUX__CREATE_DATABASE=true")


@dataclass(frozen=True)
class CheckResult:
    """One line of the doctor's report: `fix` is empty when `ok`."""

    name: str
    ok: bool
    detail: str
    fix: str = ""


def _env_name(location: tuple[int | str, ...]) -> str:
    """The environment variable of a validation error's location; a whole group → `__*`."""
    names = [part for part in location if isinstance(part, str)]
    model: type[BaseModel] | None = Settings
    for name in names:
        field = model.model_fields.get(name) if model else None
        kind = field.annotation if field else None
        model = kind if isinstance(kind, type) and issubclass(kind, BaseModel) else None
    if model is not None:
        names.append("*")
    return "LANTIAN_" + "__".join(names).upper()


def check_settings(load: Callable[[], Settings]) -> tuple[CheckResult, Settings | None]:
    """Load and validate the settings with `load`; a failure names each field and its env var."""
    try:
        settings = load()
    except ValidationError as exc:
        fields = [f"{'.'.join(map(str, e['loc'])) or '(settings)'}: {e['msg']}"
                  for e in exc.errors()]
        names = sorted({_env_name(e["loc"]) for e in exc.errors()})
        return CheckResult("settings", False, "\n".join(fields),
                           f"correct {', '.join(names)} in the environment or the same keys "
                           f"in {SETTINGS_FILE}"), None
    except (ValueError, OSError, yaml.YAMLError) as exc:
        return CheckResult("settings", False, str(exc),
                           f"correct {SETTINGS_FILE}: it must exist and be valid YAML"), None
    return CheckResult("settings", True, "valid"), settings


def check_registers(settings: Settings) -> CheckResult:
    """The station, outlet and emergency-scheme files named in the settings load and validate."""
    try:
        where = "LANTIAN_STATIONS_FILE", settings.stations_file
        stations = len(load_stations(settings.stations_file).stations)
        where = "LANTIAN_OUTLETS_FILE", settings.outlets_file
        outlets = len(load_outlets(settings.outlets_file).outlets)
        where = "LANTIAN_EMERGENCY_FILE", settings.emergency_file
        schemes = len(load_emergency(settings.emergency_file).jurisdictions)
    except ValueError as exc:
        env, path = where
        return CheckResult("registers", False, _first_lines(str(exc), 6),
                           f"fix {path}, or point {env} at the right file")
    return CheckResult("registers", True, f"{stations} stations, {outlets} outlets, "
                                          f"{schemes} emergency jurisdiction(s)")


def check_mqtt(settings: MqttSettings) -> CheckResult:
    """A real CONNECT/CONNACK with the configured account."""
    answer = check_broker(settings, CONNECT_TIMEOUT_S)
    account = f"account {settings.username!r}" if settings.username else "no account (anonymous)"
    fixes = {
        "accepted": "",
        "unreachable": "nothing accepts connections there: set LANTIAN_MQTT__HOST and "
                       "LANTIAN_MQTT__PORT to the broker's address, and check that it runs",
        "silent": "something listens there but does not answer MQTT: check LANTIAN_MQTT__HOST "
                  "and LANTIAN_MQTT__PORT (a TLS or websocket port?)",
        "refused": "set LANTIAN_MQTT__USERNAME and LANTIAN_MQTT__PASSWORD to an account the "
                   "broker knows (`lantian broker-auth` writes the accounts, passwords in its "
                   "secrets file), then reload the broker",
    }
    return CheckResult("broker", answer.ok, f"{answer.detail}; {account}", fixes[answer.outcome])


def check_influxdb(settings: InfluxSettings) -> CheckResult:
    """/ping answers, the credentials are accepted by a real query, the database exists (or,
    with create_database, is created as the services would at start)."""
    store = InfluxStore(settings.model_copy(
        update={"timeout_s": min(settings.timeout_s, CONNECT_TIMEOUT_S)}))
    try:
        return _probe_influxdb(store, settings)
    finally:
        store.close()


def _probe_influxdb(store: InfluxStore, settings: InfluxSettings) -> CheckResult:
    db = settings.database
    try:
        version = store.ping()
    except StoreUnauthorized as exc:
        return _influx_refused(settings, exc)
    except StoreUnavailable as exc:
        return CheckResult("influxdb", False, str(exc),
                           "set LANTIAN_INFLUX__URL to InfluxDB's HTTP address "
                           "(e.g. http://influxdb:8086) and check that it runs")
    try:
        store.execute("SHOW RETENTION POLICIES")  # needs read access; "database not found"
    except StoreUnauthorized as exc:
        return _influx_refused(settings, exc)
    except StoreError as exc:
        if "database not found" not in str(exc) and "404" not in str(exc):
            return CheckResult("influxdb", False, str(exc), "see InfluxDB's log")
        if not settings.create_database:
            return CheckResult("influxdb", False, f"database {db!r} not found",
                               DBRP_FIX.format(db=db))
        try:
            store.ensure_database()
        except StoreUnauthorized as exc:
            return CheckResult("influxdb", False, f"may not create database {db!r}: {exc}",
                               f"as an admin: CREATE DATABASE {db} and GRANT ALL ON {db} TO "
                               "the user")
        except (StoreRejected, StoreUnavailable) as exc:
            return CheckResult("influxdb", False, f"cannot create database {db!r}: {exc}",
                               DBRP_FIX.format(db=db))
        return CheckResult("influxdb", True,
                           f"InfluxDB {version} at {settings.url}: created database {db!r}")
    return CheckResult("influxdb", True, f"InfluxDB {version} at {settings.url}, database {db!r}")


def _influx_refused(settings: InfluxSettings, exc: StoreError) -> CheckResult:
    if settings.token is not None:
        what = "wrong token: InfluxDB refused the token"
    elif settings.username:
        what = f"wrong password: InfluxDB refused user {settings.username!r}"
    else:
        what = "InfluxDB requires credentials and none are set"
    return CheckResult("influxdb", False, f"{what} ({exc})",
                       "set LANTIAN_INFLUX__TOKEN (2.x/3.x: a token that may read and write "
                       "the bucket) or LANTIAN_INFLUX__USERNAME and LANTIAN_INFLUX__PASSWORD "
                       "(1.x)")


def check_ledger(settings: LedgerSettings) -> CheckResult:
    """Connect to the ledger and compare its migration revision with this version's head."""
    fix = ("set LANTIAN_LEDGER__URL (postgresql+psycopg://user:password@host:5432/db or "
           "sqlite:///path/ledger.db) and check that the database server runs and lets that "
           "user in")
    try:
        url = make_url(settings.url)
        shown = url.render_as_string(hide_password=True)
    except ArgumentError as exc:
        return CheckResult("ledger", False, f"not a database URL: {exc}", fix)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:" \
            and not Path(url.database).exists():
        problem = _unwritable(Path(url.database).parent)
        if problem:
            return CheckResult("ledger", False, problem, fix)
        return CheckResult("ledger", True, f"{shown}: created with the newest schema on start")
    try:
        engine = _ledger_engine(url)
        with engine.connect() as connection:
            current = set(MigrationContext.configure(connection).get_current_heads())
        engine.dispose()
    except (SQLAlchemyError, ImportError) as exc:
        reason = getattr(exc, "orig", None) or exc
        return CheckResult("ledger", False, f"{shown} unreachable: {_first_lines(str(reason), 3)}",
                           fix)
    return _migration_state(shown, current)


def _ledger_engine(url: URL) -> Engine:
    if url.get_backend_name() == "postgresql":
        return create_engine(url, connect_args={"connect_timeout": int(CONNECT_TIMEOUT_S)})
    return make_engine(url.render_as_string(hide_password=False))


def _migration_state(shown: str, current: set[str]) -> CheckResult:
    script = ScriptDirectory(str(MIGRATIONS))
    head = script.get_current_head() or ""
    known = {revision.revision for revision in script.walk_revisions()}
    if current == {head}:
        return CheckResult("ledger", True, f"{shown}: schema current ({head})")
    if current - known:
        return CheckResult("ledger", False,
                           f"{shown}: schema at {', '.join(sorted(current))}, unknown to this "
                           f"Lantian (newest {head}): written by a newer version?",
                           "run the Lantian version that wrote it (downgrades are not supported)")
    lower = next(iter(current)) if current else "base"
    behind = len(list(script.iterate_revisions(head, lower)))
    return CheckResult("ledger", True, f"{shown}: schema at {lower}, newest {head}: {behind} "
                                       "migration(s) will be applied on start")


def check_spool(settings: CollectorSettings) -> CheckResult:
    """The collector's spool folder is writable (or can be created), when one is configured."""
    if settings.spool_dir is None:
        return CheckResult("spool", True, "not configured: while InfluxDB is down the collector "
                                          "keeps readings in memory and acknowledges none")
    problem = _unwritable(settings.spool_dir)
    if problem:
        return CheckResult("spool", False, problem,
                           "make it a folder the collector's user may write (in docker: a "
                           "volume), or set LANTIAN_COLLECTOR__SPOOL_DIR elsewhere")
    free = shutil.disk_usage(_nearest_existing(settings.spool_dir)).free
    return CheckResult("spool", True, f"{settings.spool_dir} writable, {free / 2**30:.1f} GiB "
                                      f"free (limit {settings.spool_max_bytes / 2**30:.1f} GiB)")


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _unwritable(directory: Path) -> str | None:
    """Why files cannot be made in `directory` (created on start if missing), or None."""
    existing = _nearest_existing(directory)
    if not existing.is_dir():
        return f"{existing} is not a folder"
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        return f"cannot write in {existing}: {exc}"
    return None


def _first_lines(text: str, count: int) -> str:
    return "\n".join(text.strip().splitlines()[:count])


def run_checks(settings: Settings) -> list[CheckResult]:
    """Every check after the settings, in the order a deployment depends on them."""
    return [check_registers(settings), check_mqtt(settings.mqtt),
            check_influxdb(settings.influx), check_ledger(settings.ledger),
            check_spool(settings.collector)]


def render_results(results: list[CheckResult], console: Console) -> None:
    """A table of every check; failures in red with their fix."""
    table = Table(title="lantian doctor", show_lines=True)
    for column in ("check", "status", "detail", "how to fix"):
        table.add_column(column, overflow="fold")
    for result in results:
        status = Text("ok", style="green") if result.ok else Text("FAILED", style="bold red")
        table.add_row(result.name, status, Text(result.detail), Text(result.fix))
    console.print(table)
    failed = sum(not result.ok for result in results)
    console.print(f"{failed} check(s) failed" if failed else "all checks passed")
