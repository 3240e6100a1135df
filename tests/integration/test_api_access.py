"""Who may call what: every route of the app but health (and the pages that hold no data)
refuses a caller without a valid token; tokens are per user and only their hashes are stored;
each role is refused what it may not do. Enterprise scoping: test_api_scoping.py."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, text
from support.api_users import token_for

from alerts.accounts import Accounts
from alerts.ledger_db import make_engine, make_session_factory

try:  # FastAPI ≥ 0.16x keeps included routers whole in app.routes; this walks into them.
    from fastapi.routing import iter_route_contexts
except ImportError:  # older FastAPI: app.routes is already flat
    def iter_route_contexts(routes):  # type: ignore[no-untyped-def,misc]
        return iter(routes)

# Health answers load balancers; the dashboard page and the API docs carry no data (the
# dashboard's own requests need the token).
PUBLIC = {"/api/health"}
NO_DATA = {"/", "/docs", "/docs/oauth2-redirect", "/openapi.json", "/redoc"}
OWN = "京能热电示范厂"


def _routes(app) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """(method, path) of every route the app serves, documented in OpenAPI or not."""
    return sorted((method, route.path) for route in iter_route_contexts(app.routes)
                  for method in route.methods or () if method != "HEAD")


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def test_every_route_but_health_needs_a_valid_token(api_client) -> None:  # type: ignore[no-untyped-def]
    client, ledger_url = api_client
    revoked = token_for(ledger_url, "admin")
    sessions = make_session_factory(make_engine(ledger_url))
    [user] = [p.name for p in [Accounts(sessions).authenticate(revoked)] if p]
    assert Accounts(sessions).revoke_tokens(user, datetime.now(UTC)) == 1
    routes = _routes(client.app)
    checked = []
    for method, path in routes:
        if path in PUBLIC | NO_DATA:
            continue
        for token in (None, "lt_not-a-token", revoked, ""):
            headers = {} if token is None else {"Authorization": f"Bearer {token}"}
            response = client.request(method, _concrete(path), json={}, headers=headers)
            assert response.status_code == 401, (method, path, token, response.status_code)
            assert response.headers["www-authenticate"] == "Bearer"
        checked.append(path)
    assert client.get("/api/health").status_code in (200, 503)
    # Every resource is among them, the routes added later included.
    for prefix in ("/api/stations", "/api/cities", "/api/emergency", "/api/outlets",
                   "/api/enterprises", "/api/cases", "/api/findings", "/api/ledger",
                   "/api/reduction-plans", "/api/dead-letters", "/api/ingest", "/metrics"):
        assert any(p.startswith(prefix) for p in checked), prefix
    print(f"{len(checked)} of {len(routes)} routes refuse a missing, unknown, revoked or empty "
          "token with 401")


def test_tokens_are_per_user_and_stored_only_as_hashes(api_client) -> None:  # type: ignore[no-untyped-def]
    client, ledger_url = api_client
    tokens = [token_for(ledger_url, role) for role in ("inspector", "inspector", "viewer")]
    assert len(set(tokens)) == 3 and all(t.startswith("lt_") and len(t) > 40 for t in tokens)
    for token in tokens:
        assert client.get("/api/cases", headers={"Authorization": f"Bearer {token}"}
                          ).status_code == 200
    engine = create_engine(ledger_url)
    with engine.connect() as connection:
        rows = connection.execute(text(
            "SELECT t.*, u.name FROM api_tokens t JOIN users u ON u.id = t.user_id")).all()
    engine.dispose()
    assert len(rows) == 3 and len({row.user_id for row in rows}) == 3  # one user per token
    stored = [str(value) for row in rows for value in row]
    assert not any(token in value or token[3:] in value for token in tokens for value in stored)
    assert {row.token_hash for row in rows} == {hashlib.sha256(t.encode()).hexdigest()
                                                for t in tokens}
    # Nor anywhere in the database file, free pages and journal included.
    database = Path(ledger_url.removeprefix("sqlite:///"))
    raw = b"".join(p.read_bytes() for p in database.parent.glob(database.name + "*"))
    assert not any(token[3:].encode() in raw for token in tokens)


def test_each_role_is_refused_what_it_may_not_do(api_client) -> None:  # type: ignore[no-untyped-def]
    client, ledger_url = api_client
    headers = {role: {"Authorization": f"Bearer {token_for(ledger_url, role, enterprise)}"}
               for role, enterprise in (("admin", None), ("inspector", None), ("viewer", None),
                                        ("enterprise", OWN))}
    manual = {"source": "工地-7", "problem_type": "dust", "title": "扬尘", "origin": "complaint",
              "enterprise": OWN}
    opened = client.post("/api/cases", json=manual, headers=headers["inspector"])
    assert opened.status_code == 201, opened.json()
    case_url = f"/api/cases/{opened.json()['id']}"
    forecast = {"days": [{"date": "2030-01-01", "aqi": 120}]}
    refusals = {  # (method, url, body): roles refused with 403
        ("POST", "/api/cases", "manual"): ("viewer", "enterprise"),
        ("POST", f"{case_url}/actions", "assign"): ("viewer", "enterprise"),
        ("POST", f"{case_url}/actions", "verify"): ("viewer", "enterprise"),
        ("POST", f"{case_url}/actions", "comment"): ("viewer",),
        ("POST", "/api/emergency/beijing/forecasts", "forecast"): ("viewer", "enterprise"),
        ("GET", "/api/dead-letters", None): ("enterprise",),
        ("GET", "/api/ingest", None): ("enterprise",),
        ("GET", "/metrics", None): ("enterprise",),
        ("GET", "/api/findings", None): ("enterprise",),  # all sources at once
    }
    bodies = {"manual": manual, "forecast": forecast, None: None,
              **{a: {"action": a, "responsible_unit": OWN, "responsible_person": "王",
                     "note": "n"} for a in ("assign", "verify", "comment")}}
    for (method, url, body), refused in refusals.items():
        for role in refused:
            response = client.request(method, url, json=bodies[body], headers=headers[role])
            assert response.status_code == 403, (role, method, url, response.json())
            assert role in response.json()["detail"] or "enterprise" in response.json()["detail"]
    # The same reads are open to the bureau's roles.
    for role in ("admin", "inspector", "viewer"):
        for url in ("/api/dead-letters", "/api/ingest", "/metrics", "/api/findings"):
            assert client.get(url, headers=headers[role]).status_code == 200, (role, url)
    comment = {"action": "comment", "note": "已收到"}
    assert client.post(f"{case_url}/actions", json=comment,
                       headers=headers["enterprise"]).status_code == 200
