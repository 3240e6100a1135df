"""Users, roles and API tokens, kept in the ledger database.

Tokens are 256-bit random strings shown once at issue; only their SHA-256 is stored. A fast
hash is right here (unlike for passwords): the token has full entropy, so it cannot be guessed
from its hash, and every API request must check it quickly.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column, sessionmaker

from alerts.ledger_db import Base, UtcDateTime

ROLES = ("admin", "inspector", "viewer", "enterprise")
TOKEN_PREFIX = "lt_"


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    # For role "enterprise": the enterprise (as in config/outlets.yaml) whose data it may see.
    enterprise: Mapped[str | None] = mapped_column(String(128), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: what the API's checks need, detached from the database session."""

    user_id: int
    name: str
    role: str
    enterprise: str | None

    def can_see_enterprise(self, enterprise: str | None) -> bool:
        return self.role != "enterprise" or (enterprise is not None
                                             and enterprise == self.enterprise)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class AccountError(ValueError):
    """A user or token request that cannot be carried out; the message says why."""


class Accounts:
    """Create users, issue and revoke tokens, resolve a presented token to its user."""

    def __init__(self, sessions: sessionmaker) -> None:
        self._sessions = sessions

    def add_user(self, name: str, role: str, now: datetime, enterprise: str | None = None
                 ) -> Principal:
        if role not in ROLES:
            raise AccountError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        if (role == "enterprise") != bool(enterprise):
            raise AccountError("an enterprise user needs --enterprise, and only they have one")
        try:
            with self._sessions.begin() as session:
                user = User(name=name, role=role, enterprise=enterprise, active=True,
                            created_at=now)
                session.add(user)
                session.flush()
                return Principal(user.id, user.name, user.role, user.enterprise)
        except IntegrityError:
            raise AccountError(f"user {name!r} already exists") from None

    def issue_token(self, name: str, now: datetime, label: str = "") -> str:
        """A new token for user `name`; the only time the token itself is seen."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self._sessions.begin() as session:
            user = session.scalar(select(User).where(User.name == name))
            if user is None:
                raise AccountError(f"no user {name!r}")
            session.add(ApiToken(user_id=user.id, token_hash=hash_token(token), label=label,
                                 created_at=now))
        return token

    def revoke_tokens(self, name: str, now: datetime) -> int:
        with self._sessions.begin() as session:
            tokens = session.scalars(select(ApiToken).join(User).where(
                User.name == name, ApiToken.revoked_at.is_(None))).all()
            for token in tokens:
                token.revoked_at = now
            return len(tokens)

    def authenticate(self, token: str) -> Principal | None:
        """The active user holding this unrevoked token, or None."""
        with self._sessions() as session:
            user = session.scalar(select(User).join(ApiToken).where(
                ApiToken.token_hash == hash_token(token), ApiToken.revoked_at.is_(None),
                User.active.is_(True)))
            if user is None:
                return None
            return Principal(user.id, user.name, user.role, user.enterprise)
