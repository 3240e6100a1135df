"""Parsing and checking of the time-range query parameters shared by series endpoints."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import HTTPException, Query

MAX_RANGE_S = 400 * 86400
Start = Annotated[datetime | None, Query(
    description="ISO 8601 with offset, e.g. 2016-12-01T00:00+08:00; default: end minus a span")]
End = Annotated[datetime | None, Query(
    description="ISO 8601 with offset (exclusive); default: after the newest data")]


def resolve_range(start: datetime | None, end: datetime | None,
                  latest_s: Callable[[], int | None], default_span_s: int) -> tuple[int, int]:
    """[start, end) in Unix seconds; defaults to `default_span_s` ending after the newest data
    (`latest_s` is asked only when `end` is not given)."""
    for name, value in (("start", start), ("end", end)):
        if value is not None and value.tzinfo is None:
            raise HTTPException(422, f"{name} must carry a UTC offset, e.g. 2016-12-01T00:00+08:00")
    end_s = int(end.timestamp()) if end else ((latest_s() or 0) // 3600 + 1) * 3600
    start_s = int(start.timestamp()) if start else end_s - default_span_s
    if end_s <= start_s:
        raise HTTPException(422, "end must be after start")
    if end_s - start_s > MAX_RANGE_S:
        raise HTTPException(422, f"range longer than {MAX_RANGE_S // 86400} days; narrow it")
    return start_s, end_s
