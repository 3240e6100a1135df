"""A private InfluxDB 1.x with authentication on and one admin user (credential tests)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from lantian.local_services import LocalService, start_influxdb


@contextmanager
def influx_with_admin(run_dir: Path, user: str, password: str) -> Iterator[LocalService]:
    service = start_influxdb(run_dir, auth=True)
    try:
        # the first admin may be created without credentials; after that everything needs them
        httpx.post(f"{service.url}/query", data={
            "q": f"CREATE USER {user} WITH PASSWORD '{password}' WITH ALL PRIVILEGES"},
            timeout=10).raise_for_status()
        yield service
    finally:
        service.stop()
