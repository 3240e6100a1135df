"""Is this collector alive? Its counters in the ledger must be recent and say it is connected.

For container health checks: the collector records its counters every
`collector.status_interval_s`, so a stuck or stopped collector shows as an old row. Cheaper and
more telling than poking a port: it proves the process's threads and the ledger both work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

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
