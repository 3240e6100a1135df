"""The latest-values cache through the real API and InfluxDB: within api.latest_cache_s the
station and outlet lists are served from one snapshot (and say how old it is), after it they
show new data, concurrent requests read InfluxDB once, and enterprise scoping still applies to
what a cached snapshot holds."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

from fastapi.testclient import TestClient
from support.api_users import token_for

from api.main import create_app
from config.settings import ApiSettings, InfluxSettings, LedgerSettings, Settings
from ingest.influx_store import InfluxStore
from ingest.line_protocol import format_point
from lantian.local_services import wait_until

STATION = "Dongsi"  # config/stations.yaml
A, A_MN = "京能热电示范厂", "020000B7700021E000214AA7"  # config/outlets.yaml
B, B_MN = "首钢示范钢铁", "030000C1100031F000318BB1"
NOW_S = int(datetime.now(UTC).timestamp()) // 60 * 60


def _reading(pm25: float, time_s: int) -> str:
    return format_point("station_reading", {"station": STATION},
                        {"pm25": pm25, "pm25_flag": "N"}, time_s)


def _pm25(body: dict) -> float:  # type: ignore[type-arg]
    [station] = [s for s in body["data"] if s["id"] == STATION]
    return station["latest"]["values"]["pm25"]  # type: ignore[no-any-return]


@contextmanager
def _api(tmp_path: Path, influx_settings: InfluxSettings, cache_s: float
         ) -> Iterator[tuple[TestClient, dict[str, str], dict[str, str]]]:
    """The API with `api.latest_cache_s` = cache_s: (client, admin headers, A's headers)."""
    settings = Settings(influx=influx_settings, api=ApiSettings(latest_cache_s=cache_s),
                        ledger=LedgerSettings(url=f"sqlite:///{tmp_path / f'l{cache_s}.db'}"))
    with TestClient(create_app(settings)) as client:
        admin = {"Authorization": f"Bearer {token_for(settings.ledger.url, 'admin')}"}
        own = {"Authorization": f"Bearer {token_for(settings.ledger.url, 'enterprise', A)}"}
        yield client, admin, own


def _refreshes(client: TestClient, key: str) -> int:
    return client.app.state.context.latest.refreshes[key]  # type: ignore[attr-defined,no-any-return]


def test_list_is_served_from_one_snapshot_within_the_cache_time(
        tmp_path: Path, influx_settings: InfluxSettings, influx_store: InfluxStore) -> None:
    influx_store.write_lines([_reading(80.0, NOW_S - 120)])
    with _api(tmp_path, influx_settings, 600.0) as (client, admin, _):
        first = client.get("/api/stations", headers=admin)
        assert first.status_code == 200 and _pm25(first.json()) == 80.0
        fetched_at = datetime.fromisoformat(first.json()["fetched_at"])
        assert abs(fetched_at - datetime.now(UTC)) < timedelta(seconds=60)
        assert first.headers["age"] == "0"
        influx_store.write_lines([_reading(95.0, NOW_S - 60)])
        second = client.get("/api/stations", headers=admin).json()
        assert _pm25(second) == 80.0 and second["fetched_at"] == first.json()["fetched_at"]
        zipped = client.get("/api/stations", headers={**admin, "Accept-Encoding": "gzip"})
        plain = client.get("/api/stations", headers={**admin, "Accept-Encoding": "identity"})
        assert zipped.headers["content-encoding"] == "gzip"
        assert "content-encoding" not in plain.headers
        assert zipped.json() == plain.json() == second
        one = client.get(f"/api/stations/{STATION}", headers=admin)
        assert one.json()["latest"]["values"]["pm25"] == 80.0 and "age" in one.headers
        assert _refreshes(client, "stations") == 1


def test_list_shows_new_data_after_the_cache_time(
        tmp_path: Path, influx_settings: InfluxSettings, influx_store: InfluxStore) -> None:
    influx_store.write_lines([_reading(80.0, NOW_S - 120)])
    with _api(tmp_path, influx_settings, 0.5) as (client, admin, _):
        first = client.get("/api/stations", headers=admin).json()
        assert _pm25(first) == 80.0
        influx_store.write_lines([_reading(95.0, NOW_S - 60)])
        latest: list[dict] = []  # type: ignore[type-arg]

        def shows_new_value() -> bool:
            latest[:] = [client.get("/api/stations", headers=admin).json()]
            return _pm25(latest[0]) == 95.0

        assert wait_until(shows_new_value, 10)
        assert latest[0]["fetched_at"] > first["fetched_at"]
        assert _refreshes(client, "stations") >= 2


def test_zero_cache_time_reads_for_every_request(
        tmp_path: Path, influx_settings: InfluxSettings, influx_store: InfluxStore) -> None:
    influx_store.write_lines([_reading(80.0, NOW_S - 120)])
    with _api(tmp_path, influx_settings, 0.0) as (client, admin, _):
        assert _pm25(client.get("/api/stations", headers=admin).json()) == 80.0
        influx_store.write_lines([_reading(95.0, NOW_S - 60)])
        assert _pm25(client.get("/api/stations", headers=admin).json()) == 95.0
        assert _refreshes(client, "stations") == 2


def test_concurrent_requests_read_influxdb_once(
        tmp_path: Path, influx_settings: InfluxSettings, influx_store: InfluxStore) -> None:
    influx_store.write_lines([_reading(80.0, NOW_S - 120)])
    n_clients = 8
    with _api(tmp_path, influx_settings, 600.0) as (client, admin, _):
        start = threading.Barrier(n_clients)
        bodies: list[dict] = []  # type: ignore[type-arg]

        def request() -> None:
            start.wait()
            response = client.get("/api/stations", headers=admin)
            assert response.status_code == 200
            bodies.append(response.json())

        threads = [threading.Thread(target=request) for _ in range(n_clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert len(bodies) == n_clients
        assert {b["fetched_at"] for b in bodies} == {bodies[0]["fetched_at"]}
        assert all(_pm25(b) == 80.0 for b in bodies)
        assert _refreshes(client, "stations") == 1


def _seed_outlets(store: InfluxStore) -> None:
    lines = []
    for mn in (A_MN, B_MN):
        lines.append(format_point("hj212_minute", {"mn": mn},
                                  {"so2": 40.0, "so2_flag": "N", "o2": 9.0}, NOW_S - 60))
        lines.append(format_point("outlet_hour", {"mn": mn},
                                  {"so2": 40.0, "so2_zs": 45.0, "so2_basis": "minute"},
                                  NOW_S // 3600 * 3600 - 3600))
    store.write_lines(lines)


def test_scoping_applies_to_the_cached_outlets(
        tmp_path: Path, influx_settings: InfluxSettings, influx_store: InfluxStore) -> None:
    _seed_outlets(influx_store)
    with _api(tmp_path, influx_settings, 600.0) as (client, admin, own):
        # A's user first: the snapshot it fills must still hold B's outlets for the admin.
        mine = client.get("/api/outlets", headers=own)
        assert mine.status_code == 200 and "age" in mine.headers
        assert {o["enterprise"] for o in mine.json()["data"]} == {A}
        assert B_MN not in mine.text and "fetched_at" in mine.json()
        everyone = client.get("/api/outlets", headers=admin).json()
        assert {A, B} <= {o["enterprise"] for o in everyone["data"]}
        assert everyone["fetched_at"] == mine.json()["fetched_at"]
        [b_outlet] = [o for o in everyone["data"] if o["mn"] == B_MN]
        assert b_outlet["latest"]["measured"]["so2"] == 40.0
        assert b_outlet["last_hour"]["converted"] == {"so2": 45.0}
        # then the admin first filled it: A still sees only A
        assert client.get(f"/api/outlets/{B_MN}", headers=own).status_code == 404
        assert client.get(f"/api/outlets/{A_MN}", headers=own).json()["mn"] == A_MN
        assert client.get(f"/api/enterprises/{quote(B)}/outlets", headers=own).status_code \
            == 404
        assert {e["name"] for e in client.get("/api/enterprises", headers=own).json()["data"]} \
            == {A}
        assert {e["name"] for e in client.get("/api/enterprises",
                                              headers=admin).json()["data"]} >= {A, B}
        filtered = client.get("/api/outlets", params={"enterprise": B}, headers=own).json()
        assert filtered["count"] == 0
        assert _refreshes(client, "outlets") == 1
