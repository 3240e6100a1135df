"""Dead letters: rejected payloads with their raw bytes and the reason."""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from api.auth import SignedIn
from api.deps import Context
from api.input_values import Offset, TextFilter
from api.schemas import DeadLetterPublic, DeadLettersPublic

router = APIRouter(prefix="/api/dead-letters", tags=["dead letters"])


@router.get("", response_model=DeadLettersPublic, summary="Rejected payloads, newest first")
def list_dead_letters(ctx: Context, who: SignedIn, topic: TextFilter = None,
                      limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                      offset: Offset = 0) -> DeadLettersPublic:
    if who.role == "enterprise":
        # Raw payloads of every unit are in here, other enterprises' included.
        raise HTTPException(403, f"user {who.name} (enterprise) may not read dead letters")
    letters, total = ctx.dead_letters.list(limit=limit, offset=offset, topic=topic)
    data = [
        DeadLetterPublic(
            id=d.id, received_at=ctx.local(d.received_at), topic=d.topic, reason=d.reason,
            payload_text=bytes(d.payload).decode("utf-8", errors="replace")[:4096],
            payload_base64=base64.b64encode(bytes(d.payload)).decode("ascii"),
            size=len(d.payload),
        )
        for d in letters
    ]
    return DeadLettersPublic(data=data, count=total)
