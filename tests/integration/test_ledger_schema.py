"""The ledger schema comes from the Alembic migrations, on both backends, even when several
services start at once."""

from __future__ import annotations

import threading

from alembic import command
from sqlalchemy import inspect

from alerts.ledger_db import alembic_config, create_schema, make_engine


def test_concurrent_start_migrates_once_and_matches_the_models(ledger_url: str) -> None:
    engine = make_engine(ledger_url)
    errors: list[BaseException] = []

    def migrate() -> None:
        try:
            create_schema(make_engine(ledger_url))
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=migrate) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert {"cases", "findings", "dead_letters", "alembic_version"} <= set(
        inspect(engine).get_table_names())
    with engine.begin() as connection:
        command.check(alembic_config(connection))  # raises if models drifted from migrations
    engine.dispose()
