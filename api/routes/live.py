"""Live updates for the dashboard as server-sent events: the overview at once, then again
whenever it changed (looked at every `api.live_interval_s`), and a keepalive comment after 15 s
of silence so proxies keep the connection open. The page reads it with fetch(), which can send
the bearer token (EventSource cannot)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import anyio
import pydantic_core
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from alerts.accounts import Principal
from api.auth import Credentials, SignedIn
from api.deps import AppContext, Context
from api.overview_view import build_overview, without_timing

router = APIRouter(prefix="/api", tags=["overview"])
KEEPALIVE_S = 15.0
DISCONNECT_POLL_S = 0.5  # longest wait before noticing a client that went away
KEEPALIVE = b": keepalive\n\n"


def sse_event(name: str, data: bytes) -> bytes:
    """One server-sent event; `data` is one line of JSON (no newline inside)."""
    return b"event: " + name.encode() + b"\ndata: " + data + b"\n\n"


async def _pause(request: Request, seconds: float) -> bool:
    """Sleep `seconds` in short steps; False as soon as the client has gone."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        if await request.is_disconnected():
            return False
        await anyio.sleep(min(left, DISCONNECT_POLL_S))
    return not await request.is_disconnected()


async def overview_events(request: Request, ctx: AppContext, token: str, *,
                          interval_s: float, keepalive_s: float = KEEPALIVE_S
                          ) -> AsyncIterator[bytes]:
    """`event: overview` now and on every change; the token is checked on every look, so a
    revoked token or disabled user ends the stream (with `event: error`) within one interval.
    Blocking reads run in the thread pool, never on the event loop."""
    last: object = None
    last_sent = time.monotonic()
    while True:
        who: Principal | None = await run_in_threadpool(ctx.accounts.authenticate, token)
        if who is None:
            yield sse_event("error", b'{"detail": "the API token is no longer valid"}')
            return
        overview = await run_in_threadpool(build_overview, ctx, who)
        compared = without_timing(overview)
        if compared != last:
            yield sse_event("overview", pydantic_core.to_json(overview))
            last, last_sent = compared, time.monotonic()
        elif time.monotonic() - last_sent >= keepalive_s:
            yield KEEPALIVE
            last_sent = time.monotonic()
        wait = min(interval_s, max(0.0, last_sent + keepalive_s - time.monotonic()))
        if not await _pause(request, wait):
            return


# Left out of the OpenAPI schema: a response that never ends is not something schema-driven
# clients and fuzzers (tests/integration/test_api_schemathesis.py) can call; the contract is
# in this module's docstring and docs/.
@router.get("/live", include_in_schema=False)
def live(request: Request, ctx: Context, who: SignedIn,
         credentials: Credentials) -> StreamingResponse:
    assert credentials is not None  # SignedIn has refused a request without one
    events = overview_events(request, ctx, credentials.credentials,
                             interval_s=ctx.settings.api.live_interval_s,
                             keepalive_s=KEEPALIVE_S)
    return StreamingResponse(events, media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
