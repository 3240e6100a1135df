"""Who is calling: bearer tokens resolved to users and roles; role and enterprise checks.

401 says the token is missing or not valid; 403 says the user's role may not do this.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from alerts.accounts import Principal
from api.deps import Context

_bearer = HTTPBearer(auto_error=False, description="an API token: `Authorization: Bearer lt_…`")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def optional_principal(ctx: Context, credentials: Credentials) -> Principal | None:
    """The caller, or None without a token; a token that is presented must be valid."""
    if credentials is None:
        return None
    principal = ctx.accounts.authenticate(credentials.credentials)
    if principal is None:
        raise HTTPException(401, "the API token is not valid (unknown, revoked, or its user "
                                 "is disabled)", headers=_CHALLENGE)
    return principal


def reader(ctx: Context, principal: Annotated[Principal | None, Depends(optional_principal)]
           ) -> Principal | None:
    """Anyone may read when `api.anonymous_read` is on; otherwise a valid token is needed."""
    if principal is None and not ctx.settings.api.anonymous_read:
        raise HTTPException(401, "this endpoint needs an API token", headers=_CHALLENGE)
    return principal


def signed_in(principal: Annotated[Principal | None, Depends(optional_principal)]
              ) -> Principal:
    if principal is None:
        raise HTTPException(401, "this endpoint needs an API token "
                                 "(Authorization: Bearer …)", headers=_CHALLENGE)
    return principal


Reader = Annotated[Principal | None, Depends(reader)]
SignedIn = Annotated[Principal, Depends(signed_in)]


def require_role(principal: Principal, roles: tuple[str, ...], doing: str) -> None:
    if principal.role not in roles:
        raise HTTPException(403, f"user {principal.name} ({principal.role}) may not {doing}; "
                                 f"that needs the role {' or '.join(roles)}")
