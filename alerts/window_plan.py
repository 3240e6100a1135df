"""Which stretch of data time the analytics loop reads next: incremental, whole local days."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

HOUR_S = 3600
DAY_S = 86400


def local_midnight_s(time_s: int, tz: ZoneInfo) -> int:
    """Unix seconds of the local midnight that starts the local day containing `time_s`."""
    local = datetime.fromtimestamp(time_s, tz)
    return int(local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp())


@dataclass(frozen=True, slots=True)
class WindowPlan:
    """Read [start_s, end_s); `next_watermark_s` is where the next cycle must start at the
    latest (None: caught up, start from the look-back again)."""

    start_s: int
    end_s: int
    next_watermark_s: int | None


def plan_window(latest_s: int, watermark_s: int | None, *, lookback_days: int,
                max_window_days: int, tz: ZoneInfo) -> WindowPlan:
    """Plan one cycle over data time.

    The window starts at a local midnight, `lookback_days` before the newest data (so late data
    and the day just closed are re-judged), or earlier when a previous cycle left a backlog;
    it ends after the newest hour, or after `max_window_days` when catching up. A backlog
    cycle restarts next time at the start of the last local day it read, so no day is skipped
    and each cycle makes progress (max_window_days ≥ 2).
    """
    if max_window_days < 2:
        raise ValueError("max_window_days must be at least 2 for the loop to make progress")
    newest_end = latest_s - latest_s % HOUR_S + HOUR_S
    start = local_midnight_s(latest_s - lookback_days * DAY_S, tz)
    if watermark_s is not None:
        start = min(start, watermark_s)
    end = min(newest_end, start + max_window_days * DAY_S)
    watermark = None if end >= newest_end else local_midnight_s(end - 1, tz)
    return WindowPlan(start, end, watermark)


class IncrementalWindow:
    """The data-time position of one incremental loop: which window to read next, and whether
    there is anything new at all (no newer data and no backlog: an idle cycle does no work)."""

    def __init__(self, *, lookback_days: int, max_window_days: int, tz: ZoneInfo) -> None:
        self.lookback_days = lookback_days
        self.max_window_days = max_window_days
        self.tz = tz
        self._watermark_s: int | None = None
        self._last_latest_s: int | None = None

    def next(self, latest_s: int | None) -> WindowPlan | None:
        """The window to read given the newest data time; None when there is nothing to do."""
        if latest_s is None or (latest_s == self._last_latest_s and self._watermark_s is None):
            return None
        return plan_window(latest_s, self._watermark_s, lookback_days=self.lookback_days,
                           max_window_days=self.max_window_days, tz=self.tz)

    def done(self, plan: WindowPlan, latest_s: int) -> None:
        """Record a cycle that completed `plan` (not called when the cycle failed)."""
        self._watermark_s = plan.next_watermark_s
        self._last_latest_s = latest_s
