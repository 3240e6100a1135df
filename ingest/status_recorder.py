"""Records the write buffer's counters in the ledger every few seconds (and on stop), so the
API can show them and serve them to Prometheus even though the collector is another process."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

from ingest.ingest_status import IngestStatusStore
from ingest.write_buffer import WriteBuffer

log = logging.getLogger(__name__)


class StatusRecorder:
    """A daemon thread saving `buffer.snapshot()` under `collector_id` every `interval_s`."""

    def __init__(self, buffer: WriteBuffer, store: IngestStatusStore, collector_id: str,
                 interval_s: float) -> None:
        self.buffer = buffer
        self.store = store
        self.collector_id = collector_id
        self.interval_s = interval_s
        self.started_at = datetime.now(UTC)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def record_once(self) -> None:
        self.store.save(self.collector_id, self.started_at, datetime.now(UTC),
                        self.buffer.snapshot())

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.record_once()
            except Exception as exc:  # the ledger being away must not stop ingest
                log.warning("could not record ingest counters: %s", exc)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="ingest-status", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop and record the final counters."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        try:
            self.record_once()
        except Exception as exc:
            log.warning("could not record final ingest counters: %s", exc)
