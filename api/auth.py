"""Who is calling: bearer tokens resolved to users and roles; role and enterprise checks.

Every endpoint but health (and the dashboard page and API docs, which hold no data) needs a
valid token: 401 says the token is missing or not valid; 403 says the user's role may not do
this; another enterprise's record is a 404, as if it did not exist.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from alerts.accounts import Principal
from api.deps import Context
from config.outlets import OutletRegister

_bearer = HTTPBearer(auto_error=False, description="an API token: `Authorization: Bearer lt_…`")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def signed_in(ctx: Context, credentials: Credentials) -> Principal:
    """The caller holding a valid token; 401 without one or with one that is not valid."""
    if credentials is None:
        raise HTTPException(401, "this endpoint needs an API token "
                                 "(Authorization: Bearer …)", headers=_CHALLENGE)
    principal = ctx.accounts.authenticate(credentials.credentials)
    if principal is None:
        raise HTTPException(401, "the API token is not valid (unknown, revoked, or its user "
                                 "is disabled)", headers=_CHALLENGE)
    return principal


SignedIn = Annotated[Principal, Depends(signed_in)]


def require_role(principal: Principal, roles: tuple[str, ...], doing: str) -> None:
    if principal.role not in roles:
        raise HTTPException(403, f"user {principal.name} ({principal.role}) may not {doing}; "
                                 f"that needs the role {' or '.join(roles)}")


def can_see_source(principal: Principal, outlets: OutletRegister, source: str) -> bool:
    """Whether the caller may see findings of `source` (a station id or an outlet MN): every
    role but enterprise; an enterprise user only its own enterprise's outlets."""
    if principal.role != "enterprise":
        return True
    outlet = outlets.by_mn().get(source)
    return outlet is not None and principal.can_see_enterprise(outlet.enterprise)
