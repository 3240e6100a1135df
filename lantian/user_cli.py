"""`lantian user …`: API users, roles and tokens in the ledger database (admins run this on the
server; a token is printed once and only its hash is stored)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from alerts.accounts import ROLES, AccountError, Accounts
from alerts.ledger_db import create_schema, make_engine, make_session_factory
from config.settings import get_settings

app = typer.Typer(help="API users and tokens.", no_args_is_help=True)


def _accounts() -> Accounts:
    engine = make_engine(get_settings().ledger.url)
    create_schema(engine)
    return Accounts(make_session_factory(engine))


def _fail(exc: AccountError) -> typer.Exit:
    typer.echo(f"lantian: {exc}", err=True)
    return typer.Exit(2)


@app.command("add")
def add(name: str,
        role: Annotated[str, typer.Option(help=f"one of {', '.join(ROLES)}")],
        enterprise: Annotated[str | None, typer.Option(
            help="for enterprise users: the enterprise as in outlets.yaml")] = None) -> None:
    """Create a user and print its first API token."""
    accounts = _accounts()
    now = datetime.now(UTC)
    try:
        accounts.add_user(name, role, now, enterprise)
        token = accounts.issue_token(name, now, "first token")
    except AccountError as exc:
        raise _fail(exc) from None
    typer.echo(token)


@app.command("token")
def token(name: str, label: Annotated[str, typer.Option(help="what the token is for")] = ""
          ) -> None:
    """Issue another token for a user and print it."""
    try:
        typer.echo(_accounts().issue_token(name, datetime.now(UTC), label))
    except AccountError as exc:
        raise _fail(exc) from None


@app.command("revoke")
def revoke(name: str) -> None:
    """Revoke all of a user's tokens."""
    count = _accounts().revoke_tokens(name, datetime.now(UTC))
    typer.echo(f"revoked {count} token(s) of {name}")
