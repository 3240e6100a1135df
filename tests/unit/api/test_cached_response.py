"""Cached bodies: gzip only for clients that accept it, the gzipped body decodes to the plain
one, and the age header counts whole seconds."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime

import pytest

from api.cached_response import EncodedJson, accepts_gzip, age_headers
from api.latest_cache import LatestCache


@pytest.mark.parametrize(("header", "accepted"), [
    ("gzip, deflate", True), ("br;q=1.0, gzip;q=0.5", True), ("*", True), ("GZIP", True),
    ("gzip;q=0", False), ("deflate, br", False), ("", False), (None, False),
    ("identity", False), ("gzip;q=x", True),
])
def test_accepts_gzip(header: str | None, accepted: bool) -> None:
    assert accepts_gzip(header) is accepted


def test_gzipped_body_is_the_plain_one() -> None:
    body = EncodedJson.of(b'{"data": [], "count": 0}' * 100)
    assert gzip.decompress(body.gzipped) == body.plain
    assert len(body.gzipped) < len(body.plain)
    assert EncodedJson.of(body.plain).gzipped == body.gzipped  # no timestamp inside


def test_age_header_in_whole_seconds() -> None:
    now = [100.0]
    cache = LatestCache(30.0, clock=lambda: now[0], wall=lambda: datetime(2026, 11, 23, tzinfo=UTC))
    snapshot = cache.get("stations", lambda _: "x")
    now[0] += 7.9
    assert age_headers(cache, snapshot) == {"Age": "7"}
