"""Errors of the ingest edge, and the policy for each.

- Bad data (`PayloadError`, defined with the payload format): the payload or item becomes a dead
  letter with its reason, is counted, and never stops the collector.
- Infrastructure down (`StoreUnavailable`, retryable): keep the batch, back off, retry.
- Store refused the data (`StoreRejected`, not retryable): the batch's lines become dead letters.
- Store refused the credentials (`StoreUnauthorized`): data is kept as for `StoreUnavailable`;
  at start-up it is a configuration error.
- Configuration or programming error: fail at start-up with a message that says how to fix it.
"""

from __future__ import annotations


class StoreError(Exception):
    """Base of InfluxDB-store errors; `retryable` says whether trying again can help."""

    retryable = False


class StoreUnavailable(StoreError):
    """InfluxDB could not be reached or answered 5xx/timeout: retry later."""

    retryable = True


class StoreRejected(StoreError):
    """InfluxDB refused the request (4xx: bad line protocol, type conflict, bad query)."""


class StoreUnauthorized(StoreUnavailable):
    """InfluxDB refused the credentials (401/403). Retryable for data (the batch is kept or
    spooled, never dead-lettered: the fault is the installation's); fatal at start-up."""
