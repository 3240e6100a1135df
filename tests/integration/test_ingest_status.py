"""Collectors' counters in the ledger (both backends): upserted per collector, balanced."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ingest.ingest_status import IngestStatusStore

T = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def test_counters_are_upserted_per_collector_and_balance(ledger_sessions) -> None:  # type: ignore[no-untyped-def]
    store = IngestStatusStore(ledger_sessions)
    counters = {"readings_accepted": 90, "rejections": 10, "readings_written": 50,
                "readings_spooled": 30, "rejections_stored": 8, "readings_refused": 2,
                "readings_buffered": 8, "rejections_buffered": 2, "subscribed": True}
    store.save("b", T, T, counters)
    store.save("a", T, T, {**counters, "readings_written": 49})
    store.save("b", T, T + timedelta(seconds=5), {**counters, "readings_accepted": 91})
    a, b = store.all()
    assert (a.collector_id, b.collector_id) == ("a", "b")
    assert b.updated_at == T + timedelta(seconds=5)
    assert b.received == 101 and b.dead_lettered == 10 and b.buffered == 10
    assert not b.balanced  # one reading received that is nowhere: the check must catch it
    assert not a.balanced
    store.save("b", T, T, counters)
    assert store.all()[1].balanced
