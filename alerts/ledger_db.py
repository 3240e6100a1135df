"""The ledger database: SQLAlchemy engine and base (SQLite by default, PostgreSQL by URL)."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, DateTime, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, sessionmaker
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored as UTC and always returned timezone-aware (SQLite keeps no zone)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("ledger timestamps must be timezone-aware")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    """Base of every ledger table (cases, findings, dead letters)."""


def make_engine(url: str) -> Engine:
    """An engine for `url`; a SQLite file's folder is created, and SQLite runs in WAL mode
    so that the API can read while the collector and the analytics loop write."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_LOCK_KEY = 0x4C54_0001  # PostgreSQL advisory lock id of Lantian's ledger migrations


def import_models() -> None:
    """Register every ledger table on Base (they live with the code that owns them)."""
    import alerts.accounts
    import alerts.case_models
    import alerts.emergency_models  # noqa: F401
    import ingest.dead_letters
    import ingest.ingest_status  # noqa: F401


def alembic_config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[Connection]:
    """A connection that holds the ledger's migration lock: several services start at once
    and each brings the schema up to date, so exactly one may migrate at a time."""
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
            yield connection
        return
    database = engine.url.database
    lock_path = Path(f"{database}.migrate.lock") if database and database != ":memory:" else None
    with (lock_path.open("a") if lock_path else nullcontext()) as handle:
        if handle is not None:
            fcntl.flock(handle, fcntl.LOCK_EX)
        with engine.begin() as connection:
            yield connection


def create_schema(engine: Engine) -> None:
    """Bring the ledger to the newest schema with the Alembic migrations (idempotent, safe to
    run from several processes at once)."""
    with _migration_lock(engine) as connection:
        command.upgrade(alembic_config(connection), "head")


def make_session_factory(engine: Engine) -> sessionmaker:
    return sessionmaker(engine, expire_on_commit=False)
