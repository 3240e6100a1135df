"""Responses served from the latest-values cache: they carry their age (the HTTP `Age` header,
whole seconds, RFC 9111) so a stale screen shows, and a body encoded once per snapshot is
also gzipped once (5,000 stations: 3.9 MB of JSON, 0.28 MB gzipped) for clients that accept it.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass

from fastapi import Request, Response

from api.latest_cache import LatestCache, Snapshot

CACHE_NOTE = ("Latest values are read from InfluxDB at most once per `api.latest_cache_s` "
              "seconds (per API process) and shared by all callers; the `Age` header gives "
              "their age in seconds and `fetched_at` (lists) when they were read.")
GZIP_LEVEL = 5  # ~50 ms for 3.9 MB once per snapshot; level 6+ saves 2 % more for 50 % more CPU


def age_headers(cache: LatestCache, snapshot: Snapshot[object]) -> dict[str, str]:
    """{"Age": whole seconds since `snapshot` was read}."""
    return {"Age": str(int(cache.age_s(snapshot)))}


def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether an Accept-Encoding header value allows gzip (named or `*`, q not 0)."""
    for item in (accept_encoding or "").split(","):
        name, _, params = item.strip().partition(";")
        if name.strip().lower() not in ("gzip", "*"):
            continue
        q = params.strip().lower().removeprefix("q=").strip() if params else "1"
        try:
            if float(q) > 0:
                return True
        except ValueError:
            return True  # a malformed q is no reason to refuse
    return False


@dataclass(frozen=True)
class EncodedJson:
    """One JSON body, plain and (when it will be sent many times) gzipped, made once."""

    plain: bytes
    gzipped: bytes | None

    @classmethod
    def of(cls, body: bytes, gzipped: bool = True) -> EncodedJson:
        """`gzipped` False for a body sent once (cache disabled): compressing it per request
        would cost the API more CPU (~50 ms for 3.9 MB) than it saves."""
        return cls(body, gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0)
                   if gzipped else None)


def encoded_response(body: EncodedJson, request: Request, headers: dict[str, str]) -> Response:
    """`body` as application/json, gzipped when the client accepts it and it was gzipped."""
    headers = {**headers, "Vary": "Accept-Encoding"}
    if body.gzipped is not None and accepts_gzip(request.headers.get("accept-encoding")):
        return Response(body.gzipped, media_type="application/json",
                        headers={**headers, "Content-Encoding": "gzip"})
    return Response(body.plain, media_type="application/json", headers=headers)
