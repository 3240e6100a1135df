"""Turning SIGINT/SIGTERM into a threading.Event, so services stop cleanly and promptly."""

from __future__ import annotations

import signal
import threading


def shutdown_event() -> threading.Event:
    """An event set by the first SIGINT or SIGTERM (installs handlers in the main thread)."""
    stop = threading.Event()

    def _handler(signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _handler)
    signal.signal(signal.SIGTERM, _handler)
    return stop
