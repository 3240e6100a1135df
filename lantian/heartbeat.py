"""Is this collector, or this analytics worker, alive and working? For container health checks.

The collector records its counters every `collector.status_interval_s`, so a stuck or stopped
collector shows as an old row: its counters in the ledger must be recent and say it is
connected. Cheaper and more telling than poking a port: it proves the process's threads and the
ledger both work. The analytics loop writes, after every cycle, when it last finished one
without error (`analytics.heartbeat_file`): a loop that is stuck, or failing every cycle
because InfluxDB or the ledger is away, shows as an old time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from alerts.analytics_heartbeat import read_beat
from alerts.ledger_db import make_engine, make_session_factory
from config.settings import Settings
from ingest.ingest_status import IngestStatusStore

MIN_AGE_LIMIT_S = 30.0


@dataclass(frozen=True)
class Heartbeat:
    ok: bool
    detail: str


def collector_heartbeat(settings: Settings, now: datetime) -> Heartbeat:
    """The verdict on collector `collector.instance_id()` at `now` (aware UTC)."""
    me = settings.collector.instance_id()
    engine = make_engine(settings.ledger.url)
    try:
        found = [s for s in IngestStatusStore(make_session_factory(engine)).all()
                 if s.collector_id == me]
    finally:
        engine.dispose()
    if not found:
        return Heartbeat(False, f"collector {me} has not recorded its counters yet "
                                "(starting, or another client_id)")
    status = found[0]
    age = (now - status.updated_at).total_seconds()
    limit = max(3 * settings.collector.status_interval_s, MIN_AGE_LIMIT_S)
    if age > limit:
        return Heartbeat(False, f"collector {me} last recorded its counters {age:.0f} s ago "
                                f"(limit {limit:.0f} s): stuck or stopped")
    if not status.counters.get("connected"):
        return Heartbeat(False, f"collector {me} is not connected to the broker")
    return Heartbeat(True, f"collector {me}: connected, counters {age:.0f} s old, "
                           f"{'balanced' if status.balanced else 'NOT balanced'}")


def analytics_heartbeat(settings: Settings, now: datetime) -> Heartbeat:
    """The verdict on this analytics worker at `now` (aware UTC), from its heartbeat file."""
    cfg = settings.analytics
    if cfg.heartbeat_file is None:
        return Heartbeat(False, "analytics.heartbeat_file is not set "
                                "(LANTIAN_ANALYTICS__HEARTBEAT_FILE): nothing to check")
    try:
        beat = read_beat(cfg.heartbeat_file)
    except (ValueError, OSError) as exc:
        return Heartbeat(False, str(exc))
    if beat is None or beat.last_ok_s is None:
        where = cfg.heartbeat_file if beat else f"{cfg.heartbeat_file} absent"
        error = _last_error(beat.last_error, beat.last_error_s, now) if beat else ""
        return Heartbeat(False, f"analytics has not finished a cycle yet ({where}){error}")
    age = now.timestamp() - beat.last_ok_s
    if age > cfg.heartbeat_max_age_s:
        return Heartbeat(False, f"analytics {beat.shard} last finished a cycle {age:.0f} s ago "
                                f"(limit {cfg.heartbeat_max_age_s:.0f} s): stuck or failing"
                                + _last_error(beat.last_error, beat.last_error_s, now))
    return Heartbeat(True, f"analytics {beat.shard}: last cycle finished {age:.0f} s ago")


def _last_error(error: str | None, at_s: float | None, now: datetime) -> str:
    if error is None or at_s is None:
        return ""
    when = datetime.fromtimestamp(at_s, UTC)
    return f"; last error {(now - when).total_seconds():.0f} s ago: {error}"
