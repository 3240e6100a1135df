"""The overview screen in one request: map stations and outlets, city AQI, alert levels, case
counts (enterprise users: their own outlets and cases; stations and AQI are public)."""

from __future__ import annotations

import pydantic_core
from fastapi import APIRouter, Response

from api.auth import SignedIn
from api.cached_response import CACHE_NOTE
from api.deps import Context
from api.overview_view import build_overview
from api.schemas import OverviewPublic

router = APIRouter(prefix="/api", tags=["overview"])


@router.get("/overview", response_model=OverviewPublic,
            summary="Everything the overview screen shows, as one snapshot",
            description=CACHE_NOTE + " `age_s` is the age of the oldest part.")
def overview(ctx: Context, who: SignedIn) -> Response:
    body = build_overview(ctx, who)
    return Response(pydantic_core.to_json(body), media_type="application/json",
                    headers={"Age": str(int(float(body["age_s"])))})  # type: ignore[arg-type]
