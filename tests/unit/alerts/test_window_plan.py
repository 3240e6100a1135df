"""Planning the analytics loop's windows in data time."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from alerts.window_plan import local_midnight_s, plan_window

TZ = ZoneInfo("Asia/Shanghai")


def ts(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp())


def test_caught_up_window_covers_lookback_days_from_local_midnight() -> None:
    plan = plan_window(ts("2016-12-20T10:30:00+08:00"), None, lookback_days=2,
                       max_window_days=14, tz=TZ)
    assert plan.start_s == ts("2016-12-18T00:00:00+08:00")
    assert plan.end_s == ts("2016-12-20T11:00:00+08:00")
    assert plan.next_watermark_s is None


def test_backlog_is_walked_without_skipping_a_day() -> None:
    latest = ts("2016-12-31T05:00:00+08:00")
    first = plan_window(latest, ts("2016-12-01T00:00:00+08:00"), lookback_days=2,
                        max_window_days=3, tz=TZ)
    assert (first.start_s, first.end_s) == (ts("2016-12-01T00:00:00+08:00"),
                                            ts("2016-12-04T00:00:00+08:00"))
    assert first.next_watermark_s == ts("2016-12-03T00:00:00+08:00")
    second = plan_window(latest, first.next_watermark_s, lookback_days=2, max_window_days=3,
                         tz=TZ)
    assert second.start_s == ts("2016-12-03T00:00:00+08:00")  # day 3 re-read whole


def test_progress_needs_two_days() -> None:
    assert local_midnight_s(ts("2016-12-01T00:00:00+08:00"), TZ) == ts("2016-12-01T00:00+08:00")
    with pytest.raises(ValueError, match="at least 2"):
        plan_window(0, None, lookback_days=1, max_window_days=1, tz=TZ)
