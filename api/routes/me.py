"""Who am I: the signed-in user, its role and the case actions that role may take, so the
dashboard shows only the buttons that will work (the action endpoint still checks each one)."""

from __future__ import annotations

from fastapi import APIRouter

from alerts.case_lifecycle import ACTIONS
from api.auth import SignedIn
from api.routes.case_actions import ENTERPRISE_ACTIONS, STAFF
from api.schemas import MePublic

router = APIRouter(prefix="/api", tags=["me"])


def case_actions_of(role: str) -> list[str]:
    """Actions in lifecycle order: staff all of them, enterprises theirs (sorted), viewers none."""
    if role in STAFF:
        return list(ACTIONS)
    if role == "enterprise":
        return sorted(ENTERPRISE_ACTIONS)
    return []


@router.get("/me", response_model=MePublic, summary="The signed-in user and what it may do")
def me(who: SignedIn) -> MePublic:
    return MePublic.model_validate({"name": who.name, "role": who.role,
                                    "enterprise": who.enterprise,
                                    "case_actions": case_actions_of(who.role)})
