"""API users for tests: a signed-in test client without repeating the account plumbing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from fastapi.testclient import TestClient

from alerts.accounts import Accounts
from alerts.ledger_db import create_schema, make_engine, make_session_factory


def token_for(ledger_url: str, role: str = "admin", enterprise: str | None = None) -> str:
    """A new user of `role` in the ledger at `ledger_url`, and its token."""
    engine = make_engine(ledger_url)
    create_schema(engine)
    accounts = Accounts(make_session_factory(engine))
    name = f"{role}-{uuid.uuid4().hex[:6]}"
    now = datetime.now(UTC)
    accounts.add_user(name, role, now, enterprise)
    token = accounts.issue_token(name, now)
    engine.dispose()
    return token


def sign_in(client: TestClient, ledger_url: str, role: str = "admin") -> TestClient:
    """Every request of `client` from now on carries a token of a new `role` user."""
    client.headers["Authorization"] = f"Bearer {token_for(ledger_url, role)}"
    return client
